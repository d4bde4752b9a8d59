#include "proxy/upstream.h"

#include <sys/socket.h>

#include <algorithm>
#include <cassert>
#include <cerrno>

#include "common/log.h"
#include "io/stream_write.h"
#include "io/uv_error.h"

namespace fc::proxy {

namespace {
constexpr size_t kLowWater = 64 * 1024;
} // namespace

// ---------------------------------------------------------------------------------------------
// UpstreamConnection

void UpstreamConnection::connect(UpstreamUser &user) {
    user_ = &user;
    state_ = State::Connecting;
    uv_loop_t *loop = pool_.loop();
    const UpstreamTarget &t = pool_.balancer().target(static_cast<size_t>(server_));
    uv_timer_init(loop, &timer_); // cannot fail
    timer_.data = this;
    int rc = initHandle(loop, t, h_);
    if (rc < 0) {
        // No socket (descriptors or memory exhausted): reported asynchronously like any other
        // connect failure — failing from here would re-enter the caller of acquire().
        io::uvFailed(rc, "upstream socket");
        openHandles_ = 1;
        handleInit_ = false;
        connectFailed_ = true;
        uv_timer_start(&timer_, &UpstreamConnection::onTimer, 0, 0);
        return;
    }
    h_.tcp.data = this;
    openHandles_ = 2;
    connectReq_.data = this;
    if (startConnect(t, h_, &connectReq_, &UpstreamConnection::onConnect) < 0) {
        connectFailed_ = true; // reported asynchronously, as above
        uv_timer_start(&timer_, &UpstreamConnection::onTimer, 0, 0);
        return;
    }
    armTimer(pool_.config().connectTimeout);
}

void UpstreamConnection::armTimer(config::Millis ms) {
    uv_timer_start(&timer_, &UpstreamConnection::onTimer, static_cast<uint64_t>(ms.count()), 0);
}

void UpstreamConnection::onConnect(uv_connect_t *req, int status) noexcept {
    auto *c = static_cast<UpstreamConnection *>(req->data);
    if (c->state_ == State::Closing)
        return;
    if (status < 0) {
        FC_DEBUG("upstream connect to %s failed: %s",
                 c->pool_.balancer().target(static_cast<size_t>(c->server_)).display.c_str(),
                 uv_strerror(status));
        c->failConnect(502, status == UV_ECONNREFUSED ? "upstream refused the connection"
                                                      : "could not connect to upstream");
        return;
    }
    uv_timer_stop(&c->timer_);
    c->state_ = State::Busy;
    c->resumeReading();
    UpstreamUser *u = c->user_;
    if (u)
        u->onUpstreamReady(*c);
}

void UpstreamConnection::beginExchange(UpstreamUser &user, bool isHead, bool upgrade) {
    user_ = &user;
    state_ = State::Busy;
    parser_.start(isHead, upgrade);
    gotBytes_ = complete_ = false;
    armTimer(pool_.config().readTimeout);
    resumeReading();
}

void UpstreamConnection::send(std::string_view data) {
    if (state_ == State::Closing || data.empty())
        return;
    if (io::streamWrite(reinterpret_cast<uv_stream_t *>(&h_.tcp), data, this,
                        &UpstreamConnection::onWrite) < 0)
        fail(502, "could not send the request upstream");
}

void UpstreamConnection::onWrite(uv_write_t *req, int status) noexcept {
    auto *w = static_cast<io::WriteReq *>(req->data);
    auto *c = static_cast<UpstreamConnection *>(w->owner);
    delete w;
    if (c->state_ == State::Closing)
        return;
    if (status < 0) {
        // The read side usually reports the same failure with a better reason; if it has not,
        // fail here.
        c->fail(502, "upstream connection failed while sending the request");
        return;
    }
    if (c->user_ && c->writeQueueSize() < kLowWater)
        c->user_->onUpstreamWritable();
}

size_t UpstreamConnection::writeQueueSize() const {
    return uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t *>(&h_.tcp));
}

void UpstreamConnection::shutdownWrite() {
    if (state_ == State::Closing || shutdownSent_ || !handleInit_)
        return;
    shutdownSent_ = true;
    shutdownReq_.data = this;
    // The callback runs before the handle's close callback (libuv cancels a pending shutdown
    // with UV_ECANCELED first), so it never sees a freed connection; nothing to do there.
    if (uv_shutdown(&shutdownReq_, h_.stream(), [](uv_shutdown_t *, int) noexcept {}) < 0)
        fail(502, "could not pass the client's close on to the upstream");
}

void UpstreamConnection::pauseReading() {
    if (reading_ && state_ != State::Closing) {
        uv_read_stop(h_.stream());
        reading_ = false;
    }
}

void UpstreamConnection::resumeReading() {
    if (!reading_ && state_ != State::Closing && handleInit_) {
        if (int rc = uv_read_start(h_.stream(), &UpstreamConnection::onAlloc,
                                   &UpstreamConnection::onRead);
            rc < 0) {
            fail(502, uv_strerror(rc)); // the socket is unusable
            return;
        }
        reading_ = true;
    }
}

void UpstreamConnection::onAlloc(uv_handle_t *h, size_t, uv_buf_t *buf) noexcept {
    auto *c = static_cast<UpstreamConnection *>(h->data);
    *buf = uv_buf_init(c->readBuf_, sizeof c->readBuf_);
}

void UpstreamConnection::onRead(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) noexcept {
    static_cast<UpstreamConnection *>(s->data)->handleRead(n, buf);
}

void UpstreamConnection::handleRead(ssize_t n, const uv_buf_t *buf) {
    if (n == 0 || state_ == State::Closing)
        return;
    if (state_ == State::Idle) {
        close(); // the upstream closed (or wrote to) an idle keep-alive connection
        return;
    }
    if (tunnel_) {
        tunnelRead(n, buf);
        return;
    }
    if (n < 0) {
        if (n == UV_EOF) {
            inFeed_ = true;
            auto r = parser_.finish();
            inFeed_ = false;
            if (releasePending_) {
                releasePending_ = false;
                doRelease(false); // the upstream closed: not reusable
                return;
            }
            if (r.status == http::ParseStatus::Paused)
                return; // a read-until-close body ended; onResponseComplete ran
        }
        if (complete_)
            return close();
        fail(502, gotBytes_ ? (parser_.headReceived()
                                   ? "upstream closed the connection in the middle of the body"
                                   : "upstream closed the connection in the middle of the head")
                            : "upstream closed the connection without a response");
        return;
    }
    if (complete_) { // bytes after a complete response: not reusable
        close();
        return;
    }
    gotBytes_ = true;
    armTimer(pool_.config().readTimeout);
    UpstreamUser *u = user_;
    inFeed_ = true;
    auto r = parser_.feed(buf->base, static_cast<size_t>(n));
    inFeed_ = false;
    if (releasePending_) {
        // The user released us from inside the parser's callback; finish that now that the
        // parser has returned (re-arming it from inside its own callback would corrupt it).
        releasePending_ = false;
        doRelease(releaseReusable_ && r.status == http::ParseStatus::Paused &&
                  r.consumed == static_cast<size_t>(n));
        return;
    }
    if (parser_.upgraded() && r.status == http::ParseStatus::Paused && u && u == user_) {
        // The 101 is delivered: from here on this is the upstream end of a tunnel.
        tunnel_ = true;
        uv_timer_stop(&timer_);
        dropSlot();
        pool_.onTunnel();
        const auto used = r.consumed;
        if (used < static_cast<size_t>(n))
            u->onUpstreamBody({buf->base + used, static_cast<size_t>(n) - used});
        if (u == user_)
            u->onUpstreamReadDone();
        return;
    }
    if (u && u == user_)
        u->onUpstreamReadDone();
    if (r.status == http::ParseStatus::Error && state_ != State::Closing)
        fail(502, parser_.errorReason() ? parser_.errorReason() : "malformed upstream response");
    else if (r.status == http::ParseStatus::Paused && r.consumed < static_cast<size_t>(n) &&
             state_ == State::Busy)
        close(); // extra bytes after the response: the connection cannot be trusted
}

// The upstream end of a WebSocket tunnel: bytes as they come; its close ends the tunnel.
void UpstreamConnection::tunnelRead(ssize_t n, const uv_buf_t *buf) {
    UpstreamUser *u = user_;
    if (!u) {
        close();
        return;
    }
    if (n == UV_EOF) {
        complete_ = true;
        u->onUpstreamComplete(false);
        return;
    }
    if (n < 0) {
        fail(502, uv_strerror(static_cast<int>(n)));
        return;
    }
    u->onUpstreamBody({buf->base, static_cast<size_t>(n)});
    if (u == user_)
        u->onUpstreamReadDone();
}

bool UpstreamConnection::onResponseHead(http::ResponseHead &head) {
    pool_.balancer().succeeded(static_cast<size_t>(server_));
    return user_ ? user_->onUpstreamHead(head) : false;
}

void UpstreamConnection::onEarlyHints(http::ResponseHead &head) {
    if (user_)
        user_->onUpstreamEarlyHints(head);
}

void UpstreamConnection::onResponseBody(std::string_view piece) {
    if (user_)
        user_->onUpstreamBody(piece);
}

void UpstreamConnection::onResponseComplete() {
    complete_ = true;
    uv_timer_stop(&timer_);
    bool keepAlive = parser_.head().keepAlive;
    if (user_)
        user_->onUpstreamComplete(keepAlive);
}

void UpstreamConnection::release(bool reusable) {
    user_ = nullptr;
    if (inFeed_) {
        releasePending_ = true;
        releaseReusable_ = reusable;
        return;
    }
    doRelease(reusable);
}

void UpstreamConnection::doRelease(bool reusable) {
    if (state_ == State::Closing)
        return;
    if (!reusable || !complete_ || writeQueueSize() > 0) {
        close();
        return;
    }
    state_ = State::Idle;
    reused_ = true;
    dropSlot();
    resumeReading(); // to notice the upstream closing it
    armTimer(pool_.config().poolIdleTimeout);
    pool_.onIdle(this);
}

void UpstreamConnection::abort() {
    user_ = nullptr;
    close();
}

void UpstreamConnection::fail(int status, const char *reason) {
    UpstreamUser *u = user_;
    user_ = nullptr;
    const bool staleKeepAlive = reused_ && !gotBytes_;
    const bool retryable =
        staleKeepAlive ||
        (!gotBytes_ && status == 502 &&
         pool_.balancer().liveCount(
             pool_.balancer().target(static_cast<std::size_t>(server_)).pool) > 1);
    // A stale keep-alive connection closed by the server says nothing about its health, and
    // neither does our own shutdown.
    // Nor does a tunnel cut after its 101 (the far end of a WebSocket going away).
    if (!pool_.shutdown_ && !staleKeepAlive && !tunnel_ && !parser_.upgraded() &&
        state_ != State::Closing)
        pool_.balancer().failed(static_cast<size_t>(server_), pool_.nowMs(), trial_, reason);
    close();
    if (u)
        u->onUpstreamError(status, reason, retryable, UpstreamFailure::Failed);
}

// A connect that failed: nothing was sent, so any request may go to another server. The user
// and its limiter slot move to a connection to the next server the balancer offers (each
// server is tried once); when none is left the user gets the error.
void UpstreamConnection::failConnect(int status, const char *reason) {
    Balancer &b = pool_.balancer();
    UpstreamUser *u = user_;
    if (!u || pool_.shutdown_) {
        fail(status, reason);
        return;
    }
    b.failed(static_cast<size_t>(server_), pool_.nowMs(), trial_, reason);
    Balancer::Pick next = b.pick(pool_.nowMs(), tried_, u->upstreamPool());
    if (next.server < 0) {
        user_ = nullptr;
        close();
        u->onUpstreamError(status, reason, false, UpstreamFailure::Unreachable); // none connected
        return;
    }
    FC_DEBUG("upstream %s: %s; trying %s", b.target(static_cast<size_t>(server_)).display.c_str(),
             reason, b.target(static_cast<size_t>(next.server)).display.c_str());
    user_ = nullptr;
    slot_ = false; // the limiter slot goes with the user
    b.end(static_cast<size_t>(server_));
    std::uint64_t tried = tried_;
    close();
    pool_.connectNew(*u, next, tried);
}

void UpstreamConnection::onTimer(uv_timer_t *t) noexcept {
    auto *c = static_cast<UpstreamConnection *>(t->data);
    switch (c->state_) {
    case State::Connecting:
        if (c->connectFailed_)
            c->failConnect(502, "could not connect to upstream");
        else
            c->failConnect(504, "upstream connect timed out (upstream.connect_timeout)");
        break;
    case State::Busy:
        c->fail(504, "upstream did not answer in time (upstream.read_timeout)");
        break;
    case State::Idle:
        c->close();
        break;
    case State::Closing:
        break;
    }
}

void UpstreamConnection::takeSlot(bool trial) {
    slot_ = true;
    trial_ = trial;
    pool_.balancer().begin(static_cast<size_t>(server_));
}

void UpstreamConnection::dropSlot() {
    if (slot_) {
        slot_ = false;
        pool_.balancer().end(static_cast<size_t>(server_));
        pool_.limiter_.release();
    }
}

// An idle connection is reused only if nothing arrived on it since its last response: bytes the
// loop has not read yet (a buggy origin's stray body after a HEAD, a 204 or a 304, sent in a
// later segment) would otherwise be parsed as the next request's response. One non-blocking
// peek per reuse.
bool UpstreamConnection::quiet() {
    uv_os_fd_t fd;
    if (!handleInit_ || uv_fileno(h_.handle(), &fd) != 0)
        return false;
    char b;
    const ssize_t n = ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void UpstreamConnection::close() {
    if (state_ == State::Closing)
        return;
    dropSlot();
    bool wasIdle = state_ == State::Idle;
    state_ = State::Closing;
    if (wasIdle)
        pool_.dropIdle(this);
    uv_timer_stop(&timer_);
    if (handleInit_)
        uv_close(h_.handle(), &UpstreamConnection::onClose);
    uv_close(reinterpret_cast<uv_handle_t *>(&timer_), &UpstreamConnection::onClose);
}

void UpstreamConnection::onClose(uv_handle_t *h) noexcept {
    auto *c = static_cast<UpstreamConnection *>(h->data);
    if (--c->openHandles_ == 0) {
        c->pool_.onClosed(c);
        delete c;
    }
}

} // namespace fc::proxy
