#include <doctest/doctest.h>

#include <vector>

#include "proxy/exchange_step.h"

using fc::proxy::Step;
using fc::proxy::stepAllowed;
using fc::proxy::stepName;

namespace {
constexpr Step kAll[] = {Step::Idle,         Step::Begin,    Step::Buffer, Step::Lookup,
                         Step::SharedLookup, Step::WaitFill, Step::Queued, Step::Fetch,
                         Step::Revalidate,   Step::Stream,   Step::Hold,   Step::Tunnel,
                         Step::Deliver,      Step::Done,     Step::Closed};

// Every consecutive pair of `path` is a step the table allows.
bool walks(std::vector<Step> path) {
    for (std::size_t i = 1; i < path.size(); ++i)
        if (!stepAllowed(path[i - 1], path[i]))
            return false;
    return true;
}
} // namespace

TEST_CASE("every step has its own name") {
    for (Step a : kAll)
        for (Step b : kAll)
            if (a != b)
                CHECK(stepName(a) != stepName(b));
    CHECK(stepName(Step::SharedLookup) == "shared-lookup");
    CHECK(stepName(Step::Closed) == "closed");
}

TEST_CASE("the paths of the architecture diagram are allowed") {
    using S = Step;
    // A fresh hit.
    CHECK(walks({S::Idle, S::Begin, S::Lookup, S::Deliver, S::Done, S::Idle}));
    // A miss that fetches and streams.
    CHECK(walks({S::Idle, S::Begin, S::Lookup, S::Queued, S::Fetch, S::Stream, S::Done, S::Idle}));
    // Bypass: straight to the upstream.
    CHECK(walks({S::Begin, S::Queued, S::Fetch, S::Stream, S::Done}));
    // Coalesced: waits for another request's fill, then a hit.
    CHECK(walks({S::Begin, S::Lookup, S::WaitFill, S::Lookup, S::Deliver, S::Done}));
    // The shared cluster, then a wait, then its own fetch.
    CHECK(walks({S::Begin, S::Lookup, S::SharedLookup, S::Lookup, S::WaitFill, S::Lookup, S::Queued,
                 S::Fetch, S::Stream, S::Done}));
    // Revalidation answered 304: the renewed page is delivered.
    CHECK(walks({S::Lookup, S::Queued, S::Revalidate, S::Deliver, S::Done}));
    // Held behind a stale copy: stored and answered from the page, or streamed after all.
    CHECK(walks({S::Queued, S::Fetch, S::Hold, S::Deliver, S::Done}));
    CHECK(walks({S::Queued, S::Fetch, S::Hold, S::Stream, S::Done}));
    // A retry on a fresh connection queues again.
    CHECK(walks({S::Queued, S::Fetch, S::Queued, S::Fetch, S::Stream}));
    // A pool error (queue full, no server) is answered from the queue.
    CHECK(walks({S::Queued, S::Deliver, S::Done}));
    // A chunked upload read whole first, then sent with Content-Length.
    CHECK(walks({S::Idle, S::Begin, S::Buffer, S::Queued, S::Fetch, S::Stream, S::Done}));
    CHECK_FALSE(stepAllowed(S::Buffer, S::Lookup)); // an upload is never looked up
    // A WebSocket handshake the upstream accepted: a tunnel until the upstream closes.
    CHECK(walks({S::Idle, S::Begin, S::Queued, S::Fetch, S::Tunnel, S::Done}));
    // Public PURGE.
    CHECK(walks({S::Idle, S::Begin, S::Deliver, S::Done, S::Idle}));
}

TEST_CASE("steps that would skip the cache's decisions are refused") {
    using S = Step;
    CHECK_FALSE(stepAllowed(S::Idle, S::Lookup));  // nothing acts before begin
    CHECK_FALSE(stepAllowed(S::Begin, S::Stream)); // no response without a fetch
    CHECK_FALSE(stepAllowed(S::Lookup, S::Stream));
    CHECK_FALSE(stepAllowed(S::WaitFill, S::Queued)); // a woken waiter looks again first
    CHECK_FALSE(stepAllowed(S::SharedLookup, S::Deliver));
    CHECK_FALSE(stepAllowed(S::Stream, S::Deliver)); // a started response cannot be replaced
    CHECK_FALSE(stepAllowed(S::Stream, S::Queued));  // nor retried
    CHECK_FALSE(stepAllowed(S::Deliver, S::Idle));   // the end goes through done (logged)
    CHECK_FALSE(stepAllowed(S::Done, S::Begin));
    CHECK_FALSE(stepAllowed(S::Hold, S::Queued));
    CHECK_FALSE(stepAllowed(S::Lookup, S::Tunnel)); // a tunnel is never looked up or stored
    CHECK_FALSE(stepAllowed(S::Hold, S::Tunnel));
    CHECK_FALSE(stepAllowed(S::Revalidate, S::Tunnel));
    CHECK_FALSE(stepAllowed(S::Tunnel, S::Deliver)); // nor replaced once relaying
    CHECK_FALSE(stepAllowed(S::Tunnel, S::Idle));    // nor kept alive as HTTP afterwards
}

TEST_CASE("a connection may close at any step, and nothing follows closed") {
    for (Step s : kAll) {
        CHECK(stepAllowed(s, Step::Closed) == (s != Step::Closed));
        CHECK_FALSE(stepAllowed(Step::Closed, s));
    }
}
