#include "proxy/exchange.h"

#include <algorithm>
#include <cstring>

#include "cache/policy/http.h"
#include "cache/policy/lookup.h"
#include "cache/policy/request.h"
#include "common/log.h"
#include "http/forwarded.h"
#include "proxy/client.h"
#include "proxy/purge.h"
#include "proxy/shared_cache.h"
#include "proxy/worker.h"

namespace fc::proxy {

namespace {
std::uint64_t nowUs() {
    return uv_hrtime() / 1000;
}
} // namespace

http::RequestHead &Exchange::head() {
    return conn_.head();
}

// The one place an exchange changes step: checked against the table, logged at debug level.
void Exchange::setStep(Step next) {
    if (!stepAllowed(step_, next))
        FC_ERROR("exchange step %s -> %s is not in the table (client %s)", stepName(step_).data(),
                 stepName(next).data(), conn_.peer());
    else
        FC_DEBUG("client %s: %s -> %s", conn_.peer(), stepName(step_).data(),
                 stepName(next).data());
    step_ = next;
}

// --- receiving the request (recorded from the parser's callbacks) ------------------------------

bool Exchange::onHead(http::RequestHead &h) {
    setStep(Step::Begin);
    req_ = {}; // nothing carries over from the previous request
    framing_ = http::BodyFraming::None;
    req_.startUs = nowUs();
    stale_.reset();
    earlyBody_.clear();
    keyExtra_.clear();
    buffered_.reset();
    // A trusted proxy's word on the client and its scheme (nginx real_ip_recursive; Django's
    // SECURE_PROXY_SSL_HEADER compares X-Forwarded-Proto with "https" exactly); nobody else's.
    const auto &trusted = worker_.config().server.trustedProxies;
    req_.trustedPeer = !trusted.empty() && inAnyBlock(trusted, conn_.peer());
    // The scheme, read before prepareForwarding replaces X-Forwarded-Proto: the key uses it and
    // the upstream is told it (forwardInfo), one value for both.
    const std::string_view proto = req_.trustedPeer ? http::forwardedProto(h.headers) : "";
    req_.https = proto.empty() ? conn_.proxySsl() : proto == "https";
    // From here on the head is the request as it will be forwarded: what keys a page is what
    // the application is sent (http::prepareForwarding).
    const http::ForwardRules rules{conn_.peer(), req_.trustedPeer,
                                   worker_.config().server.underscoresInHeaders};
    if (http::Refusal refused = http::prepareForwarding(h, rules)) {
        req_.rejectStatus = refused.status;
        req_.rejectReason = refused.reason;
        return false;
    }
    req_.client = conn_.peer();
    if (req_.trustedPeer) { // the list ends with the peer itself, which is trusted
        std::string_view c = http::forwardedClient(
            conn_.peer(), h.headers, [&](std::string_view a) { return inAnyBlock(trusted, a); });
        const std::size_t n = std::min(c.size(), sizeof clientBuf_); // an address literal: < 46
        std::memcpy(clientBuf_, c.data(), n);
        req_.client = {clientBuf_, n};
    }
    req_.tunnel = worker_.config().server.websockets && http::isWebSocketUpgrade(h);
    req_.isHead = h.method == "HEAD";
    req_.keepAlive = h.keepAlive && !worker_.draining();
    req_.hasBody = h.hasBody();
    req_.chunked = h.chunked;
    if (auto expect = h.headers.get("expect")) {
        if (!http::equalsIgnoreCase(http::trimOws(*expect), "100-continue")) {
            req_.rejectStatus = 417;
            req_.rejectReason = "only Expect: 100-continue is supported";
            return false;
        }
        // RFC 9110 §10.1.1: we are ready for the body; say so instead of making the client wait.
        req_.expectContinue = req_.hasBody && h.versionMinor >= 1;
        h.headers.remove("expect"); // answered here: never forwarded, so never keyed either
    }
    return true;
}

void Exchange::onBody(std::string_view piece) {
    if (buffered_) { // Step::Buffer: the whole body first
        if (!req_.bufferFailed && !buffered_->append(piece))
            req_.bufferFailed = true; // answered once the parser has returned (afterParse)
        return;
    }
    if (!fetch_) {
        earlyBody_.append(piece); // the head is acted on once the parser returns
        if (earlyBody_.size() > kHighWater)
            conn_.pauseForBackpressure();
        return;
    }
    if (req_.chunked) {
        std::string framed;
        http::appendChunk(framed, piece);
        fetch_->sendBody(framed);
    } else {
        fetch_->sendBody(piece);
    }
    if (fetch_->pendingUpstream() > kHighWater)
        conn_.pauseForBackpressure();
}

void Exchange::onRequestComplete() {
    req_.complete = true;
    if (!fetch_)
        return; // begin() or finishBuffering() takes it from here
    if (req_.chunked)
        fetch_->sendBody(http::kLastChunk);
    fetch_->bodyDone();
}

void Exchange::afterParse() {
    if (step_ == Step::Begin) {
        begin();
        return;
    }
    if (step_ != Step::Buffer)
        return;
    if (req_.bufferFailed) {
        FC_ERROR("%s", buffered_->error().c_str());
        buffered_.reset();
        deliverError(500, "the request body could not be buffered");
    } else if (req_.complete) {
        finishBuffering();
    }
}

// upstream.buffer_chunked_bodies: WSGI servers read CONTENT_LENGTH only, so a chunked body is
// read whole (memory, then an unlinked file) and sent with Content-Length (nginx's
// proxy_request_buffering).
void Exchange::finishBuffering() {
    http::RequestHead &h = head();
    h.chunked = false;
    h.contentLength = static_cast<std::int64_t>(buffered_->size());
    req_.chunked = false;
    startFetch(false);
}

// --- begin: what to do with a request ----------------------------------------------------------

void Exchange::begin() { // Step::Begin
    http::RequestHead &h = head();
    // A rule's fixed answer first: a body it will not read is not invited (100 Continue).
    if (h.method != "PURGE" && applyRules(h))
        return;
    if (req_.expectContinue) {
        conn_.write("HTTP/1.1 100 Continue\r\n\r\n");
        if (step_ == Step::Closed)
            return; // the write failed: the connection closed under us
    }
    if (h.method == "PURGE") {
        purge(h);
        return;
    }
    if (req_.tunnel) {
        beginTunnel();
        return;
    }
    // What cannot change a page (campaign parameters, analytics cookies) is taken out of a
    // request that may be looked up, before its key is computed or it is sent upstream.
    if ((h.method == "GET" || h.method == "HEAD") && !h.hasBody())
        cache::normalizeCacheableRequest(h, worker_.cache().policy);
    // FetchFromCacheMiddleware: look the page up before troubling the application.
    if (req_.rules == 0) {
        req_.bypass = cache::classify(h, worker_.cache().policy);
    } else {
        const auto &rules = worker_.config().rules;
        const RuleRequest rr = ruleRequest(rules, req_.rules);
        bool changed = false;
        req_.bypass = classifyWithRules(h, worker_.cache().policy, rr, &req_.queryInKey, &changed);
        if (changed && rr.decisive)
            noteRule(*rr.decisive);
        if (rr.keyed)
            ruleKeyExtra(rules, req_.rules, h, keyExtra_);
    }
    if (req_.bypass == cache::Bypass::None) {
        // Ranges are answered from the stored page (RFC 9110 §14): the upstream is asked for the
        // whole page, so a miss stores it and a 206 never marks the page not storable.
        if (auto range = h.headers.get("range"); range && h.method == "GET") {
            req_.wantsRange = true;
            range_.assign(*range);
            auto ifRange = h.headers.get("if-range");
            ifRange_.assign(ifRange ? *ifRange : std::string_view());
            h.headers.remove("range");
            h.headers.remove("if-range");
        }
        lookup();
        return;
    }
    req_.cacheStatus = CacheStatus::Bypass;
    worker_.counters().inc(worker_.counters().bypass[static_cast<int>(req_.bypass)]);
    if (overBudget())
        return; // [limits]: 429
    if (req_.chunked && worker_.config().upstream.bufferChunkedBodies) {
        setStep(Step::Buffer);
        buffered_ = std::make_unique<BodyBuffer>(worker_.config().server.tempDir);
        if (!buffered_->append(earlyBody_))
            req_.bufferFailed = true;
        earlyBody_.clear();
        if (!req_.complete && !req_.bufferFailed)
            conn_.startTimer(ClientConnection::TimerMode::Body,
                             worker_.config().server.bodyTimeout);
        afterParse(); // complete already, or failed
        return;
    }
    startFetch(false);
}

// [[rules]] (proxy/rules.h): which match, their request edits, a fixed answer. True when
// answered here.
bool Exchange::applyRules(http::RequestHead &h) {
    const auto &rules = worker_.config().rules;
    req_.rules = matchRules(rules, h);
    if (req_.rules == 0)
        return false;
    req_.rulesFrom = worker_.config().generation;
    const RuleRequest rr = ruleRequest(rules, req_.rules);
    if (rr.respond) {
        noteRule(*rr.respond);
        req_.cacheStatus = CacheStatus::Bypass;
        req_.bypass = cache::Bypass::Rule;
        if (!req_.complete && req_.hasBody)
            req_.keepAlive = false; // the body is not read
        std::string out = ruleResponse(*rr.respond, !req_.keepAlive);
        std::string fields;
        const CacheContext &cc = worker_.cache();
        appendCacheStatusFields(fields, CacheStatus::Bypass, ruleDetail(), cc.statusHeader,
                                cc.cacheStatus);
        out.insert(out.find("\r\n") + 2, fields);
        writeCanned(rr.respond->respondStatus, std::move(out));
        return true;
    }
    if (rr.editsRequest)
        applyRequestEdits(rules, req_.rules, h);
    return false;
}

void Exchange::noteRule(const config::Rule &r) {
    const int n = std::snprintf(ruleDetail_, sizeof ruleDetail_, "rule:%s", r.name.c_str());
    req_.ruleDetailLen = static_cast<std::uint8_t>(std::clamp(n, 0, int(sizeof ruleDetail_) - 1));
}

// The rules for a fetch, held with their config (a reload while the request waited: matched
// again against the rules now in force).
RuleSet Exchange::ruleSet() {
    if (req_.rules == 0)
        return {};
    RuleSet s{worker_.configPtr(), req_.rules};
    if (s.config->generation != req_.rulesFrom)
        s.mask = matchRules(s.config->rules, head());
    return s;
}

// A WebSocket handshake: never looked up, stored or coalesced; straight to the upstream, with a
// tunnel slot of the worker's (server.max_tunnels) or a 503.
void Exchange::beginTunnel() {
    auto &counters = worker_.counters();
    req_.bypass = cache::Bypass::Upgrade;
    req_.cacheStatus = CacheStatus::Bypass;
    counters.inc(counters.bypass[static_cast<int>(req_.bypass)]);
    if (overBudget())
        return;
    if (worker_.draining()) {
        deliverError(503, "shutting down: no new WebSocket tunnel");
        return;
    }
    if (!worker_.takeTunnelSlot(worker_.config().server.maxTunnels)) {
        counters.inc(counters.tunnelsRefused);
        deliverError(503, "too many WebSocket tunnels open (server.max_tunnels)");
        return;
    }
    req_.tunnelSlot = true;
    startFetch(false);
}

void Exchange::giveTunnelSlot() {
    if (std::exchange(req_.tunnelSlot, false))
        worker_.giveTunnelSlot();
}

// The upstream answered the handshake with 101: its head goes to the client, and from here the
// connection is a tunnel (ClientConnection::startTunnel) until either end closes.
void Exchange::openTunnel(http::ResponseHead &resp) {
    // RFC 6455 §4.2.2: the 101 must prove the server read this handshake. An origin that can be
    // made to answer 101 to anything would otherwise give the client a raw channel past every
    // rule here.
    if (!http::webSocketAcceptMatches(head().headers, resp.headers)) {
        releaseFetch(); // and its connection: it is no longer HTTP
        deliverError(502, "upstream 101 without the Sec-WebSocket-Accept of this handshake");
        return;
    }
    framing_ = http::BodyFraming::None;
    req_.status = 101;
    req_.keepAlive = false; // what follows the tunnel is not HTTP
    http::writeClientResponse(resp, http::BodyFraming::None, false, false, "1.1 frontcache", {},
                              conn_.out());
    conn_.flush();
    if (step_ == Step::Closed)
        return; // the write failed: the connection closed under us
    setStep(Step::Tunnel);
    conn_.startTunnel();
}

void Exchange::onTunnelClientEof() {
    if (fetch_)
        fetch_->shutdownUpstream();
}

void Exchange::onTunnelData(std::string_view data) {
    if (!fetch_ || data.empty())
        return;
    worker_.counters().inc(worker_.counters().tunnelBytesUp, data.size());
    fetch_->sendBody(data);
    if (fetch_ && fetch_->pendingUpstream() > kHighWater)
        conn_.pauseForBackpressure(); // resumed by onFetchWritable
}

// --- the fetch ----------------------------------------------------------------------------------

void Exchange::startFetch(bool ownsLock) {
    const bool storesPage = req_.bypass == cache::Bypass::None;
    if (storesPage) {
        req_.cacheStatus = CacheStatus::Miss;
        worker_.counters().inc(worker_.counters().misses);
    }
    Fetch::Request r;
    r.head = &head();
    r.fwd = forwardInfo();
    r.storesPage = storesPage;
    r.stale = std::move(stale_);
    r.holdUntilStored = req_.wantsRange && storesPage; // the range is cut from the stored page
    r.upgrade = req_.tunnel;
    r.rules = ruleSet();
    r.keyExtra = keyExtra_;
    if (req_.chunked) { // what arrived with the head, framed for upstream
        http::appendChunk(r.body, earlyBody_);
        if (req_.complete)
            r.body.append(http::kLastChunk);
    } else {
        r.body = std::move(earlyBody_);
    }
    earlyBody_.clear();
    r.buffered = std::move(buffered_);
    fetch_ = Fetch::create(worker_, *this, std::move(r));
    if (storesPage)
        fetch_->fill().uri() = uri_;
    if (ownsLock)
        fetch_->fill().adoptLock(lockKey_);
    if (req_.complete)
        fetch_->bodyDone();
    else if (req_.hasBody)
        conn_.startTimer(ClientConnection::TimerMode::Body, worker_.config().server.bodyTimeout);
    setStep(Step::Queued);
    fetch_->go(); // may answer at once (a full queue, no server): fetch_ may be gone after
}

void Exchange::releaseFetch() {
    if (!fetch_)
        return;
    req_.upstreamUs = fetch_->upstreamMicros();
    req_.upstreamServer = fetch_->server();
    std::exchange(fetch_, nullptr)->unsubscribe();
}

void Exchange::onFetchSent(bool revalidating) {
    setStep(revalidating ? Step::Revalidate : Step::Fetch);
    if (conn_.pausedForBackpressure() && fetch_ && fetch_->pendingUpstream() < kHighWater)
        conn_.resumeAfterBackpressure();
}

void Exchange::onFetchWritable() {
    conn_.resumeAfterBackpressure();
}

void Exchange::onFetchHead(http::ResponseHead &resp, cache::NotStored notStored, bool held) {
    if (resp.status == 101) { // only ever to a handshake (http::ResponseParser::start)
        openTunnel(resp);
        return;
    }
    const CacheContext &cc = worker_.cache();
    http::RequestHead &req = head();
    framing_ = http::chooseResponseFraming(resp, req_.isHead, req);
    if (framing_ == http::BodyFraming::Close)
        req_.keepAlive = false;
    if (!req_.complete && req_.hasBody)
        req_.keepAlive = false; // answered before the body ended: the rest cannot be skipped safely
    req_.status = resp.status;
    // RFC 9111 §4.4 (http mode): a non-error answer to an unsafe method invalidates the target
    // URI and the same-origin Location / Content-Location (every variant, both schemes, and every
    // peer with admin.peers, through the one purge function).
    std::string host;
    const std::vector<std::string> paths = cache::invalidatedPaths(
        *cc.store, cc.policy, req, resp.status, resp.headers, req_.https, host);
    if (!paths.empty())
        proxy::purge(worker_.loop(), cc, paths, host, false, worker_.counters());
    // RFC 9875 §3 (both modes): Cache-Group-Invalidation on such an answer purges its groups.
    proxy::invalidateGroups(worker_.loop(), cc, req, resp.status, resp.headers, worker_.counters());
    cache::removeTargetedField(cc.policy, resp.headers);
    std::string extra;
    if (fetch_ && fetch_->fill().changedBy())
        noteRule(*fetch_->fill().changedBy()); // a rule's lifetime decided the store
    std::string_view detail =
        req_.ruleDetailLen > 0                    ? ruleDetail()
        : req_.cacheStatus == CacheStatus::Bypass ? cache::bypassName(req_.bypass)
        : notStored == cache::NotStored::None     ? std::string_view()
                                                  : cache::notStoredName(notStored);
    CacheStatusParams params;
    if (req_.cacheStatus == CacheStatus::Miss) {
        params.fwd = req_.fwdReason;
        params.stored = notStored == cache::NotStored::None;
        params.collapsed = req_.waitedForFill;
        if (cc.cacheStatusKey)
            params.key = lockKey_;
    }
    params.fwdStatus = resp.status;
    appendCacheStatusFields(extra, req_.cacheStatus, detail, cc.statusHeader, cc.cacheStatus,
                            params);
    std::string &dest = held ? heldHead_ : conn_.out(); // flushed with the first body bytes
    if (held)
        heldHead_.clear();
    http::writeClientResponse(resp, framing_, req_.keepAlive, req.versionMinor == 0,
                              "1.1 frontcache", extra, dest);
    setStep(held ? Step::Hold : Step::Stream);
}

// RFC 8297: the upstream's 103 is passed on as an interim response, with its end-to-end fields
// (Link), to an HTTP/1.1 client only (RFC 9110 §15.2), and only before our own final head.
void Exchange::onFetchEarlyHints(const http::ResponseHead &hints) {
    if ((step_ != Step::Fetch && step_ != Step::Revalidate) || head().versionMinor == 0)
        return;
    std::string &out = conn_.out();
    http::writeResponseHead(hints, true, {}, out);
    out.append("\r\n");
    conn_.flush();
}

void Exchange::onFetchBody(std::string_view piece) {
    if (step_ == Step::Tunnel) {
        worker_.counters().inc(worker_.counters().tunnelBytesDown, piece.size());
        conn_.tunnelActivity();
        conn_.out().append(piece);
        return;
    }
    // Batched in the connection's output and flushed once per upstream read (onFetchReadDone).
    if (framing_ == http::BodyFraming::Chunked)
        http::appendChunk(conn_.out(), piece);
    else
        conn_.out().append(piece);
}

void Exchange::onFetchReadDone() {
    conn_.flush();
    if (fetch_ && conn_.writeQueueSize() > kHighWater)
        fetch_->pauseReading();
}

void Exchange::onClientDrained() {
    if (fetch_ && fetch_->readingPaused())
        fetch_->resumeReading();
}

void Exchange::onFetchUnheld(std::string_view heldBody) {
    conn_.out().append(heldHead_);
    onFetchBody(heldBody);
    setStep(Step::Stream);
}

void Exchange::onFetchComplete() {
    releaseFetch();
    if (framing_ == http::BodyFraming::Chunked)
        conn_.out().append(http::kLastChunk);
    conn_.flush();
    responseFinished();
}

void Exchange::onFetchAnswer(cache::ItemRef page, CacheStatus status) {
    releaseFetch();
    deliverPage(std::move(page), status);
}

void Exchange::onFetchError(int status, const char *reason, bool started, UpstreamFailure kind) {
    releaseFetch();
    const http::RequestHead &req = head();
    if (started) {
        // Too late for an error status: cut the connection so the client sees the truncation.
        FC_WARN("upstream failed mid-response for %s %s: %s", req.method.c_str(),
                req.target.c_str(), reason);
        conn_.closeNow();
        return;
    }
    FC_WARN("%d for %s %s from %s: %s", status, req.method.c_str(), req.target.c_str(),
            conn_.peer(), reason);
    worker_.counters().upstreamError(status);
    if (kind == UpstreamFailure::Unreachable && worker_.config().upstream.unavailableBody) {
        deliverUnavailable(); // upstream.unavailable_page instead of a bare 502
        return;
    }
    deliverError(status, reason);
}

void Exchange::responseFinished() {
    if (step_ == Step::Closed) { // the last write failed and closed the connection
        logExchange();
        return;
    }
    setStep(Step::Done);
    logExchange();
    if (req_.cacheStatus == CacheStatus::Miss)
        worker_.urlSampler().record(uri_, false);
    else if (req_.cacheStatus != CacheStatus::None && req_.cacheStatus != CacheStatus::Bypass &&
             req_.cacheStatus != CacheStatus::Purge && req_.cacheStatus != CacheStatus::Limited)
        worker_.urlSampler().record(uri_, true); // answered from the store
    if (req_.complete) {
        finish();
        return;
    }
    // The response ended before the request body: the rest cannot be skipped safely.
    teardown();
    conn_.closeGracefully();
}

void Exchange::finish() {
    releaseFetch();
    giveTunnelSlot();
    stale_.reset();
    buffered_.reset();
    // An idle keep-alive connection keeps no large buffers: 10,000 of them must stay cheap.
    for (std::string *b : {&earlyBody_, &heldHead_})
        if (b->capacity() > 4096)
            std::string().swap(*b);
    setStep(Step::Idle);
    conn_.exchangeDone(req_.keepAlive);
}

void Exchange::teardown() {
    if (step_ == Step::Closed)
        return;
    stopWaiting();
    if (sharedToken_) {
        *sharedToken_ = nullptr;
        sharedToken_.reset();
    }
    releaseFetch();
    giveTunnelSlot();
    if (step_ == Step::Tunnel)
        logExchange(); // closed by the client, the idle timeout or the drain: logged once
    stale_.reset();
    buffered_.reset();
    setStep(Step::Closed);
}

} // namespace fc::proxy
