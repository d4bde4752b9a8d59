// HTTP cache counters, one set per worker (only that worker writes them, so increments never
// contend; readers on other threads sum them with relaxed loads).
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cache/policy.h"

namespace fc::proxy {

struct CacheCounters {
    using C = std::atomic<std::uint64_t>;
    C hits{0}, misses{0}, notModified{0}, stored{0}, bytesFromCache{0};
    C bypass[8] = {};     // by cache::Bypass
    C notStored[16] = {}; // by cache::NotStored
    // Under load and failure (#6).
    C staleServed{0};         // answered from a copy in its grace window (refresh in background)
    C staleOnError{0};        // answered from a stale copy instead of an upstream error
    C coalescedWaits{0};      // misses that waited for another request's fetch
    C coalescedWakeHits{0};   // ... and were then answered from the page it stored
    C lockTimeouts{0};        // waiters that gave up after cache.lock_timeout and fetched
    C passMarked{0};          // keys marked not storable (hit-for-miss)
    C refreshes{0};           // background refreshes started
    C refreshFailed{0};       // background refreshes that ended without a new or renewed page
    C revalidated{0};         // stored pages renewed by a 304 from the upstream
    C revalidatedServed{0};   // requests answered REVALIDATED (a foreground 304)
    C purged{0};              // pages removed by PURGE / POST /purge
    C softPurged{0};          // pages marked expired by a soft purge
    C upstreamErrors[3] = {}; // 502, 503, 504 answered by frontcache itself
    C bytesToClients{0};
    C proxyProtocolRejected{0}; // connections closed for a missing or invalid PROXY header
    // Compression of stored copies (#13).
    C codingsMade[5] = {};  // representations produced, by http::Coding (identity = decoded)
    C codingsOffloaded{0};  // stored copies whose codings were made on the thread pool
    C codingSavedBytes{0};  // identity size minus the size sent, over coded answers
    C codedAnswers[5] = {}; // answers from the store, by the coding sent
    // Live objects (gauges: this worker adds and removes its own).
    C clientsOpen{0}; // ClientConnection objects alive
    C fetchesLive{0}; // Fetch objects alive (client fetches, ones finishing alone, refreshes)
    // The shared memcached cluster (cache.shared_servers).
    C sharedHits{0};   // misses here answered from a page the cluster had
    C sharedMisses{0}; // misses here the cluster did not have either
    C sharedStores{0}; // pages written to the cluster
    C sharedErrors{0}; // lookups or stores the cluster could not take (down, timeout)
    // A Prometheus-style histogram of durations: a count per bucket (upper bounds in seconds, a
    // last +Inf bucket implied), the sum and the count.
    struct Histogram {
        static constexpr int kMaxBuckets = 16;
        explicit Histogram(std::span<const double> b) : bounds(b) {}
        std::span<const double> bounds;
        C buckets[kMaxBuckets] = {};
        C sumUs{0}, count{0};
        void observe(std::uint64_t us) {
            std::size_t b = 0;
            while (b < bounds.size() && static_cast<double>(us) > bounds[b] * 1e6)
                ++b;
            buckets[b].fetch_add(1, std::memory_order_relaxed);
            sumUs.fetch_add(us, std::memory_order_relaxed);
            count.fetch_add(1, std::memory_order_relaxed);
        }
    };
    static constexpr double kUpstreamBounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                 0.25,  0.5,    1,     2.5,  5,     10};
    static constexpr double kWakeBounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                             0.005,  0.01,    0.025,  0.1};
    // Upstream time to the response head.
    Histogram upstreamLatency{kUpstreamBounds};
    // Coalescing: from the fill (the lock released) to a woken waiter's answer written.
    Histogram wakeLatency{kWakeBounds};

    void observeUpstream(std::uint64_t us) { upstreamLatency.observe(us); }
    void upstreamError(int status) {
        if (status >= 502 && status <= 504)
            inc(upstreamErrors[status - 502]);
    }

    void inc(C &c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
    void dec(C &c) { c.fetch_sub(1, std::memory_order_relaxed); }
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
    for (int n = 1; n <= static_cast<int>(cache::kLastNotStored); ++n) {
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
