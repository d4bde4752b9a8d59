#include "fleet/peer_forward.h"

#include <arpa/inet.h>

#include <cstring>

#include "common/log.h"
#include "proxy/balancer.h"
#include "proxy/one_shot.h"

namespace fc::fleet {

using proxy::PeerMessage;
using proxy::UpstreamTarget;

struct PeerForwarder::Peer {
    PeerForwarder *owner;
    UpstreamTarget target;
    PeerStats stats;
    std::deque<PeerMessage> queue;
    proxy::OneShot *inFlight = nullptr;
    unsigned attempts = 0; // of the message at the front
    uv_timer_t retry;      // closed with the peer (frees it)
    bool waiting = false;  // a retry is scheduled
};

namespace {

UpstreamTarget targetOf(const config::SocketAddress &a) {
    UpstreamTarget t;
    t.display = a.text();
    t.hostField = t.display;
    if (a.ipv6) {
        auto *s6 = reinterpret_cast<sockaddr_in6 *>(&t.addr);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(a.port);
        inet_pton(AF_INET6, a.host.c_str(), &s6->sin6_addr);
    } else {
        auto *s4 = reinterpret_cast<sockaddr_in *>(&t.addr);
        s4->sin_family = AF_INET;
        s4->sin_port = htons(a.port);
        inet_pton(AF_INET, a.host.c_str(), &s4->sin_addr);
    }
    return t;
}

} // namespace

PeerForwarder::PeerForwarder(uv_loop_t *loop, std::string self)
    : loop_(loop), self_(std::move(self)) {}

PeerForwarder::~PeerForwarder() {
    close();
}

void PeerForwarder::configure(const std::vector<config::SocketAddress> &peers,
                              const std::string &token) {
    token_ = token;
    std::vector<std::unique_ptr<Peer>> next;
    for (const auto &a : peers) {
        std::unique_ptr<Peer> keep;
        for (auto &old : peers_)
            if (old && old->stats.address == a.text())
                keep = std::move(old);
        if (!keep) {
            keep = std::make_unique<Peer>();
            keep->owner = this;
            keep->target = targetOf(a);
            keep->stats.address = a.text();
            uv_timer_init(loop_, &keep->retry); // cannot fail
            keep->retry.data = keep.get();
        }
        next.push_back(std::move(keep));
    }
    for (auto &gone : peers_) { // no longer a peer: its requests end, its queue goes
        if (!gone)
            continue;
        if (!gone->queue.empty())
            FC_WARN("admin.peers: %s removed with %zu message(s) still queued",
                    gone->stats.address.c_str(), gone->queue.size());
        if (gone->inFlight)
            proxy::cancelOneShot(gone->inFlight);
        Peer *p = gone.release();
        uv_close(reinterpret_cast<uv_handle_t *>(&p->retry),
                 [](uv_handle_t *h) noexcept { delete static_cast<Peer *>(h->data); });
    }
    peers_ = std::move(next);
}

bool PeerForwarder::start(std::string &error) {
    if (int rc = uv_async_init(
            loop_, &async_,
            [](uv_async_t *a) noexcept { static_cast<PeerForwarder *>(a->data)->drainInbox(); });
        rc < 0) {
        error = std::string("admin.peers: ") + uv_strerror(rc);
        return false;
    }
    async_.data = this;
    std::lock_guard lock(inboxMu_);
    started_ = true;
    return true;
}

void PeerForwarder::close() {
    std::unique_lock lock(inboxMu_);
    if (started_) {
        started_ = false;
        lock.unlock();
        uv_close(reinterpret_cast<uv_handle_t *>(&async_), nullptr);
    }
    configure({}, token_); // cancels what is in flight and frees every peer
}

void PeerForwarder::submit(PeerMessage m) {
    // Under the lock so close() cannot close the handle between the check and the send (a
    // worker may still be answering a public PURGE while the server stops).
    std::lock_guard lock(inboxMu_);
    if (!started_)
        return;
    inbox_.push_back(std::move(m));
    uv_async_send(&async_); // thread-safe; coalesces wake-ups
}

void PeerForwarder::drainInbox() {
    std::vector<PeerMessage> taken;
    {
        std::lock_guard lock(inboxMu_);
        taken.swap(inbox_);
    }
    for (auto &p : peers_) {
        for (const auto &m : taken) {
            if (p->queue.size() >= kMaxQueue) {
                ++p->stats.dropped;
                FC_ERROR("admin.peers: %s: queue full (%zu), %s not forwarded",
                         p->stats.address.c_str(), kMaxQueue, m.what.c_str());
                continue;
            }
            p->queue.push_back(m);
        }
        pump(*p);
    }
}

void PeerForwarder::pump(Peer &p) {
    p.stats.queued = p.queue.size();
    if (p.inFlight || p.waiting || p.queue.empty())
        return;
    attempt(p);
}

void PeerForwarder::attempt(Peer &p) {
    const PeerMessage &m = p.queue.front();
    std::string req = m.method + " " + m.target + " HTTP/1.1\r\nHost: " + p.stats.address +
                      "\r\nX-Frontcache-Forwarded: " + self_ + "\r\n";
    if (!token_.empty())
        req += "Authorization: Bearer " + token_ + "\r\n";
    req += "Content-Length: " + std::to_string(m.body.size()) + "\r\nConnection: close\r\n\r\n";
    req += m.body;
    ++p.attempts;
    Peer *peer = &p;
    p.inFlight = proxy::startOneShot(loop_, p.target, std::move(req), kTimeoutMs,
                                     [this, peer](int status, const std::string &why) {
                                         peer->inFlight = nullptr;
                                         onDone(*peer, status, why);
                                     });
}

void PeerForwarder::onDone(Peer &p, int status, const std::string &why) {
    const PeerMessage &m = p.queue.front();
    if (status >= 200 && status < 300) {
        ++p.stats.ok;
        FC_DEBUG("admin.peers: %s: %s forwarded", p.stats.address.c_str(), m.what.c_str());
    } else {
        std::string reason = status ? "status " + std::to_string(status) : why;
        // 401/403: a wrong admin.token will not fix itself; neither will a 4xx.
        bool final = p.attempts >= kAttempts || (status >= 400 && status < 500);
        if (!final) {
            ++p.stats.retries;
            std::uint64_t delay = kFirstRetryMs << (p.attempts - 1);
            FC_DEBUG("admin.peers: %s: %s failed (%s); retrying in %llu ms",
                     p.stats.address.c_str(), m.what.c_str(), reason.c_str(),
                     static_cast<unsigned long long>(delay));
            p.waiting = true;
            uv_timer_start(
                &p.retry,
                [](uv_timer_t *t) noexcept {
                    auto *peer = static_cast<Peer *>(t->data);
                    peer->waiting = false;
                    peer->owner->attempt(*peer);
                },
                delay, 0);
            return;
        }
        ++p.stats.failed;
        FC_ERROR("admin.peers: %s: %s not forwarded after %u attempt(s): %s",
                 p.stats.address.c_str(), m.what.c_str(), p.attempts, reason.c_str());
    }
    p.attempts = 0;
    p.queue.pop_front();
    pump(p);
}

std::vector<PeerStats> PeerForwarder::stats() const {
    std::vector<PeerStats> out;
    for (const auto &p : peers_)
        out.push_back(p->stats);
    return out;
}

} // namespace fc::fleet
