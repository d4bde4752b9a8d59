#include "proxy/admin.h"
#include "proxy/access_log.h"

#include "cache/page.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "cache/page.h"
#include "http/parser.h"
#include "http/rewrite.h"
#include "proxy/access_log.h"
#include "proxy/log.h"
#include "proxy/purge.h"
#include "proxy/shared_cache.h"
#include "proxy/stream_write.h"

namespace fc::proxy {

namespace {

// One exported number. Families with labels repeat the name; HELP/TYPE are printed once.
struct Sample {
    std::string name;   // without the frontcache_ prefix
    std::string labels; // Prometheus form: key="value",... (empty = none)
    double value;
    const char *type; // counter, gauge, histogram
    const char *help;
};

std::string formatNumber(double v) {
    char buf[64];
    if (v == static_cast<double>(static_cast<std::uint64_t>(v)) && v >= 0)
        std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
    else
        std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

std::vector<Sample> collect(const AdminContext &ctx) {
    std::vector<Sample> out;
    using C = CacheCounters::C;
    auto sum = [&](auto field) {
        double t = 0;
        for (auto *c : ctx.counters)
            t += static_cast<double>(field(*c).load(std::memory_order_relaxed));
        return t;
    };
#define FC_SUM(expr) sum([&](const CacheCounters &c) -> const C & { return c.expr; })
    const char *reqHelp = "Requests answered, by cache status.";
    out.push_back({"requests_total", "cache=\"hit\"", FC_SUM(hits), "counter", reqHelp});
    out.push_back({"requests_total", "cache=\"miss\"", FC_SUM(misses), "counter", reqHelp});
    out.push_back({"requests_total", "cache=\"stale\"", FC_SUM(staleServed) + FC_SUM(staleOnError),
                   "counter", reqHelp});
    out.push_back(
        {"requests_total", "cache=\"revalidated\"", FC_SUM(revalidatedServed), "counter", reqHelp});
    out.push_back(
        {"requests_total", "cache=\"not_modified\"", FC_SUM(notModified), "counter", reqHelp});
    double bypass = 0;
    for (int b = 1; b <= static_cast<int>(cache::Bypass::Upgrade); ++b)
        bypass += FC_SUM(bypass[b]);
    out.push_back({"requests_total", "cache=\"bypass\"", bypass, "counter", reqHelp});
    for (int b = 1; b <= static_cast<int>(cache::Bypass::Upgrade); ++b)
        out.push_back(
            {"bypass_total",
             std::string("reason=\"") + cache::bypassName(static_cast<cache::Bypass>(b)) + "\"",
             FC_SUM(bypass[b]), "counter", "Requests not looked up, by reason."});
    out.push_back({"stores_total", "", FC_SUM(stored), "counter", "Pages written to the store."});
    for (int n = 1; n <= static_cast<int>(cache::kLastNotStored); ++n)
        out.push_back({"not_stored_total",
                       std::string("reason=\"") +
                           cache::notStoredName(static_cast<cache::NotStored>(n)) + "\"",
                       FC_SUM(notStored[n]), "counter",
                       "Fetched responses not stored, by reason."});
    // Counters that are one field each, in the order they are exported.
    struct Plain {
        const char *name, *labels;
        C CacheCounters::*field;
        const char *help;
    };
    static constexpr const char *staleHelp = "Requests answered from a stale copy, by why.";
    static constexpr const char *sharedHelp =
        "Shared memcached cluster (cache.shared_servers): misses here, by "
        "whether the cluster had the page.";
    static const Plain kBeforeGauge[] = {
        {"bytes_from_cache_total", "", &CacheCounters::bytesFromCache,
         "Bytes of responses answered from the store."},
        {"stale_served_total", "reason=\"grace\"", &CacheCounters::staleServed, staleHelp},
        {"stale_served_total", "reason=\"error\"", &CacheCounters::staleOnError, staleHelp},
        {"coalesced_waits_total", "", &CacheCounters::coalescedWaits,
         "Misses that waited for another request's fetch of the same page."},
        {"coalesced_wake_hits_total", "", &CacheCounters::coalescedWakeHits,
         "Waiters answered from the page the fetch they waited for stored."},
        {"lock_timeouts_total", "", &CacheCounters::lockTimeouts,
         "Waiters that gave up after cache.lock_timeout and fetched themselves."},
        {"hit_for_miss_marks_total", "", &CacheCounters::passMarked,
         "Pages marked not storable (later misses skip coalescing)."},
    };
    static const Plain kAfterGauge[] = {
        {"refreshes_total", "", &CacheCounters::refreshes, "Background refreshes started (grace)."},
        {"refresh_failures_total", "", &CacheCounters::refreshFailed,
         "Background refreshes that left the stale copy in place."},
        {"revalidated_total", "", &CacheCounters::revalidated,
         "Stored pages renewed by a 304 from the upstream."},
        {"purged_total", "", &CacheCounters::purged, "Pages removed by purges."},
        {"soft_purged_total", "", &CacheCounters::softPurged,
         "Pages a soft purge marked expired (served stale while one fetch renews each)."},
        {"proxy_protocol_rejected_total", "", &CacheCounters::proxyProtocolRejected,
         "Connections closed for a missing or invalid PROXY protocol header."},
        {"shared_lookups_total", "result=\"hit\"", &CacheCounters::sharedHits, sharedHelp},
        {"shared_lookups_total", "result=\"miss\"", &CacheCounters::sharedMisses, sharedHelp},
        {"shared_stores_total", "", &CacheCounters::sharedStores,
         "Pages written to the shared cluster."},
        {"shared_errors_total", "", &CacheCounters::sharedErrors,
         "Lookups or stores the shared cluster could not take (down, timeout)."},
    };
    auto plain = [&](const Plain &p) {
        out.push_back({p.name, p.labels,
                       sum([&](const CacheCounters &c) -> const C & { return c.*p.field; }),
                       "counter", p.help});
    };
    for (const Plain &p : kBeforeGauge)
        plain(p);
    out.push_back({"fetches_in_flight", "", static_cast<double>(ctx.locks->heldCount()), "gauge",
                   "Pages being fetched now (coalescing locks held)."});
    out.push_back({"upstream_fetches", "", FC_SUM(fetchesLive), "gauge",
                   "Upstream fetches alive: for clients, finishing alone after their client left "
                   "(storing a page), and background refreshes."});
    out.push_back({"client_connections", "", FC_SUM(clientsOpen), "gauge",
                   "Client connections open (objects alive, in every worker)."});
    for (const Plain &p : kAfterGauge)
        plain(p);
    // Compression of stored copies (#13).
    constexpr http::Coding kCodings[] = {http::Coding::Identity, http::Coding::Gzip,
                                         http::Coding::Br, http::Coding::Zstd};
    auto codingLabel = [](http::Coding c) {
        return std::string("coding=\"") + std::string(http::codingName(c)) + "\"";
    };
    for (http::Coding coding : kCodings)
        out.push_back({"codings_made_total", codingLabel(coding),
                       FC_SUM(codingsMade[static_cast<int>(coding)]), "counter",
                       "Representations frontcache made for stored copies, by coding (identity: "
                       "decoded from the origin's coding)."});
    for (http::Coding coding : kCodings)
        out.push_back({"coded_answers_total", codingLabel(coding),
                       FC_SUM(codedAnswers[static_cast<int>(coding)]), "counter",
                       "Answers from stored copies held in several codings, by the coding sent."});
    out.push_back({"codings_offloaded_total", "", FC_SUM(codingsOffloaded), "counter",
                   "Stored copies whose codings were made on the thread pool (large bodies)."});
    out.push_back({"compression_saved_bytes_total", "", FC_SUM(codingSavedBytes), "counter",
                   "Bytes not sent thanks to compression: identity size minus the size sent, "
                   "over coded answers."});
    const char *errHelp = "Error responses frontcache generated for upstream failures.";
    for (int i = 0; i < 3; ++i)
        out.push_back({"upstream_errors_total", "status=\"" + std::to_string(502 + i) + "\"",
                       FC_SUM(upstreamErrors[i]), "counter", errHelp});
    auto histogram = [&](const std::string &family, const char *help, auto member) {
        const CacheCounters::Histogram &first = member(*ctx.counters.front());
        double cumulative = 0;
        for (std::size_t b = 0; b <= first.bounds.size(); ++b) {
            cumulative +=
                sum([&](const CacheCounters &c) -> const C & { return member(c).buckets[b]; });
            std::string le =
                b < first.bounds.size() ? formatNumber(first.bounds[b]) : std::string("+Inf");
            out.push_back({family + "_bucket", "le=\"" + le + "\"", cumulative, "histogram", help});
        }
        out.push_back({family + "_sum", "", sum([&](const CacheCounters &c) -> const C & {
                                                return member(c).sumUs;
                                            }) / 1e6,
                       "histogram", help});
        out.push_back({family + "_count", "",
                       sum([&](const CacheCounters &c) -> const C & { return member(c).count; }),
                       "histogram", help});
    };
    histogram(
        "upstream_response_seconds", "Upstream time to response head, seconds.",
        [](const CacheCounters &c) -> const auto & { return c.upstreamLatency; });
    histogram(
        "coalesced_wake_seconds",
        "Coalesced waiters: from the fill to the answer written, seconds.",
        [](const CacheCounters &c) -> const auto & { return c.wakeLatency; });
#undef FC_SUM
    // How many variants each stored page has (Vary splitting it): a histogram over the pages in
    // the store, by URI. A pass over the store, so it is recomputed at most every 10 s.
    {
        struct VariantCache {
            std::int64_t at = -1;
            std::vector<double> cumulative;
            double pages = 0, variants = 0;
        };
        static VariantCache cached; // the admin port runs on the main loop only
        static constexpr double kBounds[] = {1, 2, 3, 4, 8, 16, 64};
        const std::int64_t now = ctx.cache->clock->now();
        if (cached.at < 0 || now - cached.at >= 10) {
            std::unordered_map<std::string, std::uint32_t> perUri;
            ctx.store->forEachLive([&](std::vector<cache::ItemRef> &items) {
                for (auto &it : items) {
                    cache::PageView v;
                    if (cache::decodePage(it->value(), v))
                        ++perUri[std::string(v.uri)];
                }
            });
            cached = {};
            cached.at = now;
            cached.cumulative.assign(std::size(kBounds) + 1, 0);
            for (auto &[uri, n] : perUri) {
                for (std::size_t b = 0; b <= std::size(kBounds); ++b)
                    if (b == std::size(kBounds) || n <= kBounds[b])
                        cached.cumulative[b] += 1;
                cached.pages += 1;
                cached.variants += n;
            }
        }
        const char *help = "Stored pages (by URI) by their number of stored variants (GET and "
                           "HEAD entries, every Vary value); recomputed at most every 10 s.";
        for (std::size_t b = 0; b <= std::size(kBounds); ++b)
            out.push_back(
                {"page_variants_bucket",
                 "le=\"" +
                     (b < std::size(kBounds) ? formatNumber(kBounds[b]) : std::string("+Inf")) +
                     "\"",
                 cached.cumulative[b], "histogram", help});
        out.push_back({"page_variants_sum", "", cached.variants, "histogram", help});
        out.push_back({"page_variants_count", "", cached.pages, "histogram", help});
    }
    if (const Balancer *b = ctx.cache->balancer) {
        // One family at a time (Prometheus wants a family's samples together).
        const std::vector<ServerSnapshot> servers = b->snapshot();
        auto perServer = [&](const char *name, const char *type, const char *help, auto value) {
            for (const ServerSnapshot &v : servers)
                out.push_back({name, "server=\"" + v.display + "\"", static_cast<double>(value(v)),
                               type, help});
        };
        perServer("upstream_server_up", "gauge",
                  "1 while the server is in rotation, 0 while it is left out (failures or health "
                  "check).",
                  [](const ServerSnapshot &v) { return v.up ? 1 : 0; });
        perServer("upstream_server_active", "gauge",
                  "Exchanges in flight to the server, all workers.",
                  [](const ServerSnapshot &v) { return v.active; });
        perServer("upstream_server_requests_total", "counter", "Exchanges sent to the server.",
                  [](const ServerSnapshot &v) { return v.requests; });
        perServer("upstream_server_failures_total", "counter",
                  "Exchanges that failed at the transport level (refused, timeout, reset, "
                  "malformed response).",
                  [](const ServerSnapshot &v) { return v.failures; });
        perServer("upstream_server_marked_down_total", "counter",
                  "Times the server was left out of rotation.",
                  [](const ServerSnapshot &v) { return v.markedDown; });
    }
    cache::StoreStats st = ctx.store->stats();
    out.push_back({"store_items", "", static_cast<double>(st.currItems), "gauge",
                   "Items in the store (pages and header keys)."});
    out.push_back({"store_bytes", "", static_cast<double>(st.bytes), "gauge",
                   "Store memory used, bytes (keys, values, per-item overhead)."});
    out.push_back({"store_limit_bytes", "", static_cast<double>(st.limitMaxbytes), "gauge",
                   "Store memory limit (cache.memory)."});
    out.push_back({"store_evictions_total", "", static_cast<double>(st.evictions), "counter",
                   "Items evicted to make room."});
    out.push_back({"store_reclaimed_total", "", static_cast<double>(st.reclaimed), "counter",
                   "Expired items reclaimed."});
    out.push_back({"config_reloads_total", "result=\"ok\"", static_cast<double>(ctx.reloads),
                   "counter", "SIGHUP reloads."});
    out.push_back({"config_reloads_total", "result=\"error\"",
                   static_cast<double>(ctx.reloadFailures), "counter", "SIGHUP reloads."});
    out.push_back({"start_time_seconds", "", static_cast<double>(ctx.startedAt), "gauge",
                   "Unix time frontcache started."});
    if (ctx.peers) {
        const std::vector<PeerStats> peers = ctx.peers->stats();
        const char *help = "Purges and flushes forwarded to admin.peers, by outcome (failed: after "
                           "every retry; dropped: the peer's queue was full).";
        for (const char *result : {"ok", "failed", "dropped"})
            for (const PeerStats &p : peers) {
                std::uint64_t v = result[0] == 'o' ? p.ok : result[0] == 'f' ? p.failed : p.dropped;
                out.push_back({"peer_forwards_total",
                               "peer=\"" + p.address + "\",result=\"" + result + "\"",
                               static_cast<double>(v), "counter", help});
            }
        for (const PeerStats &p : peers)
            out.push_back({"peer_queue", "peer=\"" + p.address + "\"",
                           static_cast<double>(p.queued), "gauge",
                           "Messages waiting to be forwarded to the peer."});
    }
    if (const SnapshotStatus *sn = ctx.snapshots) {
        const char *help = "Snapshots of the store written (cache.snapshot).";
        out.push_back({"snapshots_total", "result=\"ok\"", static_cast<double>(sn->written),
                       "counter", help});
        out.push_back({"snapshots_total", "result=\"error\"", static_cast<double>(sn->failed),
                       "counter", help});
        out.push_back({"snapshot_last_success_seconds", "", static_cast<double>(sn->lastSuccess),
                       "gauge", "Unix time of the last snapshot written (0 = none yet)."});
        out.push_back({"snapshot_duration_seconds", "", sn->lastSeconds, "gauge",
                       "How long the last snapshot took to write."});
        out.push_back({"snapshot_items", "", static_cast<double>(sn->lastItems), "gauge",
                       "Items in the last snapshot written."});
        out.push_back({"snapshot_bytes", "", static_cast<double>(sn->lastBytes), "gauge",
                       "Size of the last snapshot written, bytes."});
        out.push_back({"snapshot_restored_items", "", static_cast<double>(sn->restoredItems),
                       "gauge", "Items read back from the snapshot at start."});
    }
    return out;
}

} // namespace

std::string renderMetrics(const AdminContext &ctx, bool json) {
    std::vector<Sample> samples = collect(ctx);
    std::string out;
    if (json) {
        // {"requests_total{cache=\"hit\"}": ...} would be awkward to use: labels become a suffix.
        out = "{";
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
    std::string last;
    for (const auto &s : samples) {
        std::string family = s.name;
        if (std::string_view(s.type) == "histogram") // name_bucket, name_sum, name_count
            family = family.substr(0, family.rfind('_'));
        if (family != last) {
            out += "# HELP frontcache_" + family + " " + s.help + "\n";
            out += "# TYPE frontcache_" + family + " " + s.type + "\n";
            last = family;
        }
        out += "frontcache_" + s.name;
        if (!s.labels.empty())
            out += "{" + s.labels + "}";
        out += " " + formatNumber(s.value) + "\n";
    }
    return out;
}

// --- connections --------------------------------------------------------------------------------

class AdminConnection final : private http::RequestParser::Sink {
public:
    explicit AdminConnection(AdminServer &server)
        : server_(server), parser_(*this, http::RequestParser::Limits{16384, 8192, 1 << 20}) {}

    // False when the connection could not be set up (its owner then forgets it).
    bool accept(uv_loop_t *loop, uv_stream_t *listener) {
        if (uvFailed(uv_tcp_init(loop, &handle_), "admin connection") < 0) {
            server_.forget(this); // never initialised: nothing to close (common/failure.h)
            delete this;
            return false;
        }
        handle_.data = this;
        if (uv_accept(listener, reinterpret_cast<uv_stream_t *>(&handle_)) != 0) {
            close();
            return false;
        }
        int rc = uv_read_start(
            reinterpret_cast<uv_stream_t *>(&handle_),
            [](uv_handle_t *, size_t, uv_buf_t *b) {
                static thread_local char buf[16384];
                *b = uv_buf_init(buf, sizeof buf);
            },
            [](uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
                static_cast<AdminConnection *>(s->data)->onRead(n, b);
            });
        if (rc < 0) {
            close();
            return false;
        }
        return true;
    }

    void close() {
        if (closing_)
            return;
        closing_ = true;
        uv_close(reinterpret_cast<uv_handle_t *>(&handle_), [](uv_handle_t *h) {
            auto *c = static_cast<AdminConnection *>(h->data);
            c->server_.forget(c);
            delete c;
        });
    }

private:
    void onRead(ssize_t n, const uv_buf_t *b) {
        if (n < 0) {
            close();
            return;
        }
        if (answered_ || n == 0)
            return;
        auto r = parser_.feed(b->base, static_cast<std::size_t>(n));
        if (r.status == http::ParseStatus::Error && !answered_)
            respond(parser_.errorStatus() ? parser_.errorStatus() : 400, "text/plain",
                    std::string(parser_.errorReason() ? parser_.errorReason() : "bad request") +
                        "\n");
    }
    bool onRequestHead(http::RequestHead &) override { return true; }
    void onRequestBody(std::string_view piece) override { body_.append(piece); }
    void onRequestComplete() override { handle(parser_.head()); }

    void handle(http::RequestHead &req) {
        AdminContext &ctx = server_.context();
        std::string_view target = req.target;
        std::string_view path = target.substr(0, target.find('?'));
        std::string_view query =
            path.size() < target.size() ? target.substr(path.size() + 1) : std::string_view();
        if (!ctx.token.empty() && !(req.method == "GET" && path == "/health") &&
            !authorized(req, ctx.token))
            return respond(401, "text/plain",
                           "admin.token is set: send Authorization: Bearer <token>\n");
        const bool fromPeer = req.headers.get("x-frontcache-forwarded").has_value();
        if (req.method == "GET" && path == "/metrics")
            return respond(200, "text/plain; version=0.0.4", renderMetrics(ctx, false));
        if (req.method == "GET" && path == "/stats")
            return respond(200, "application/json", renderMetrics(ctx, true));
        if (req.method == "GET" && path == "/top")
            return respond(200, "text/plain", server_.topText());
        if (req.method == "GET" && path == "/variants")
            return variants(query);
        if (req.method == "GET" && path == "/health")
            return respond(200, "text/plain", "ok\n");
        if (req.method == "POST" && path == "/flush") {
            ctx.store->flushAll(0);
            FC_INFO("admin: cache flushed%s", fromPeer ? " (forwarded by a peer)" : "");
            if (ctx.peers && !fromPeer)
                ctx.peers->submit({"POST", "/flush", "", "flush"});
            return respond(200, "application/json", "{\"flushed\": true}\n");
        }
        std::vector<std::string> paths;
        PeerOrigin origin;
        std::string host = hostFilter(req, query);
        bool soft = false;
        if (req.method == "PURGE") {
            // The page's own query is kept; trailing host= and soft=1 parameters are ours, not
            // the page's.
            std::string p(target);
            for (;;) {
                std::size_t sep = p.find_last_of("?&");
                if (sep == std::string::npos)
                    break;
                std::string_view param = std::string_view(p).substr(sep + 1);
                if (param == "soft=1")
                    soft = true;
                else if (!param.starts_with("host="))
                    break;
                p.erase(sep);
            }
            paths.push_back(p);
        } else if (req.method == "POST" && path == "/purge") {
            soft = query == "soft=1" || query.starts_with("soft=1&") ||
                   query.find("&soft=1") != std::string_view::npos;
            if (fromPeer)
                takeSharedDone(body_, origin);
            if (!parsePathList(body_, paths))
                return respond(400, "text/plain",
                               "expected one path per line, or a JSON array of strings\n");
        } else {
            return respond(404, "text/plain",
                           "admin endpoints: GET /metrics, GET /stats, GET /top, GET /variants, "
                           "GET /health, PURGE /path, POST /purge, POST /flush\n");
        }
        for (const auto &p : paths)
            if (p.empty() || p[0] != '/')
                return respond(400, "text/plain", "paths must start with '/': " + p + "\n");
        PurgeOutcome o = purge(server_.loop(), *ctx.cache, paths, host, soft, *ctx.ownCounters,
                               fromPeer ? &origin : nullptr);
        FC_INFO("admin: %spurged %zu page(s) for %zu path(s)%s%s%s", soft ? "soft-" : "",
                o.removed + o.expired, paths.size(), host.empty() ? "" : " on host ", host.c_str(),
                fromPeer ? " (forwarded by a peer)" : "");
        respond(200, "application/json", purgeAnswer(o, soft));
    }

    // GET /variants?path=/x[&host=H]: the stored variants of one page (every Host unless host=
    // narrows it), each with what separates it (cache/page.h's varied lines). One pass over the
    // store, one shard at a time (Store::forEachLive): an administrative call.
    void variants(std::string_view query) {
        std::string want, host;
        while (!query.empty()) {
            std::size_t amp = query.find('&');
            std::string_view kv = query.substr(0, amp);
            if (kv.rfind("path=", 0) == 0)
                want = percentDecode(kv.substr(5));
            else if (kv.rfind("host=", 0) == 0)
                host = percentDecode(kv.substr(5));
            if (amp == std::string_view::npos)
                break;
            query.remove_prefix(amp + 1);
        }
        if (want.empty() || want[0] != '/')
            return respond(400, "text/plain",
                           "GET /variants?path=/page[&host=example.com] (path percent-encoded)\n");
        AdminContext &ctx = server_.context();
        const std::int64_t now = ctx.cache->clock->now();
        std::string list;
        std::size_t count = 0;
        ctx.store->forEachLive([&](std::vector<cache::ItemRef> &items) {
            for (auto &it : items) {
                cache::PageView v;
                if (!cache::decodePage(it->value(), v))
                    continue;
                std::size_t scheme = v.uri.find("://");
                if (scheme == std::string_view::npos)
                    continue;
                std::string_view rest = v.uri.substr(scheme + 3);
                std::string_view uriHost = rest.substr(0, rest.find('/'));
                std::string_view uriPath = rest.substr(uriHost.size());
                if (uriPath != want || (!host.empty() && uriHost != host))
                    continue;
                list += count++ ? ",\n    {" : "\n    {";
                list += "\"uri\": ";
                appendJsonString(list, v.uri);
                list += ", \"key\": ";
                appendJsonString(list, it->key());
                list += ", \"status\": " + std::to_string(v.status);
                list += ", \"bytes\": " + std::to_string(v.body.size());
                list += ", \"codings\": {"; // each representation held, with its body size
                for (std::size_t r = 0; r < v.repCount; ++r) {
                    if (r)
                        list += ", ";
                    std::string_view name = http::codingName(v.reps[r].coding);
                    appendJsonString(list, name.empty() ? "as-stored" : name);
                    list += ": " + std::to_string(v.reps[r].body.size());
                }
                list += "}";
                list += ", \"age\": " + std::to_string(v.age(now));
                list += ", \"fresh\": ";
                list += v.fresh(now) ? "true" : "false";
                list += ", \"varies_on\": {";
                std::string_view lines = v.varied;
                bool first = true;
                while (!lines.empty()) {
                    std::size_t nl = lines.find('\n');
                    std::string_view line = lines.substr(0, nl);
                    lines =
                        nl == std::string_view::npos ? std::string_view() : lines.substr(nl + 1);
                    std::size_t colon = line.find(": ");
                    if (colon == std::string_view::npos)
                        continue;
                    if (!first)
                        list += ", ";
                    first = false;
                    appendJsonString(list, line.substr(0, colon));
                    list += ": ";
                    appendJsonString(list, line.substr(colon + 2));
                }
                list += "}}";
            }
        });
        std::string body = "{\"path\": ";
        appendJsonString(body, want);
        body += ", \"variants\": " + std::to_string(count) + ", \"stored\": [" + list +
                (count ? "\n  ]}\n" : "]}\n");
        respond(200, "application/json", body);
    }

    static std::string percentDecode(std::string_view s) {
        auto hex = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
        std::string out;
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (s[i] == '%' && i + 2 < s.size() &&
                std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
                std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
                out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
                i += 2;
            } else {
                out.push_back(s[i] == '+' ? ' ' : s[i]);
            }
        }
        return out;
    }

    // Authorization: Bearer <token>, compared in constant time (the admin port may be reachable
    // from a network where timing can be measured).
    static bool authorized(const http::RequestHead &req, const std::string &token) {
        auto h = req.headers.get("authorization");
        if (!h)
            return false;
        std::string_view v = http::trimOws(*h);
        constexpr std::string_view kBearer = "Bearer ";
        if (v.size() != kBearer.size() + token.size() ||
            !http::equalsIgnoreCase(v.substr(0, kBearer.size()), kBearer))
            return false;
        unsigned char diff = 0;
        for (std::size_t i = 0; i < token.size(); ++i)
            diff |= static_cast<unsigned char>(v[kBearer.size() + i] ^ token[i]);
        return diff == 0;
    }

    std::string hostFilter(const http::RequestHead &req, std::string_view query) {
        // ?host=H wins; a Host header narrows only when it is not the admin address itself.
        while (!query.empty()) {
            std::size_t amp = query.find('&');
            std::string_view kv = query.substr(0, amp);
            if (kv.rfind("host=", 0) == 0)
                return std::string(kv.substr(5));
            if (amp == std::string_view::npos)
                break;
            query.remove_prefix(amp + 1);
        }
        auto h = req.headers.get("host");
        if (h && *h != server_.context().selfAddress && !h->empty())
            return std::string(*h);
        return {};
    }

    // One path per line, or a JSON array of strings (escapes \" and \\ only: paths need no more).
    static bool parsePathList(std::string_view body, std::vector<std::string> &out) {
        std::size_t i = body.find_first_not_of(" \t\r\n");
        if (i != std::string_view::npos && body[i] == '[') {
            std::size_t pos = i + 1;
            for (;;) {
                pos = body.find_first_not_of(" \t\r\n,", pos);
                if (pos == std::string_view::npos)
                    return false;
                if (body[pos] == ']')
                    return true;
                if (body[pos] != '"')
                    return false;
                std::string s;
                for (++pos; pos < body.size() && body[pos] != '"'; ++pos) {
                    if (body[pos] == '\\' && pos + 1 < body.size())
                        ++pos;
                    s.push_back(body[pos]);
                }
                if (pos >= body.size())
                    return false;
                out.push_back(std::move(s));
                ++pos;
            }
        }
        while (!body.empty()) {
            std::size_t nl = body.find('\n');
            std::string_view line = http::trimOws(body.substr(0, nl));
            if (!line.empty() && line.back() == '\r')
                line.remove_suffix(1);
            if (!line.empty())
                out.emplace_back(line);
            if (nl == std::string_view::npos)
                break;
            body.remove_prefix(nl + 1);
        }
        return !out.empty();
    }

    void respond(int status, const char *type, const std::string &body) {
        answered_ = true;
        out_ = http::cannedResponse(status, type, body, true);
        int rc = streamWrite(reinterpret_cast<uv_stream_t *>(&handle_), out_, this,
                             [](uv_write_t *req, int) {
                                 auto *w = static_cast<WriteReq *>(req->data);
                                 auto *c = static_cast<AdminConnection *>(w->owner);
                                 delete w;
                                 c->shutdown();
                             });
        if (rc < 0)
            close();
        else if (uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t *>(&handle_)) == 0)
            shutdown();
    }

    void shutdown() {
        if (closing_)
            return;
        shutdownReq_.data = this;
        if (uv_shutdown(&shutdownReq_, reinterpret_cast<uv_stream_t *>(&handle_),
                        [](uv_shutdown_t *r, int) {
                            static_cast<AdminConnection *>(r->data)->close();
                        }) != 0)
            close();
    }

    AdminServer &server_;
    http::RequestParser parser_;
    uv_tcp_t handle_;
    uv_shutdown_t shutdownReq_;
    std::string body_, out_;
    bool answered_ = false;
    bool closing_ = false;
};

bool AdminServer::listen(const config::SocketAddress &addr, std::string &error,
                         std::uint16_t &boundPort) {
    if (int rc = uv_tcp_init(loop_, &listener_); rc < 0) {
        error = std::string("cannot create the admin.listen socket: ") + uv_strerror(rc);
        return false;
    }
    listener_.data = this;
    listening_ = true;
    sockaddr_storage ss{};
    int rc = addr.ipv6
                 ? uv_ip6_addr(addr.host.c_str(), addr.port, reinterpret_cast<sockaddr_in6 *>(&ss))
                 : uv_ip4_addr(addr.host.c_str(), addr.port, reinterpret_cast<sockaddr_in *>(&ss));
    if (rc == 0)
        rc = uv_tcp_bind(&listener_, reinterpret_cast<sockaddr *>(&ss), 0);
    if (rc == 0)
        rc = uv_listen(reinterpret_cast<uv_stream_t *>(&listener_), 128, &onConnection);
    if (rc != 0) {
        error = "cannot listen on " + addr.text() + " (admin.listen): " + uv_strerror(rc);
        return false;
    }
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr *>(&bound), &len);
    boundPort =
        ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6 *>(&bound)->sin6_port
                                          : reinterpret_cast<sockaddr_in *>(&bound)->sin_port);
    config::SocketAddress shown = addr;
    shown.port = boundPort;
    ctx_.selfAddress = shown.text();
    return true;
}

void AdminServer::onConnection(uv_stream_t *s, int status) noexcept {
    auto *server = static_cast<AdminServer *>(s->data);
    if (status < 0)
        return;
    auto *c = new AdminConnection(*server);
    server->conns_.insert(c);
    c->accept(server->loop_, s);
}

std::string AdminServer::topText() {
    const std::uint64_t now = uv_now(loop_);
    lastTopAskMs_ = now;
    if (!topTimerInit_) {
        uv_timer_init(loop_, &topTimer_); // cannot fail
        topTimer_.data = this;
        topTimerInit_ = true;
    }
    if (!uv_is_active(reinterpret_cast<uv_handle_t *>(&topTimer_))) {
        for (UrlSampler *s : ctx_.samplers)
            s->active.store(true, std::memory_order_relaxed);
        lastTickMs_ = now;
        uv_timer_start(
            &topTimer_,
            [](uv_timer_t *t) noexcept { static_cast<AdminServer *>(t->data)->sampleTick(); }, 1000,
            1000);
    }
    std::uint64_t dropped = 0; // samples a full ring turned away (counted, shown here)
    for (const UrlSampler *s : ctx_.samplers)
        dropped += s->dropped.load(std::memory_order_relaxed);
    std::string out = "interval " + std::to_string(lastInterval_) + "\nstride " +
                      std::to_string(UrlSampler::kStride) + "\ndropped " + std::to_string(dropped) +
                      "\n";
    for (const auto &[n, uri] : topMisses_)
        out += "miss " + std::to_string(n) + " " + uri + "\n";
    for (const auto &[n, uri] : topHits_)
        out += "hit " + std::to_string(n) + " " + uri + "\n";
    return out;
}

// Once a second while GET /top is being asked: the samples of the second that ended become the
// top lists (ten each, most first); sampling stops 10 s after the last ask.
void AdminServer::sampleTick() {
    const std::uint64_t now = uv_now(loop_);
    window_.clear();
    for (UrlSampler *s : ctx_.samplers)
        s->drain([&](std::string_view uri, bool hit) {
            auto &c = window_[std::string(uri)];
            (hit ? c.second : c.first) += 1;
        });
    lastInterval_ = static_cast<double>(now - lastTickMs_) / 1000.0;
    lastTickMs_ = now;
    auto top = [&](bool hits) {
        std::vector<std::pair<std::uint64_t, std::string>> v;
        for (const auto &[uri, c] : window_)
            if ((hits ? c.second : c.first) > 0)
                v.emplace_back(hits ? c.second : c.first, uri);
        std::sort(v.begin(), v.end(), [](const auto &a, const auto &b) {
            return a.first != b.first ? a.first > b.first : a.second < b.second;
        });
        if (v.size() > 10)
            v.resize(10);
        return v;
    };
    topMisses_ = top(false);
    topHits_ = top(true);
    window_.clear();
    if (now - lastTopAskMs_ > 10000) { // nobody looks any more: the request path stops paying
        uv_timer_stop(&topTimer_);
        for (UrlSampler *s : ctx_.samplers)
            s->active.store(false, std::memory_order_relaxed);
        topMisses_.clear();
        topHits_.clear();
    }
}

void AdminServer::forget(AdminConnection *c) {
    conns_.erase(c);
}

void AdminServer::close() {
    if (listening_) {
        listening_ = false;
        uv_close(reinterpret_cast<uv_handle_t *>(&listener_), nullptr);
    }
    if (topTimerInit_) {
        topTimerInit_ = false;
        uv_close(reinterpret_cast<uv_handle_t *>(&topTimer_), nullptr);
    }
    std::vector<AdminConnection *> all(conns_.begin(), conns_.end());
    for (auto *c : all)
        c->close();
}

} // namespace fc::proxy
