#include "proxy/client.h"

#include <arpa/inet.h>

#include <cassert>

#include "proxy/log.h"
#include "proxy/stream_write.h"
#include "proxy/worker.h"

namespace fc::proxy {

namespace {
constexpr size_t kHighWater = 256 * 1024;
constexpr size_t kLowWater = 64 * 1024;
constexpr config::Millis kLingerTime{2000};

http::RequestParser::Limits limitsFrom(const config::Config &c) {
    http::RequestParser::Limits l;
    l.maxHeadSize = c.server.maxHeaderSize;
    l.maxTargetSize = c.server.maxUriSize;
    l.maxBody = c.server.maxBody;
    return l;
}

bool isIdempotent(std::string_view m) {
    return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" ||
           m == "DELETE";
}
} // namespace

ClientConnection::ClientConnection(Worker &worker)
    : worker_(worker), parser_(*this, limitsFrom(worker.config())) {}

const config::Config &ClientConnection::cfg() const {
    return worker_.config();
}

bool ClientConnection::accept(uv_stream_t *server) {
    int rc = uv_tcp_init(worker_.loop(), &handle_);
    assert(rc == 0);
    rc = uv_timer_init(worker_.loop(), &timer_);
    assert(rc == 0);
    (void)rc;
    handle_.data = this;
    timer_.data = this;
    openHandles_ = 2;
    worker_.track(this);
    if (uv_accept(server, reinterpret_cast<uv_stream_t *>(&handle_)) != 0) {
        closeNow();
        return false;
    }
    uv_tcp_nodelay(&handle_, 1);
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getpeername(&handle_, reinterpret_cast<sockaddr *>(&ss), &len) == 0) {
        if (ss.ss_family == AF_INET)
            uv_ip4_name(reinterpret_cast<sockaddr_in *>(&ss), peer_, sizeof peer_);
        else if (ss.ss_family == AF_INET6)
            uv_ip6_name(reinterpret_cast<sockaddr_in6 *>(&ss), peer_, sizeof peer_);
    }
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
    if (reading_ && !closing_) {
        uv_read_stop(reinterpret_cast<uv_stream_t *>(&handle_));
        reading_ = false;
    }
}

void ClientConnection::resumeReading() {
    if (!reading_ && !closing_ && !clientEof_) {
        uv_read_start(reinterpret_cast<uv_stream_t *>(&handle_), &ClientConnection::onAlloc,
                      &ClientConnection::onRead);
        reading_ = true;
    }
}

void ClientConnection::handleRead(ssize_t n, const uv_buf_t *buf) {
    if (n == 0 || closing_)
        return;
    if (n < 0) {
        if (lingering_) {
            closeNow();
            return;
        }
        if (n == UV_EOF && inExchange_ && requestComplete_) {
            // Half-close after a complete request: answer it, then close (RFC 9112 §9.6).
            clientEof_ = true;
            keepAlive_ = false;
            pauseReading();
            return;
        }
        if (inExchange_ && parser_.inHead() == false && !responseStarted_)
            FC_DEBUG("client %s went away before the response", peer_);
        closeNow();
        return;
    }
    if (lingering_)
        return;                        // discard what arrives after our last response
    if (timerMode_ == TimerMode::Idle) // first byte of the next request: the head clock starts
        startTimer(TimerMode::Header, cfg().server.headerTimeout);
    else if (timerMode_ == TimerMode::Body)
        startTimer(TimerMode::Body, cfg().server.bodyTimeout);
    if (!pending_.empty() || (inExchange_ && requestComplete_)) {
        pending_.append(buf->base, static_cast<size_t>(n));
        if (pending_.size() > cfg().server.maxHeaderSize + worker_.readBufferSize())
            pauseReading(); // bounded: a client may not pipeline without limit
        if (!(inExchange_ && requestComplete_))
            processPending();
        return;
    }
    consume(buf->base, static_cast<size_t>(n));
}

void ClientConnection::processPending() {
    if (closing_ || pending_.empty())
        return;
    // consume() may append leftovers to pending_, so feed from a swapped-out buffer.
    std::string data;
    data.swap(pending_);
    consume(data.data(), data.size());
    if (pending_.empty()) { // keep the capacity for the next time
        data.clear();
        pending_.swap(data);
    }
    if (!closing_ && timerMode_ == TimerMode::Idle && parser_.inMessage())
        startTimer(TimerMode::Header, cfg().server.headerTimeout);
}

void ClientConnection::consume(const char *data, size_t len) {
    while (len > 0 && !closing_) {
        auto r = parser_.feed(data, len);
        switch (r.status) {
        case http::ParseStatus::NeedMore:
            return;
        case http::ParseStatus::Paused:
            // A request completed; what follows waits until its response is done.
            pending_.append(data + r.consumed, len - r.consumed);
            return;
        case http::ParseStatus::Error:
            if (parser_.errorStatus() != 0)
                rejectRequest(parser_.errorStatus(), parser_.errorReason());
            return;
        }
    }
}

// --- request side (RequestParser::Sink) -------------------------------------------------------

bool ClientConnection::onRequestHead(http::RequestHead &head) {
    uv_timer_stop(&timer_);
    timerMode_ = TimerMode::None;
    inExchange_ = true;
    requestComplete_ = responseStarted_ = responseComplete_ = retried_ = false;
    isHead_ = head.method == "HEAD";
    keepAlive_ = head.keepAlive && !worker_.draining();
    requestHasBody_ = head.hasBody();
    requestChunked_ = head.chunked;
    if (auto expect = head.headers.get("expect")) {
        if (!http::equalsIgnoreCase(http::trimOws(*expect), "100-continue")) {
            rejectRequest(417, "only Expect: 100-continue is supported");
            return false;
        }
        // RFC 9110 §10.1.1: we are ready for the body; say so instead of making the client wait.
        if (requestHasBody_ && head.versionMinor >= 1)
            write("HTTP/1.1 100 Continue\r\n\r\n");
    }
    upstreamHead_.clear();
    http::writeUpstreamRequest(head, http::ForwardInfo{peer_}, upstreamHead_);
    earlyBody_.clear();
    if (requestHasBody_)
        startTimer(TimerMode::Body, cfg().server.bodyTimeout);
    waitingForUpstream_ = true;
    worker_.pool().acquire(*this);
    return !closing_;
}

void ClientConnection::onRequestBody(std::string_view piece) {
    std::string framed;
    if (requestChunked_) {
        framed.reserve(piece.size() + 16);
        http::appendChunkHeader(framed, piece.size());
        framed.append(piece);
        framed.append("\r\n");
    } else {
        framed.assign(piece);
    }
    if (upstream_ && !waitingForUpstream_) {
        upstream_->send(std::move(framed));
        if (upstream_ && upstream_->writeQueueSize() > kHighWater) {
            readPausedForBackpressure_ = true;
            pauseReading();
        }
    } else {
        earlyBody_.append(framed);
        if (earlyBody_.size() > kHighWater) {
            readPausedForBackpressure_ = true;
            pauseReading();
        }
    }
}

void ClientConnection::onRequestComplete() {
    requestComplete_ = true;
    if (timerMode_ == TimerMode::Body) {
        uv_timer_stop(&timer_);
        timerMode_ = TimerMode::None;
    }
    if (requestChunked_) {
        if (upstream_ && !waitingForUpstream_)
            upstream_->send(std::string_view("0\r\n\r\n"));
        else
            earlyBody_.append("0\r\n\r\n");
    }
    if (responseComplete_)
        finishExchange();
}

// --- upstream side (UpstreamUser) -------------------------------------------------------------

void ClientConnection::onUpstreamReady(UpstreamConnection &conn) {
    waitingForUpstream_ = false;
    upstream_ = &conn;
    conn.beginExchange(*this, isHead_);
    conn.send(std::string_view(upstreamHead_));
    if (!earlyBody_.empty()) {
        conn.send(std::move(earlyBody_));
        earlyBody_.clear();
    }
    if (readPausedForBackpressure_ && conn.writeQueueSize() < kHighWater) {
        readPausedForBackpressure_ = false;
        resumeReading();
    }
}

bool ClientConnection::onUpstreamHead(http::ResponseHead &resp) {
    if (closing_)
        return false;
    http::RequestHead &req = parser_.head();
    framing_ = http::chooseResponseFraming(resp, isHead_, req);
    if (framing_ == http::BodyFraming::Close)
        keepAlive_ = false;
    if (!requestComplete_ && requestHasBody_)
        keepAlive_ = false; // answered before the body ended: the rest cannot be skipped safely
    http::writeClientResponse(resp, framing_, keepAlive_, req.versionMinor == 0, "1.1 frontcache",
                              {}, out_); // flushed with the first body bytes
    responseStarted_ = true;
    return true;
}

void ClientConnection::onUpstreamBody(std::string_view piece) {
    if (closing_)
        return;
    // Batched in out_ and flushed once per upstream read (onUpstreamReadDone).
    if (framing_ == http::BodyFraming::Chunked) {
        http::appendChunkHeader(out_, piece.size());
        out_.append(piece);
        out_.append("\r\n");
    } else {
        out_.append(piece);
    }
}

void ClientConnection::onUpstreamComplete(bool reusable) {
    if (framing_ == http::BodyFraming::Chunked)
        out_.append("0\r\n\r\n");
    flush();
    UpstreamConnection *u = upstream_;
    upstream_ = nullptr;
    upstreamPaused_ = false;
    if (u)
        u->release(reusable && requestComplete_);
    responseFinished();
}

void ClientConnection::onUpstreamError(int status, const char *reason, bool retryable) {
    upstream_ = nullptr;
    upstreamPaused_ = false;
    if (closing_)
        return;
    http::RequestHead &req = parser_.head();
    if (retryable && !retried_ && !requestHasBody_ && !responseStarted_ &&
        isIdempotent(req.method)) {
        // RFC 9112 §9.3.1: a reused keep-alive connection may have been closed by the upstream
        // just as we sent; an idempotent request is retried once on a fresh connection.
        retried_ = true;
        waitingForUpstream_ = true;
        FC_DEBUG("retrying %s %s on a fresh upstream connection (%s)", req.method.c_str(),
                 req.target.c_str(), reason);
        worker_.pool().acquire(*this, true);
        return;
    }
    waitingForUpstream_ = false;
    if (responseStarted_) {
        // Too late for an error status: cut the connection so the client sees the truncation.
        FC_WARN("upstream failed mid-response for %s %s: %s", req.method.c_str(),
                req.target.c_str(), reason);
        closeNow();
        return;
    }
    FC_WARN("%d for %s %s from %s: %s", status, req.method.c_str(), req.target.c_str(), peer_,
            reason);
    if (!requestComplete_ && requestHasBody_)
        keepAlive_ = false;
    responseStarted_ = true;
    write(http::errorResponse(status, !keepAlive_, reason));
    responseFinished();
}

void ClientConnection::onUpstreamWritable() {
    if (readPausedForBackpressure_) {
        readPausedForBackpressure_ = false;
        resumeReading();
    }
}

// --- finishing --------------------------------------------------------------------------------

void ClientConnection::rejectRequest(int status, const char *reason) {
    FC_INFO("%d for client %s: %s", status, peer_, reason ? reason : "");
    if (upstream_) {
        upstream_->abort();
        upstream_ = nullptr;
    }
    if (waitingForUpstream_) {
        worker_.pool().cancel(*this);
        waitingForUpstream_ = false;
    }
    if (responseStarted_) {
        closeNow();
        return;
    }
    responseStarted_ = true;
    keepAlive_ = false;
    write(http::errorResponse(status, true, reason ? reason : ""));
    closeGracefully();
}

void ClientConnection::responseFinished() {
    responseComplete_ = true;
    if (requestComplete_)
        finishExchange();
    else if (requestHasBody_ || !keepAlive_)
        closeGracefully();
    // else: a bodyless request completes within the same parse; onRequestComplete finishes.
}

void ClientConnection::finishExchange() {
    inExchange_ = false;
    if (!keepAlive_ || worker_.draining()) {
        closeGracefully();
        return;
    }
    if (upstreamPaused_)
        upstreamPaused_ = false;
    parser_.resume();
    if (!pending_.empty()) {
        // Deferred to the next loop turn: we may be inside the upstream's parser right now.
        startTimer(TimerMode::Deferred, config::Millis(0));
    } else {
        startTimer(TimerMode::Idle, cfg().server.idleTimeout);
    }
    resumeReading();
}

void ClientConnection::drain() {
    if (!inExchange_ && pending_.empty() && !closing_ && !lingering_)
        closeNow();
    else
        keepAlive_ = false;
}

void ClientConnection::closeGracefully() {
    if (closing_ || lingering_)
        return;
    lingering_ = true;
    keepAlive_ = false;
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
    if (c->closing_)
        return;
    if (status < 0 || c->clientEof_) {
        c->closeNow();
        return;
    }
    c->startTimer(TimerMode::Linger, kLingerTime);
}

void ClientConnection::closeNow() {
    if (closing_)
        return;
    closing_ = true;
    if (upstream_) {
        upstream_->abort();
        upstream_ = nullptr;
    }
    if (waitingForUpstream_) {
        worker_.pool().cancel(*this);
        waitingForUpstream_ = false;
    }
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

void ClientConnection::write(std::string_view data) {
    out_.append(data);
    flush();
}

void ClientConnection::flush() {
    if (closing_ || out_.empty())
        return;
    int rc = streamWrite(reinterpret_cast<uv_stream_t *>(&handle_), out_, this,
                         &ClientConnection::onWrite);
    out_.clear();
    if (out_.capacity() > 256 * 1024)
        out_.shrink_to_fit(); // a large body went through: do not keep its buffer while idle
    if (rc < 0)
        closeNow();
}

void ClientConnection::onUpstreamReadDone() {
    flush();
    if (upstream_ && writeQueueSize() > kHighWater) {
        upstreamPaused_ = true;
        upstream_->pauseReading();
    }
}

void ClientConnection::onWrite(uv_write_t *req, int status) noexcept {
    auto *w = static_cast<WriteReq *>(req->data);
    auto *c = static_cast<ClientConnection *>(w->owner);
    delete w;
    if (c->closing_)
        return;
    if (status < 0) {
        c->closeNow(); // the client went away
        return;
    }
    if (c->upstreamPaused_ && c->upstream_ && c->writeQueueSize() < kLowWater) {
        c->upstreamPaused_ = false;
        c->upstream_->resumeReading();
    }
}

// --- timers -----------------------------------------------------------------------------------

void ClientConnection::startTimer(TimerMode mode, config::Millis ms) {
    timerMode_ = mode;
    uv_timer_start(&timer_, &ClientConnection::onTimer, static_cast<uint64_t>(ms.count()), 0);
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
    case TimerMode::None:
        break;
    }
}

} // namespace fc::proxy
