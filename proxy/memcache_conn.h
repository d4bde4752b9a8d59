// A client of the memcached-protocol port ([memcached] listen), served by the same worker
// loops as HTTP. Bytes are handed to cache::MemcacheSession; its answers are written back with
// one write per read. If the client does not read its answers, reading from it stops once
// kHighWater bytes are queued (backpressure), and resumes when they drain. With
// memcached.auth_file, the connection must log in first (cache/memcache/auth.h); it is
// checked against the users of the configuration in force when it was accepted.
//
// The libuv plumbing (accept, reads, the write queue, closing) is io::Connection's.
//
// Threading: one worker's loop only. Ownership: deletes itself once its io::Connection has closed
// its handles (the TCP handle, and the `watch` wake-up handed to it).
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "cache/memcache/session.h"
#include "cache/store/watch.h"
#include "io/connection.h"

namespace fc::proxy {

class Worker;

class MemcacheConnection final : private io::Connection::Owner {
public:
    MemcacheConnection(Worker &worker, cache::ProtocolContext &ctx);
    bool accept(uv_stream_t *server);
    void closeNow();

    MemcacheConnection *prev_ = nullptr, *next_ = nullptr; // worker's intrusive list

private:
    // io::Connection::Owner
    void onRead(ssize_t n, const uv_buf_t *buf) override;
    void onWritten(int status) override;
    void onShutdown(int) override { closeNow(); }
    void onClosed() override { delete this; }

    void process(const char *data, std::size_t len);
    void flush();
    void startWatching();
    void sendWatchLines();

    Worker &worker_;
    cache::ProtocolContext &ctx_;
    cache::MemcacheSession session_;
    io::Connection conn_{*this};
    std::string in_;  // unconsumed input (a partial command line)
    std::string out_; // answers not yet written
    bool quitting_ = false;
    uv_async_t watchAsync_;                             // closed by conn_ once `watch` started it
    std::shared_ptr<cache::WatchLog::Watcher> watcher_; // set once `watch` was accepted
    bool watchBacklogged_ = false;
};

} // namespace fc::proxy
