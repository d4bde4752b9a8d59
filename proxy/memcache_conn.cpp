#include "proxy/memcache_conn.h"

#include "proxy/log.h"
#include "proxy/stream_write.h"
#include "proxy/worker.h"

namespace fc::proxy {

namespace {
constexpr std::size_t kHighWater = 4 << 20;
constexpr std::size_t kLowWater = 1 << 20;
} // namespace

MemcacheConnection::MemcacheConnection(Worker &worker, cache::ProtocolContext &ctx)
    : worker_(worker), ctx_(ctx), session_(ctx, worker.config().memcached.authUsers) {}

bool MemcacheConnection::accept(uv_stream_t *server) {
    if (uvFailed(uv_tcp_init(worker_.loop(), &handle_), "memcached connection") < 0) {
        delete this; // never initialised: nothing to close (common/failure.h)
        return false;
    }
    handle_.data = this;
    worker_.trackMemcache(this);
    ctx_.stats.currConnections.fetch_add(1, std::memory_order_relaxed);
    ctx_.stats.totalConnections.fetch_add(1, std::memory_order_relaxed);
    if (uv_accept(server, reinterpret_cast<uv_stream_t *>(&handle_)) != 0) {
        closeNow();
        return false;
    }
    uv_tcp_nodelay(&handle_, 1);
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t *>(&handle_), &fd) == 0)
        fd_ = fd;
    if (uv_read_start(reinterpret_cast<uv_stream_t *>(&handle_), &MemcacheConnection::onAlloc,
                      &MemcacheConnection::onRead) < 0) {
        closeNow();
        return false;
    }
    reading_ = true;
    return true;
}

void MemcacheConnection::onAlloc(uv_handle_t *h, size_t, uv_buf_t *buf) noexcept {
    auto *c = static_cast<MemcacheConnection *>(h->data);
    *buf = uv_buf_init(c->worker_.readBuffer(), static_cast<unsigned>(c->worker_.readBufferSize()));
}

void MemcacheConnection::onRead(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) noexcept {
    static_cast<MemcacheConnection *>(s->data)->handleRead(n, buf);
}

void MemcacheConnection::handleRead(ssize_t n, const uv_buf_t *buf) {
    if (closing_ || n == 0)
        return;
    if (n < 0) {
        closeNow();
        return;
    }
    if (quitting_ || watcher_) // a watcher's input is ignored (memcached reads no more commands)
        return;
    if (in_.empty()) {
        process(buf->base, static_cast<std::size_t>(n));
    } else {
        in_.append(buf->base, static_cast<std::size_t>(n));
        std::string data;
        data.swap(in_);
        process(data.data(), data.size());
    }
}

void MemcacheConnection::process(const char *data, std::size_t len) {
    std::size_t consumed = 0;
    cache::setWatchClientFd(fd_);
    auto st = session_.feed(data, len, consumed, out_);
    if (consumed < len && st == cache::MemcacheSession::Status::NeedMore)
        in_.append(data + consumed, len - consumed);
    flush();
    if (st == cache::MemcacheSession::Status::Watch && !closing_) {
        startWatching();
        return;
    }
    if (st == cache::MemcacheSession::Status::Close && !closing_) {
        quitting_ = true;
        shutdownReq_.data = this;
        if (uv_shutdown(&shutdownReq_, reinterpret_cast<uv_stream_t *>(&handle_),
                        &MemcacheConnection::onShutdown) != 0)
            closeNow();
        return;
    }
    if (reading_ &&
        uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t *>(&handle_)) > kHighWater) {
        uv_read_stop(reinterpret_cast<uv_stream_t *>(&handle_));
        reading_ = false;
    }
}

void MemcacheConnection::flush() {
    if (out_.empty() || closing_)
        return;
    ctx_.stats.bytesWritten.fetch_add(out_.size(), std::memory_order_relaxed);
    int rc = streamWrite(reinterpret_cast<uv_stream_t *>(&handle_), out_, this,
                         &MemcacheConnection::onWrite);
    out_.clear();
    if (out_.capacity() > (1 << 20))
        out_.shrink_to_fit();
    if (rc < 0)
        closeNow();
}

void MemcacheConnection::onWrite(uv_write_t *req, int status) noexcept {
    auto *w = static_cast<WriteReq *>(req->data);
    auto *c = static_cast<MemcacheConnection *>(w->owner);
    delete w;
    if (c->closing_)
        return;
    if (status < 0) {
        c->closeNow();
        return;
    }
    if (c->watchBacklogged_ &&
        uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t *>(&c->handle_)) < kLowWater) {
        c->watchBacklogged_ = false;
        c->sendWatchLines();
    }
    if (!c->reading_ && !c->quitting_ &&
        uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t *>(&c->handle_)) < kLowWater) {
        c->reading_ = true;
        if (uv_read_start(reinterpret_cast<uv_stream_t *>(&c->handle_),
                          &MemcacheConnection::onAlloc, &MemcacheConnection::onRead) < 0)
            c->closeNow();
    }
}

void MemcacheConnection::onShutdown(uv_shutdown_t *req, int) noexcept {
    static_cast<MemcacheConnection *>(req->data)->closeNow();
}

// `watch`: the store's log lines come through this connection's async handle, woken from any
// thread by the WatchLog; a client that does not read them is not written more than kHighWater
// (the WatchLog keeps up to 1 MiB more for it, then counts what it drops as skipped).
void MemcacheConnection::startWatching() {
    if (uvFailed(uv_async_init(worker_.loop(), &watchAsync_,
                               [](uv_async_t *a) noexcept {
                                   static_cast<MemcacheConnection *>(a->data)->sendWatchLines();
                               }),
                 "watch") < 0) {
        closeNow();
        return;
    }
    watchAsync_.data = this;
    ++openHandles_;
    uv_async_t *async = &watchAsync_;
    watcher_ =
        ctx_.store.watch().subscribe(session_.watchKinds(), [async] { uv_async_send(async); });
}

void MemcacheConnection::sendWatchLines() {
    if (closing_ || !watcher_)
        return;
    if (uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t *>(&handle_)) > kHighWater) {
        watchBacklogged_ = true; // resumed from onWrite once the client has read
        return;
    }
    out_ += ctx_.store.watch().take(*watcher_);
    flush();
}

void MemcacheConnection::closeNow() {
    if (closing_)
        return;
    closing_ = true;
    worker_.untrackMemcache(this);
    ctx_.stats.currConnections.fetch_sub(1, std::memory_order_relaxed);
    if (watcher_) {
        // After this no wake-up can reach the async handle (wakes run under the log's lock).
        ctx_.store.watch().unsubscribe(watcher_);
        watcher_.reset();
        uv_close(reinterpret_cast<uv_handle_t *>(&watchAsync_), &MemcacheConnection::onClose);
    }
    uv_close(reinterpret_cast<uv_handle_t *>(&handle_), &MemcacheConnection::onClose);
}

void MemcacheConnection::onClose(uv_handle_t *h) noexcept {
    auto *c = static_cast<MemcacheConnection *>(h->data);
    if (--c->openHandles_ == 0)
        delete c;
}

} // namespace fc::proxy
