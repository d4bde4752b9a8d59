#include "proxy/client.h"

#include <cstring>

#include "cache/store/watch.h"
#include "common/log.h"
#include "io/uv_error.h"
#include "proxy/worker.h"

namespace fc::proxy {

namespace {
constexpr config::Millis kLingerTime{2000};

http::RequestParser::Limits limitsFrom(const config::Config &c) {
    http::RequestParser::Limits l;
    l.maxHeadSize = c.server.maxHeaderSize;
    l.maxTargetSize = c.server.maxUriSize;
    l.maxBody = c.server.maxBody;
    return l;
}
} // namespace

ClientConnection::ClientConnection(Worker &worker)
    : worker_(worker), parser_(*this, limitsFrom(worker.config())), exchange_(*this, worker) {
    worker_.counters().inc(worker_.counters().clientsOpen);
}

ClientConnection::~ClientConnection() {
    worker_.counters().dec(worker_.counters().clientsOpen);
}

const config::Config &ClientConnection::cfg() const {
    return worker_.config();
}

bool ClientConnection::accept(uv_stream_t *server) {
    if (io::uvFailed(conn_.open(worker_.loop(), io::Connection::Timer::Yes), "client connection") <
        0) {
        delete this; // nothing was initialised: drop this connection only (common/failure.h)
        return false;
    }
    worker_.track(this);
    if (conn_.accept(server, io::Connection::NoDelay::Yes) != 0) {
        closeNow();
        return false;
    }
    conn_.peerName(peer_, sizeof peer_);
    conn_.setReadBuffer(worker_.readBuffer(), worker_.readBufferSize());
    if (cfg().server.proxyProtocol) // read under header_timeout, like a request head
        proxyHeader_ = std::make_unique<http::ProxyHeaderParser>();
    startTimer(TimerMode::Header, cfg().server.headerTimeout);
    resumeReading();
    return true;
}

// --- reading ----------------------------------------------------------------------------------

void ClientConnection::pauseReading() {
    conn_.stopReading();
}

void ClientConnection::resumeReading() {
    if (!clientEof_ && conn_.startReading() < 0)
        closeNow(); // the socket is unusable
}

void ClientConnection::pauseForBackpressure() {
    readPausedForBackpressure_ = true;
    pauseReading();
}

void ClientConnection::resumeAfterBackpressure() {
    if (readPausedForBackpressure_) {
        readPausedForBackpressure_ = false;
        resumeReading();
    }
}

// Never called with n == 0 or once closing (io::Connection filters them).
void ClientConnection::onRead(ssize_t n, const uv_buf_t *buf) {
    cache::setWatchClientFd(conn_.fd()); // memcached's `watch` names a lookup's connection (cfd=)
    if (tunneling_ && !lingering_) {
        tunnelRead(n, buf);
        return;
    }
    if (n < 0) {
        if (lingering_) {
            closeNow();
            return;
        }
        if (n == UV_EOF && exchange_.active() && exchange_.requestComplete()) {
            // Half-close after a complete request: answer it, then close (RFC 9112 §9.6).
            clientEof_ = true;
            exchange_.noKeepAlive();
            pauseReading();
            return;
        }
        if (exchange_.active() && !exchange_.responseStarted())
            FC_DEBUG("client %s went away before the response", peer_);
        closeNow();
        return;
    }
    if (lingering_)
        return;         // discard what arrives after our last response
    if (proxyHeader_) { // server.proxy_protocol: the PROXY header comes before any HTTP
        std::size_t used = 0;
        switch (proxyHeader_->feed(buf->base, static_cast<size_t>(n), used)) {
        case http::ProxyHeaderParser::Status::NeedMore:
            return;
        case http::ProxyHeaderParser::Status::Error:
            FC_INFO("closing connection from %s: %s", peer_, proxyHeader_->error());
            worker_.counters().inc(worker_.counters().proxyProtocolRejected);
            closeNow(); // never parsed as HTTP
            return;
        case http::ProxyHeaderParser::Status::Done:
            break;
        }
        const auto &r = proxyHeader_->result();
        // The header is a claim of whoever connected: with server.trusted_proxies set, only a
        // listed peer's word on the client (its address, allow_purge_from, the logs) and on TLS
        // is taken; anyone else stays who they are.
        const auto &trusted = cfg().server.trustedProxies;
        if (!trusted.empty() && !inAnyBlock(trusted, peer_)) {
            FC_DEBUG("PROXY header from %s ignored: not in server.trusted_proxies", peer_);
        } else {
            if (r.hasAddress && r.source.size() < sizeof peer_)
                std::memcpy(peer_, r.source.c_str(), r.source.size() + 1);
            proxySsl_ = r.ssl;
        }
        proxyHeader_.reset();
        if (used == static_cast<size_t>(n))
            return;
        uv_buf_t rest = uv_buf_init(buf->base + used, static_cast<unsigned>(n - used));
        onRead(static_cast<ssize_t>(rest.len), &rest);
        return;
    }
    if (timerMode_ == TimerMode::Idle) // first byte of the next request: the head clock starts
        startTimer(TimerMode::Header, cfg().server.headerTimeout);
    else if (timerMode_ == TimerMode::Body)
        startTimer(TimerMode::Body, cfg().server.bodyTimeout);
    const bool waitForResponse = exchange_.active() && exchange_.requestComplete();
    if (!pending_.empty() || waitForResponse) {
        pending_.append(buf->base, static_cast<size_t>(n));
        if (pending_.size() > cfg().server.maxHeaderSize + worker_.readBufferSize())
            pauseReading(); // bounded: a client may not pipeline without limit
        if (!waitForResponse)
            processPending();
        return;
    }
    consume(buf->base, static_cast<size_t>(n));
}

void ClientConnection::processPending() {
    if (!serving() || pending_.empty() || exchange_.active())
        return;
    // consume() may append leftovers to pending_, so feed from a swapped-out buffer.
    std::string data;
    data.swap(pending_);
    consume(data.data(), data.size());
    if (pending_.empty()) { // keep the capacity for the next time
        data.clear();
        pending_.swap(data);
    }
    if (serving() && timerMode_ == TimerMode::Idle && parser_.inMessage())
        startTimer(TimerMode::Header, cfg().server.headerTimeout);
}

// Parses what arrived. The parser's callbacks only record; a new head is acted on here, once
// feed() has returned — so an answer is never written from inside the parser.
void ClientConnection::consume(const char *data, size_t len) {
    if (len == 0 || !serving())
        return;
    auto r = parser_.feed(data, len);
    if (r.status == http::ParseStatus::Error) {
        if (parser_.errorStatus() != 0)
            rejectRequest(parser_.errorStatus(), parser_.errorReason());
        else if (exchange_.rejectStatus() != 0)
            rejectRequest(exchange_.rejectStatus(), exchange_.rejectReason());
        return;
    }
    if (r.status == http::ParseStatus::Paused) // a request completed; what follows waits for it
        pending_.append(data + r.consumed, len - r.consumed);
    exchange_.afterParse(); // a new head is acted on here: it may answer (and end) at once
}

bool ClientConnection::onRequestHead(http::RequestHead &head) {
    conn_.stopTimer();
    timerMode_ = TimerMode::None;
    bytesOut_ = 0;
    return exchange_.onHead(head);
}

void ClientConnection::onRequestComplete() {
    stopTimer(TimerMode::Body);
    exchange_.onRequestComplete();
}

// --- ending an exchange, closing --------------------------------------------------------------

void ClientConnection::exchangeDone(bool keepAlive) {
    // An idle keep-alive connection keeps no large buffers: 10,000 of them must stay cheap.
    if (out_.capacity() > 4096)
        std::string().swap(out_);
    if (!keepAlive || worker_.draining()) {
        closeGracefully();
        return;
    }
    parser_.resume();
    if (!pending_.empty()) {
        // Deferred to the next loop turn: we may be inside the upstream's parser right now.
        startTimer(TimerMode::Deferred, config::Millis(0));
    } else {
        startTimer(TimerMode::Idle, cfg().server.idleTimeout);
    }
    resumeReading();
}

void ClientConnection::startTunnel() {
    tunneling_ = true;
    auto &counters = worker_.counters();
    counters.inc(counters.tunnelsOpen);
    counters.inc(counters.tunnelsOpened);
    startTimer(TimerMode::Tunnel, cfg().server.tunnelIdleTimeout);
    if (!pending_.empty()) { // sent right behind the handshake (RFC 6455 says wait; some do not)
        std::string early;
        early.swap(pending_);
        exchange_.onTunnelData(early);
    }
    if (!readPausedForBackpressure_)
        resumeReading(); // reading stops while a complete request waits with bytes behind it
}

void ClientConnection::tunnelRead(ssize_t n, const uv_buf_t *buf) {
    if (n == UV_EOF) {
        // Half-close (RFC 9293 §3.6): what the client sent still goes up, then its FIN; the
        // upstream's answer comes back until it closes (or the idle timeout).
        clientEof_ = true;
        pauseReading();
        exchange_.onTunnelClientEof();
        return;
    }
    if (n < 0) {
        closeNow();
        return;
    }
    tunnelActivity();
    exchange_.onTunnelData({buf->base, static_cast<size_t>(n)});
}

void ClientConnection::tunnelActivity() {
    if (timerMode_ == TimerMode::Tunnel)
        conn_.startTimer(static_cast<uint64_t>(cfg().server.tunnelIdleTimeout.count()));
}

void ClientConnection::endTunnel() {
    if (tunneling_) {
        tunneling_ = false;
        worker_.counters().dec(worker_.counters().tunnelsOpen);
        stopTimer(TimerMode::Tunnel);
    }
}

void ClientConnection::rejectRequest(int status, const char *reason) {
    FC_INFO("%d for client %s: %s", status, peer_, reason ? reason : "");
    const bool started = exchange_.responseStarted();
    exchange_.teardown();
    if (started) {
        closeNow();
        return;
    }
    write(http::errorResponse(status, true, reason ? reason : ""));
    closeGracefully();
}

void ClientConnection::drain() {
    if (!exchange_.active() && pending_.empty() && serving())
        closeNow();
    else
        exchange_.noKeepAlive();
}

void ClientConnection::closeGracefully() {
    endTunnel();
    if (!serving())
        return;
    lingering_ = true;
    // The shutdown waits for queued writes, then sends FIN. We keep reading (and discarding) for
    // a short while so unread input does not turn our close into a RST that could destroy the
    // response in flight (lingering close).
    if (conn_.shutdown() != 0) {
        closeNow();
        return;
    }
    if (!clientEof_)
        resumeReading();
}

void ClientConnection::onShutdown(int status) {
    if (status < 0 || clientEof_) {
        closeNow();
        return;
    }
    startTimer(TimerMode::Linger, kLingerTime);
}

void ClientConnection::closeNow() {
    if (conn_.closing())
        return;
    // Closing first: what the teardown writes or reads back is dropped. The handles' close
    // callbacks (and onClosed) come later, from the loop.
    endTunnel();
    conn_.close();
    exchange_.teardown(); // leaves its fetch, stops waiting: nothing refers to us afterwards
    worker_.untrack(this);
}

// --- writing ----------------------------------------------------------------------------------

void ClientConnection::flush() {
    if (conn_.closing()) {
        out_.clear();
        return;
    }
    if (out_.empty())
        return;
    bytesOut_ += out_.size();
    int rc = conn_.write(out_);
    out_.clear();
    if (rc < 0)
        closeNow();
}

bool ClientConnection::writeHeld(const std::string_view *parts, std::size_t n, unsigned inItem,
                                 cache::ItemRef page) {
    flush(); // anything queued before (never the case for a bodyless GET) goes first
    if (conn_.closing())
        return false;
    for (std::size_t i = 0; i < n; ++i)
        bytesOut_ += parts[i].size();
    // The item's reference travels as an io::BufferRef: released on return when the socket took
    // everything (a hit's one writev), else when the queued remainder has been sent.
    io::BufferRef pinned(page.release(), [](void *item) noexcept {
        cache::releaseItem(static_cast<cache::Item *>(item));
    });
    if (conn_.write(parts, n, inItem, std::move(pinned)) < 0) {
        closeNow();
        return false;
    }
    return true;
}

void ClientConnection::onWritten(int status) {
    if (status < 0) {
        closeNow(); // the client went away
        return;
    }
    if (writeQueueSize() < kLowWater)
        exchange_.onClientDrained();
}

// --- timers -----------------------------------------------------------------------------------

void ClientConnection::startTimer(TimerMode mode, config::Millis ms) {
    timerMode_ = mode;
    conn_.startTimer(static_cast<uint64_t>(ms.count()));
}

void ClientConnection::stopTimer(TimerMode mode) {
    if (timerMode_ == mode) {
        conn_.stopTimer();
        timerMode_ = TimerMode::None;
    }
}

void ClientConnection::onTimer() {
    TimerMode mode = timerMode_;
    timerMode_ = TimerMode::None;
    switch (mode) {
    case TimerMode::Header:
        if (parser_.inMessage())
            rejectRequest(408, "request head not received within server.header_timeout");
        else
            closeNow(); // nothing sent at all
        break;
    case TimerMode::Body:
        rejectRequest(408, "request body stalled longer than server.body_timeout");
        break;
    case TimerMode::Idle:
    case TimerMode::Linger:
        closeNow();
        break;
    case TimerMode::Deferred:
        startTimer(TimerMode::Idle, cfg().server.idleTimeout);
        processPending();
        break;
    case TimerMode::Tunnel:
        FC_INFO("closing the WebSocket tunnel of %s: nothing either way for "
                "server.tunnel_idle_timeout",
                peer_);
        worker_.counters().inc(worker_.counters().tunnelsIdleClosed);
        closeNow();
        break;
    case TimerMode::LockWait: // cache.lock_timeout: stop waiting, fetch for ourselves
        exchange_.onLockTimeout();
        break;
    case TimerMode::None:
        break;
    }
}

} // namespace fc::proxy
