#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "proxy/cache_status.h"

using fc::proxy::appendCacheStatusFields;
using fc::proxy::CacheCounters;
using fc::proxy::CacheStatus;
using fc::proxy::info;

namespace {
std::string fields(CacheStatus s, std::string_view detail = {}, std::string_view header = "X-Cache",
                   bool cacheStatus = true) {
    std::string out;
    appendCacheStatusFields(out, s, detail, header, cacheStatus);
    return out;
}
} // namespace

TEST_CASE("each status has its X-Cache word and RFC 9211 parameters") {
    CHECK(fields(CacheStatus::Hit) == "X-Cache: HIT\r\nCache-Status: frontcache; hit\r\n");
    CHECK(fields(CacheStatus::Miss) ==
          "X-Cache: MISS\r\nCache-Status: frontcache; fwd=uri-miss\r\n");
    CHECK(fields(CacheStatus::Miss, "set-cookie") ==
          "X-Cache: MISS\r\nCache-Status: frontcache; fwd=uri-miss; detail=set-cookie\r\n");
    CHECK(fields(CacheStatus::Bypass, "method") ==
          "X-Cache: BYPASS\r\nCache-Status: frontcache; fwd=bypass; detail=method\r\n");
    CHECK(fields(CacheStatus::StaleWhileRevalidate) ==
          "X-Cache: STALE\r\nCache-Status: frontcache; hit; detail=stale-while-revalidate\r\n");
    CHECK(fields(CacheStatus::StaleIfError) ==
          "X-Cache: STALE\r\nCache-Status: frontcache; hit; detail=stale-if-error\r\n");
    CHECK(fields(CacheStatus::Revalidated) ==
          "X-Cache: REVALIDATED\r\nCache-Status: frontcache; fwd=stale; fwd-status=304; "
          "detail=revalidated\r\n");
}

TEST_CASE("the status header can be renamed or left out, Cache-Status switched off") {
    CHECK(fields(CacheStatus::Hit, {}, "X-Frontcache") ==
          "X-Frontcache: HIT\r\nCache-Status: frontcache; hit\r\n");
    CHECK(fields(CacheStatus::Hit, {}, "") == "Cache-Status: frontcache; hit\r\n");
    CHECK(fields(CacheStatus::Hit, {}, "X-Cache", false) == "X-Cache: HIT\r\n");
}

TEST_CASE("the access log word and the counter of each status") {
    CHECK(info(CacheStatus::None).word == "-");
    CHECK(info(CacheStatus::Purge).word == "PURGE");
    CHECK(info(CacheStatus::Hit).counter == &CacheCounters::hits);
    CHECK(info(CacheStatus::Hit).countedOnServe);
    CHECK(info(CacheStatus::Miss).counter == &CacheCounters::misses);
    CHECK_FALSE(info(CacheStatus::Miss).countedOnServe); // counted when its fetch starts
    CHECK(info(CacheStatus::StaleWhileRevalidate).counter == &CacheCounters::staleServed);
    CHECK(info(CacheStatus::StaleIfError).counter == &CacheCounters::staleOnError);
    CHECK(info(CacheStatus::Revalidated).counter == &CacheCounters::revalidatedServed);
    CHECK(info(CacheStatus::Bypass).counter == nullptr); // counted per reason
}

// The reader (`frontcache warm`'s) against the writer (the server's).
namespace {
using fc::proxy::CacheStatusParams;
using fc::proxy::CacheStatusReading;
using fc::proxy::kCacheStatusCount;
using fc::proxy::readCacheStatus;
using fc::proxy::statusOf;

// The value of the Cache-Status line the writer appends ("" when it appends none).
std::string written(CacheStatus s, const CacheStatusParams &p, std::string_view detail = {}) {
    std::string out;
    appendCacheStatusFields(out, s, detail, "", true, p);
    if (out.empty())
        return out;
    const std::string_view name = "Cache-Status: ";
    REQUIRE(out.starts_with(name));
    REQUIRE(out.ends_with("\r\n"));
    return out.substr(name.size(), out.size() - name.size() - 2);
}

std::vector<CacheStatusParams> someParams() {
    std::vector<CacheStatusParams> all(6);
    all[1].fwd = "vary-miss";
    all[1].fwdStatus = 200;
    all[1].stored = true;
    all[2].fwd = "stale";
    all[2].fwdStatus = 200;
    all[2].stored = true;
    all[2].collapsed = true;
    all[3].fwd = "request";
    all[3].fwdStatus = 404;
    all[3].key = R"(GET http://a.test/q?x="1"\y)"; // escaped in an sf-string
    all[4].hasTtl = true;
    all[4].ttl = -5; // stale
    all[5].hasTtl = true;
    all[5].ttl = 600;
    all[5].collapsed = true;
    all[5].key = "k";
    return all;
}
} // namespace

TEST_CASE("what the writer writes for every table row reads back as that row and its params") {
    for (std::size_t k = 0; k < kCacheStatusCount; ++k) {
        const auto s = static_cast<CacheStatus>(k);
        const auto &row = info(s);
        for (const CacheStatusParams &p : someParams()) {
            std::string value = written(s, p);
            CAPTURE(value);
            if (!row.writesField()) { // None, Purge: no field at all
                CHECK(value.empty());
                continue;
            }
            auto r = readCacheStatus(value);
            REQUIRE(r);
            CHECK(statusOf(*r) == s);
            CHECK(r->hit == row.hit);
            CHECK(r->fwd == (row.hit                                    ? std::string_view()
                             : s == CacheStatus::Miss && !p.fwd.empty() ? p.fwd
                                                                        : row.fwd));
            CHECK(r->fwdStatus == (row.fwdStatus ? row.fwdStatus : p.fwdStatus));
            CHECK(r->stored == p.stored);
            CHECK(r->collapsed == p.collapsed);
            CHECK(r->hasTtl == p.hasTtl);
            CHECK(r->ttl == p.ttl);
            CHECK(r->key == p.key);
            CHECK(r->detail == row.detail);
        }
    }
}

TEST_CASE("a detail the answer gives reads back, and keeps the row") {
    for (std::string_view d : {"set-cookie", "max-age-0", "too-big", "vary-star"}) {
        auto r = readCacheStatus(written(CacheStatus::Miss, {}, d));
        REQUIRE(r);
        CHECK(r->detail == d);
        CHECK(statusOf(*r) == CacheStatus::Miss);
        CHECK_FALSE(r->stored);
    }
    for (std::string_view d : {"method", "query", "cookie", "upgrade"}) {
        auto r = readCacheStatus(written(CacheStatus::Bypass, {}, d));
        REQUIRE(r);
        CHECK(r->detail == d);
        CHECK(statusOf(*r) == CacheStatus::Bypass);
    }
}

TEST_CASE("a stale miss that the origin answered 304 is not taken for REVALIDATED") {
    CacheStatusParams p;
    p.fwd = "stale";
    p.fwdStatus = 304;
    auto r = readCacheStatus(written(CacheStatus::Miss, p));
    REQUIRE(r);
    CHECK(statusOf(*r) == CacheStatus::Miss); // REVALIDATED says detail=revalidated
}

TEST_CASE("Cache-Status as a list: our member among other caches', the last one ours") {
    auto r = readCacheStatus(R"(OriginCache; hit; ttl=1100, "CDN Company Here"; hit; ttl=545,)"
                             R"( frontcache; fwd=uri-miss; stored)");
    REQUIRE(r);
    CHECK(r->fwd == "uri-miss");
    CHECK(r->stored);
    CHECK_FALSE(r->hasTtl);
    // A member named by a string, tabs around the comma (field lines joined), the last one ours.
    r = readCacheStatus("frontcache; hit,\t\"frontcache\"; fwd=bypass; detail=\"method\"");
    REQUIRE(r);
    CHECK_FALSE(r->hit);
    CHECK(r->detail == "method");
    CHECK(statusOf(*r) == CacheStatus::Bypass);
    r = readCacheStatus("other; fwd=uri-miss, (inner list; a=1 b)", "other");
    REQUIRE(r);
    CHECK(r->fwd == "uri-miss");
    CHECK_FALSE(readCacheStatus("OtherCache; hit"));
    CHECK_FALSE(readCacheStatus(""));
}

TEST_CASE("booleans, decimals and values of the wrong type") {
    auto r = readCacheStatus("frontcache; hit=?0; fwd=uri-miss; stored=?1; collapsed=?0");
    REQUIRE(r);
    CHECK_FALSE(r->hit);
    CHECK(r->stored);
    CHECK_FALSE(r->collapsed);
    r = readCacheStatus("frontcache; hit; ttl=1.5; fwd-status=\"200\"; key=tok; x=:aGk=:");
    REQUIRE(r);
    CHECK(r->hit);
    CHECK_FALSE(r->hasTtl);   // a decimal is not a ttl
    CHECK(r->fwdStatus == 0); // a string is not a status
    CHECK(r->key.empty());    // key is a string
    CHECK(statusOf(*r) == CacheStatus::Hit);
}

TEST_CASE("a field that is not a structured list is ignored whole (RFC 8941 §4.2)") {
    for (std::string_view bad : {
             "frontcache; hit,",                  // trailing comma
             "frontcache; Hit",                   // keys are lower case
             "frontcache; key=\"open",            // unterminated string
             "frontcache; key=\"a\\b\"",          // only \" and \\ escape
             "frontcache; ttl=1234567890123456",  // sixteen digits
             "frontcache; hit frontcache",        // members need a comma
             "frontcache; hit=?2",                // not a boolean
             "frontcache; fwd=uri-miss; stored=", // no value
         }) {
        CAPTURE(bad);
        CHECK_FALSE(readCacheStatus(bad));
    }
}
