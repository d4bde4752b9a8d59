// HTTP cache counters, one set per worker (only that worker writes them, so increments never
// contend; readers on other threads sum them with relaxed loads).
//
// Every counter is defined once, as a row of FC_CACHE_COUNTERS: the row declares the field of
// CacheCounters and says how it is exported — its Prometheus family, labels, type and help
// (admin/metrics.cpp's /metrics, and so /stats, whose names are made from those), and its name
// in the memcached port's `stats` (appendCacheStats). Adding a counter is adding a row; the
// dashboard test (tests/integration/test_dashboard.py) checks what it queries against /metrics.
//
// Threading: the owning worker's thread increments; any thread reads (relaxed loads).
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cache/policy/policy.h"
#include "cache/policy/request.h"
#include "http/coding.h"

namespace fc::proxy {

// The rows, in the order /metrics exports them (a family's rows together: Prometheus wants
// them so). `help` is said on a family's first row only ("" on the rows that follow it).
//
//   ONE(field, family, labels, type, stat, help)      one counter, one sample
//   MANY(field, cells, family, label, first, last, name, type, stat, help)
//       an array indexed by an enum; cells first..last are exported, one sample each, labelled
//       label="name(cell)"; `stat` is a prefix there, with '-' in the name written '_'
//   HISTOGRAM(field, bounds, family, help)            a Prometheus histogram of durations
//   SUM(family, labels, type, help, value)             no field: a sample adding up other rows
//                                                      (`value`: of one set `c`, with load())
//   OUTSIDE(family, type, help)                        no field: a number the reader has (the
//                                                      admin port: the coalescing locks held)
//
// `stat`: the name after "STAT http_" in the memcached port's `stats` ("" = not there).
#define FC_CACHE_COUNTERS(ONE, MANY, HISTOGRAM, SUM, OUTSIDE)                                      \
    ONE(hits, "requests_total", "cache=\"hit\"", "counter", "hits",                                \
        "Requests answered, by cache status.")                                                     \
    ONE(misses, "requests_total", "cache=\"miss\"", "counter", "misses", "")                       \
    SUM("requests_total", "cache=\"stale\"", "counter", "",                                        \
        load(c.staleServed) + load(c.staleOnError) + load(c.staleLimited))                         \
    ONE(revalidatedServed, "requests_total", "cache=\"revalidated\"", "counter", "", "")           \
    ONE(notModified, "requests_total", "cache=\"not_modified\"", "counter", "not_modified", "")    \
    SUM("requests_total", "cache=\"bypass\"", "counter", "",                                       \
        load(c.bypass, 1, int(cache::Bypass::Rule)))                                               \
    MANY(bypass, 8, "bypass_total", "reason", 1, int(cache::Bypass::Rule), bypassLabel, "counter", \
         "bypass_", "Requests not looked up, by reason.")                                          \
    ONE(stored, "stores_total", "", "counter", "stored", "Pages written to the store.")            \
    MANY(notStored, 16, "not_stored_total", "reason", 1, int(cache::kLastNotStored),               \
         notStoredLabel, "counter", "not_stored_", "Fetched responses not stored, by reason.")     \
    ONE(bytesFromCache, "bytes_from_cache_total", "", "counter", "bytes_from_cache",               \
        "Bytes of responses answered from the store.")                                             \
    /* Under load and failure. */                                                                  \
    ONE(staleServed, "stale_served_total", "reason=\"grace\"", "counter", "",                      \
        "Requests answered from a stale copy, by why.")                                            \
    ONE(staleOnError, "stale_served_total", "reason=\"error\"", "counter", "", "")                 \
    ONE(staleLimited, "stale_served_total", "reason=\"limit\"", "counter", "", "")                 \
    ONE(limitedRefused, "limited_total", "action=\"refused\"", "counter", "",                      \
        "Requests over their client's [limits] budget, by what was done: answered 429, from a "    \
        "stale copy, or only counted (mode = dry_run).")                                           \
    SUM("limited_total", "action=\"stale\"", "counter", "", load(c.staleLimited))                  \
    ONE(limitedDryRun, "limited_total", "action=\"dry_run\"", "counter", "", "")                   \
    ONE(coalescedWaits, "coalesced_waits_total", "", "counter", "",                                \
        "Misses that waited for another request's fetch of the same page.")                        \
    ONE(coalescedWakeHits, "coalesced_wake_hits_total", "", "counter", "",                         \
        "Waiters answered from the page the fetch they waited for stored.")                        \
    ONE(lockTimeouts, "lock_timeouts_total", "", "counter", "",                                    \
        "Waiters that gave up after cache.lock_timeout and fetched themselves.")                   \
    ONE(passMarked, "hit_for_miss_marks_total", "", "counter", "",                                 \
        "Pages marked not storable (later misses skip coalescing).")                               \
    OUTSIDE("fetches_in_flight", "gauge", "Pages being fetched now (coalescing locks held).")      \
    /* Live objects (gauges: each worker adds and removes its own). */                             \
    ONE(fetchesLive, "upstream_fetches", "", "gauge", "",                                          \
        "Upstream fetches alive: for clients, finishing alone after their client left (storing a " \
        "page), and background refreshes.")                                                        \
    ONE(clientsOpen, "client_connections", "", "gauge", "",                                        \
        "Client connections open (objects alive, in every worker).")                               \
    ONE(tunnelsOpen, "tunnels", "", "gauge", "",                                                   \
        "WebSocket tunnels open (the upstream answered 101; bytes relayed both ways).")            \
    ONE(tunnelsOpened, "tunnels_opened_total", "", "counter", "", "WebSocket tunnels opened.")     \
    ONE(tunnelsRefused, "tunnels_refused_total", "", "counter", "",                                \
        "WebSocket handshakes answered 503: server.max_tunnels were open in the worker.")          \
    ONE(tunnelsIdleClosed, "tunnels_idle_closed_total", "", "counter", "",                         \
        "Tunnels closed after server.tunnel_idle_timeout without a byte either way.")              \
    ONE(tunnelBytesUp, "tunnel_bytes_total", "direction=\"to_upstream\"", "counter", "",           \
        "Bytes relayed through WebSocket tunnels, by direction.")                                  \
    ONE(tunnelBytesDown, "tunnel_bytes_total", "direction=\"to_client\"", "counter", "", "")       \
    ONE(refreshes, "refreshes_total", "", "counter", "", "Background refreshes started (grace).")  \
    ONE(refreshFailed, "refresh_failures_total", "", "counter", "",                                \
        "Background refreshes that left the stale copy in place.")                                 \
    ONE(revalidated, "revalidated_total", "", "counter", "",                                       \
        "Stored pages renewed by a 304 from the upstream.")                                        \
    ONE(purged, "purged_total", "", "counter", "", "Pages removed by purges.")                     \
    ONE(softPurged, "soft_purged_total", "", "counter", "",                                        \
        "Pages a soft purge marked expired (served stale while one fetch renews each).")           \
    /* Cache groups (RFC 9875, cache/groups.h). */                                                 \
    ONE(groupPurges, "group_purges_total", "", "counter", "",                                      \
        "Purges by cache group: admin, public PURGE, Cache-Group-Invalidation, from peers.")       \
    ONE(groupPurgedPages, "group_purged_pages_total", "", "counter", "",                           \
        "Pages those purges removed or (soft) marked expired.")                                    \
    MANY(groupFieldsIgnored, 3, "group_fields_ignored_total", "reason", 0, 2, groupIgnoredLabel,   \
         "counter", "",                                                                            \
         "Group fields or groups ignored: invalid (not a Structured Field List, a member not a "   \
         "String, a token not visible ASCII), too_many (past 128 a response), too_long (past "     \
         "256 bytes).")                                                                            \
    OUTSIDE("cache_groups", "gauge", "Cache groups indexed: (group, host) pairs with pages.")      \
    ONE(proxyProtocolRejected, "proxy_protocol_rejected_total", "", "counter", "",                 \
        "Connections closed for a missing or invalid PROXY protocol header.")                      \
    ONE(unavailablePages, "unavailable_pages_total", "", "counter", "",                            \
        "Answers from upstream.unavailable_page: the app could not be reached, no stale copy.")    \
    /* The shared memcached cluster (cache.shared_servers). */                                     \
    ONE(sharedHits, "shared_lookups_total", "result=\"hit\"", "counter", "",                       \
        "Shared memcached cluster (cache.shared_servers): misses here, by whether the cluster "    \
        "had the page.")                                                                           \
    ONE(sharedMisses, "shared_lookups_total", "result=\"miss\"", "counter", "", "")                \
    ONE(sharedStores, "shared_stores_total", "", "counter", "",                                    \
        "Pages written to the shared cluster.")                                                    \
    ONE(sharedErrors, "shared_errors_total", "", "counter", "",                                    \
        "Lookups or stores the shared cluster could not take (down, timeout).")                    \
    /* Compression of stored copies (by http::Coding; Deflate is decoded only, never made). */     \
    MANY(codingsMade, 5, "codings_made_total", "coding", 0, int(http::Coding::Zstd), codingLabel,  \
         "counter", "",                                                                            \
         "Representations frontcache made for stored copies, by coding (identity: decoded from "   \
         "the origin's coding).")                                                                  \
    MANY(codedAnswers, 5, "coded_answers_total", "coding", 0, int(http::Coding::Zstd),             \
         codingLabel, "counter", "",                                                               \
         "Answers from stored copies held in several codings, by the coding sent.")                \
    ONE(codingsOffloaded, "codings_offloaded_total", "", "counter", "",                            \
        "Stored copies whose codings were made on the thread pool (large bodies).")                \
    ONE(codingSavedBytes, "compression_saved_bytes_total", "", "counter", "",                      \
        "Bytes not sent thanks to compression: identity size minus the size sent, over coded "     \
        "answers.")                                                                                \
    MANY(upstreamErrors, 3, "upstream_errors_total", "status", 0, 2, statusLabel, "counter", "",   \
         "Error responses frontcache generated for upstream failures.")                            \
    HISTOGRAM(upstreamLatency, kUpstreamBounds, "upstream_response_seconds",                       \
              "Upstream time to response head, seconds.")                                          \
    HISTOGRAM(wakeLatency, kWakeBounds, "coalesced_wake_seconds",                                  \
              "Coalesced waiters: from the fill to the answer written, seconds.")

// The label values of the MANY rows, by cell.
std::string_view bypassLabel(int cell);       // cache::bypassName
std::string_view notStoredLabel(int cell);    // cache::notStoredName
std::string_view codingLabel(int cell);       // http::codingName
std::string_view statusLabel(int cell);       // "502", "503", "504"
std::string_view groupIgnoredLabel(int cell); // cache::groupIgnoredName

struct CacheCounters {
    using C = std::atomic<std::uint64_t>;
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
    // Upstream time to the response head.
    static constexpr double kUpstreamBounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                 0.25,  0.5,    1,     2.5,  5,     10};
    // Coalescing: from the fill (the lock released) to a woken waiter's answer written.
    static constexpr double kWakeBounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                             0.005,  0.01,    0.025,  0.1};

#define FC_COUNTER_FIELD_ONE(field, ...) C field{0};
#define FC_COUNTER_FIELD_MANY(field, cells, ...) C field[cells] = {};
#define FC_COUNTER_FIELD_HISTOGRAM(field, bounds, ...) Histogram field{bounds};
#define FC_COUNTER_NO_FIELD(...)
    FC_CACHE_COUNTERS(FC_COUNTER_FIELD_ONE, FC_COUNTER_FIELD_MANY, FC_COUNTER_FIELD_HISTOGRAM,
                      FC_COUNTER_NO_FIELD, FC_COUNTER_NO_FIELD)
#undef FC_COUNTER_FIELD_ONE
#undef FC_COUNTER_FIELD_MANY
#undef FC_COUNTER_FIELD_HISTOGRAM
#undef FC_COUNTER_NO_FIELD

    void observeUpstream(std::uint64_t us) {
        upstreamLatency.observe(us);
    }
    void upstreamError(int status) {
        if (status >= 502 && status <= 504)
            inc(upstreamErrors[status - 502]);
    }

    void inc(C &c, std::uint64_t n = 1) {
        c.fetch_add(n, std::memory_order_relaxed);
    }
    void dec(C &c) {
        c.fetch_sub(1, std::memory_order_relaxed);
    }
};

// One row of FC_CACHE_COUNTERS as data, for whoever exports the counters.
struct CounterRow {
    enum class Kind : std::uint8_t { One, Many, Histogram, Sum, Outside };
    Kind kind = Kind::One;
    std::string_view family = {}; // Prometheus family, without "frontcache_"
    std::string_view labels = {}; // One, Sum: `key="value"` ("" = none); Many: the key alone
    std::string_view type = {};   // "counter", "gauge", "histogram"
    std::string_view help = {};   // "": the family's help is said by an earlier row
    std::string_view stat = {};   // memcached `stats` name after "http_" (Many: prefix); "" = none
    int first = 0, last = 0;      // Many: the cells exported
    std::string_view (*label)(int cell) = nullptr; // Many: the label value of a cell
    // One, Many, Sum: the value in one set (a relaxed load; `cell` for Many).
    std::uint64_t (*read)(const CacheCounters &, int cell) = nullptr;
    const CacheCounters::Histogram &(*histogram)(const CacheCounters &) = nullptr;
};

// Every row, in FC_CACHE_COUNTERS's order. Constant; any thread.
std::span<const CounterRow> counterRows();

// Appends "STAT http_<stat> <sum>\r\n" lines (memcached stats format) summed over `all`: the
// One rows first, then the Many rows' cells.
void appendCacheStats(const std::vector<const CacheCounters *> &all, std::string &out);

} // namespace fc::proxy
