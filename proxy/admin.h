// The admin port ([admin] listen): observability and invalidation, kept off the public port.
//
//   GET  /metrics   Prometheus text format (version 0.0.4)
//   GET  /stats     the same numbers as one JSON object
//   PURGE /PATH?Q   removes every stored variant of that page, for every Host it was stored
//                   under; `?host=H` (or a Host header other than the admin address) narrows it
//   POST /purge     the same for a list of paths in the body: one per line, or a JSON array
//   POST /flush     empties the cache (memcached's flush_all)
//   GET  /health    "ok"
//
// With admin.token set, every request but GET /health needs `Authorization: Bearer <token>`
// (401 otherwise). Purges and flushes are forwarded to admin.peers (proxy/peer_forward.h) unless
// they carry X-Frontcache-Forwarded (they came from a peer).
//
// One request per connection (answered with Connection: close): scrapers and curl need no more.
// It runs on the main thread's loop, never on a worker's, so it cannot slow the I/O path.
// Ownership: the AdminServer owns its listening handle (closed by close()); each connection owns
// its TCP handle and deletes itself in its close callback (the server only keeps a set of them
// to close at shutdown).
//
// Threading: the main loop thread. Ownership: AdminServer owns its connections; close() closes
// the listener and every connection.
#pragma once

#include <uv.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cache/fetch_locks.h"
#include "cache/store/store.h"
#include "config/config.h"
#include "proxy/cache_counters.h"
#include "proxy/peer_forward.h"
#include "proxy/snapshot.h"
#include "proxy/url_sampler.h"
#include "proxy/worker.h"

namespace fc::proxy {

struct AdminContext {
    cache::Store *store = nullptr;
    cache::FetchLocks *locks = nullptr;
    std::vector<const CacheCounters *> counters; // one per worker, and ownCounters
    CacheCounters *ownCounters = nullptr;        // the admin port's own (its purges)
    std::vector<UrlSampler *> samplers;          // one per worker (GET /top)
    const CacheContext *cache = nullptr;         // the main thread's copy (reloaded with SIGHUP)
    std::string selfAddress;                     // "127.0.0.1:9090", as bound
    std::int64_t startedAt = 0;
    std::uint64_t reloads = 0, reloadFailures = 0;
    const SnapshotStatus *snapshots = nullptr; // cache.snapshot set
    PeerForwarder *peers = nullptr;            // admin.peers (flushes are forwarded too)
    std::string token;                         // admin.token: "" = no Authorization needed
};

// Renders every counter: Prometheus text (json == false) or one JSON object.
std::string renderMetrics(const AdminContext &ctx, bool json);

class AdminConnection;

class AdminServer {
public:
    AdminServer(uv_loop_t *loop, AdminContext &ctx) : loop_(loop), ctx_(ctx) {}
    // Binds and listens; returns false with `error` set. `boundPort` receives the real port.
    bool listen(const config::SocketAddress &addr, std::string &error, std::uint16_t &boundPort);
    void close();

    AdminContext &context() { return ctx_; }
    uv_loop_t *loop() const { return loop_; }
    void forget(AdminConnection *c);
    // GET /top: the last second's most asked-for pages, by misses and by hits (text, one per
    // line: "interval SECONDS", "stride N", "dropped N" (samples a full ring turned away since
    // start), "miss COUNT URI", "hit COUNT URI"; COUNT sampled).
    std::string topText();

private:
    void sampleTick();
    static void onConnection(uv_stream_t *s, int status) noexcept;
    uv_loop_t *loop_;
    AdminContext &ctx_;
    uv_tcp_t listener_;
    bool listening_ = false;
    std::set<AdminConnection *> conns_;
    // GET /top's sampling: running while asked for in the last 10 s.
    uv_timer_t topTimer_;
    bool topTimerInit_ = false;
    std::uint64_t lastTopAskMs_ = 0;
    std::uint64_t lastTickMs_ = 0;
    double lastInterval_ = 0;
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> window_; // uri -> (miss, hit)
    std::vector<std::pair<std::uint64_t, std::string>> topMisses_, topHits_;
};

} // namespace fc::proxy
