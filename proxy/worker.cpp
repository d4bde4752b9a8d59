#include "proxy/worker.h"

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <random>
#include <utility>

#include "common/log.h"
#include "proxy/client.h"
#include "proxy/fetch.h"
#include "proxy/memcache_conn.h"

namespace fc::proxy {

Worker::Worker(int index, std::shared_ptr<const config::Config> cfg, WorkerSockets sockets,
               cache::ProtocolContext *mc, const CacheContext &cache)
    : index_(index), cfg_(std::move(cfg)), sockets_(std::move(sockets)), mc_(mc), cache_(cache),
      accessLog_(cache.accessLogFd), readBuf_(new char[kReadBufSize]) {
    requestIdPrefix_ = std::random_device{}();
    accessLog_.setJson(cfg_->log.format == config::LogConfig::Format::Json);
    // Start-up: a failure here is reported by start() and ends the process (common/failure.h).
    if (int rc = uv_loop_init(&loop_); rc < 0) {
        initError_ = std::string("cannot create a worker loop: ") + uv_strerror(rc);
        return;
    }
    loopInit_ = true;
    int rc = uv_async_init(&loop_, &stopAsync_, &Worker::onStop);
    if (rc == 0)
        rc = uv_async_init(&loop_, &inboxAsync_, &Worker::onInbox);
    if (rc < 0)
        initError_ = std::string("cannot create a worker's wake-up handle: ") + uv_strerror(rc);
    inboxAsync_.data = this;
    uv_timer_init(&loop_, &drainTimer_); // timers cannot fail
    uv_timer_init(&loop_, &logTimer_);
    stopAsync_.data = this;
    drainTimer_.data = this;
    logTimer_.data = this;
    if (accessLog_.enabled())
        uv_timer_start(
            &logTimer_,
            [](uv_timer_t *t) noexcept { static_cast<Worker *>(t->data)->accessLog_.flush(); },
            1000, 1000);
    pool_ =
        std::make_unique<UpstreamPool>(&loop_, cfg_->upstream, *cache_.balancer, *cache_.limiter);
}

std::size_t Worker::makeRequestId(char *out) {
    return static_cast<std::size_t>(
        std::snprintf(out, 25, "%08x%04x%012llx", requestIdPrefix_, index_ & 0xffff,
                      static_cast<unsigned long long>(++nextRequestId_ & 0xffffffffffffULL)));
}

Worker::~Worker() {
    if (!loopInit_)
        return;
    int rc = uv_loop_close(&loop_);
    if (rc != 0)
        FC_ERROR("worker %d: loop closed with handles still open", index_);
}

bool Worker::start(std::string &error) {
    if (!initError_.empty()) {
        error = initError_;
        return false;
    }
    auto open = [&](int fd, uv_connection_cb cb) {
        auto l = std::make_unique<io::Listener>();
        int rc = l->init(&loop_, this);
        if (rc < 0) {
            error = std::string("listen failed: ") + uv_strerror(rc);
            return false;
        }
        rc = l->listen(fd, 4096, cb);
        listeners_.push_back(std::move(l));
        if (rc != 0)
            error = std::string("listen failed: ") + uv_strerror(rc);
        return rc == 0;
    };
    for (int fd : sockets_.http)
        if (!open(fd, &Worker::onConnection))
            return false;
    for (int fd : sockets_.memcache)
        if (!open(fd, &Worker::onMemcacheConnection))
            return false;
    sockets_ = {};
    thread_ = std::thread([this] { run(); });
    return true;
}

void Worker::run() {
    uv_run(&loop_, UV_RUN_DEFAULT);
}

void Worker::requestStop() {
    uv_async_send(&stopAsync_);
}

void Worker::join() {
    if (thread_.joinable())
        thread_.join();
}

void Worker::onStop(uv_async_t *a) noexcept {
    static_cast<Worker *>(a->data)->beginDrain();
}

void Worker::beginDrain() {
    if (draining_)
        return;
    draining_ = true;
    for (auto &l : listeners_)
        l->close();
    uv_close(reinterpret_cast<uv_handle_t *>(&stopAsync_), nullptr);
    // drain() may close (and untrack) the connection: walk a snapshot of the list.
    std::vector<ClientConnection *> all;
    for (ClientConnection *c = clients_.head; c; c = c->next_)
        all.push_back(c);
    for (auto *c : all)
        c->drain();
    // memcached clients have nothing in flight between commands: close them now.
    while (mcClients_.head)
        mcClients_.head->closeNow();
    uv_timer_start(&drainTimer_, &Worker::onDrainTimer,
                   static_cast<uint64_t>(cfg_->server.drainTimeout.count()), 0);
    maybeFinish();
}

void Worker::onDrainTimer(uv_timer_t *t) noexcept {
    auto *w = static_cast<Worker *>(t->data);
    if (w->refreshes_.size > 0)
        FC_WARN("worker %d: drain timeout, abandoning %zu background refreshes", w->index_,
                w->refreshes_.size);
    while (w->refreshes_.head)
        w->refreshes_.head->abort();
    if (w->clients_.size > 0)
        FC_WARN("worker %d: drain timeout, closing %zu connections", w->index_, w->clients_.size);
    std::vector<ClientConnection *> all;
    for (ClientConnection *c = w->clients_.head; c; c = c->next_)
        all.push_back(c);
    for (auto *c : all)
        c->closeNow();
    w->maybeFinish();
}

void Worker::maybeFinish() {
    if (!draining_ || finished_ || clients_.size > 0 || refreshes_.size > 0)
        return;
    finished_ = true;
    {
        std::lock_guard lock(inboxMu_);
        inboxClosed_ = true;
    }
    uv_close(reinterpret_cast<uv_handle_t *>(&inboxAsync_), nullptr);
    pool_->shutdown();
    accessLog_.flush();
    uv_close(reinterpret_cast<uv_handle_t *>(&drainTimer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&logTimer_), nullptr);
    // The loop ends by itself once the pool's connections have closed.
}

void Worker::track(ClientConnection *c) {
    clients_.push(c);
}

void Worker::untrack(ClientConnection *c) {
    clients_.remove(c);
    maybeFinish();
}

void Worker::trackRefresh(Fetch *r) {
    refreshes_.push(r);
}

void Worker::untrackRefresh(Fetch *r) {
    refreshes_.remove(r);
    maybeFinish();
}

std::uint64_t Worker::addLockWaiter(ClientConnection *c) {
    std::uint64_t id = nextWaiterId_++;
    lockWaiters_.emplace(id, c);
    return id;
}

void Worker::removeLockWaiter(std::uint64_t id) {
    lockWaiters_.erase(id);
}

void Worker::wakeWaiters(const std::vector<cache::WaiterId> &ids) {
    const std::uint64_t now = uv_hrtime();
    for (const auto &w : ids)
        if (cache_.workers && w.worker < cache_.workers->size())
            (*cache_.workers)[w.worker]->postWake(w.id, now);
}

void Worker::postWake(std::uint64_t id, std::uint64_t releasedAt) {
    std::lock_guard lock(inboxMu_);
    if (inboxClosed_)
        return;
    inboxWakes_.emplace_back(id, releasedAt);
    if (inboxWakes_.size() == 1)
        uv_async_send(&inboxAsync_);
}

void Worker::postServeQueue() {
    std::lock_guard lock(inboxMu_);
    if (inboxClosed_ || inboxServeQueue_)
        return;
    inboxServeQueue_ = true;
    uv_async_send(&inboxAsync_);
}

void Worker::postReload(std::shared_ptr<const config::Config> cfg, const CacheContext &ctx) {
    std::lock_guard lock(inboxMu_);
    if (inboxClosed_)
        return;
    inboxConfig_ = std::move(cfg);
    inboxCache_ = ctx;
    uv_async_send(&inboxAsync_);
}

void Worker::onInbox(uv_async_t *a) noexcept {
    auto *w = static_cast<Worker *>(a->data);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> wakes;
    std::shared_ptr<const config::Config> cfg;
    CacheContext ctx;
    bool serveQueue;
    {
        std::lock_guard lock(w->inboxMu_);
        serveQueue = std::exchange(w->inboxServeQueue_, false);
        wakes.swap(w->inboxWakes_);
        cfg.swap(w->inboxConfig_);
        if (cfg)
            ctx = w->inboxCache_;
    }
    if (cfg) {
        // Only this thread reads cfg_ and cache_, so switching here is safe mid-traffic; an
        // exchange in flight finishes under whichever settings it reads next.
        ctx.accessLogFd = w->cache_.accessLogFd;
        w->cfg_ = std::move(cfg);
        w->cache_ = ctx;
        w->pool_->setConfig(w->cfg_->upstream);
        w->accessLog_.setJson(w->cfg_->log.format == config::LogConfig::Format::Json);
    }
    if (serveQueue && !w->finished_)
        w->pool_->serveQueue();
    auto &counters = w->counters_;
    for (auto [id, releasedAt] : wakes) {
        auto it = w->lockWaiters_.find(id);
        if (it == w->lockWaiters_.end())
            continue; // it stopped waiting (timed out, or its client left)
        ClientConnection *c = it->second;
        w->lockWaiters_.erase(it);
        const std::uint64_t hitsBefore = counters.coalescedWakeHits.load(std::memory_order_relaxed);
        c->onLockReleased();
        if (counters.coalescedWakeHits.load(std::memory_order_relaxed) != hitsBefore)
            counters.wakeLatency.observe((uv_hrtime() - releasedAt) / 1000); // answered
    }
}

void Worker::trackMemcache(MemcacheConnection *c) {
    mcClients_.push(c);
}

void Worker::untrackMemcache(MemcacheConnection *c) {
    mcClients_.remove(c);
}

void Worker::onMemcacheConnection(uv_stream_t *server, int status) noexcept {
    auto *w = static_cast<Worker *>(server->data);
    if (status < 0) {
        w->acceptError(status);
        return;
    }
    if (w->draining_ || !w->mc_)
        return;
    auto *c = new MemcacheConnection(*w, *w->mc_);
    c->accept(server);
}

void Worker::acceptError(int status) {
    ++acceptErrors_;
    uint64_t now = uv_now(&loop_);
    if (now - lastAcceptWarn_ >= 1000) {
        lastAcceptWarn_ = now;
        FC_WARN("worker %d: accept failed: %s (%llu so far)", index_, uv_strerror(status),
                static_cast<unsigned long long>(acceptErrors_));
    }
}

void Worker::onConnection(uv_stream_t *server, int status) noexcept {
    auto *w = static_cast<Worker *>(server->data);
    if (status < 0) {
        // Out of descriptors (EMFILE/ENFILE), libuv sheds pending connections itself with its
        // reserve descriptor (accept + close) and usually reports nothing, so the loop does not
        // spin. Anything that does reach us is logged at most once a second.
        w->acceptError(status);
        return;
    }
    if (w->draining_)
        return;
    auto *c = new ClientConnection(*w);
    if (!c->accept(server))
        return;
    unsigned cap = w->cfg_->server.maxClientConnections;
    if (cap != 0 && w->clients_.size > cap)
        c->closeNow();
}

} // namespace fc::proxy
