// The steps of a fetch (proxy/fetch.h: one upstream exchange and the page it may fill) and the
// transitions between them — the table docs/architecture.md draws beside the exchange's. Where a
// fetch is, and so what it does with the response's bytes, is one value here instead of the
// flags it grew (storing, holding, delivered, discarding). Kept apart from the fetch (no libuv)
// so the table is unit-tested on its own.
//
// Threading: constants and pure functions only.
#pragma once

#include <cstdint>
#include <string_view>

namespace fc::proxy {

enum class FetchStep : std::uint8_t {
    Created,     // made, not queued yet
    Queued,      // waiting for an upstream connection and a max_connections slot
    Sent,        // the request went upstream; waiting for the response head
    Stream,      // the response streams to the subscriber; nothing is stored
    StreamStore, // ... and is stored as it streams (PageFill), for everyone else
    Hold,        // stored before the subscriber sees a byte (a stale copy may still stand in)
    Answer,      // the upstream's body is dropped: the subscriber gets a page instead (a 304
                 // renewed it, or a stale copy replaces a 5xx)
    StoreOnly,   // nobody to stream to (a background refresh, or the client left): fetched only
                 // to store the page
    Done,        // over: the upstream exchange ended, the coalescing key is released
};

inline constexpr std::string_view kFetchStepNames[] = {
    "created", "queued", "sent", "stream", "stream-store", "hold", "answer", "store-only", "done",
};

inline std::string_view fetchStepName(FetchStep s) {
    return kFetchStepNames[static_cast<std::size_t>(s)];
}

// The body is accumulated for the store in these steps.
constexpr bool fetchStores(FetchStep s) {
    return s == FetchStep::StreamStore || s == FetchStep::Hold || s == FetchStep::StoreOnly;
}
// The response head has reached the subscriber (too late for an error status).
constexpr bool fetchDelivered(FetchStep s) {
    return s == FetchStep::Stream || s == FetchStep::StreamStore;
}

// Is `from` -> `to` a step a fetch may take? Every other change is a bug (Fetch::setStep logs
// it as an error).
constexpr bool fetchStepAllowed(FetchStep from, FetchStep to) {
    using S = FetchStep;
    if (to == S::Done)
        return from != S::Done; // cancelled, failed or complete at any step
    switch (from) {
    case S::Created:
        return to == S::Queued;
    case S::Queued:
        return to == S::Sent;
    case S::Sent: // the head decides; a reused connection that failed is retried once
        return to == S::Queued || to == S::Stream || to == S::StreamStore || to == S::Hold ||
               to == S::Answer || to == S::StoreOnly;
    case S::StreamStore: // outgrew max_object_size; or the client left and the store goes on
        return to == S::Stream || to == S::StoreOnly;
    case S::Hold: // streamed after all (outgrown, refused, offloaded), or the client left
        return to == S::StreamStore || to == S::Stream || to == S::StoreOnly;
    case S::Stream:
    case S::Answer:
    case S::StoreOnly:
    case S::Done:
        return false;
    }
    return false;
}

} // namespace fc::proxy
