#include "proxy/client.h"

#include <arpa/inet.h>

#include <cstring>

#include "cache/store/watch.h"
#include "proxy/log.h"
#include "proxy/stream_write.h"
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
    uv_timer_init(worker_.loop(), &timer_); // cannot fail (libuv only links it into the loop)
    timer_.data = this;
    if (int rc = uv_tcp_init(worker_.loop(), &handle_); rc < 0) {
        // Drop this connection only (common/failure.h): free it once its timer has closed.
        uvFailed(rc, "client connection");
        state_ = State::Closing;
        uv_close(reinterpret_cast<uv_handle_t *>(&timer_),
                 [](uv_handle_t *h) noexcept { delete static_cast<ClientConnection *>(h->data); });
        return false;
    }
    handle_.data = this;
    openHandles_ = 2;
    worker_.track(this);
    if (uv_accept(server, reinterpret_cast<uv_stream_t *>(&handle_)) != 0) {
        closeNow();
        return false;
    }
    uv_tcp_nodelay(&handle_, 1);
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t *>(&handle_), &fd) == 0)
        fd_ = fd;
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getpeername(&handle_, reinterpret_cast<sockaddr *>(&ss), &len) == 0) {
        if (ss.ss_family == AF_INET)
            uv_ip4_name(reinterpret_cast<sockaddr_in *>(&ss), peer_, sizeof peer_);
        else if (ss.ss_family == AF_INET6)
            uv_ip6_name(reinterpret_cast<sockaddr_in6 *>(&ss), peer_, sizeof peer_);
    }
    if (cfg().server.proxyProtocol) // read under header_timeout, like a request head
        proxyHeader_ = std::make_unique<http::ProxyHeaderParser>();
    startTimer(TimerMode::Header, cfg().server.headerTimeout);
    resumeReading();
    return true;
}

// --- reading ----------------------------------------------------------------------------------

void ClientConnection::onAlloc(uv_handle_t *h, size_t, uv_buf_t *buf) noexcept {
    auto *c = static_cast<ClientConnection *>(h->data);
    *buf = uv_buf_init(c->worker_.readBuffer(), static_cast<unsigned>(c->worker_.readBufferSize()));
}

void ClientConnection::onRead(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) noexcept {
    static_cast<ClientConnection *>(s->data)->handleRead(n, buf);
}

void ClientConnection::pauseReading() {
    if (reading_ && state_ != State::Closing) {
        uv_read_stop(reinterpret_cast<uv_stream_t *>(&handle_));
        reading_ = false;
    }
}

void ClientConnection::resumeReading() {
    if (!reading_ && state_ != State::Closing && !clientEof_) {
        int rc = uv_read_start(reinterpret_cast<uv_stream_t *>(&handle_),
                               &ClientConnection::onAlloc, &ClientConnection::onRead);
        if (rc < 0) {
            closeNow(); // the socket is unusable
            return;
        }
        reading_ = true;
    }
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

void ClientConnection::handleRead(ssize_t n, const uv_buf_t *buf) {
    if (n == 0 || state_ == State::Closing)
        return;
    cache::setWatchClientFd(fd_); // memcached's `watch` names a lookup's connection (cfd=)
    if (n < 0) {
        if (state_ == State::Lingering) {
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
    if (state_ == State::Lingering)
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
        handleRead(static_cast<ssize_t>(rest.len), &rest);
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
    if (state_ != State::Open || pending_.empty() || exchange_.active())
        return;
    // consume() may append leftovers to pending_, so feed from a swapped-out buffer.
    std::string data;
    data.swap(pending_);
    consume(data.data(), data.size());
    if (pending_.empty()) { // keep the capacity for the next time
        data.clear();
        pending_.swap(data);
    }
    if (state_ == State::Open && timerMode_ == TimerMode::Idle && parser_.inMessage())
        startTimer(TimerMode::Header, cfg().server.headerTimeout);
}

// Parses what arrived. The parser's callbacks only record; a new head is acted on here, once
// feed() has returned — so an answer is never written from inside the parser.
void ClientConnection::consume(const char *data, size_t len) {
    if (len == 0 || state_ != State::Open)
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
    uv_timer_stop(&timer_);
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
    if (!exchange_.active() && pending_.empty() && state_ == State::Open)
        closeNow();
    else
        exchange_.noKeepAlive();
}

void ClientConnection::closeGracefully() {
    if (state_ != State::Open)
        return;
    state_ = State::Lingering;
    // uv_shutdown waits for queued writes, then sends FIN. We keep reading (and discarding) for
    // a short while so unread input does not turn our close into a RST that could destroy the
    // response in flight (lingering close).
    shutdownReq_.data = this;
    if (uv_shutdown(&shutdownReq_, reinterpret_cast<uv_stream_t *>(&handle_),
                    &ClientConnection::onShutdown) != 0) {
        closeNow();
        return;
    }
    if (!clientEof_)
        resumeReading();
}

void ClientConnection::onShutdown(uv_shutdown_t *req, int status) noexcept {
    auto *c = static_cast<ClientConnection *>(req->data);
    if (c->state_ == State::Closing)
        return;
    if (status < 0 || c->clientEof_) {
        c->closeNow();
        return;
    }
    c->startTimer(TimerMode::Linger, kLingerTime);
}

void ClientConnection::closeNow() {
    if (state_ == State::Closing)
        return;
    state_ = State::Closing;
    exchange_.teardown(); // leaves its fetch, stops waiting: nothing refers to us afterwards
    uv_timer_stop(&timer_);
    worker_.untrack(this);
    uv_close(reinterpret_cast<uv_handle_t *>(&handle_), &ClientConnection::onClose);
    uv_close(reinterpret_cast<uv_handle_t *>(&timer_), &ClientConnection::onClose);
}

void ClientConnection::onClose(uv_handle_t *h) noexcept {
    auto *c = static_cast<ClientConnection *>(h->data);
    if (--c->openHandles_ == 0)
        delete c;
}

// --- writing ----------------------------------------------------------------------------------

size_t ClientConnection::writeQueueSize() const {
    return uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t *>(&handle_));
}

void ClientConnection::flush() {
    if (state_ == State::Closing) {
        out_.clear();
        return;
    }
    if (out_.empty())
        return;
    bytesOut_ += out_.size();
    int rc = streamWrite(reinterpret_cast<uv_stream_t *>(&handle_), out_, this,
                         &ClientConnection::onWrite);
    out_.clear();
    if (rc < 0)
        closeNow();
}

bool ClientConnection::writeHeld(const std::string_view *parts, std::size_t n, unsigned inItem,
                                 cache::ItemRef page) {
    flush(); // anything queued before (never the case for a bodyless GET) goes first
    if (state_ == State::Closing)
        return false;
    for (std::size_t i = 0; i < n; ++i)
        bytesOut_ += parts[i].size();
    if (streamWriteHeld(reinterpret_cast<uv_stream_t *>(&handle_), parts, n, inItem,
                        std::move(page), this, &ClientConnection::onWrite) < 0) {
        closeNow();
        return false;
    }
    return true;
}

void ClientConnection::onWrite(uv_write_t *req, int status) noexcept {
    auto *w = static_cast<WriteReq *>(req->data);
    auto *c = static_cast<ClientConnection *>(w->owner);
    delete w;
    if (c->state_ == State::Closing)
        return;
    if (status < 0) {
        c->closeNow(); // the client went away
        return;
    }
    if (c->writeQueueSize() < kLowWater)
        c->exchange_.onClientDrained();
}

// --- timers -----------------------------------------------------------------------------------

void ClientConnection::startTimer(TimerMode mode, config::Millis ms) {
    timerMode_ = mode;
    uv_timer_start(&timer_, &ClientConnection::onTimer, static_cast<uint64_t>(ms.count()), 0);
}

void ClientConnection::stopTimer(TimerMode mode) {
    if (timerMode_ == mode) {
        uv_timer_stop(&timer_);
        timerMode_ = TimerMode::None;
    }
}

void ClientConnection::onTimer(uv_timer_t *t) noexcept {
    auto *c = static_cast<ClientConnection *>(t->data);
    TimerMode mode = c->timerMode_;
    c->timerMode_ = TimerMode::None;
    switch (mode) {
    case TimerMode::Header:
        if (c->parser_.inMessage())
            c->rejectRequest(408, "request head not received within server.header_timeout");
        else
            c->closeNow(); // nothing sent at all
        break;
    case TimerMode::Body:
        c->rejectRequest(408, "request body stalled longer than server.body_timeout");
        break;
    case TimerMode::Idle:
    case TimerMode::Linger:
        c->closeNow();
        break;
    case TimerMode::Deferred:
        c->startTimer(TimerMode::Idle, c->cfg().server.idleTimeout);
        c->processPending();
        break;
    case TimerMode::LockWait: // cache.lock_timeout: stop waiting, fetch for ourselves
        c->exchange_.onLockTimeout();
        break;
    case TimerMode::None:
        break;
    }
}

} // namespace fc::proxy
