#include <doctest/doctest.h>

#include <vector>

#include "proxy/fetch_step.h"

using fc::proxy::fetchDelivered;
using fc::proxy::FetchStep;
using fc::proxy::fetchStepAllowed;
using fc::proxy::fetchStepName;
using fc::proxy::fetchStores;

namespace {
constexpr FetchStep kAll[] = {FetchStep::Created, FetchStep::Queued,      FetchStep::Sent,
                              FetchStep::Stream,  FetchStep::StreamStore, FetchStep::Hold,
                              FetchStep::Answer,  FetchStep::StoreOnly,   FetchStep::Done};

bool walks(std::vector<FetchStep> path) {
    for (std::size_t i = 1; i < path.size(); ++i)
        if (!fetchStepAllowed(path[i - 1], path[i]))
            return false;
    return true;
}
} // namespace

TEST_CASE("every fetch step has its own name") {
    for (FetchStep a : kAll)
        for (FetchStep b : kAll)
            if (a != b)
                CHECK(fetchStepName(a) != fetchStepName(b));
    CHECK(fetchStepName(FetchStep::StoreOnly) == "store-only");
}

TEST_CASE("the fetch's paths are allowed") {
    using S = FetchStep;
    CHECK(walks({S::Created, S::Queued, S::Sent, S::Stream, S::Done}));      // a bypass
    CHECK(walks({S::Created, S::Queued, S::Sent, S::StreamStore, S::Done})); // a miss, stored
    CHECK(walks({S::Created, S::Queued, S::Sent, S::Hold, S::Done}));        // answered from it
    CHECK(walks({S::Created, S::Queued, S::Sent, S::Hold, S::StreamStore, S::Stream, S::Done}));
    CHECK(walks({S::Created, S::Queued, S::Sent, S::Answer, S::Done}));    // 304, stale-if-error
    CHECK(walks({S::Created, S::Queued, S::Sent, S::StoreOnly, S::Done})); // a refresh
    CHECK(walks({S::Created, S::Queued, S::Sent, S::Queued, S::Sent, S::Stream, S::Done}));
    CHECK(walks({S::Sent, S::StreamStore, S::StoreOnly, S::Done})); // the client left
    CHECK(walks({S::Sent, S::Hold, S::StoreOnly, S::Done}));
}

TEST_CASE("what the table forbids") {
    using S = FetchStep;
    CHECK_FALSE(fetchStepAllowed(S::Created, S::Sent));       // never sent without a connection
    CHECK_FALSE(fetchStepAllowed(S::Stream, S::StreamStore)); // a streamed body never stores
    CHECK_FALSE(fetchStepAllowed(S::Stream, S::Queued));      // too late to retry
    CHECK_FALSE(fetchStepAllowed(S::Answer, S::Stream));      // a replaced body stays dropped
    CHECK_FALSE(fetchStepAllowed(S::StoreOnly, S::Stream));   // nobody to stream to
    CHECK_FALSE(fetchStepAllowed(S::Done, S::Done));
    for (FetchStep s : kAll)
        CHECK(fetchStepAllowed(s, S::Done) == (s != S::Done));
}

TEST_CASE("storing and delivered follow from the step") {
    using S = FetchStep;
    CHECK(fetchStores(S::StreamStore));
    CHECK(fetchStores(S::Hold));
    CHECK(fetchStores(S::StoreOnly));
    CHECK_FALSE(fetchStores(S::Stream));
    CHECK_FALSE(fetchStores(S::Answer));
    CHECK(fetchDelivered(S::Stream));
    CHECK(fetchDelivered(S::StreamStore));
    CHECK_FALSE(fetchDelivered(S::Hold));
    CHECK_FALSE(fetchDelivered(S::Answer));
}
