// A worker: one thread, one libuv loop, its own SO_REUSEPORT listening sockets and its own
// upstream pool. Workers share nothing mutable on the I/O path; the kernel spreads new
// connections across their listening sockets.
//
// Threading: requestStop() may be called from any thread; everything else runs on the worker's
// own thread (after start()) or before start()/after join() on the owner's thread.
#pragma once

#include <uv.h>

#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cache/backend/memcached_cluster.h"
#include "cache/fetch_locks.h"
#include "cache/memcache/session.h"
#include "cache/policy/policy.h"
#include "cache/store/store.h"
#include "common/intrusive_list.h"
#include "config/config.h"
#include "io/listener.h"
#include "proxy/access_log.h"
#include "proxy/cache_context.h"
#include "proxy/cache_counters.h"
#include "proxy/upstream.h"
#include "proxy/url_sampler.h"

namespace fc::proxy {

class ClientConnection;
class MemcacheConnection;
class Fetch;
class Worker;
class PurgeForwarding;

// The bound listening sockets a worker serves; it takes ownership of them.
struct WorkerSockets {
    std::vector<int> http;
    std::vector<int> memcache; // empty unless [memcached] listen is set
};

class Worker {
public:
    // `mc` (shared by all workers, outliving them) serves the memcached port; may be null when
    // there is none.
    Worker(int index, std::shared_ptr<const config::Config> cfg, WorkerSockets sockets,
           cache::ProtocolContext *mc, const CacheContext &cache);
    ~Worker();
    Worker(const Worker &) = delete;
    Worker &operator=(const Worker &) = delete;

    // Starts the thread. Returns false with `error` set if the loop could not listen.
    bool start(std::string &error);
    // Begins a graceful stop (any thread): stop accepting, finish in-flight requests for up to
    // server.drain_timeout, then close everything and end the thread.
    void requestStop();
    void join();

    // Loop thread only.
    uv_loop_t *loop() { return &loop_; }
    UpstreamPool &pool() { return *pool_; }
    const config::Config &config() const { return *cfg_; }
    std::shared_ptr<const config::Config> configPtr() const { return cfg_; }
    const CacheContext &cache() const { return cache_; }
    std::uint32_t index() const { return static_cast<std::uint32_t>(index_); }
    CacheCounters &counters() { return counters_; }
    UrlSampler &urlSampler() { return urlSampler_; }
    // Writes a new request id (24 hex digits: this process and worker, then a counter) into
    // `out` (at least 25 bytes); returns its length.
    std::size_t makeRequestId(char *out);
    AccessLog &accessLog() { return accessLog_; }
    const CacheCounters &counters() const { return counters_; }
    char *readBuffer() { return readBuf_.get(); }
    size_t readBufferSize() const { return kReadBufSize; }
    bool draining() const { return draining_; }
    // server.max_tunnels: a WebSocket handshake takes a slot before it goes upstream (so a burst
    // of handshakes cannot overshoot while they wait for their 101) and gives it back when its
    // exchange ends — as an ordinary answer, or when the tunnel it became closes.
    bool takeTunnelSlot(unsigned max) {
        if (tunnelSlots_ >= max)
            return false;
        ++tunnelSlots_;
        return true;
    }
    void giveTunnelSlot() { --tunnelSlots_; }
    void track(ClientConnection *c);
    void untrack(ClientConnection *c);
    void trackMemcache(MemcacheConnection *c);
    void untrackMemcache(MemcacheConnection *c);
    // Background refreshes (fetches nobody subscribes to): a shutdown waits for them.
    void trackRefresh(Fetch *r);
    void untrackRefresh(Fetch *r);

    // Coalescing. A waiting connection registers for an id; wakeWaiters (loop thread, any
    // worker) posts each id to its worker, which calls ClientConnection::onLockReleased on its
    // own thread. A connection that stops waiting unregisters: a wake-up for it finds nobody.
    std::uint64_t addLockWaiter(ClientConnection *c);
    void removeLockWaiter(std::uint64_t id);
    void wakeWaiters(const std::vector<cache::WaiterId> &ids);
    // Any thread: queues a wake-up for waiter `id` of this worker.
    // `releasedAt`: uv_hrtime() of the fill, for the wake-latency histogram.
    void postWake(std::uint64_t id, std::uint64_t releasedAt);
    // Any thread: an upstream slot was freed; queued users of this worker may take it.
    void postServeQueue();
    // Any thread: the configuration was reloaded; the worker switches to it on its own thread.
    void postReload(std::shared_ptr<const config::Config> cfg, const CacheContext &ctx);

private:
    static constexpr size_t kReadBufSize = 64 * 1024;
    void run();
    void beginDrain();
    void maybeFinish();
    static void onStop(uv_async_t *a) noexcept;
    static void onInbox(uv_async_t *a) noexcept;
    static void onConnection(uv_stream_t *server, int status) noexcept;
    static void onMemcacheConnection(uv_stream_t *server, int status) noexcept;
    void acceptError(int status);
    static void onDrainTimer(uv_timer_t *t) noexcept;

    int index_;
    std::shared_ptr<const config::Config> cfg_;
    WorkerSockets sockets_;
    cache::ProtocolContext *mc_;
    CacheContext cache_;
    CacheCounters counters_;
    UrlSampler urlSampler_;
    AccessLog accessLog_;
    uv_timer_t logTimer_; // flushes the access log once a second
    common::IntrusiveList<MemcacheConnection> mcClients_;
    uv_loop_t loop_;
    uv_async_t stopAsync_;
    uv_timer_t drainTimer_;
    std::vector<std::unique_ptr<io::Listener>> listeners_;
    std::unique_ptr<UpstreamPool> pool_;
    std::unique_ptr<char[]> readBuf_;
    common::IntrusiveList<ClientConnection> clients_;
    common::IntrusiveList<Fetch> refreshes_;
    std::unordered_map<std::uint64_t, ClientConnection *> lockWaiters_;
    std::uint64_t nextWaiterId_ = 1;
    // Inbox: filled by any thread under inboxMu_, drained on the loop thread.
    uv_async_t inboxAsync_;
    std::mutex inboxMu_;
    bool inboxClosed_ = false;
    bool inboxServeQueue_ = false;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> inboxWakes_; // (id, releasedAt)
    std::shared_ptr<const config::Config> inboxConfig_;
    CacheContext inboxCache_;
    bool draining_ = false;
    unsigned tunnelSlots_ = 0;
    bool finished_ = false;
    bool loopInit_ = false;
    std::uint32_t requestIdPrefix_ = 0; // random per process and worker
    std::uint64_t nextRequestId_ = 0;
    std::string initError_; // set by the constructor when the loop could not be set up
    uint64_t acceptErrors_ = 0;
    uint64_t lastAcceptWarn_ = 0;
    std::thread thread_;
};

} // namespace fc::proxy
