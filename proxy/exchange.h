// One exchange: a request on a client connection and the response to it, as a sequence of named
// steps (proxy/exchange_step.h; the diagram is in docs/architecture.md):
//
//   idle -> begin -> lookup -> [shared-lookup -> lookup] [wait-fill -> lookup]
//        -> deliver (hit, stale)                                   -> done -> idle
//        -> queued -> fetch | revalidate -> stream | hold | deliver -> done -> idle
//
// Every change of step goes through setStep(), which logs it at debug level and checks it
// against the table. The exchange applies the cache's rules (cache/: lookup chain, reuse,
// storability) in front of the upstream; the upstream side is a Fetch it subscribes to, and the
// bytes go out through its ClientConnection (the transport). Nothing here runs inside the
// request parser's callbacks except recording what arrived: a head is acted on (begin()) after
// the parser has returned.
//
// Ownership: a member of its ClientConnection, reused for each request on it. It holds one
// reference to its Fetch from startFetch() until the fetch's last callback or teardown(). It owns
// no libuv handle: the connection's timer serves its lock wait.
// Threading: the connection's worker loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "cache/page/page.h"
#include "cache/policy/policy.h"
#include "cache/policy/request.h"
#include "cache/store/item.h"
#include "http/parser.h"
#include "http/range.h"
#include "http/rewrite.h"
#include "proxy/cache_status.h"
#include "proxy/exchange_step.h"
#include "proxy/fetch.h"
#include "proxy/rules.h"

namespace fc::proxy {

class ClientConnection;
class Worker;
struct SharedLookupResult;

class Exchange final : private FetchSubscriber {
public:
    Exchange(ClientConnection &conn, Worker &worker) : conn_(conn), worker_(worker) {}
    Exchange(const Exchange &) = delete;
    Exchange &operator=(const Exchange &) = delete;

    Step step() const { return step_; }
    bool active() const { return step_ != Step::Idle && step_ != Step::Closed; }
    // Bytes of the response were written (too late for an error status).
    bool responseStarted() const {
        return step_ == Step::Stream || step_ == Step::Deliver || step_ == Step::Done ||
               step_ == Step::Tunnel;
    }
    bool requestComplete() const { return req_.complete; }

    // From the request parser (record only). onHead returns false when the request is refused
    // before anything else happens (rejectStatus() says with what).
    bool onHead(http::RequestHead &head);
    void onBody(std::string_view piece);
    void onRequestComplete();
    int rejectStatus() const { return req_.rejectStatus; }
    const char *rejectReason() const { return req_.rejectReason; }

    // After each parse that did not fail: act on a new head (begin()), or answer a body that
    // could not be buffered.
    void afterParse();
    // Coalescing: the fetch this exchange waited for is over (or the wait timed out).
    void onLockReleased();
    void onLockTimeout();
    // The client's write queue drained below the low-water mark.
    void onClientDrained();
    // Step::Tunnel: bytes from the client, relayed to the upstream as they came.
    void onTunnelData(std::string_view data);
    // Step::Tunnel: the client half-closed; the upstream is told once what it sent is out.
    void onTunnelClientEof();
    // The response must close the connection (half-close, shutdown).
    void noKeepAlive() { req_.keepAlive = false; }
    // The connection closes: stop waiting, leave the fetch (which may finish alone).
    void teardown();

private:
    void setStep(Step next);
    void begin();
    bool applyRules(http::RequestHead &h);
    RuleSet ruleSet();
    void noteRule(const config::Rule &r);
    std::string_view ruleDetail() const { return {ruleDetail_, req_.ruleDetailLen}; }
    void beginTunnel();
    void openTunnel(http::ResponseHead &resp);
    void finishBuffering();
    http::ForwardInfo forwardInfo();
    // X-Request-Id: the client's when usable, else one made here; computed on first use (a hit
    // with the access log off never needs one).
    std::string_view requestId();
    void lookup();
    void missed(bool clientWantsValidation);
    void askShared();
    void onSharedLookup(SharedLookupResult &r);
    void startFetch(bool ownsLock);
    void releaseFetch();
    void stopWaiting();
    void purge(const http::RequestHead &head);
    void deliverPage(cache::ItemRef page, CacheStatus status);
    void deliverUnavailable();
    const cache::PageRepresentation &representationFor(const cache::PageView &v, bool notModified);
    std::string_view rangeAnswer(const http::ByteRange &range,
                                 const cache::PageRepresentation &rep);
    void pageFields(const cache::PageView &v, const cache::PageRepresentation &rep,
                    CacheStatus status, bool notModified, std::string_view key);
    void deliverError(int status, const char *reason);
    void writeCanned(int status, std::string out);
    bool overBudget();
    void giveTunnelSlot();
    void responseFinished();
    void finish();
    void logExchange();
    http::RequestHead &head();

    // FetchSubscriber
    void onFetchSent(bool revalidating) override;
    void onFetchHead(http::ResponseHead &resp, cache::NotStored notStored, bool held) override;
    void onFetchEarlyHints(const http::ResponseHead &hints) override;
    void onFetchBody(std::string_view piece) override;
    void onFetchReadDone() override;
    void onFetchUnheld(std::string_view heldBody) override;
    void onFetchComplete() override;
    void onFetchAnswer(cache::ItemRef page, CacheStatus status) override;
    void onFetchError(int status, const char *reason, bool started, UpstreamFailure kind) override;
    void onFetchWritable() override;

    ClientConnection &conn_;
    Worker &worker_;
    Step step_ = Step::Idle;
    // What this request is, read from its head once (onHead), and what its exchange has decided
    // and learnt since: reset as a whole for each request on the connection (`req_ = {}`), so
    // nothing carries over from the one before. The buffers kept between requests for their
    // capacity (keys, heads, the early body) are members below.
    struct PerRequest {
        bool isHead = false;
        bool hasBody = false;
        bool chunked = false;
        bool complete = false; // the whole request body arrived (runs beside the steps)
        bool expectContinue = false;
        bool tunnel = false; // a WebSocket handshake (http::isWebSocketUpgrade), server.websockets
        bool tunnelSlot = false;    // holds one of the worker's server.max_tunnels
        bool budgetChecked = false; // [limits] asked once per request (a waiter looks twice)
        int rejectStatus = 0;       // refused before anything else happened (onHead)
        const char *rejectReason = nullptr;
        // Where it came from (server.trusted_proxies, the PROXY protocol).
        bool trustedPeer = false; // the peer is a trusted proxy: its X-Forwarded-* are believed
        bool https = false;       // the client used https (the key's scheme)
        // The client's address (logs, allow_purge_from): in clientBuf_ or the peer's name, not
        // in the head, whose fields move when it changes (normalizeCacheableRequest).
        std::string_view client;
        bool wantsRange = false;   // a GET's Range kept aside (range_, ifRange_)
        bool bufferFailed = false; // Step::Buffer: the body could not be kept
        std::uint8_t requestIdLen = 0;
        // [[rules]]: which matched (of rulesFrom's list), whether the query is keyed for this
        // request, and the length of "rule:NAME" in ruleDetail_ when a rule changed the outcome.
        RuleMask rules = 0;
        std::uint64_t rulesFrom = 0; // the generation of the config they are from
        bool queryInKey = false;
        std::uint8_t ruleDetailLen = 0;
        // The response.
        bool keepAlive = true;
        int status = 0;
        CacheStatus cacheStatus = CacheStatus::None;
        cache::Bypass bypass = cache::Bypass::None;
        // What the lookups learnt (decisions, not positions: a request waits and asks the
        // cluster at most once each).
        bool waitedForFill = false;
        bool askedShared = false;
        // Why it went to the origin (RFC 9211 fwd): "uri-miss", "vary-miss", "stale", "request".
        std::string_view fwdReason = "uri-miss";
        // Access log.
        std::uint64_t startUs = 0;
        std::int64_t upstreamUs = -1;
        int upstreamServer = -1;
    };
    PerRequest req_;
    char clientBuf_[64];
    std::unique_ptr<BodyBuffer> buffered_; // Step::Buffer: the chunked body read whole
    char requestId_[64];
    char ruleDetail_[72];  // "rule:NAME" (Cache-Status detail)
    std::string keyExtra_; // what the rules add to the page key (kept: no allocation per hit)
    http::BodyFraming framing_ = http::BodyFraming::None;
    std::string uri_;      // the absolute URI the page is stored for
    std::string key_;      // scratch for cache keys (kept: no allocation per hit)
    std::string lockKey_;  // the coalescing key of this request
    cache::ItemRef stale_; // an expired copy found by the lookup
    std::uint64_t waiterId_ = 0;
    std::int64_t waitStartedAt_ = 0;
    std::shared_ptr<Exchange *> sharedToken_; // the pending cluster lookup's way back here
    Fetch *fetch_ = nullptr;
    std::string earlyBody_; // request body received before the fetch began (not yet framed)
    std::string heldHead_;  // the client head of a held response
    std::string dynHead_;   // per-response fields of a page answer (Age, X-Cache...), reused
    // A GET's Range and If-Range, kept aside (and taken out of the request) when it is looked
    // up: answered from the stored page, and the upstream is asked for the whole page.
    std::string range_, ifRange_;
    std::string rangeHead_; // the 206 / 416 head, reused
};

} // namespace fc::proxy
