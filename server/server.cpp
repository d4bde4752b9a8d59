#include "server/server.h"

#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <thread>

#include "admin/admin_server.h"
#include "cache/fetch_locks.h"
#include "cache/groups.h"
#include "cache/memcache/session.h"
#include "cache/store/store.h"
#include "common/log.h"
#include "fleet/peer_forward.h"
#include "fleet/snapshot.h"
#include "io/listener.h"
#include "proxy/balancer.h"
#include "proxy/health_check.h"
#include "proxy/limits.h"
#include "proxy/resolver.h"
#include "proxy/worker.h"
#include "server/setup.h"
#include "server/signals.h"

namespace fc::server {

namespace {

// The parts of the running process, made one phase at a time in the order Server::run calls
// the phases, and destroyed in the reverse order of their declaration here, which is the order
// they are made in. A phase that fails before the workers exist says why on stderr and returns
// false; once they are built, a failure says why and ends the process at once (std::_Exit):
// nothing has been accepted, so there is nothing to drain.
class Process {
public:
    explicit Process(std::shared_ptr<const config::Config> cfg) : cfg_(std::move(cfg)), c_(*cfg_) {}
    Process(const Process &) = delete;
    Process &operator=(const Process &) = delete;

    void sizeWorkers();
    bool resolveUpstreams();
    bool openSockets();
    void openStore();
    void restoreSnapshot();
    bool buildCacheContext();
    bool startMainLoop();
    void buildWorkers();
    void openAdmin();
    void prepareMainLoop();
    void startWorkers();
    void serve() { uv_run(&loop_, UV_RUN_DEFAULT); }
    void join();
    void finalSnapshot();
    void close();

private:
    bool bindAll(const config::SocketAddress &addr, bool memcache, const char *what);

    std::shared_ptr<const config::Config> cfg_;
    const config::Config &c_;
    unsigned workers_ = 1;
    unsigned long nofile_ = 0;
    std::optional<proxy::Balancer> balancer_;
    std::optional<proxy::ClientBudget> budget_; // [limits]: made always (a reload may turn it on)
    std::vector<proxy::WorkerSockets> fds_;     // one set per worker, handed to it
    std::vector<std::string> listening_;        // for the "frontcache listening on" lines
    std::unique_ptr<cache::Clock> clock_;
    cache::GroupIndex groups_;          // the store's observer: declared first, outlives it
    std::optional<cache::Store> store_; // shared by every worker
    std::optional<cache::ProtocolContext> mc_;
    std::uint64_t restoredItems_ = 0;
    std::optional<cache::FetchLocks> locks_;
    std::vector<proxy::Worker *> workerPtrs_;
    std::optional<proxy::UpstreamLimiter> limiter_;
    proxy::CacheContext cacheCtx_; // the main thread's copy; each worker copies it
    std::unique_ptr<cache::MemcachedCluster> shared_;
    // The main loop: the admin port, health checks, snapshots, signals, forwarding to peers.
    uv_loop_t loop_;
    std::optional<fleet::PeerForwarder> peers_;
    std::vector<std::unique_ptr<proxy::Worker>> pool_;
    std::vector<const proxy::CacheCounters *> counters_; // every worker's, then adminCounters_
    proxy::CacheCounters adminCounters_; // what the admin port counts on the main loop (purges)
    admin::AdminContext adminCtx_;
    std::optional<admin::AdminServer> admin_;
    std::optional<proxy::HealthChecker> health_;
    std::optional<proxy::Resolver> resolver_;
    std::unique_ptr<fleet::SnapshotScheduler> snapshots_;
    SignalState sig_;
    uv_timer_t reclaim_;
};

// server.workers (0: one per core), and the open-file limit they want.
void Process::sizeWorkers() {
    workers_ = c_.server.workers;
    if (workers_ == 0)
        workers_ = std::max(1u, std::thread::hardware_concurrency());
    nofile_ = raiseFileLimit();
    unsigned long wanted = 1024 + static_cast<unsigned long>(workers_) * c_.upstream.maxConnections;
    if (nofile_ < wanted)
        FC_WARN("open-file limit is %lu; at least %lu is advisable for %u workers "
                "(raise the hard limit with ulimit -Hn or LimitNOFILE=)",
                nofile_, wanted, workers_);
}

bool Process::resolveUpstreams() {
    std::vector<proxy::UpstreamTarget> targets;
    std::string err;
    for (std::size_t g = 0; g < c_.upstream.servers.size(); ++g) {
        const std::size_t first = targets.size();
        if (!resolveUpstream(c_.upstream.servers[g], c_.upstream.resolver, targets, err)) {
            std::fprintf(stderr, "frontcache: %s\n", err.c_str());
            return false;
        }
        for (std::size_t i = first; i < targets.size(); ++i)
            targets[i].group = g; // proxy::Resolver keeps each server's addresses current
    }
    if (targets.size() > config::UpstreamConfig::kMaxServers) {
        std::fprintf(stderr,
                     "frontcache: upstream servers resolve to %zu addresses; at most %zu are "
                     "supported\n",
                     targets.size(), config::UpstreamConfig::kMaxServers);
        return false;
    }
    for (const auto &t : targets)
        FC_DEBUG("upstream target %s", t.display.c_str());
    balancer_.emplace(std::move(targets), c_.upstream);
    return true;
}

// Binds `addr` once per worker. With port 0 the first socket picks the port and the others
// reuse it. On failure every socket bound so far is closed.
bool Process::bindAll(const config::SocketAddress &addr, bool memcache, const char *what) {
    std::uint16_t port = addr.port;
    for (unsigned w = 0; w < workers_; ++w) {
        int fd = io::bindReusePort(addr, port);
        if (fd < 0) {
            std::fprintf(stderr, "frontcache: cannot listen on %s (%s): %s\n", addr.text().c_str(),
                         what, std::strerror(-fd));
            for (auto &ws : fds_) {
                for (int f : ws.http)
                    ::close(f);
                for (int f : ws.memcache)
                    ::close(f);
            }
            return false;
        }
        if (port == 0)
            port = io::boundPort(fd);
        (memcache ? fds_[w].memcache : fds_[w].http).push_back(fd);
    }
    config::SocketAddress shown = addr;
    shown.port = port;
    listening_.push_back(std::string(memcache ? "memcached " : "") + shown.text());
    return true;
}

bool Process::openSockets() {
    fds_.resize(workers_);
    for (const auto &addr : c_.server.listen)
        if (!bindAll(addr, false, "server.listen"))
            return false;
    return !c_.memcached.listen || bindAll(*c_.memcached.listen, true, "memcached.listen");
}

// The store, shared by every worker, and the memcached port's view of it.
void Process::openStore() {
    clock_ = makeClock();
    cache::StoreConfig storeCfg;
    storeCfg.memoryLimit = c_.cache.memory;
    storeCfg.itemSizeMax = static_cast<std::uint32_t>(c_.cache.maxObjectSize);
    store_.emplace(storeCfg, *clock_);
    store_->setObserver(&groups_); // before the snapshot is restored: it rebuilds the index
    mc_.emplace(*store_, *clock_, std::string("1.6.18-frontcache-") + FC_VERSION_STRING);
    mc_->threads = workers_;
    mc_->maxConnections = static_cast<unsigned>(nofile_);
}

// Warm restart: the last snapshot is read back before any listener accepts, so the first
// request already finds the pages (or their stale copies, for stale-if-error).
void Process::restoreSnapshot() {
    if (c_.cache.snapshot.empty())
        return;
    fleet::SnapshotResult r = fleet::restoreSnapshot(*store_, c_.cache.snapshot, clock_->now());
    if (r.ok && r.counts.fileBytes > 0) {
        restoredItems_ = r.counts.items;
        FC_INFO("snapshot: restored %llu items (%.1f MiB) from %s in %.3f s (%.0f items/s, "
                "%.2f GiB/s); %llu expired, %llu did not fit",
                static_cast<unsigned long long>(r.counts.items),
                static_cast<double>(r.counts.valueBytes) / (1 << 20), c_.cache.snapshot.c_str(),
                r.seconds, r.seconds > 0 ? static_cast<double>(r.counts.items) / r.seconds : 0.0,
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

// What every worker's HTTP cache shares (the main thread's copy): the store, the fetch locks,
// the upstream limit and balancer, the shared cluster, the settings, the access log.
bool Process::buildCacheContext() {
    locks_.emplace(*clock_, c_.cache.lockMaxWaiters);
    limiter_.emplace(c_.upstream.maxConnections);
    limiter_->notify = [this] {
        for (proxy::Worker *w : workerPtrs_)
            w->postServeQueue();
    };
    cacheCtx_.store = &*store_;
    cacheCtx_.clock = clock_.get();
    cacheCtx_.locks = &*locks_;
    cacheCtx_.workers = &workerPtrs_;
    cacheCtx_.limiter = &*limiter_;
    cacheCtx_.balancer = &*balancer_;
    budget_.emplace();
    cacheCtx_.budget = &*budget_;
    cacheCtx_.groups = &groups_;
    if (!c_.cache.sharedServers.empty()) {
        std::vector<cache::MemcachedCluster::Server> list;
        for (const auto &a : c_.cache.sharedServers)
            list.push_back({a.host, a.port});
        shared_ = std::make_unique<cache::MemcachedCluster>(
            list, static_cast<std::uint64_t>(c_.cache.sharedTimeout.count()));
        cacheCtx_.shared = shared_.get();
    }
    proxy::applyCacheSettings(c_, cacheCtx_);
    if (c_.log.accessLog == "-") {
        cacheCtx_.accessLogFd = 1;
    } else if (!c_.log.accessLog.empty()) {
        cacheCtx_.accessLogFd =
            ::open(c_.log.accessLog.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (cacheCtx_.accessLogFd < 0) {
            std::fprintf(stderr, "frontcache: cannot open log.access_log %s: %s\n",
                         c_.log.accessLog.c_str(), std::strerror(errno));
            return false;
        }
    }
    return true;
}

// The main loop, and on it the forwarding to admin.peers: always there (a reload may add
// peers), idle without any. The data path reaches it as proxy::PurgeForwarding.
bool Process::startMainLoop() {
    if (int rc = uv_loop_init(&loop_); rc < 0) { // start-up: fatal (common/failure.h)
        std::fprintf(stderr, "frontcache: cannot create the main loop: %s\n", uv_strerror(rc));
        return false;
    }
    peers_.emplace(&loop_, c_.admin.listen ? c_.admin.listen->text() : std::string("-"));
    peers_->configure(c_.admin.peers, c_.admin.token);
    std::string err;
    if (!peers_->start(err)) {
        std::fprintf(stderr, "frontcache: %s\n", err.c_str());
        return false;
    }
    cacheCtx_.peers = &*peers_;
    return true;
}

// The workers, built but not started, and the counters read across them.
void Process::buildWorkers() {
    for (unsigned w = 0; w < workers_; ++w)
        pool_.push_back(std::make_unique<proxy::Worker>(static_cast<int>(w), cfg_,
                                                        std::move(fds_[w]), &*mc_, cacheCtx_));
    for (auto &w : pool_) {
        counters_.push_back(&w->counters());
        workerPtrs_.push_back(w.get());
    }
    counters_.push_back(&adminCounters_);
    mc_->extraStats = [this](std::string &out) { proxy::appendCacheStats(counters_, out); };
}

// The admin port, on the main loop. Its listener is bound here; a failure ends the process.
void Process::openAdmin() {
    adminCtx_.store = &*store_;
    adminCtx_.locks = &*locks_;
    adminCtx_.clock = cacheCtx_.clock;
    adminCtx_.balancer = cacheCtx_.balancer;
    adminCtx_.counters = counters_;
    adminCtx_.ownCounters = &adminCounters_;
    for (auto &w : pool_)
        adminCtx_.samplers.push_back(&w->urlSampler());
    adminCtx_.cache = &cacheCtx_;
    adminCtx_.peers = &*peers_;
    adminCtx_.token = c_.admin.token;
    adminCtx_.startedAt = static_cast<std::int64_t>(::time(nullptr));
    admin_.emplace(&loop_, adminCtx_);
    if (!c_.admin.listen)
        return;
    std::uint16_t port = 0;
    std::string err;
    if (!admin_->listen(*c_.admin.listen, err, port)) {
        std::fprintf(stderr, "frontcache: %s\n", err.c_str());
        std::fflush(stderr);
        std::_Exit(1); // workers are built but not started: nothing to drain
    }
    config::SocketAddress shown = *c_.admin.listen;
    shown.port = port;
    listening_.push_back("admin " + shown.text());
}

// The rest of the main loop's handles: health checks, the snapshot schedule, the signals, and
// the timer that reclaims expired items a slice at a time off the I/O threads (so no request
// pays for a scan).
void Process::prepareMainLoop() {
    health_.emplace(&loop_, *balancer_, c_.upstream);
    resolver_.emplace(&loop_, *balancer_, *health_, c_.upstream);
    health_->onPromoted = [this](std::size_t server) { resolver_->onPromoted(server); };
    adminCtx_.resolver = &*resolver_;
    if (!c_.cache.snapshot.empty()) {
        snapshots_ = std::make_unique<fleet::SnapshotScheduler>(
            &loop_, *store_, *clock_, c_.cache.snapshot, c_.cache.snapshotInterval);
        snapshots_->status().restoredItems = restoredItems_;
        adminCtx_.snapshots = &snapshots_->status();
    }
    sig_.snapshots = snapshots_.get();
    sig_.peers = &*peers_;
    sig_.health = &*health_;
    sig_.resolver = &*resolver_;
    sig_.workers = &pool_;
    sig_.admin = c_.admin.listen ? &*admin_ : nullptr;
    sig_.running = cfg_;
    sig_.cache = &cacheCtx_;
    sig_.locks = &*locks_;
    sig_.store = &*store_;
    sig_.adminCtx = &adminCtx_;
    sig_.accessLogPath = c_.log.accessLog;
    startSignals(&loop_, sig_);
    uv_timer_init(&loop_, &reclaim_);
    reclaim_.data = &*store_;
    uv_timer_start(
        &reclaim_,
        [](uv_timer_t *t) noexcept { static_cast<cache::Store *>(t->data)->reclaimExpired(4096); },
        100, 100);
    sig_.reclaim = &reclaim_;
}

// The point of no return: the workers accept from here on. Then the start-up lines, and the
// main loop's timers.
void Process::startWorkers() {
    std::string err;
    for (auto &w : pool_) {
        if (!w->start(err)) {
            std::fprintf(stderr, "frontcache: %s\n", err.c_str());
            std::_Exit(1);
        }
    }
    for (auto &l : listening_) {
        // The machine-readable start-up lines ("frontcache listening on [memcached ]ADDR:PORT"):
        // tests and scripts read the real ports from them.
        std::printf("frontcache listening on %s\n", l.c_str());
    }
    std::fflush(stdout);
    FC_INFO("%u worker(s), upstream %s", workers_, c_.upstream.describe().c_str());
    health_->start();
    resolver_->start();
    if (snapshots_)
        snapshots_->start();
}

// After the main loop returned (a stop signal closed its handles): every worker finishes its
// drain and its thread ends.
void Process::join() {
    for (auto &w : pool_)
        w->join();
    pool_.clear();
}

// Drained: no fetch can store anything more, so this snapshot is the store's last state.
void Process::finalSnapshot() {
    if (snapshots_)
        snapshots_->writeNow();
}

void Process::close() {
    if (cacheCtx_.accessLogFd > 2)
        ::close(cacheCtx_.accessLogFd);
    uv_loop_close(&loop_);
    FC_INFO("stopped");
}

} // namespace

Server::Server(std::shared_ptr<const config::Config> cfg) : cfg_(std::move(cfg)) {}

// The phases of a run, in order. Each is a member of Process above, which holds what they make.
int Server::run() {
    std::signal(SIGPIPE, SIG_IGN);
    Process p(cfg_);
    p.sizeWorkers();
    if (!p.resolveUpstreams() || !p.openSockets())
        return 1;
    p.openStore();
    p.restoreSnapshot();
    if (!p.buildCacheContext() || !p.startMainLoop())
        return 1;
    p.buildWorkers();
    p.openAdmin();       // exits the process when the admin port cannot listen
    p.prepareMainLoop(); // health checks, snapshots, signals, the reclaim timer
    p.startWorkers();    // exits the process when a worker cannot start
    p.serve();           // the main loop, until a stop signal and the drain it starts
    p.join();
    p.finalSnapshot();
    p.close();
    return 0;
}

} // namespace fc::server
