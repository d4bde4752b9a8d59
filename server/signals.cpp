#include "server/signals.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>

#include "admin/admin_server.h"
#include "cache/fetch_locks.h"
#include "cache/store/store.h"
#include "common/log.h"
#include "fleet/peer_forward.h"
#include "fleet/snapshot.h"
#include "proxy/health_check.h"
#include "proxy/resolver.h"
#include "proxy/worker.h"

namespace fc::server {

namespace {

// The settings bound at start-up (listeners, workers, the upstream address, the access log...)
// that `c` changes from `old`: they keep their old values until a restart.
std::vector<std::string> restartOnlyChanges(const config::Config &old, const config::Config &c) {
    std::vector<std::string> fixed;
    auto addrs = [](const std::vector<config::SocketAddress> &v) {
        std::string t;
        for (const auto &a : v)
            t += a.text() + ",";
        return t;
    };
    auto opt = [](const std::optional<config::SocketAddress> &a) { return a ? a->text() : ""; };
    if (addrs(old.server.listen) != addrs(c.server.listen))
        fixed.push_back("server.listen");
    if (old.server.workers != c.server.workers)
        fixed.push_back("server.workers");
    if (old.upstream.healthCheck != c.upstream.healthCheck ||
        old.upstream.healthCheckHost != c.upstream.healthCheckHost ||
        old.upstream.healthInterval != c.upstream.healthInterval ||
        old.upstream.healthTimeout != c.upstream.healthTimeout)
        fixed.push_back("upstream.health_check / health_interval / health_timeout");
    if (opt(old.memcached.listen) != opt(c.memcached.listen))
        fixed.push_back("memcached.listen");
    if (opt(old.admin.listen) != opt(c.admin.listen))
        fixed.push_back("admin.listen");
    if (old.log.accessLog != c.log.accessLog)
        fixed.push_back("log.access_log");
    if (old.cache.snapshot != c.cache.snapshot ||
        old.cache.snapshotInterval != c.cache.snapshotInterval)
        fixed.push_back("cache.snapshot / snapshot_interval");
    if (addrs(old.cache.sharedServers) != addrs(c.cache.sharedServers) ||
        old.cache.sharedTimeout != c.cache.sharedTimeout)
        fixed.push_back("cache.shared_servers / shared_timeout");
    return fixed;
}

// Switches every thread to `next`, already validated. How a reload reaches the workers: each is
// posted one immutable snapshot — the new Config behind a shared_ptr<const>, and a copy of the
// cache settings made from it — which it takes by value under its inbox mutex and switches to on
// its own thread; nothing a worker reads is changed in place. The objects every thread shares
// (store, fetch locks, upstream limiter, balancer) take their new limits as atomics. The log
// level is an atomic too.
void apply(SignalState &s, const config::Config &old, std::shared_ptr<const config::Config> next) {
    common::setLogLevel(next->log.level);
    if (next->cache.memory != old.cache.memory)
        s.store->setMemoryLimit(next->cache.memory);
    s.locks->setMaxWaiters(next->cache.lockMaxWaiters);
    s.cache->limiter->setMax(next->upstream.maxConnections);
    s.cache->balancer->configure(next->upstream);
    s.resolver->configure(next->upstream); // servers added, removed, re-weighted
    proxy::applyCacheSettings(*next, *s.cache);
    if (s.peers)
        s.peers->configure(next->admin.peers, next->admin.token);
    if (s.adminCtx)
        s.adminCtx->token = next->admin.token;
    for (auto &w : *s.workers)
        w->postReload(next, *s.cache);
    s.running = std::move(next);
}

// SIGHUP: the file is loaded and validated first; on any error the running configuration stays
// in force and each error is logged with its file, line and key. Workers switch on their own
// threads between callbacks (see apply): listeners, connections and in-flight requests are not
// disturbed, and the store is kept. Settings bound at start-up keep their old values until a
// restart, with a warning naming them.
void reload(SignalState &s) {
    // The running Config stays referenced here until reload returns. Once the next one is
    // posted, a worker switches to it on its own thread and may drop the last other reference
    // to this one at any moment, freeing it there; yet this function still reads it (`old`,
    // and `path` in the last log line). Holding it makes the main thread the last to let go,
    // or the worker's release come after every read here (shared_ptr's count orders them).
    const std::shared_ptr<const config::Config> previous = s.running;
    const std::string &path = previous->sourceFile;
    FC_INFO("SIGHUP received: reloading %s", path.c_str());
    config::LoadResult r = config::loadConfigFile(path);
    if (!r.config) {
        for (const auto &e : r.errors)
            FC_ERROR("reload: %s", e.c_str());
        FC_ERROR("reload failed: the running configuration stays in force");
        if (s.adminCtx)
            ++s.adminCtx->reloadFailures;
        return;
    }
    const config::Config &old = *previous;
    for (const auto &k : restartOnlyChanges(old, *r.config))
        FC_WARN("reload: %s changed; it takes effect only after a restart", k.c_str());
    for (const auto &w : config::exposureWarnings(*r.config)) // e.g. memcached.auth_file removed
        FC_WARN("reload: %s", w.c_str());
    apply(s, old, std::make_shared<const config::Config>(std::move(*r.config)));
    if (s.adminCtx)
        ++s.adminCtx->reloads;
    FC_INFO("configuration reloaded from %s", path.c_str());
}

// SIGUSR1: logrotate moved the access log; write to a fresh file.
void reopenAccessLog(SignalState &s) {
    const std::string &path = s.accessLogPath;
    if (path.empty() || path == "-" || !s.cache || s.cache->accessLogFd < 0)
        return;
    if (proxy::reopenLogFile(path, s.cache->accessLogFd))
        FC_INFO("SIGUSR1: reopened the access log %s", path.c_str());
    else
        FC_ERROR("SIGUSR1: cannot reopen the access log %s: %s (still writing to the old file)",
                 path.c_str(), std::strerror(errno));
}

// SIGTERM, SIGINT: the workers drain; every handle of the main loop closes, so its uv_run
// returns when the last one is gone.
void stop(SignalState &s, int signum) {
    if (s.stopping) {
        FC_WARN("second stop signal: workers are already draining");
        return;
    }
    s.stopping = true;
    FC_INFO("%s received: draining connections (up to server.drain_timeout)",
            signum == SIGTERM ? "SIGTERM" : "SIGINT");
    for (auto &w : *s.workers)
        w->requestStop();
    uv_close(reinterpret_cast<uv_handle_t *>(&s.term), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&s.intr), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&s.hup), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&s.usr1), nullptr);
    if (s.reclaim)
        uv_close(reinterpret_cast<uv_handle_t *>(s.reclaim), nullptr);
    if (s.admin)
        s.admin->close();
    if (s.snapshots)
        s.snapshots->stop();
    if (s.peers)
        s.peers->close(); // what is still queued for peers is dropped at exit
    s.health->close();
    s.resolver->close();
}

void onSignal(uv_signal_t *h, int signum) noexcept {
    auto *s = static_cast<SignalState *>(h->data);
    if (signum == SIGUSR1)
        reopenAccessLog(*s);
    else if (signum == SIGHUP) {
        if (!s->stopping)
            reload(*s);
    } else
        stop(*s, signum);
}

} // namespace

void startSignals(uv_loop_t *loop, SignalState &s) {
    for (auto *h : {&s.term, &s.intr, &s.hup, &s.usr1}) {
        uv_signal_init(loop, h); // cannot fail on Linux (libuv's signal pipe exists already)
        h->data = &s;
    }
    for (auto [h, signum] : {std::pair{&s.term, SIGTERM}, std::pair{&s.intr, SIGINT},
                             std::pair{&s.hup, SIGHUP}, std::pair{&s.usr1, SIGUSR1}})
        if (int rc = uv_signal_start(h, &onSignal, signum); rc < 0) // start-up: fatal
            std::fprintf(stderr, "frontcache: cannot handle signal %d: %s\n", signum,
                         uv_strerror(rc));
}

} // namespace fc::server
