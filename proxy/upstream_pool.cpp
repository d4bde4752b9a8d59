// The upstream pool: a worker's keep-alive connections, its queue for upstream.max_connections
// slots, and handing connections to users (proxy/upstream.h). The connections themselves are in
// upstream.cpp.
#include "proxy/upstream.h"

#include <algorithm>
#include <cassert>

namespace fc::proxy {

UpstreamPool::UpstreamPool(uv_loop_t *loop, const config::UpstreamConfig &cfg, Balancer &balancer,
                           UpstreamLimiter &limiter)
    : loop_(loop), limiter_(limiter), cfg_(cfg), balancer_(balancer), idle_(Balancer::kSlots),
      queueTimer_(new uv_timer_t) {
    uv_timer_init(loop_, queueTimer_); // cannot fail
    queueTimer_->data = this;
}

UpstreamPool::~UpstreamPool() {
    assert(shutdown_ && total_ == 0);
}

void UpstreamPool::acquire(UpstreamUser &user, bool fresh, std::uint64_t avoid) {
    if (shutdown_) {
        user.onUpstreamError(503, "shutting down", false, UpstreamFailure::Failed);
        return;
    }
    if (queue_.empty() && limiter_.tryAcquire()) {
        start(user, fresh, avoid);
        return;
    }
    if (queue_.size() >= cfg_.maxQueue) {
        user.onUpstreamError(503, "too many requests waiting for an upstream connection", false,
                             UpstreamFailure::Failed);
        return;
    }
    queue_.push_back(
        {&user, uv_now(loop_) + static_cast<uint64_t>(cfg_.queueTimeout.count()), fresh, avoid});
    limiter_.queued(1);
    if (queue_.size() == 1)
        armQueueTimer();
}

// With a slot taken: the balancer picks the server, then an idle connection to it is reused or
// a new one opened (closing the least recently used idle one when the pool is full).
void UpstreamPool::start(UpstreamUser &user, bool fresh, std::uint64_t avoid) {
    const std::size_t pool = user.upstreamPool();
    Balancer::Pick p = balancer_.pick(nowMs(), avoid, pool);
    if (p.server < 0 && avoid != 0)
        p = balancer_.pick(nowMs(), 0, pool); // nothing else: the one that failed beats none
    if (p.server < 0) {
        limiter_.release();
        user.onUpstreamError(502, "no upstream server is available (every one is marked down)",
                             false, UpstreamFailure::Unreachable);
        return;
    }
    if (!fresh) {
        if (UpstreamConnection *c = takeIdle(p.server)) {
            handOver(c, user, p.trial);
            return;
        }
    }
    if (total_ >= cfg_.maxConnections && idleTotal_ > 0) {
        for (auto &list : idle_)
            if (!list.empty()) {
                list.front()->close(); // make room for a fresh connection
                break;
            }
    }
    connectNew(user, p, 0);
}

UpstreamConnection *UpstreamPool::takeIdle(int server) {
    auto &list = idle_[static_cast<size_t>(server)];
    while (!list.empty()) {
        UpstreamConnection *c = list.back();
        list.pop_back();
        --idleTotal_;
        if (c->quiet())
            return c;
        c->close(); // it spoke (or closed) since its last response: never reused
    }
    return nullptr;
}

void UpstreamPool::dropIdle(UpstreamConnection *c) {
    idleTotal_ -= std::erase(idle_[static_cast<size_t>(c->server_)], c);
}

void UpstreamPool::handOver(UpstreamConnection *c, UpstreamUser &user, bool trial) {
    c->takeSlot(trial);
    c->state_ = UpstreamConnection::State::Busy;
    c->user_ = &user;
    uv_timer_stop(&c->timer_);
    user.onUpstreamReady(*c);
}

void UpstreamPool::cancel(UpstreamUser &user) {
    popQueued(std::erase_if(queue_, [&](const Waiter &w) { return w.user == &user; }));
    // A user whose connection is still being opened is withdrawn too: the connection is closed
    // (its slot freed) rather than handed to a user that is gone.
    std::vector<UpstreamConnection *> connecting;
    for (UpstreamConnection *c : all_)
        if (c->user_ == &user && c->state_ == UpstreamConnection::State::Connecting)
            connecting.push_back(c);
    for (UpstreamConnection *c : connecting)
        c->abort();
}

// The caller holds a limiter slot for `user`; the new connection carries it.
void UpstreamPool::connectNew(UpstreamUser &user, Balancer::Pick pick, std::uint64_t tried) {
    ++total_;
    auto *c = new UpstreamConnection(*this, pick.server);
    balancer_.hold(static_cast<std::size_t>(pick.server)); // its slot is not reused under it
    c->takeSlot(pick.trial);
    c->tried_ = tried | (std::uint64_t{1} << pick.server);
    all_.push_back(c);
    c->connect(user);
}

void UpstreamPool::onIdle(UpstreamConnection *c) {
    if (shutdown_) { // a fetch that finished after the worker began shutting down
        c->close();
        return;
    }
    idle_[static_cast<size_t>(c->server_)].push_back(c);
    ++idleTotal_;
    serveQueue();
}

// A connection became a tunnel's: it no longer counts against upstream.max_connections in this
// worker either (server.max_tunnels bounds tunnels), so a queued request may take its place.
void UpstreamPool::onTunnel() {
    --total_;
    serveQueue();
}

void UpstreamPool::onClosed(UpstreamConnection *c) {
    balancer_.unhold(static_cast<std::size_t>(c->server_));
    if (!c->tunnel_)
        --total_;
    dropIdle(c);
    std::erase(all_, c);
    serveQueue();
}

void UpstreamPool::serveQueue() {
    while (!shutdown_ && !queue_.empty()) {
        Waiter w = queue_.front();
        if (total_ >= cfg_.maxConnections && idleTotal_ == 0)
            return; // every connection of this worker is busy: one will come back
        if (!limiter_.tryAcquire())
            return; // upstream.max_connections reached across workers
        queue_.pop_front();
        popQueued(1);
        start(*w.user, w.fresh, w.avoid);
    }
}

void UpstreamPool::armQueueTimer() {
    if (queue_.empty() || shutdown_)
        return;
    uint64_t now = uv_now(loop_);
    uint64_t d = queue_.front().deadline;
    uv_timer_start(queueTimer_, &UpstreamPool::onQueueTimer, d > now ? d - now : 0, 0);
}

void UpstreamPool::onQueueTimer(uv_timer_t *t) noexcept {
    auto *p = static_cast<UpstreamPool *>(t->data);
    uint64_t now = uv_now(p->loop_);
    while (!p->queue_.empty() && p->queue_.front().deadline <= now) {
        UpstreamUser *u = p->queue_.front().user;
        p->queue_.pop_front();
        p->popQueued(1);
        u->onUpstreamError(503, "timed out waiting for a free upstream connection", false,
                           UpstreamFailure::Failed);
    }
    p->armQueueTimer();
}

void UpstreamPool::shutdown() {
    if (shutdown_)
        return;
    shutdown_ = true;
    for (auto &list : idle_) {
        auto idle = list;
        for (auto *c : idle)
            c->close();
    }
    auto waiting = std::move(queue_);
    queue_.clear();
    popQueued(waiting.size());
    for (auto &w : waiting)
        w.user->onUpstreamError(503, "shutting down", false, UpstreamFailure::Failed);
    // The worker shuts down only when no client connection is left, so a connection still busy
    // here serves a fetch that outlived its client (a cacheable page being stored): give it up
    // rather than keep the process alive until the upstream answers.
    auto busy = all_;
    for (auto *c : busy)
        if (c->state_ != UpstreamConnection::State::Closing)
            c->fail(503, "shutting down");
    uv_close(reinterpret_cast<uv_handle_t *>(queueTimer_),
             [](uv_handle_t *h) noexcept { delete reinterpret_cast<uv_timer_t *>(h); });
}

} // namespace fc::proxy
