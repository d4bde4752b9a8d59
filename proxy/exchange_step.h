// The steps of an exchange (one request and its response on a client connection) and the
// transitions between them — the table docs/architecture.md draws. Kept apart from the exchange
// itself (no libuv here) so the table is unit-tested on its own.
//
// Threading: constants and pure functions only.
#pragma once

#include <cstdint>
#include <string_view>

namespace fc::proxy {

enum class Step : std::uint8_t {
    Idle,         // no request: waiting for (the rest of) the next head
    Begin,        // a head was parsed; acted on once the parser has returned
    Buffer,       // a chunked request body is read whole before it goes upstream
    Lookup,       // looking the page up in the in-process store
    SharedLookup, // asking the shared memcached cluster (off the loop); the lookup runs again
    WaitFill,     // waiting for another request's fetch of the same page (coalescing)
    Queued,       // the fetch waits for an upstream connection / an upstream.max_connections slot
    Fetch,        // the request went upstream; waiting for the response head
    Revalidate,   // ... with our own validators: a 304 renews the stored page
    Stream,       // the upstream's response streams to the client as it arrives
    Hold,         // the response is held until stored (a stale copy may still stand in)
    Tunnel,       // the upstream accepted a WebSocket handshake (101): bytes relayed both ways
    Deliver,      // an answer from memory (page, error, purge) is being written
    Done,         // the response is complete (logged); the exchange ends or the connection closes
    Closed,       // the client connection closed (client gone, rejected, shut down)
};

inline constexpr std::string_view kStepNames[] = {
    "idle",       "begin",  "buffer", "lookup", "shared-lookup", "wait-fill", "queued", "fetch",
    "revalidate", "stream", "hold",   "tunnel", "deliver",       "done",      "closed",
};

inline std::string_view stepName(Step s) {
    return kStepNames[static_cast<std::size_t>(s)];
}

// Is `from` -> `to` a step an exchange may take? Every other change is a bug (Exchange::setStep
// logs it as an error).
constexpr bool stepAllowed(Step from, Step to) {
    using S = Step;
    if (to == S::Closed)
        return from != S::Closed; // a connection may close at any step
    switch (from) {
    case S::Idle:
        return to == S::Begin;
    case S::Begin: // cache lookup, straight upstream (bypass), or answered at once (purge)
        return to == S::Lookup || to == S::Buffer || to == S::Queued || to == S::Deliver;
    case S::Buffer: // the whole body arrived (or it could not be buffered: an error)
        return to == S::Queued || to == S::Deliver;
    case S::Lookup: // served, asks the cluster, waits for a fill, or fetches
        return to == S::Deliver || to == S::SharedLookup || to == S::WaitFill || to == S::Queued;
    case S::SharedLookup:
    case S::WaitFill:
        return to == S::Lookup;
    case S::Queued: // connected (or a pool error: 502/503, perhaps a stale copy instead)
    case S::Fetch:  // a retry queues again; an error or a renewed page is delivered
    case S::Revalidate:
        return to == S::Queued || to == S::Fetch || to == S::Revalidate || to == S::Stream ||
               to == S::Hold || to == S::Deliver || (from == S::Fetch && to == S::Tunnel);
    case S::Stream:
    case S::Tunnel: // the upstream closed its end
        return to == S::Done;
    case S::Hold: // stored: answered from the page; refused or outgrown: streamed after all
        return to == S::Deliver || to == S::Stream;
    case S::Deliver:
        return to == S::Done;
    case S::Done:
        return to == S::Idle;
    case S::Closed:
        return false;
    }
    return false;
}

} // namespace fc::proxy
