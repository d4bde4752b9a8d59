#include <doctest/doctest.h>

#include <string>

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
