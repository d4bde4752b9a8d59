// HTTP cache counters, one set per worker (only that worker writes them, so increments never
// contend; readers on other threads sum them with relaxed loads).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "cache/policy.h"

namespace fc::proxy {

struct CacheCounters {
    using C = std::atomic<std::uint64_t>;
    C hits{0}, misses{0}, notModified{0}, stored{0}, bytesFromCache{0};
    C bypass[8] = {};     // by cache::Bypass
    C notStored[16] = {}; // by cache::NotStored

    void inc(C &c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
};

// Appends "STAT http_<name> <sum>\r\n" lines (memcached stats format) summed over `all`.
inline void appendCacheStats(const std::vector<const CacheCounters *> &all, std::string &out) {
    auto sum = [&](auto field) {
        std::uint64_t t = 0;
        for (auto *c : all)
            t += field(*c).load(std::memory_order_relaxed);
        return t;
    };
    auto stat = [&](const std::string &name, std::uint64_t v) {
        out += "STAT http_" + name + " " + std::to_string(v) + "\r\n";
    };
    stat("hits", sum([](const CacheCounters &c) -> const CacheCounters::C & { return c.hits; }));
    stat("misses",
         sum([](const CacheCounters &c) -> const CacheCounters::C & { return c.misses; }));
    stat("not_modified",
         sum([](const CacheCounters &c) -> const CacheCounters::C & { return c.notModified; }));
    stat("stored",
         sum([](const CacheCounters &c) -> const CacheCounters::C & { return c.stored; }));
    stat("bytes_from_cache",
         sum([](const CacheCounters &c) -> const CacheCounters::C & { return c.bytesFromCache; }));
    for (int b = 1; b <= static_cast<int>(cache::Bypass::Upgrade); ++b)
        stat(std::string("bypass_") + cache::bypassName(static_cast<cache::Bypass>(b)),
             sum([b](const CacheCounters &c) -> const CacheCounters::C & { return c.bypass[b]; }));
    for (int n = 1; n <= static_cast<int>(cache::NotStored::Head); ++n) {
        std::string name = cache::notStoredName(static_cast<cache::NotStored>(n));
        for (char &ch : name)
            if (ch == '-')
                ch = '_';
        stat("not_stored_" + name, sum([n](const CacheCounters &c) -> const CacheCounters::C & {
                 return c.notStored[n];
             }));
    }
}

} // namespace fc::proxy
