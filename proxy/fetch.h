// A fetch: one upstream exchange, and the page it may fill. It is its own object, not part of a
// client connection (Varnish's busy object): the client exchange that needs the response
// subscribes to it, a background refresh (grace / stale-while-revalidate) is a fetch nobody
// subscribes to, and requests in any worker that want the same page wait on its coalescing key
// (cache::FetchLocks, woken through their worker's inbox when the fetch releases it).
//
// What it does: queue for an upstream connection (proxy/upstream.h), send the request head (with
// our validators when it revalidates a stored copy) and the body the subscriber streams up,
// retry an idempotent request once on a fresh connection, and at the response head decide —
// renewed by a 304, a stale copy instead of a 5xx, stored and streamed, held until stored
// (a stale copy may still stand in), or streamed without storing. The store side is its PageFill.
//
// Ownership: reference-counted. Holders are the subscriber (from subscribe() to unsubscribe())
// and the upstream exchange in flight (queued in the pool, or holding a connection). When the
// last holder lets go the fetch is freed. A subscriber that leaves unsubscribes and may be freed
// at once; the fetch then finishes alone only when it is storing a page (nobody else wants the
// bytes), with its own copy of the request head. It borrows an UpstreamConnection (owned by the
// pool) between onUpstreamReady and release()/abort(); it owns no libuv handle itself.
// Threading: one worker's loop thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <memory>

#include "cache/store/item.h"
#include "http/parser.h"
#include "http/rewrite.h"
#include "proxy/body_buffer.h"
#include "proxy/cache_status.h"
#include "proxy/fetch_step.h"
#include "proxy/page_fill.h"
#include "proxy/upstream.h"

namespace fc::proxy {

class Worker;
class FetchKeep;

// What a fetch tells the exchange subscribed to it. All calls come from the loop thread, never
// from inside the subscriber's own calls into the fetch except where noted.
class FetchSubscriber {
public:
    virtual ~FetchSubscriber() = default;
    // The request went upstream (its head, and the body received so far). `revalidating`: with
    // our validators.
    virtual void onFetchSent(bool revalidating) = 0;
    // The response head, to stream (`held` false) or to hold until the page is stored (`held`
    // true: the subscriber keeps its client head aside). `notStored`: why it will not be stored.
    virtual void onFetchHead(http::ResponseHead &resp, cache::NotStored notStored, bool held) = 0;
    // A 103 Early Hints from the upstream, before the head (RFC 8297): may be passed on.
    virtual void onFetchEarlyHints(const http::ResponseHead &hints) = 0;
    virtual void onFetchBody(std::string_view piece) = 0;
    // Everything from one upstream read was delivered: flush (one write per read).
    virtual void onFetchReadDone() = 0;
    // The held response is streamed after all (it outgrew the object size, or the store refused
    // it): `heldBody` is what arrived so far; later pieces come through onFetchBody.
    virtual void onFetchUnheld(std::string_view heldBody) = 0;
    // The streamed response is complete.
    virtual void onFetchComplete() = 0;
    // Answer from `page` instead of what the upstream sent: renewed by a 304 (Revalidated),
    // a stale copy instead of an error (StaleIfError) or the page just stored from a held
    // response (Miss). The fetch is over.
    virtual void onFetchAnswer(cache::ItemRef page, CacheStatus status) = 0;
    // The fetch failed: `status` 502 or 504 from the upstream side (503 when the pool's queue is
    // full or the wait timed out), 500 when a buffered request body could not be read back.
    // `started`: the response head was already delivered (too late for an error status).
    // `kind`: whether the app could not be reached at all (UpstreamUser::onUpstreamError).
    virtual void onFetchError(int status, const char *reason, bool started,
                              UpstreamFailure kind) = 0;
    // The upstream's send queue drained (request-body backpressure).
    virtual void onFetchWritable() = 0;
};

class Fetch final : private UpstreamUser {
public:
    // What the fetch is for.
    struct Request {
        const http::RequestHead *head = nullptr; // the client's; must outlive the subscription
        http::ForwardInfo fwd;   // X-Forwarded-* (used while create() writes the upstream head)
        bool storesPage = false; // looked up and missed: the response may be stored
        cache::ItemRef stale;    // an expired copy (revalidation, stale-if-error)
        std::string body;        // request body received before the fetch began
        std::unique_ptr<BodyBuffer> buffered; // or the whole body, read before (chunked)
        // Answer from the page once stored, even without a stale copy (a range request).
        bool holdUntilStored = false;
        // A WebSocket handshake (http::isWebSocketUpgrade): sent with its Upgrade; a 101 is
        // delivered as the head (onFetchHead), then the upstream's bytes as they come
        // (onFetchBody) until it closes (onFetchComplete); sendBody() relays the client's.
        bool upgrade = false;
        // [[rules]] the request matched (response edits, lifetimes) and what they add to its
        // page key.
        RuleSet rules;
        std::string keyExtra;
    };
    // A fetch for `sub`, which holds the returned reference until unsubscribe(). The fill's URI
    // and coalescing lock are set on fill() before go().
    static Fetch *create(Worker &worker, FetchSubscriber &sub, Request req);
    // Starts a background refresh of the GET page `stale` under `lockKey` for `req`, unless
    // another fetch of that key runs already. Returns whether one was started.
    static bool startRefresh(Worker &worker, const http::RequestHead &req, std::string_view uri,
                             std::string_view lockKey, cache::ItemRef stale,
                             const http::ForwardInfo &fwd, RuleSet rules = {},
                             std::string_view keyExtra = {});

    // Queues for an upstream connection. Subscriber callbacks may run before it returns (a full
    // queue, no server available).
    void go();
    PageFill &fill() { return fill_; }
    // The request body, already framed for upstream; sent now or when connected.
    void sendBody(std::string_view framed);
    void bodyDone() { bodyDone_ = true; }
    // Bytes the upstream has not yet taken (request-body backpressure).
    std::size_t pendingUpstream() const;
    void pauseReading();
    void resumeReading();
    bool readingPaused() const { return paused_; }
    // A tunnel's client half-closed: FIN to the upstream once what was relayed has gone.
    void shutdownUpstream();
    // The subscriber leaves (its client went away, or its exchange is over).
    void unsubscribe();
    // Worker shutdown: gives a background refresh up (the stale copy stays).
    void abort();

    // For the access log.
    int server() const { return server_; }
    std::int64_t upstreamMicros() const { return upstreamUs_; }

    Fetch *prev_ = nullptr, *next_ = nullptr; // the worker's list of background refreshes

private:
    friend class FetchKeep;
    Fetch(Worker &worker, FetchSubscriber *sub);
    ~Fetch();
    void hold() { ++refs_; }
    void drop();
    // The one place a fetch changes step: checked against the table (fetch_step.h), logged at
    // debug level.
    void setStep(FetchStep next);
    void finished(); // the upstream exchange is over: drops its reference
    void retry();
    void adoptStale(cache::ItemRef stale);
    void unhold(FetchStep next);
    void pumpBody(); // sends the buffered body while the upstream takes it

    void onUpstreamReady(UpstreamConnection &conn) override;
    bool onUpstreamHead(http::ResponseHead &head) override;
    void onUpstreamEarlyHints(http::ResponseHead &hints) override;
    void onUpstreamBody(std::string_view piece) override;
    void onUpstreamComplete(bool reusable) override;
    void onUpstreamError(int status, const char *reason, bool retryable,
                         UpstreamFailure kind) override;
    void onUpstreamWritable() override;
    void onUpstreamReadDone() override;
    std::size_t upstreamPool() const override { return upstreamPool_; }

    Worker &worker_;
    FetchSubscriber *sub_;
    int refs_ = 0;
    FetchStep step_ = FetchStep::Created; // where it is, and so what it does with the bytes
    // What the fetch is for (set once, at creation).
    bool refresh_ = false;     // a background refresh (no subscriber ever)
    bool storesPage_ = false;  // looked up: the response may be stored
    bool conditional_ = false; // our validators went upstream
    bool hasBody_ = false;
    bool isHead_ = false;
    bool idempotent_ = false;
    bool upgrade_ = false;         // a WebSocket handshake (Request::upgrade)
    std::size_t upstreamPool_ = 0; // the upstream group ([[rules]] upstream)
    // Beside the steps: the request body, the client's backpressure, and what happened once.
    bool bodyDone_ = false;
    bool paused_ = false;  // the subscriber paused reading (client backpressure)
    bool retried_ = false; // an idempotent request is retried at most once
    bool renewed_ = false; // a 304 renewed the stored page (a refresh's outcome)
    // The request's declared Content-Length (-1 chunked) and the body bytes handed upstream: a
    // connection is reused only when they agree (the parser guarantees it; this is the check
    // that a request can never leave bytes of itself for the next one on the connection).
    std::int64_t declaredLength_ = -1;
    std::uint64_t bodyBytes_ = 0;
    const http::RequestHead *req_ = nullptr;
    http::RequestHead ownReq_; // a copy, once the request outlives its subscriber
    std::string upstreamHead_; // the request head as sent (kept for one retry)
    std::string earlyBody_;    // body received before the connection was ready
    std::unique_ptr<BodyBuffer> buffered_;
    PageFill fill_;
    cache::ItemRef stale_;
    cache::PageView staleView_; // stale_ decoded (adoptStale), valid while stale_ is held
    bool holdUntilStored_ = false;
    cache::ItemRef answer_;
    CacheStatus answerStatus_ = CacheStatus::None;
    UpstreamConnection *upstream_ = nullptr;
    int server_ = -1;
    std::uint64_t startUs_ = 0;
    std::int64_t requestedAt_ = 0; // clock seconds when it was sent (RFC 9111 §4.2.3)
    std::int64_t upstreamUs_ = -1;
};

} // namespace fc::proxy
