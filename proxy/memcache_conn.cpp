#include "proxy/memcache_conn.h"

#include "common/log.h"
#include "io/uv_error.h"
#include "proxy/worker.h"

namespace fc::proxy {

namespace {
constexpr std::size_t kHighWater = 4 << 20;
constexpr std::size_t kLowWater = 1 << 20;
} // namespace

MemcacheConnection::MemcacheConnection(Worker &worker, cache::ProtocolContext &ctx)
    : worker_(worker), ctx_(ctx), session_(ctx, worker.config().memcached.authUsers) {}

bool MemcacheConnection::accept(uv_stream_t *server) {
    if (io::uvFailed(conn_.open(worker_.loop(), io::Connection::Timer::No),
                     "memcached connection") < 0) {
        delete this; // never initialised: nothing to close (common/failure.h)
        return false;
    }
    worker_.trackMemcache(this);
    ctx_.stats.currConnections.fetch_add(1, std::memory_order_relaxed);
    ctx_.stats.totalConnections.fetch_add(1, std::memory_order_relaxed);
    conn_.setReadBuffer(worker_.readBuffer(), worker_.readBufferSize());
    if (conn_.accept(server, io::Connection::NoDelay::Yes) != 0 || conn_.startReading() < 0) {
        closeNow();
        return false;
    }
    return true;
}

// Never called with n == 0 or once closing (io::Connection filters them).
void MemcacheConnection::onRead(ssize_t n, const uv_buf_t *buf) {
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
    cache::setWatchClientFd(conn_.fd());
    auto st = session_.feed(data, len, consumed, out_);
    if (consumed < len && st == cache::MemcacheSession::Status::NeedMore)
        in_.append(data + consumed, len - consumed);
    flush();
    if (st == cache::MemcacheSession::Status::Watch && !conn_.closing()) {
        startWatching();
        return;
    }
    if (st == cache::MemcacheSession::Status::Close && !conn_.closing()) {
        quitting_ = true;
        if (conn_.shutdown() != 0)
            closeNow();
        return;
    }
    if (conn_.reading() && conn_.writeQueueSize() > kHighWater)
        conn_.stopReading();
}

void MemcacheConnection::flush() {
    if (out_.empty() || conn_.closing())
        return;
    ctx_.stats.bytesWritten.fetch_add(out_.size(), std::memory_order_relaxed);
    int rc = conn_.write(out_);
    out_.clear();
    if (out_.capacity() > (1 << 20))
        out_.shrink_to_fit();
    if (rc < 0)
        closeNow();
}

void MemcacheConnection::onWritten(int status) {
    if (status < 0) {
        closeNow();
        return;
    }
    if (watchBacklogged_ && conn_.writeQueueSize() < kLowWater) {
        watchBacklogged_ = false;
        sendWatchLines();
    }
    if (!conn_.reading() && !quitting_ && conn_.writeQueueSize() < kLowWater &&
        conn_.startReading() < 0)
        closeNow();
}

// `watch`: the store's log lines come through this connection's async handle, woken from any
// thread by the WatchLog; a client that does not read them is not written more than kHighWater
// (the WatchLog keeps up to 1 MiB more for it, then counts what it drops as skipped).
void MemcacheConnection::startWatching() {
    if (io::uvFailed(uv_async_init(worker_.loop(), &watchAsync_,
                                   [](uv_async_t *a) noexcept {
                                       static_cast<MemcacheConnection *>(a->data)->sendWatchLines();
                                   }),
                     "watch") < 0) {
        closeNow();
        return;
    }
    watchAsync_.data = this;
    conn_.closeWith(reinterpret_cast<uv_handle_t *>(&watchAsync_));
    uv_async_t *async = &watchAsync_;
    watcher_ =
        ctx_.store.watch().subscribe(session_.watchKinds(), [async] { uv_async_send(async); });
}

void MemcacheConnection::sendWatchLines() {
    if (conn_.closing() || !watcher_)
        return;
    if (conn_.writeQueueSize() > kHighWater) {
        watchBacklogged_ = true; // resumed from onWrite once the client has read
        return;
    }
    out_ += ctx_.store.watch().take(*watcher_);
    flush();
}

void MemcacheConnection::closeNow() {
    if (conn_.closing())
        return;
    worker_.untrackMemcache(this);
    ctx_.stats.currConnections.fetch_sub(1, std::memory_order_relaxed);
    if (watcher_) {
        // After this no wake-up can reach the async handle (wakes run under the log's lock), which
        // conn_ closes with its own.
        ctx_.store.watch().unsubscribe(watcher_);
        watcher_.reset();
    }
    conn_.close();
}

} // namespace fc::proxy
