// The upstream side: one worker's keep-alive connection pool to the configured upstream
// servers (proxy/balancer.h picks the server for each exchange).
//
// Threading: everything here belongs to one worker's loop thread; nothing is shared between
// workers (no locks on the I/O path). Ownership: the pool owns its connections; a connection
// deletes itself in its last close callback (two-phase close; docs/architecture.md, "Who owns
// what"). A user (UpstreamUser) borrows a connection between onUpstreamReady and release()/abort().
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <atomic>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "http/parser.h"
#include "proxy/balancer.h"
#include "proxy/connect.h"

namespace fc::proxy {

class UpstreamConnection;

// upstream.max_connections: concurrent upstream requests across every worker. A pool takes a slot
// before it hands a connection to a user and gives it back when that exchange ends (the
// connection goes idle or closes). Users that find no slot wait in their worker's queue (bounded
// by upstream.max_queue and upstream.queue_timeout, then 503 with Retry-After); a slot freed in
// any worker wakes the workers that have someone queued (`notify`, set once at start-up).
//
// Threading: tryAcquire/release/setMax from any thread (atomics only; no lock on the I/O path).
class UpstreamLimiter {
public:
    explicit UpstreamLimiter(unsigned max) : max_(max) {}
    bool tryAcquire() {
        unsigned cur = inUse_.load(std::memory_order_relaxed);
        while (cur < max_.load(std::memory_order_relaxed))
            if (inUse_.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel))
                return true;
        return false;
    }
    void release() {
        inUse_.fetch_sub(1, std::memory_order_acq_rel);
        if (waiting_.load(std::memory_order_acquire) > 0 && notify)
            notify();
    }
    void queued(long delta) { waiting_.fetch_add(delta, std::memory_order_acq_rel); }
    void setMax(unsigned m) { max_.store(m, std::memory_order_relaxed); }
    unsigned inUse() const { return inUse_.load(std::memory_order_relaxed); }
    long waiting() const { return waiting_.load(std::memory_order_relaxed); }
    std::function<void()> notify;

private:
    std::atomic<unsigned> inUse_{0};
    std::atomic<unsigned> max_;
    std::atomic<long> waiting_{0};
};

// What the pool and a connection report to the request that uses them. All calls come from the
// loop thread. After onUpstreamError/onUpstreamComplete the user no longer owns the connection.
// What an upstream error says about the app (UpstreamUser::onUpstreamError).
enum class UpstreamFailure : bool { Failed, Unreachable };

class UpstreamUser {
public:
    virtual ~UpstreamUser() = default;
    virtual void onUpstreamReady(UpstreamConnection &conn) = 0;
    virtual bool onUpstreamHead(http::ResponseHead &head) = 0;
    // A 103 Early Hints before the final response (RFC 8297); other 1xx never reach the user.
    virtual void onUpstreamEarlyHints(http::ResponseHead &) {}
    virtual void onUpstreamBody(std::string_view piece) = 0;
    virtual void onUpstreamComplete(bool reusable) = 0;
    // status: 502 or 504 (503 when the queue is full or waiting timed out). `retryable`: no
    // response byte came back and either the connection was a reused keep-alive one (the server
    // may have closed it just as we sent) or, with several servers, it was reset or closed (not
    // timed out): an idempotent request may be sent again on a fresh connection, avoiding the
    // server that failed (RFC 9110 §9.2.2).
    // `kind`: Unreachable when the app could not be reached at all (every server marked down,
    // or no connect to any server succeeded), Failed otherwise (upstream.unavailable_page is
    // answered only for the first).
    virtual void onUpstreamError(int status, const char *reason, bool retryable,
                                 UpstreamFailure kind) = 0;
    // The upstream's send queue drained below the low-water mark (request-body backpressure).
    virtual void onUpstreamWritable() = 0;
    // Everything from one read of the upstream socket has been delivered: a good moment to flush
    // what the user batched for its client (one write per read, not one per piece).
    virtual void onUpstreamReadDone() = 0;
    // The upstream group whose servers this user's exchange goes to (0: upstream.url/servers;
    // [[rules]] upstream = "NAME" chooses another).
    virtual std::size_t upstreamPool() const { return 0; }
};

class UpstreamPool {
public:
    UpstreamPool(uv_loop_t *loop, const config::UpstreamConfig &cfg, Balancer &balancer,
                 UpstreamLimiter &limiter);
    ~UpstreamPool();
    UpstreamPool(const UpstreamPool &) = delete;
    UpstreamPool &operator=(const UpstreamPool &) = delete;

    // Gets a connection for `user` to the server the balancer picks: an idle one (onUpstreamReady
    // is called before acquire returns), a new one (onUpstreamReady or onUpstreamError once
    // connected or failed), or a place in the queue; a full queue, or no server available, calls
    // onUpstreamError (503 / 502) before returning. `fresh` skips idle connections (used for the
    // retry after a stale keep-alive connection failed). A connect that fails is tried on each
    // other available server before the user hears of it (nothing was sent yet).
    // `avoid`: servers (bit per index) to skip if any other is available.
    void acquire(UpstreamUser &user, bool fresh = false, std::uint64_t avoid = 0);
    // Withdraws a user that is queued or whose connection is still being opened (its client went
    // away): it hears nothing more. No effect otherwise.
    void cancel(UpstreamUser &user);
    // A reloaded configuration: timeouts and limits apply to what happens next (the servers are
    // fixed at start-up).
    void setConfig(const config::UpstreamConfig &cfg) { cfg_ = cfg; }
    // Closes idle connections and fails queued users; used when the worker shuts down.
    void shutdown();
    // Hands freed slots to queued users (a slot was freed somewhere; any thread posts this to
    // the worker, which calls it on its own thread).
    void serveQueue();

    size_t idleCount() const { return idleTotal_; }
    size_t totalCount() const { return total_; }

    // Internal: connection life cycle.
    void onIdle(UpstreamConnection *c);
    void onClosed(UpstreamConnection *c);
    void onTunnel();
    uv_loop_t *loop() const { return loop_; }
    const config::UpstreamConfig &config() const { return cfg_; }
    Balancer &balancer() { return balancer_; }
    std::int64_t nowMs() const { return static_cast<std::int64_t>(uv_now(loop_)); }

private:
    friend class UpstreamConnection;
    struct Waiter {
        UpstreamUser *user;
        uint64_t deadline; // uv_now() ms
        bool fresh;
        std::uint64_t avoid;
    };
    void armQueueTimer();
    void popQueued(size_t n) { limiter_.queued(-static_cast<long>(n)); }
    void start(UpstreamUser &user, bool fresh, std::uint64_t avoid);
    void handOver(UpstreamConnection *c, UpstreamUser &user, bool trial);
    static void onQueueTimer(uv_timer_t *t) noexcept;
    void connectNew(UpstreamUser &user, Balancer::Pick pick, std::uint64_t tried);
    UpstreamConnection *takeIdle(int server);
    void dropIdle(UpstreamConnection *c);

    uv_loop_t *loop_;
    UpstreamLimiter &limiter_;
    config::UpstreamConfig cfg_;
    Balancer &balancer_;
    // Idle keep-alive connections per server, most recently used at the back.
    std::vector<std::deque<UpstreamConnection *>> idle_;
    size_t idleTotal_ = 0;
    std::vector<UpstreamConnection *> all_; // every open connection (shutdown closes them)
    std::deque<Waiter> queue_;
    uv_timer_t *queueTimer_; // heap-allocated: freed in its close callback
    size_t total_ = 0;       // open connections but tunnels (upstream.max_connections per worker)
    bool shutdown_ = false;
};

class UpstreamConnection final : private http::ResponseParser::Sink {
public:
    UpstreamConnection(UpstreamPool &pool, int server) : pool_(pool), server_(server) {}

    // Sends bytes of the request (copied only if the socket cannot take them at once).
    void send(std::string_view data);
    // Starts expecting the response to a request (call before or with the first send()).
    // `upgrade`: the request is a WebSocket handshake. If the upstream answers 101 the connection
    // becomes the upstream end of a tunnel: it gives back its upstream.max_connections slot, has
    // no read timeout (the client side's tunnel_idle_timeout covers both ways), and every byte
    // read is onUpstreamBody as it came; the upstream closing is onUpstreamComplete(false).
    void beginExchange(UpstreamUser &user, bool isHead, bool upgrade = false);
    // The user is done with a response that completed normally; `reusable` when the request was
    // fully sent and both sides allow keep-alive.
    void release(bool reusable);
    // The user gives up (client gone, error): the connection is closed, no more callbacks.
    void abort();
    // Idle and nothing to read: safe to send the next request on (UpstreamPool::takeIdle).
    bool quiet();
    void pauseReading();
    void resumeReading();
    // A tunnel's client half-closed: FIN once the queued writes are out; reading goes on.
    void shutdownWrite();
    size_t writeQueueSize() const;
    bool reused() const { return reused_; }
    int server() const { return server_; } // index in the balancer

private:
    friend class UpstreamPool;
    enum class State { Connecting, Idle, Busy, Closing };

    void connect(UpstreamUser &user);
    void doRelease(bool reusable);
    void close();
    void fail(int status, const char *reason);
    void failConnect(int status, const char *reason);
    void takeSlot(bool trial);
    void dropSlot();
    void armTimer(config::Millis ms);
    bool onResponseHead(http::ResponseHead &head) override;
    void onEarlyHints(http::ResponseHead &head) override;
    void onResponseBody(std::string_view piece) override;
    void onResponseComplete() override;

    static void onConnect(uv_connect_t *req, int status) noexcept;
    static void onAlloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) noexcept;
    static void onRead(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) noexcept;
    static void onWrite(uv_write_t *req, int status) noexcept;
    static void onTimer(uv_timer_t *t) noexcept;
    static void onClose(uv_handle_t *h) noexcept;
    void handleRead(ssize_t n, const uv_buf_t *buf);
    void tunnelRead(ssize_t n, const uv_buf_t *buf);

    UpstreamPool &pool_;
    const int server_;        // index in the balancer
    std::uint64_t tried_ = 0; // servers this exchange's connect already failed on (bit per server)
    UpstreamHandle h_;        // owned: closed by close()
    uv_timer_t timer_;
    uv_connect_t connectReq_;
    uv_shutdown_t shutdownReq_;
    bool shutdownSent_ = false;
    http::ResponseParser parser_{*this, 64 * 1024};
    UpstreamUser *user_ = nullptr;
    State state_ = State::Connecting;
    bool reused_ = false;   // has served a previous exchange
    bool gotBytes_ = false; // any response byte in the current exchange
    bool reading_ = false;
    bool handleInit_ = true; // h_ was initialised (false only when its socket could not be made)
    bool complete_ = false;  // the current response completed
    bool connectFailed_ = false;
    bool tunnel_ = false;         // a 101 came: raw bytes both ways from here on
    bool slot_ = false;           // holds one of upstream.max_connections' slots (an exchange)
    bool trial_ = false;          // the exchange is its server's trial after a back-off
    bool inFeed_ = false;         // inside parser_.feed()/finish()
    bool releasePending_ = false; // release() was called from inside the parser
    bool releaseReusable_ = false;
    int openHandles_ = 0;
    char readBuf_[64 * 1024];
};

} // namespace fc::proxy
