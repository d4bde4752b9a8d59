// A client of the memcached-protocol port ([memcached] listen), served by the same worker
// loops as HTTP. Bytes are handed to cache::MemcacheSession; its answers are written back with
// one write per read. If the client does not read its answers, reading from it stops once
// kHighWater bytes are queued (backpressure), and resumes when they drain. With
// memcached.auth_file, the connection must log in first (cache/protocol/memcache_auth.h); it is
// checked against the users of the configuration in force when it was accepted.
//
// Threading: one worker's loop only. Ownership: deletes itself in its last close callback.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "cache/protocol/memcache.h"
#include "cache/store/watch.h"

namespace fc::proxy {

class Worker;

class MemcacheConnection {
public:
    MemcacheConnection(Worker &worker, cache::ProtocolContext &ctx);
    bool accept(uv_stream_t *server);
    void closeNow();

    MemcacheConnection *prev_ = nullptr, *next_ = nullptr; // worker's intrusive list

private:
    void handleRead(ssize_t n, const uv_buf_t *buf);
    void process(const char *data, std::size_t len);
    void flush();
    void startWatching();
    void sendWatchLines();
    static void onAlloc(uv_handle_t *h, size_t, uv_buf_t *buf) noexcept;
    static void onRead(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) noexcept;
    static void onWrite(uv_write_t *req, int status) noexcept;
    static void onShutdown(uv_shutdown_t *req, int status) noexcept;
    static void onClose(uv_handle_t *h) noexcept;

    Worker &worker_;
    cache::ProtocolContext &ctx_;
    cache::MemcacheSession session_;
    uv_tcp_t handle_;
    uv_shutdown_t shutdownReq_;
    std::string in_;  // unconsumed input (a partial command line)
    std::string out_; // answers not yet written
    bool reading_ = false;
    bool closing_ = false;
    bool quitting_ = false;
    int fd_ = -1;         // for watch's cfd=
    int openHandles_ = 1; // the TCP handle, and watchAsync_ while watching
    uv_async_t watchAsync_;
    std::shared_ptr<cache::WatchLog::Watcher> watcher_; // set once `watch` was accepted
    bool watchBacklogged_ = false;
};

} // namespace fc::proxy
