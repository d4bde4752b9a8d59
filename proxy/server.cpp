#include "proxy/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>

#include "admin/admin_server.h"
#include "cache/fetch_locks.h"
#include "cache/protocol/memcache.h"
#include "cache/store/store.h"
#include "proxy/balancer.h"
#include "proxy/health_check.h"
#include "proxy/log.h"
#include "proxy/peer_forward.h"
#include "proxy/snapshot.h"
#include "proxy/worker.h"

namespace fc::proxy {

unsigned long raiseFileLimit() {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return static_cast<unsigned long>(rl.rlim_cur);
}

namespace {

// Creates one bound SO_REUSEPORT socket. Returns the fd or -errno.
int bindSocket(const config::SocketAddress &a, std::uint16_t port) {
    sockaddr_storage ss{};
    socklen_t len;
    if (a.ipv6) {
        auto *s6 = reinterpret_cast<sockaddr_in6 *>(&ss);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        inet_pton(AF_INET6, a.host.c_str(), &s6->sin6_addr);
        len = sizeof *s6;
    } else {
        auto *s4 = reinterpret_cast<sockaddr_in *>(&ss);
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        inet_pton(AF_INET, a.host.c_str(), &s4->sin_addr);
        len = sizeof *s4;
    }
    int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (a.ipv6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr *>(&ss), len) != 0) {
        int e = errno;
        ::close(fd);
        return -e;
    }
    return fd;
}

std::uint16_t boundPort(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len);
    if (ss.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in *>(&ss)->sin_port);
}

// One server's targets: a host name with several addresses (a scaled service behind one DNS
// name, or "localhost" as 127.0.0.1 and ::1) becomes one target per address, as nginx does, so
// they are balanced and health-checked one by one; the display then names the address.
bool resolveUpstream(const config::UpstreamServer &up, std::vector<UpstreamTarget> &out,
                     std::string &err) {
    UpstreamTarget t;
    t.kind = up.kind;
    t.display = up.url;
    t.weight = up.weight;
    t.backup = up.backup;
    if (up.kind == config::UpstreamConfig::Kind::Unix) {
        t.path = up.path;
        t.hostField = "localhost";
        out.push_back(std::move(t));
        return true;
    }
    bool v6 = up.host.find(':') != std::string::npos;
    t.hostField = (v6 ? "[" + up.host + "]" : up.host) + ":" + std::to_string(up.port);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *res = nullptr;
    std::string port = std::to_string(up.port);
    int rc = getaddrinfo(up.host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0 || !res) {
        err = "cannot resolve upstream host \"" + up.host + "\": " + gai_strerror(rc);
        return false;
    }
    std::vector<UpstreamTarget> found = targetsFor(t, up.url, res);
    freeaddrinfo(res);
    for (auto &f : found)
        out.push_back(std::move(f));
    return true;
}

// Tests move the cache's clock without sleeping: FRONTCACHE_TEST_CLOCK names a file holding a
// little-endian int64 offset in seconds, mapped shared so a write to it takes effect at once.
// Only the cache's notion of time moves (expiry, Age, Expires); timers are untouched.
class OffsetClock final : public cache::Clock {
public:
    explicit OffsetClock(const volatile std::int64_t *offset) : offset_(offset) {}
    std::int64_t now() const override {
        return static_cast<std::int64_t>(::time(nullptr)) + *offset_;
    }

private:
    const volatile std::int64_t *offset_;
};

std::unique_ptr<cache::Clock> makeClock() {
    const char *path = std::getenv("FRONTCACHE_TEST_CLOCK");
    if (path && *path) {
        int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            void *p = ::mmap(nullptr, 8, PROT_READ, MAP_SHARED, fd, 0);
            ::close(fd);
            if (p != MAP_FAILED) {
                FC_WARN("cache clock offset read from %s (FRONTCACHE_TEST_CLOCK, for tests)", path);
                return std::make_unique<OffsetClock>(static_cast<const volatile std::int64_t *>(p));
            }
        }
        FC_ERROR("FRONTCACHE_TEST_CLOCK=%s cannot be mapped; using the system clock", path);
    }
    return std::make_unique<cache::SystemClock>();
}

struct SignalState {
    std::vector<std::unique_ptr<Worker>> *workers;
    uv_signal_t term, intr, hup, usr1;
    uv_timer_t *reclaim = nullptr;
    admin::AdminServer *admin = nullptr;
    HealthChecker *health = nullptr;
    SnapshotScheduler *snapshots = nullptr;
    PeerForwarder *peers = nullptr;
    bool stopping = false;
    // Reload (SIGHUP).
    std::shared_ptr<const config::Config> running;
    CacheContext *cache = nullptr; // the main thread's copy (the admin port reads it)
    cache::FetchLocks *locks = nullptr;
    cache::Store *store = nullptr;
    admin::AdminContext *adminCtx = nullptr;
    std::string accessLogPath; // as opened at start-up (log.access_log is bound to it)
};

// SIGHUP: the file is loaded and validated first; on any error the running configuration stays
// in force and each error is logged with its file, line and key. Workers switch on their own
// threads between callbacks: listeners, connections and in-flight requests are not disturbed,
// and the store is kept. Settings bound at start-up (listeners, workers, the upstream address,
// the access log) keep their old values until a restart, with a warning naming them.
//
// How a reload reaches the workers: each is posted one immutable snapshot — the new Config
// behind a shared_ptr<const>, and a copy of the cache settings made from it — which it takes by
// value under its inbox mutex and switches to on its own thread; nothing a worker reads is
// changed in place. The objects every thread shares (store, fetch locks, upstream limiter,
// balancer) take their new limits as atomics. The log level is an atomic too.
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
    const config::Config &c = *r.config;
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
    if (old.upstream.describe() != c.upstream.describe())
        fixed.push_back("upstream.url / upstream.servers");
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
    for (const auto &k : fixed)
        FC_WARN("reload: %s changed; it takes effect only after a restart", k.c_str());
    for (const auto &w : config::exposureWarnings(c)) // e.g. memcached.auth_file removed
        FC_WARN("reload: %s", w.c_str());
    auto next = std::make_shared<const config::Config>(std::move(*r.config));
    setLogLevel(next->log.level);
    if (next->cache.memory != old.cache.memory)
        s.store->setMemoryLimit(next->cache.memory);
    s.locks->setMaxWaiters(next->cache.lockMaxWaiters);
    s.cache->limiter->setMax(next->upstream.maxConnections);
    s.cache->balancer->configure(next->upstream);
    applyCacheSettings(*next, *s.cache);
    if (s.peers)
        s.peers->configure(next->admin.peers, next->admin.token);
    if (s.adminCtx)
        s.adminCtx->token = next->admin.token;
    for (auto &w : *s.workers)
        w->postReload(next, *s.cache);
    s.running = std::move(next);
    if (s.adminCtx)
        ++s.adminCtx->reloads;
    FC_INFO("configuration reloaded from %s", path.c_str());
}

void onSignal(uv_signal_t *h, int signum) noexcept {
    auto *s = static_cast<SignalState *>(h->data);
    if (signum == SIGUSR1) { // logrotate moved the access log: write to a fresh file
        const std::string &path = s->accessLogPath;
        if (path.empty() || path == "-" || !s->cache || s->cache->accessLogFd < 0)
            return;
        if (reopenLogFile(path, s->cache->accessLogFd))
            FC_INFO("SIGUSR1: reopened the access log %s", path.c_str());
        else
            FC_ERROR("SIGUSR1: cannot reopen the access log %s: %s (still writing to the old "
                     "file)",
                     path.c_str(), std::strerror(errno));
        return;
    }
    if (signum == SIGHUP) {
        if (!s->stopping)
            reload(*s);
        return;
    }
    if (s->stopping) {
        FC_WARN("second stop signal: workers are already draining");
        return;
    }
    s->stopping = true;
    FC_INFO("%s received: draining connections (up to server.drain_timeout)",
            signum == SIGTERM ? "SIGTERM" : "SIGINT");
    for (auto &w : *s->workers)
        w->requestStop();
    uv_close(reinterpret_cast<uv_handle_t *>(&s->term), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&s->intr), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&s->hup), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&s->usr1), nullptr);
    if (s->reclaim)
        uv_close(reinterpret_cast<uv_handle_t *>(s->reclaim), nullptr);
    if (s->admin)
        s->admin->close();
    if (s->snapshots)
        s->snapshots->stop();
    if (s->peers)
        s->peers->close(); // what is still queued for peers is dropped at exit
    s->health->close();
}

} // namespace

Server::Server(std::shared_ptr<const config::Config> cfg) : cfg_(std::move(cfg)) {}

int Server::run() {
    const config::Config &c = *cfg_;
    std::signal(SIGPIPE, SIG_IGN);

    unsigned workers = c.server.workers;
    if (workers == 0)
        workers = std::max(1u, std::thread::hardware_concurrency());

    unsigned long nofile = raiseFileLimit();
    unsigned long wanted = 1024 + static_cast<unsigned long>(workers) * c.upstream.maxConnections;
    if (nofile < wanted)
        FC_WARN("open-file limit is %lu; at least %lu is advisable for %u workers "
                "(raise the hard limit with ulimit -Hn or LimitNOFILE=)",
                nofile, wanted, workers);

    std::vector<UpstreamTarget> targets;
    std::string err;
    for (const auto &server : c.upstream.servers) {
        if (!resolveUpstream(server, targets, err)) {
            std::fprintf(stderr, "frontcache: %s\n", err.c_str());
            return 1;
        }
    }
    if (targets.size() > config::UpstreamConfig::kMaxServers) {
        std::fprintf(stderr,
                     "frontcache: upstream servers resolve to %zu addresses; at most %zu are "
                     "supported\n",
                     targets.size(), config::UpstreamConfig::kMaxServers);
        return 1;
    }
    for (const auto &t : targets)
        FC_DEBUG("upstream target %s", t.display.c_str());
    Balancer balancer(std::move(targets), c.upstream);

    // Bind every listen address once per worker. With port 0 the first socket picks the port
    // and the others reuse it.
    std::vector<WorkerSockets> fds(workers);
    std::vector<std::string> listening;
    auto bindAll = [&](const config::SocketAddress &addr, bool memcache, const char *what) {
        std::uint16_t port = addr.port;
        for (unsigned w = 0; w < workers; ++w) {
            int fd = bindSocket(addr, port);
            if (fd < 0) {
                std::fprintf(stderr, "frontcache: cannot listen on %s (%s): %s\n",
                             addr.text().c_str(), what, std::strerror(-fd));
                for (auto &ws : fds) {
                    for (int f : ws.http)
                        ::close(f);
                    for (int f : ws.memcache)
                        ::close(f);
                }
                return false;
            }
            if (port == 0)
                port = boundPort(fd);
            (memcache ? fds[w].memcache : fds[w].http).push_back(fd);
        }
        config::SocketAddress shown = addr;
        shown.port = port;
        listening.push_back(std::string(memcache ? "memcached " : "") + shown.text());
        return true;
    };
    for (const auto &addr : c.server.listen)
        if (!bindAll(addr, false, "server.listen"))
            return 1;
    if (c.memcached.listen && !bindAll(*c.memcached.listen, true, "memcached.listen"))
        return 1;

    // The store is shared by every worker (and, later, the HTTP cache).
    std::unique_ptr<cache::Clock> clockPtr = makeClock();
    const cache::Clock &clock = *clockPtr;
    cache::StoreConfig storeCfg;
    storeCfg.memoryLimit = c.cache.memory;
    storeCfg.itemSizeMax = static_cast<std::uint32_t>(c.cache.maxObjectSize);
    cache::Store store(storeCfg, clock);
    cache::ProtocolContext mc(store, clock, std::string("1.6.18-frontcache-") + FC_VERSION_STRING);
    mc.threads = workers;
    mc.maxConnections = static_cast<unsigned>(nofile);

    // Warm restart: the last snapshot is read back before any listener accepts, so the first
    // request already finds the pages (or their stale copies, for stale-if-error).
    std::uint64_t restoredItems = 0;
    if (!c.cache.snapshot.empty()) {
        SnapshotResult r = restoreSnapshot(store, c.cache.snapshot, clock.now());
        if (r.ok && r.counts.fileBytes > 0) {
            restoredItems = r.counts.items;
            FC_INFO("snapshot: restored %llu items (%.1f MiB) from %s in %.3f s (%.0f items/s, "
                    "%.2f GiB/s); %llu expired, %llu did not fit",
                    static_cast<unsigned long long>(r.counts.items),
                    static_cast<double>(r.counts.valueBytes) / (1 << 20), c.cache.snapshot.c_str(),
                    r.seconds,
                    r.seconds > 0 ? static_cast<double>(r.counts.items) / r.seconds : 0.0,
                    r.seconds > 0 ? static_cast<double>(r.counts.fileBytes) / r.seconds / (1 << 30)
                                  : 0.0,
                    static_cast<unsigned long long>(r.counts.expired),
                    static_cast<unsigned long long>(r.counts.refused));
        } else if (r.ok) {
            FC_INFO("snapshot: %s; starting empty", r.error.c_str());
        } else {
            FC_ERROR("snapshot: %s; ignored, starting empty", r.error.c_str());
        }
    }

    cache::FetchLocks locks(clock, c.cache.lockMaxWaiters);
    std::vector<Worker *> workerPtrs;
    UpstreamLimiter limiter(c.upstream.maxConnections);
    limiter.notify = [&workerPtrs] {
        for (Worker *w : workerPtrs)
            w->postServeQueue();
    };
    CacheContext cacheCtx;
    cacheCtx.store = &store;
    cacheCtx.clock = &clock;
    cacheCtx.locks = &locks;
    cacheCtx.workers = &workerPtrs;
    cacheCtx.limiter = &limiter;
    cacheCtx.balancer = &balancer;
    std::unique_ptr<cache::MemcachedCluster> shared;
    if (!c.cache.sharedServers.empty()) {
        std::vector<cache::MemcachedCluster::Server> list;
        for (const auto &a : c.cache.sharedServers)
            list.push_back({a.host, a.port});
        shared = std::make_unique<cache::MemcachedCluster>(
            list, static_cast<std::uint64_t>(c.cache.sharedTimeout.count()));
        cacheCtx.shared = shared.get();
    }
    applyCacheSettings(c, cacheCtx);
    if (c.log.accessLog == "-") {
        cacheCtx.accessLogFd = 1;
    } else if (!c.log.accessLog.empty()) {
        cacheCtx.accessLogFd =
            ::open(c.log.accessLog.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (cacheCtx.accessLogFd < 0) {
            std::fprintf(stderr, "frontcache: cannot open log.access_log %s: %s\n",
                         c.log.accessLog.c_str(), std::strerror(errno));
            return 1;
        }
    }

    // The main loop: the admin port, health checks, snapshots, signals, forwarding to peers.
    uv_loop_t loop;
    if (int rc = uv_loop_init(&loop); rc < 0) { // start-up: fatal (common/failure.h)
        std::fprintf(stderr, "frontcache: cannot create the main loop: %s\n", uv_strerror(rc));
        return 1;
    }
    // admin.peers: always there (a reload may add peers), idle without any.
    PeerForwarder peers(&loop, c.admin.listen ? c.admin.listen->text() : std::string("-"));
    peers.configure(c.admin.peers, c.admin.token);
    if (!peers.start(err)) {
        std::fprintf(stderr, "frontcache: %s\n", err.c_str());
        return 1;
    }
    cacheCtx.peers = &peers;

    std::vector<std::unique_ptr<Worker>> pool;
    for (unsigned w = 0; w < workers; ++w)
        pool.push_back(
            std::make_unique<Worker>(static_cast<int>(w), cfg_, std::move(fds[w]), &mc, cacheCtx));
    std::vector<const CacheCounters *> counters;
    for (auto &w : pool) {
        counters.push_back(&w->counters());
        workerPtrs.push_back(w.get());
    }
    CacheCounters adminCounters; // what the admin port counts on the main loop (its purges)
    counters.push_back(&adminCounters);
    mc.extraStats = [&counters](std::string &out) { appendCacheStats(counters, out); };

    admin::AdminContext adminCtx;
    adminCtx.store = &store;
    adminCtx.locks = &locks;
    adminCtx.clock = cacheCtx.clock;
    adminCtx.balancer = cacheCtx.balancer;
    adminCtx.counters = counters;
    adminCtx.ownCounters = &adminCounters;
    for (auto &w : pool)
        adminCtx.samplers.push_back(&w->urlSampler());
    adminCtx.cache = &cacheCtx;
    adminCtx.peers = &peers;
    adminCtx.token = c.admin.token;
    adminCtx.startedAt = static_cast<std::int64_t>(::time(nullptr));
    admin::AdminServer admin(&loop, adminCtx);
    if (c.admin.listen) {
        std::uint16_t port = 0;
        if (!admin.listen(*c.admin.listen, err, port)) {
            std::fprintf(stderr, "frontcache: %s\n", err.c_str());
            std::fflush(stderr);
            std::_Exit(1); // workers are built but not started: nothing to drain
        }
        config::SocketAddress shown = *c.admin.listen;
        shown.port = port;
        listening.push_back("admin " + shown.text());
    }
    HealthChecker health(&loop, balancer, c.upstream);
    std::unique_ptr<SnapshotScheduler> snapshots;
    if (!c.cache.snapshot.empty()) {
        snapshots = std::make_unique<SnapshotScheduler>(&loop, store, clock, c.cache.snapshot,
                                                        c.cache.snapshotInterval);
        snapshots->status().restoredItems = restoredItems;
        adminCtx.snapshots = &snapshots->status();
    }
    SignalState sig;
    sig.snapshots = snapshots.get();
    sig.peers = &peers;
    sig.health = &health;
    sig.workers = &pool;
    sig.admin = c.admin.listen ? &admin : nullptr;
    sig.running = cfg_;
    sig.cache = &cacheCtx;
    sig.locks = &locks;
    sig.store = &store;
    sig.adminCtx = &adminCtx;
    sig.accessLogPath = c.log.accessLog;
    for (auto *h : {&sig.term, &sig.intr, &sig.hup, &sig.usr1}) {
        uv_signal_init(&loop, h); // cannot fail on Linux (libuv's signal pipe exists already)
        h->data = &sig;
    }
    for (auto [h, signum] : {std::pair{&sig.term, SIGTERM}, std::pair{&sig.intr, SIGINT},
                             std::pair{&sig.hup, SIGHUP}, std::pair{&sig.usr1, SIGUSR1}})
        if (int rc = uv_signal_start(h, &onSignal, signum); rc < 0) // start-up: fatal
            std::fprintf(stderr, "frontcache: cannot handle signal %d: %s\n", signum,
                         uv_strerror(rc));
    // Expired items are reclaimed a slice at a time off the I/O threads, so no request pays
    // for a scan.
    uv_timer_t reclaim;
    uv_timer_init(&loop, &reclaim);
    reclaim.data = &store;
    uv_timer_start(
        &reclaim,
        [](uv_timer_t *t) noexcept { static_cast<cache::Store *>(t->data)->reclaimExpired(4096); },
        100, 100);
    sig.reclaim = &reclaim;

    for (auto &w : pool) {
        if (!w->start(err)) {
            std::fprintf(stderr, "frontcache: %s\n", err.c_str());
            std::_Exit(1);
        }
    }
    for (auto &l : listening) {
        // The machine-readable start-up lines ("frontcache listening on [memcached ]ADDR:PORT"):
        // tests and scripts read the real ports from them.
        std::printf("frontcache listening on %s\n", l.c_str());
    }
    std::fflush(stdout);
    FC_INFO("%u worker(s), upstream %s", workers, c.upstream.describe().c_str());
    health.start();
    if (snapshots)
        snapshots->start();

    uv_run(&loop, UV_RUN_DEFAULT);
    for (auto &w : pool)
        w->join();
    pool.clear();
    // Drained: no fetch can store anything more, so this snapshot is the store's last state.
    if (snapshots)
        snapshots->writeNow();
    if (cacheCtx.accessLogFd > 2)
        ::close(cacheCtx.accessLogFd);
    uv_loop_close(&loop);
    FC_INFO("stopped");
    return 0;
}

} // namespace fc::proxy
