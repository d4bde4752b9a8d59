#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/cache_counters.h"

using fc::proxy::appendCacheStats;
using fc::proxy::CacheCounters;

TEST_CASE("memcached stats: the rows with a stat name, scalars first, summed over the sets") {
    CacheCounters a, b;
    a.inc(a.hits);
    b.inc(b.hits, 2);
    b.inc(b.bytesFromCache, 10);
    a.inc(a.notStored[static_cast<int>(fc::cache::NotStored::SetCookie)]);
    a.inc(a.staleServed); // no stat name: not there
    std::string out;
    appendCacheStats({&a, &b}, out);
    CHECK(out.find("STAT http_hits 3\r\n"
                   "STAT http_misses 0\r\n"
                   "STAT http_not_modified 0\r\n"
                   "STAT http_stored 0\r\n"
                   "STAT http_bytes_from_cache 10\r\n"
                   "STAT http_bypass_method 0\r\n") == 0);
    CHECK(out.find("STAT http_not_stored_set_cookie 1\r\n") != std::string::npos);
    CHECK(out.find("stale") == std::string::npos);
}
