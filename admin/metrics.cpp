#include "admin/metrics.h"

#include <cctype>
#include <cstdio>
#include <span>

#include "admin/variants.h"
#include "cache/fetch_locks.h"
#include "cache/store/clock.h"
#include "cache/store/store.h"
#include "fleet/peer_forward.h"
#include "fleet/snapshot.h"
#include "proxy/balancer.h"
#include "proxy/cache_context.h"
#include "proxy/resolver.h"

namespace fc::admin {

namespace {

using proxy::CacheCounters;
using proxy::CounterRow;

std::string quoted(std::string_view key, std::string_view value) {
    std::string s(key);
    s += "=\"";
    s += value;
    s += "\"";
    return s;
}

// name_bucket{le="..."} (cumulative), name_sum and name_count, as Prometheus wants a histogram.
void appendHistogram(std::vector<Sample> &out, const std::string &family, std::string_view help,
                     std::span<const double> bounds, const std::vector<double> &cumulative,
                     double sum, double count) {
    for (std::size_t b = 0; b <= bounds.size(); ++b) {
        std::string le = b < bounds.size() ? formatNumber(bounds[b]) : std::string("+Inf");
        out.push_back({family + "_bucket", quoted("le", le), cumulative[b], "histogram", help});
    }
    out.push_back({family + "_sum", "", sum, "histogram", help});
    out.push_back({family + "_count", "", count, "histogram", help});
}

void appendCounterHistogram(const std::vector<const CacheCounters *> &all, const CounterRow &r,
                            std::vector<Sample> &out) {
    const std::span<const double> bounds = r.histogram(*all.front()).bounds;
    std::vector<double> cumulative;
    double running = 0, sumUs = 0, count = 0;
    for (std::size_t b = 0; b <= bounds.size(); ++b) {
        for (const CacheCounters *c : all)
            running +=
                static_cast<double>(r.histogram(*c).buckets[b].load(std::memory_order_relaxed));
        cumulative.push_back(running);
    }
    for (const CacheCounters *c : all) {
        sumUs += static_cast<double>(r.histogram(*c).sumUs.load(std::memory_order_relaxed));
        count += static_cast<double>(r.histogram(*c).count.load(std::memory_order_relaxed));
    }
    appendHistogram(out, std::string(r.family), r.help, bounds, cumulative, sumUs / 1e6, count);
}

// Stored variants per page: a pass over the store, so recomputed at most every 10 s.
void appendVariantSamples(const AdminContext &ctx, std::vector<Sample> &out) {
    struct Cached {
        std::int64_t at = -1;
        VariantCounts counts;
    };
    static Cached cached; // the admin port runs on the main loop only
    const std::int64_t now = ctx.clock->now();
    if (cached.at < 0 || now - cached.at >= 10)
        cached = {now, countVariants(*ctx.store)};
    appendHistogram(out, "page_variants",
                    "Stored pages (by URI) by their number of stored variants (GET and HEAD "
                    "entries, every Vary value); recomputed at most every 10 s.",
                    kVariantBounds, cached.counts.cumulative, cached.counts.variants,
                    cached.counts.pages);
}

// One family at a time (Prometheus wants a family's samples together), one sample per server.
void appendServerSamples(const proxy::Balancer &balancer, std::vector<Sample> &out) {
    const std::vector<proxy::ServerSnapshot> servers = balancer.snapshot();
    auto perServer = [&](const char *name, const char *type, const char *help, auto value) {
        for (const proxy::ServerSnapshot &v : servers)
            out.push_back(
                {name, quoted("server", v.display), static_cast<double>(value(v)), type, help});
    };
    using V = const proxy::ServerSnapshot &;
    perServer("upstream_server_up", "gauge",
              "1 while the server is in rotation, 0 while it is left out (failures or health "
              "check).",
              [](V v) { return v.up ? 1 : 0; });
    perServer("upstream_server_active", "gauge", "Exchanges in flight to the server, all workers.",
              [](V v) { return v.active; });
    perServer("upstream_server_requests_total", "counter", "Exchanges sent to the server.",
              [](V v) { return v.requests; });
    perServer("upstream_server_failures_total", "counter",
              "Exchanges that failed at the transport level (refused, timeout, reset, "
              "malformed response).",
              [](V v) { return v.failures; });
    perServer("upstream_server_marked_down_total", "counter",
              "Times the server was left out of rotation.", [](V v) { return v.markedDown; });
}

// Host names looked up while running (proxy/resolver.h), one sample per configured name.
void appendResolverSamples(const proxy::Resolver &resolver, std::vector<Sample> &out) {
    const auto names = resolver.status();
    const std::int64_t now = resolver.nowMs();
    using N = const proxy::Resolver::NameStatus &;
    auto perName = [&](const char *name, const char *labels, const char *type, const char *help,
                       auto value) {
        for (N n : names) {
            std::string l = quoted("server", n.url);
            if (*labels)
                l += std::string(",") + labels;
            out.push_back({name, l, static_cast<double>(value(n)), type, help});
        }
    };
    perName("upstream_resolve_age_seconds", "", "gauge",
            "Seconds since the server's host name last resolved to at least one address.",
            [&](N n) { return n.lastGoodMs < 0 ? -1.0 : double(now - n.lastGoodMs) / 1000.0; });
    perName("upstream_resolve_addresses", "", "gauge",
            "Addresses of the server's host name in use or being checked.",
            [](N n) { return n.addresses; });
    perName("upstream_resolutions_total", "result=\"ok\"", "counter",
            "Lookups of the server's host name, by result (a failed one keeps the last good set).",
            [](N n) { return n.ok; });
    perName("upstream_resolutions_total", "result=\"failed\"", "counter",
            "Lookups of the server's host name, by result (a failed one keeps the last good set).",
            [](N n) { return n.failed; });
}

// The store, the reloads and the start time.
void appendProcessSamples(const AdminContext &ctx, std::vector<Sample> &out) {
    auto d = [](auto v) { return static_cast<double>(v); };
    cache::StoreStats st = ctx.store->stats();
    out.push_back({"store_items", "", d(st.currItems), "gauge",
                   "Items in the store (pages and header keys)."});
    out.push_back({"store_bytes", "", d(st.bytes), "gauge",
                   "Store memory used, bytes (keys, values, per-item overhead)."});
    out.push_back({"store_limit_bytes", "", d(st.limitMaxbytes), "gauge",
                   "Store memory limit (cache.memory)."});
    out.push_back(
        {"store_evictions_total", "", d(st.evictions), "counter", "Items evicted to make room."});
    out.push_back(
        {"store_reclaimed_total", "", d(st.reclaimed), "counter", "Expired items reclaimed."});
    out.push_back(
        {"config_reloads_total", "result=\"ok\"", d(ctx.reloads), "counter", "SIGHUP reloads."});
    out.push_back({"config_reloads_total", "result=\"error\"", d(ctx.reloadFailures), "counter",
                   "SIGHUP reloads."});
    out.push_back(
        {"start_time_seconds", "", d(ctx.startedAt), "gauge", "Unix time frontcache started."});
}

void appendPeerSamples(const fleet::PeerForwarder &peerForwarder, std::vector<Sample> &out) {
    const std::vector<fleet::PeerStats> peers = peerForwarder.stats();
    const char *help = "Purges and flushes forwarded to admin.peers, by outcome (failed: after "
                       "every retry; dropped: the peer's queue was full).";
    for (const char *result : {"ok", "failed", "dropped"})
        for (const fleet::PeerStats &p : peers) {
            std::uint64_t v = result[0] == 'o' ? p.ok : result[0] == 'f' ? p.failed : p.dropped;
            out.push_back({"peer_forwards_total",
                           quoted("peer", p.address) + "," + quoted("result", result),
                           static_cast<double>(v), "counter", help});
        }
    for (const fleet::PeerStats &p : peers)
        out.push_back({"peer_queue", quoted("peer", p.address), static_cast<double>(p.queued),
                       "gauge", "Messages waiting to be forwarded to the peer."});
}

void appendSnapshotSamples(const fleet::SnapshotStatus &sn, std::vector<Sample> &out) {
    auto d = [](auto v) { return static_cast<double>(v); };
    const char *help = "Snapshots of the store written (cache.snapshot).";
    out.push_back({"snapshots_total", "result=\"ok\"", d(sn.written), "counter", help});
    out.push_back({"snapshots_total", "result=\"error\"", d(sn.failed), "counter", help});
    out.push_back({"snapshot_last_success_seconds", "", d(sn.lastSuccess), "gauge",
                   "Unix time of the last snapshot written (0 = none yet)."});
    out.push_back({"snapshot_duration_seconds", "", sn.lastSeconds, "gauge",
                   "How long the last snapshot took to write."});
    out.push_back(
        {"snapshot_items", "", d(sn.lastItems), "gauge", "Items in the last snapshot written."});
    out.push_back({"snapshot_bytes", "", d(sn.lastBytes), "gauge",
                   "Size of the last snapshot written, bytes."});
    out.push_back({"snapshot_restored_items", "", d(sn.restoredItems), "gauge",
                   "Items read back from the snapshot at start."});
}

} // namespace

std::string formatNumber(double v) {
    char buf[64];
    if (v == static_cast<double>(static_cast<std::uint64_t>(v)) && v >= 0)
        std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
    else
        std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

void appendCounterSamples(const std::vector<const CacheCounters *> &all,
                          const std::function<double(std::string_view family)> &outside,
                          std::vector<Sample> &out) {
    auto sum = [&](const CounterRow &r, int cell) {
        double t = 0;
        for (const CacheCounters *c : all)
            t += static_cast<double>(r.read(*c, cell));
        return t;
    };
    std::string_view help; // a family's help, said by its first row
    for (const CounterRow &r : proxy::counterRows()) {
        if (!r.help.empty())
            help = r.help;
        std::string family(r.family);
        switch (r.kind) {
        case CounterRow::Kind::One:
        case CounterRow::Kind::Sum:
            out.push_back({family, std::string(r.labels), sum(r, 0), r.type, help});
            break;
        case CounterRow::Kind::Many:
            for (int cell = r.first; cell <= r.last; ++cell)
                out.push_back(
                    {family, quoted(r.labels, r.label(cell)), sum(r, cell), r.type, help});
            break;
        case CounterRow::Kind::Histogram:
            appendCounterHistogram(all, r, out);
            break;
        case CounterRow::Kind::Outside:
            out.push_back({family, "", outside(r.family), r.type, help});
            break;
        }
    }
}

std::vector<Sample> collect(const AdminContext &ctx) {
    std::vector<Sample> out;
    appendCounterSamples(
        ctx.counters,
        [&](std::string_view family) {
            // The Outside rows: fetches_in_flight, the coalescing locks held; cache_groups,
            // the (group, host) pairs the group index holds.
            if (family == "fetches_in_flight")
                return static_cast<double>(ctx.locks->heldCount());
            if (family == "cache_groups" && ctx.cache && ctx.cache->groups)
                return static_cast<double>(ctx.cache->groups->groups());
            return 0.0;
        },
        out);
    appendVariantSamples(ctx, out);
    if (ctx.balancer)
        appendServerSamples(*ctx.balancer, out);
    if (ctx.resolver)
        appendResolverSamples(*ctx.resolver, out);
    appendProcessSamples(ctx, out);
    if (ctx.peers)
        appendPeerSamples(*ctx.peers, out);
    if (ctx.snapshots)
        appendSnapshotSamples(*ctx.snapshots, out);
    return out;
}

std::string renderJson(const std::vector<Sample> &samples) {
    // {"requests_total{cache=\"hit\"}": ...} would be awkward to use: labels become a suffix.
    std::string out = "{";
    bool first = true;
    for (const auto &s : samples) {
        std::string key = s.name;
        if (!s.labels.empty()) {
            std::string_view l = s.labels;
            std::size_t q1 = l.find('"'), q2 = l.rfind('"');
            key += "_";
            key += l.substr(q1 + 1, q2 - q1 - 1);
        }
        for (char &c : key)
            if (c == '+')
                c = 'p'; // le="+Inf"
            else if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
                c = '_';
        out += first ? "\n  \"" : ",\n  \"";
        out += key + "\": " + formatNumber(s.value);
        first = false;
    }
    out += "\n}\n";
    return out;
}

std::string renderPrometheus(const std::vector<Sample> &samples) {
    std::string out, last;
    for (const auto &s : samples) {
        std::string family = s.name;
        if (s.type == "histogram") // name_bucket, name_sum, name_count
            family = family.substr(0, family.rfind('_'));
        if (family != last) {
            out += "# HELP frontcache_" + family + " ";
            out += s.help;
            out += "\n# TYPE frontcache_" + family + " ";
            out += s.type;
            out += "\n";
            last = family;
        }
        out += "frontcache_" + s.name;
        if (!s.labels.empty())
            out += "{" + s.labels + "}";
        out += " " + formatNumber(s.value) + "\n";
    }
    return out;
}

} // namespace fc::admin
