#include <doctest/doctest.h>

#include <string>

#include "proxy/cache_status.h"
#include "tools/warm_tally.h"

using fc::proxy::CacheStatus;
using fc::proxy::CacheStatusParams;
using namespace fc::tools;

namespace {
// The Cache-Status value the server writes for this answer.
std::string field(CacheStatus s, const CacheStatusParams &p = {}, std::string_view detail = {}) {
    std::string out;
    fc::proxy::appendCacheStatusFields(out, s, detail, "", true, p);
    return out.empty() ? out : out.substr(14, out.size() - 16);
}

CacheStatusParams storedMiss(std::string_view fwd) {
    CacheStatusParams p;
    p.fwd = fwd;
    p.fwdStatus = 200;
    p.stored = true;
    return p;
}
} // namespace

TEST_CASE("a miss frontcache stored is stored, whatever its fwd reason") {
    for (std::string_view fwd : {"uri-miss", "vary-miss", "stale", "request"}) {
        CAPTURE(fwd);
        WarmOutcome o = classifyAnswer(200, field(CacheStatus::Miss, storedMiss(fwd)));
        CHECK(o.result == WarmResult::Stored);
    }
    CacheStatusParams collapsed = storedMiss("vary-miss");
    collapsed.collapsed = true;
    collapsed.key = "GET http://a.test/; x";
    CHECK(classifyAnswer(200, field(CacheStatus::Miss, collapsed)).result == WarmResult::Stored);
}

TEST_CASE("a miss not stored says frontcache's reason, or the status when it gives none") {
    CacheStatusParams p;
    p.fwdStatus = 200;
    WarmOutcome o = classifyAnswer(200, field(CacheStatus::Miss, p, "set-cookie"));
    CHECK(o.result == WarmResult::NotStorable);
    CHECK(o.why == "set-cookie");
    p.fwd = "vary-miss";
    p.fwdStatus = 404;
    o = classifyAnswer(404, field(CacheStatus::Miss, p));
    CHECK(o.result == WarmResult::NotStorable);
    CHECK(o.why == "HTTP 404");
    o = classifyAnswer(200, field(CacheStatus::Bypass, {}, "method"));
    CHECK(o.result == WarmResult::NotStorable);
    CHECK(o.why == "bypass: method");
}

TEST_CASE("answers from the store: fresh, stale, revalidated") {
    CacheStatusParams ttl;
    ttl.hasTtl = true;
    ttl.ttl = 300;
    CHECK(classifyAnswer(200, field(CacheStatus::Hit, ttl)).result == WarmResult::Fresh);
    ttl.ttl = -3;
    CHECK(classifyAnswer(200, field(CacheStatus::StaleWhileRevalidate, ttl)).result ==
          WarmResult::Stale);
    CHECK(classifyAnswer(200, field(CacheStatus::StaleIfError, ttl)).result == WarmResult::Stale);
    CHECK(classifyAnswer(200, field(CacheStatus::Revalidated, ttl)).result ==
          WarmResult::Revalidated);
}

TEST_CASE("errors, no field, and caches in front of ours") {
    WarmOutcome o = classifyAnswer(503, field(CacheStatus::Miss));
    CHECK(o.result == WarmResult::Error);
    CHECK(o.why == "HTTP 503");
    o = classifyAnswer(200, "");
    CHECK(o.result == WarmResult::NotStorable);
    CHECK(o.why == "no Cache-Status field (cache.cache_status = false?)");
    // The origin's own cache said hit; ours stored the answer.
    o = classifyAnswer(200, "OriginCache; hit; ttl=30, " +
                                field(CacheStatus::Miss, storedMiss("uri-miss")));
    CHECK(o.result == WarmResult::Stored);
    CHECK(classifyAnswer(200, "OriginCache; hit").result == WarmResult::NotStorable);
}

TEST_CASE("the tally counts each outcome and each reason") {
    WarmTally t;
    t.record({WarmResult::Stored, {}});
    t.record({WarmResult::Fresh, {}});
    t.record({WarmResult::Stale, {}});
    t.record({WarmResult::Revalidated, {}});
    t.record({WarmResult::Revalidated, {}});
    t.record({WarmResult::NotStorable, "set-cookie"});
    t.record({WarmResult::NotStorable, "set-cookie"});
    t.record({WarmResult::Error, "refused"});
    WarmTally::Counts c = t.counts();
    CHECK(c.done == 8);
    CHECK(c.stored == 1);
    CHECK(c.fresh == 1);
    CHECK(c.stale == 1);
    CHECK(c.revalidated == 2);
    CHECK(c.notStorable == 2);
    CHECK(c.notStorableWhy["set-cookie"] == 2);
    CHECK(c.errors == 1);
    CHECK(c.errorKinds["refused"] == 1);
}
