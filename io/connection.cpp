#include "io/connection.h"

#include <netinet/in.h>

#include <cassert>

namespace fc::io {

int Connection::open(uv_loop_t *loop, Timer timer) {
    if (int rc = uv_tcp_init(loop, &tcp_); rc < 0)
        return rc;
    tcp_.data = this;
    openHandles_ = 1;
    if (timer == Timer::Yes) {
        uv_timer_init(loop, &timer_); // cannot fail (libuv only links it into the loop)
        timer_.data = this;
        hasTimer_ = true;
        ++openHandles_;
    }
    return 0;
}

int Connection::accept(uv_stream_t *listener, NoDelay noDelay) {
    if (int rc = uv_accept(listener, stream()); rc != 0)
        return rc;
    if (noDelay == NoDelay::Yes)
        uv_tcp_nodelay(&tcp_, 1);
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t *>(&tcp_), &fd) == 0)
        fd_ = fd;
    return 0;
}

bool Connection::peerName(char *out, std::size_t size) const {
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr *>(&ss), &len) != 0)
        return false;
    if (ss.ss_family == AF_INET)
        return uv_ip4_name(reinterpret_cast<sockaddr_in *>(&ss), out, size) == 0;
    if (ss.ss_family == AF_INET6)
        return uv_ip6_name(reinterpret_cast<sockaddr_in6 *>(&ss), out, size) == 0;
    return false;
}

// --- reading ----------------------------------------------------------------------------------

int Connection::startReading() {
    if (reading_ || closing_)
        return 0;
    if (int rc = uv_read_start(stream(), &Connection::onAllocCb, &Connection::onReadCb); rc < 0)
        return rc;
    reading_ = true;
    return 0;
}

void Connection::stopReading() {
    if (reading_ && !closing_) {
        uv_read_stop(stream());
        reading_ = false;
    }
}

void Connection::onAllocCb(uv_handle_t *h, std::size_t, uv_buf_t *buf) noexcept {
    auto *c = static_cast<Connection *>(h->data);
    *buf = uv_buf_init(c->readBuf_, static_cast<unsigned>(c->readBufSize_));
}

void Connection::onReadCb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) noexcept {
    auto *c = static_cast<Connection *>(s->data);
    if (n != 0 && !c->closing_) // 0 is libuv's EAGAIN: nothing happened
        c->owner_.onRead(n, buf);
}

// --- writing ----------------------------------------------------------------------------------

int Connection::write(const std::string_view *parts, std::size_t count, unsigned inPinned,
                      BufferRef pinned) {
    if (closing_)
        return 0;
    return streamWriteHeld(stream(), parts, count, inPinned, std::move(pinned), this,
                           &Connection::onWriteCb);
}

std::size_t Connection::writeQueueSize() const {
    return uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t *>(&tcp_));
}

void Connection::onWriteCb(uv_write_t *req, int status) noexcept {
    auto *w = static_cast<WriteReq *>(req->data);
    auto *c = static_cast<Connection *>(w->owner);
    delete w; // the copied bytes, and the pinned memory's reference
    if (!c->closing_)
        c->owner_.onWritten(status);
}

int Connection::shutdown() {
    shutdownReq_.data = this;
    return uv_shutdown(&shutdownReq_, stream(), &Connection::onShutdownCb);
}

void Connection::onShutdownCb(uv_shutdown_t *req, int status) noexcept {
    auto *c = static_cast<Connection *>(req->data);
    if (!c->closing_)
        c->owner_.onShutdown(status);
}

// --- the timer, closing -----------------------------------------------------------------------

void Connection::startTimer(std::uint64_t ms) {
    assert(hasTimer_); // open(..., Timer::Yes): the timer handle is initialised only then
    uv_timer_start(&timer_, &Connection::onTimerCb, ms, 0);
}

void Connection::stopTimer() {
    assert(hasTimer_);
    uv_timer_stop(&timer_);
}

void Connection::onTimerCb(uv_timer_t *t) noexcept {
    static_cast<Connection *>(t->data)->owner_.onTimer();
}

void Connection::close() {
    if (closing_)
        return;
    closing_ = true;
    if (extra_) {
        extra_->data = this;
        ++openHandles_;
        uv_close(extra_, &Connection::onCloseCb);
    }
    if (hasTimer_) {
        uv_timer_stop(&timer_);
        uv_close(reinterpret_cast<uv_handle_t *>(&timer_), &Connection::onCloseCb);
    }
    uv_close(reinterpret_cast<uv_handle_t *>(&tcp_), &Connection::onCloseCb);
}

void Connection::onCloseCb(uv_handle_t *h) noexcept {
    auto *c = static_cast<Connection *>(h->data);
    if (--c->openHandles_ == 0)
        c->owner_.onClosed(); // last: the owner (and this Connection) may be gone after it
}

} // namespace fc::io
