// A client connection: the transport under the exchanges it carries, one at a time (pipelined
// requests wait in the input buffer and are answered strictly in order). It reads and parses,
// writes (batched, one write per upstream read; hits in one writev from the stored page),
// applies backpressure, runs the connection's timers and closes (lingering close). What happens
// to each request — cache lookup, waiting, the upstream fetch, the answer — is the Exchange's
// (proxy/exchange.h).
//
// A WebSocket handshake the upstream accepts (101) turns the connection into a byte tunnel
// (startTunnel): each side's bytes are relayed to the other as they come, with the same
// backpressure both ways, under server.tunnel_idle_timeout; either end closing closes both.
//
// Backpressure: when the client's write queue passes kHighWater, the exchange pauses its fetch's
// upstream reads until the queue drains below kLowWater; when the upstream's send queue passes
// kHighWater, reading from the client stops until it drains.
//
// The libuv plumbing (accept, reads into the worker's buffer, the writes and their queue, the
// timer, closing every handle once) is io::Connection's (io/connection.h), shared with the
// memcached and admin ports; what it means for HTTP is here.
//
// Ownership: the worker's accept creates it; it deletes itself once its io::Connection has
// closed its handles (its TCP handle and its timer). At closeNow() its exchange leaves its fetch
// (which may finish alone), so nothing refers to the connection once its handles close.
// Threading: one worker's loop thread; never touched from another thread.
#pragma once

#include <netinet/in.h>
#include <uv.h>

#include <memory>
#include <string>

#include "config/config.h"
#include "http/parser.h"
#include "http/proxy_protocol.h"
#include "io/connection.h"
#include "proxy/exchange.h"

namespace fc::proxy {

class Worker;

inline constexpr std::size_t kHighWater = 256 * 1024;
inline constexpr std::size_t kLowWater = 64 * 1024;

class ClientConnection final : private http::RequestParser::Sink, private io::Connection::Owner {
public:
    explicit ClientConnection(Worker &worker);
    ~ClientConnection();
    // Accepts a pending connection from `server`. Returns false (and closes) on failure.
    bool accept(uv_stream_t *server);
    // Worker shutdown: close now if idle, otherwise after the current response.
    void drain();
    // Close at once (client gone, drain deadline, a write failed).
    void closeNow();
    // The fetch this connection's exchange waited for (coalescing) is over.
    void onLockReleased() { exchange_.onLockReleased(); }

    // --- for the exchange ---
    enum class TimerMode { None, Header, Idle, Body, Linger, Deferred, LockWait, Tunnel };
    std::string &out() { return out_; } // response bytes, batched until flush()
    void flush();
    void write(std::string_view data) { // queue + flush
        out_.append(data);
        flush();
    }
    // A page answer in one writev: `parts` whose bit is set in `inItem` point into `page`.
    // Returns false when the connection failed (it is then closing).
    bool writeHeld(const std::string_view *parts, std::size_t n, unsigned inItem,
                   cache::ItemRef page);
    std::size_t writeQueueSize() const { return conn_.writeQueueSize(); }
    std::uint64_t bytesOut() const { return bytesOut_; }
    // Request-body backpressure: stop / resume reading from the client.
    void pauseForBackpressure();
    void resumeAfterBackpressure();
    bool pausedForBackpressure() const { return readPausedForBackpressure_; }
    void startTimer(TimerMode mode, config::Millis ms);
    void stopTimer(TimerMode mode); // only if that timer is the one running
    // The exchange is over: next request (keep-alive) or close.
    void exchangeDone(bool keepAlive);
    // Send what is queued, then close without losing the response (lingering close).
    void closeGracefully();
    // The upstream accepted a WebSocket handshake (its 101 is queued): from here every byte the
    // client sends goes to Exchange::onTunnelData, unparsed — what it pipelined after the
    // handshake first — under server.tunnel_idle_timeout, until either end closes. Counted in
    // the worker's open tunnels until then.
    void startTunnel();
    // A byte went through the tunnel (either way): the idle clock starts again.
    void tunnelActivity();
    // The client's address as the connection knows it: the TCP peer, or the source address of
    // a PROXY protocol header.
    const char *peer() const { return peer_; }
    // A PROXY v2 header said the client connected over TLS.
    bool proxySsl() const { return proxySsl_; }
    http::RequestHead &head() { return parser_.head(); }

    ClientConnection *prev_ = nullptr, *next_ = nullptr; // worker's intrusive list

private:
    // RequestParser::Sink: record only; the exchange acts once the parser has returned.
    bool onRequestHead(http::RequestHead &head) override;
    void onRequestBody(std::string_view piece) override { exchange_.onBody(piece); }
    void onRequestComplete() override;

    // io::Connection::Owner
    void onRead(ssize_t n, const uv_buf_t *buf) override;
    void onWritten(int status) override;
    void onShutdown(int status) override;
    void onTimer() override;
    void onClosed() override { delete this; }
    // Reading and answering requests: neither lingering after our last response nor closing.
    bool serving() const { return !lingering_ && !conn_.closing(); }
    void endTunnel();
    void tunnelRead(ssize_t n, const uv_buf_t *buf);

    void consume(const char *data, size_t len);
    void processPending();
    void rejectRequest(int status, const char *reason);
    void pauseReading();
    void resumeReading();
    const config::Config &cfg() const;

    Worker &worker_;
    io::Connection conn_{*this};
    http::RequestParser parser_;
    Exchange exchange_;
    std::string pending_; // received, not yet parsed (pipelined requests)
    std::string out_;     // response bytes batched until the end of an upstream read
    TimerMode timerMode_ = TimerMode::None;
    bool lingering_ = false; // our last response is out: what arrives is read and dropped
    bool readPausedForBackpressure_ = false;
    bool clientEof_ = false; // the client half-closed after a complete request
    bool tunneling_ = false; // startTunnel(): bytes go to the exchange unparsed
    bool proxySsl_ = false;
    std::unique_ptr<http::ProxyHeaderParser> proxyHeader_; // until the PROXY header is read
    std::uint64_t bytesOut_ = 0;
    char peer_[INET6_ADDRSTRLEN] = "unknown";
};

} // namespace fc::proxy
