// One client connection and the request/response exchanges it carries, one at a time (pipelined
// requests wait in the input buffer and are answered strictly in order).
//
// Life of an exchange: parse head -> acquire an upstream connection from the worker's pool ->
// stream the request body up (re-framed) -> stream the response down as it arrives (re-framed) ->
// release the upstream connection -> next request or close. Backpressure both ways: when the
// receiving side's write queue passes kHighWater, reading from the sending side stops until it
// drains below kLowWater.
//
// Threading: owned by one worker's loop; never touched from another thread. Ownership: the
// connection deletes itself in the close callback of its last handle; while an upstream
// connection is borrowed, it is released or aborted before the client connection goes away.
#pragma once

#include <netinet/in.h>
#include <uv.h>

#include <string>

#include "cache/page.h"
#include "cache/policy.h"
#include "cache/store/item.h"
#include "http/parser.h"
#include "http/rewrite.h"
#include "proxy/page_fill.h"
#include "proxy/upstream.h"

namespace fc::proxy {

class Worker;

struct SharedLookupResult;

class ClientConnection final : private http::RequestParser::Sink, private UpstreamUser {
public:
    explicit ClientConnection(Worker &worker);
    // Accepts a pending connection from `server`. Returns false (and closes) on failure.
    bool accept(uv_stream_t *server);
    // Worker shutdown: close now if idle, otherwise after the current response.
    void drain();
    // Worker drain deadline passed: close at once.
    void closeNow();
    // The fetch this connection was waiting for (coalescing) is over: look the page up again.
    void onLockReleased();

    ClientConnection *prev_ = nullptr, *next_ = nullptr; // worker's intrusive list

private:
    enum class TimerMode { None, Header, Idle, Body, Linger, Deferred, LockWait };
    // Pending: asking the shared cluster (cache.shared_servers); onSharedLookup continues.
    enum class Lookup { Served, Miss, Wait, Pending };

    // RequestParser::Sink
    bool onRequestHead(http::RequestHead &head) override;
    void onRequestBody(std::string_view piece) override;
    void onRequestComplete() override;
    // UpstreamUser
    void onUpstreamReady(UpstreamConnection &conn) override;
    bool onUpstreamHead(http::ResponseHead &head) override;
    void onUpstreamBody(std::string_view piece) override;
    void onUpstreamComplete(bool reusable) override;
    void onUpstreamError(int status, const char *reason, bool retryable) override;
    void onUpstreamWritable() override;
    void onUpstreamReadDone() override;

    // The cache (FetchFromCacheMiddleware / UpdateCacheMiddleware in front of the app).
    Lookup lookup(http::RequestHead &head);
    void startFetch(http::RequestHead &head);
    void serveHit(cache::ItemRef page, const cache::PageView &v, const http::RequestHead &req,
                  const char *xcache = "HIT", std::string_view detail = {});
    bool serveStaleOnError(const char *why);
    void onSharedLookup(SharedLookupResult &r);
    void stopBuffering();
    void stopWaiting();
    void answerPurge(http::RequestHead &head);
    void appendStatusHeaders(std::string &out, const char *xcache, std::string_view detail);
    void maybeDelete();

    void handleRead(ssize_t n, const uv_buf_t *buf);
    void consume(const char *data, size_t len);
    void processPending();
    void rejectRequest(int status, const char *reason);
    void responseFinished();
    void finishExchange();
    void closeGracefully();
    void write(std::string_view data); // queue + flush
    void flush();
    void startTimer(TimerMode mode, config::Millis ms);
    void pauseReading();
    void resumeReading();
    size_t writeQueueSize() const;
    const config::Config &cfg() const;

    static void onAlloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) noexcept;
    static void onRead(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) noexcept;
    static void onWrite(uv_write_t *req, int status) noexcept;
    static void onHitWrite(uv_write_t *req, int status) noexcept;
    static void onShutdown(uv_shutdown_t *req, int status) noexcept;
    static void onTimer(uv_timer_t *t) noexcept;
    static void onClose(uv_handle_t *h) noexcept;

    Worker &worker_;
    uv_tcp_t handle_;
    uv_timer_t timer_;
    uv_shutdown_t shutdownReq_;
    http::RequestParser parser_;
    std::string pending_;      // received, not yet parsed (pipelined requests)
    std::string upstreamHead_; // request head as sent upstream, kept for one retry
    std::string earlyBody_;    // request body framed for upstream, waiting for a connection
    std::string out_;          // response bytes batched until the end of an upstream read
    UpstreamConnection *upstream_ = nullptr;
    http::BodyFraming framing_ = http::BodyFraming::None;
    TimerMode timerMode_ = TimerMode::None;
    int openHandles_ = 0;
    bool reading_ = false;
    bool readPausedForBackpressure_ = false;
    bool upstreamPaused_ = false;
    bool inExchange_ = false;
    bool waitingForUpstream_ = false;
    bool requestComplete_ = false;
    bool responseStarted_ = false;
    bool responseComplete_ = false;
    bool keepAlive_ = true;
    bool isHead_ = false;
    bool requestHasBody_ = false;
    bool requestChunked_ = false;
    bool retried_ = false;
    int upstreamServer_ = -1; // the server of the current exchange (a retry avoids it; logged)
    bool clientEof_ = false;
    bool lingering_ = false;
    bool closing_ = false;
    bool handlesClosed_ = false;
    // cache state of the current exchange
    cache::Bypass bypass_ = cache::Bypass::None;
    bool lookedUp_ = false; // looked up and missed: the response may be stored
    bool storing_ = false;  // the response is being accumulated for the store
    PageFill fill_;         // the store side of the fetch, and the coalescing lock it may hold
    std::string key_;       // scratch for cache keys
    std::string lockKey_;   // the coalescing key of this request (page key, or header key)
    cache::ItemRef stale_;  // an expired copy kept for stale-if-error and revalidation
    cache::ItemRef answer_; // a page to answer with once the upstream exchange is over
    const char *answerDetail_ = nullptr;
    std::uint64_t waiterId_ = 0;
    bool waitingForLock_ = false;
    bool woken_ = false;             // waited once already: fetch without waiting again
    bool sharedTried_ = false;       // the shared cluster was asked for this request
    bool sharedPending_ = false;     // ... and has not answered yet (keeps this object alive)
    std::int64_t waitStartedAt_ = 0; // cache clock when the wait began
    bool revalidating_ = false;      // our own validators went upstream: a 304 renews stale_
    bool discardBody_ = false;       // the upstream body is not for the client (answer_ is)
    bool bufferForStale_ = false;    // the response is held until stored (a stale copy may answer)
    std::string heldHead_;           // its client head, meanwhile
    std::string dynHead_;            // per-response fields of a hit (Age, X-Cache...), reused
    // access log of the current exchange
    std::uint64_t startUs_ = 0, upstreamStartUs_ = 0;
    std::int64_t upstreamUs_ = -1;
    int status_ = 0;
    std::uint64_t bytesOut_ = 0;
    const char *cacheStatusName_ = "-";
    void logExchange();
    char peer_[INET6_ADDRSTRLEN] = "unknown";
};

} // namespace fc::proxy
