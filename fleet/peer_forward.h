// admin.peers: every purge and flush this instance accepts (admin port, or a public PURGE) is
// sent on to the admin port of each peer, so one request reaches the whole fleet.
//
// The data path reaches it through proxy::PurgeForwarding (proxy/purge_forwarding.h), which it
// owns; the admin port holds it whole (its flushes, /metrics' peer_forwards_total).
//
// Off the worker loops: submit() (any thread) only appends to an inbox and wakes the main loop;
// the main loop sends each peer its messages one at a time, on a fresh connection each
// (proxy/one_shot.h), retrying a failure up to kAttempts times with a doubling delay. A peer
// that stays down costs a log line and a counter per message, never a delay here: the purge was
// already done locally and answered. Each peer's queue is bounded (kMaxQueue); beyond it new
// messages are dropped and counted.
//
// A forwarded request carries `X-Frontcache-Forwarded: <this instance's admin address>`; an
// instance never forwards a request that carries it, so peers listing each other do not loop.
// With admin.token set, it carries `Authorization: Bearer <token>` too.
//
// Threading: submit() from any thread; everything else on the main loop's thread.
// Ownership: owns its async handle, its timers and the requests in flight; close() ends them.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "proxy/purge_forwarding.h"

namespace fc::proxy {
class OneShot;
}

namespace fc::fleet {

struct PeerStats {
    std::string address;
    std::uint64_t ok = 0, failed = 0, dropped = 0, retries = 0;
    std::size_t queued = 0;
};

class PeerForwarder final : public proxy::PurgeForwarding {
public:
    static constexpr unsigned kAttempts = 5;            // per message, per peer
    static constexpr std::uint64_t kFirstRetryMs = 100; // then 200, 400, 800
    static constexpr std::uint64_t kTimeoutMs = 2000;   // per attempt: connect + status line
    static constexpr std::size_t kMaxQueue = 1000;      // messages waiting per peer

    PeerForwarder(uv_loop_t *loop, std::string self);
    ~PeerForwarder();
    PeerForwarder(const PeerForwarder &) = delete;
    PeerForwarder &operator=(const PeerForwarder &) = delete;

    // Main loop, before start() or on reload: the peers and the token to send. A peer removed by
    // a reload loses what was queued for it.
    void configure(const std::vector<config::SocketAddress> &peers, const std::string &token);
    bool start(std::string &error);
    void close();

    // Any thread: queue `m` for every peer.
    void submit(proxy::PeerMessage m) override;
    std::vector<PeerStats> stats() const;

private:
    struct Peer;
    void drainInbox();
    void pump(Peer &p);
    void attempt(Peer &p);
    void onDone(Peer &p, int status, const std::string &why);

    uv_loop_t *loop_;
    std::string self_;
    std::string token_;
    uv_async_t async_;
    std::mutex inboxMu_;
    bool started_ = false; // guarded by inboxMu_
    std::vector<proxy::PeerMessage> inbox_;
    std::vector<std::unique_ptr<Peer>> peers_;
};

} // namespace fc::fleet
