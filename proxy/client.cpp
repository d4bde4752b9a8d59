#include "proxy/client.h"

#include <arpa/inet.h>

#include <cassert>
#include <charconv>
#include <cstring>

#include "cache/purge.h"
#include "http/cache_control.h"
#include "http/date.h"
#include "proxy/log.h"
#include "proxy/refresh.h"
#include "proxy/shared_cache.h"
#include "proxy/stream_write.h"
#include "proxy/worker.h"

namespace fc::proxy {

namespace {
constexpr size_t kHighWater = 256 * 1024;
constexpr size_t kLowWater = 64 * 1024;
constexpr config::Millis kLingerTime{2000};

http::RequestParser::Limits limitsFrom(const config::Config &c) {
    http::RequestParser::Limits l;
    l.maxHeadSize = c.server.maxHeaderSize;
    l.maxTargetSize = c.server.maxUriSize;
    l.maxBody = c.server.maxBody;
    return l;
}

bool isIdempotent(std::string_view m) {
    return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" ||
           m == "DELETE";
}
} // namespace

ClientConnection::ClientConnection(Worker &worker)
    : worker_(worker), parser_(*this, limitsFrom(worker.config())), fill_(worker) {}

const config::Config &ClientConnection::cfg() const {
    return worker_.config();
}

bool ClientConnection::accept(uv_stream_t *server) {
    int rc = uv_tcp_init(worker_.loop(), &handle_);
    assert(rc == 0);
    rc = uv_timer_init(worker_.loop(), &timer_);
    assert(rc == 0);
    (void)rc;
    handle_.data = this;
    timer_.data = this;
    openHandles_ = 2;
    worker_.track(this);
    if (uv_accept(server, reinterpret_cast<uv_stream_t *>(&handle_)) != 0) {
        closeNow();
        return false;
    }
    uv_tcp_nodelay(&handle_, 1);
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getpeername(&handle_, reinterpret_cast<sockaddr *>(&ss), &len) == 0) {
        if (ss.ss_family == AF_INET)
            uv_ip4_name(reinterpret_cast<sockaddr_in *>(&ss), peer_, sizeof peer_);
        else if (ss.ss_family == AF_INET6)
            uv_ip6_name(reinterpret_cast<sockaddr_in6 *>(&ss), peer_, sizeof peer_);
    }
    startTimer(TimerMode::Header, cfg().server.headerTimeout);
    resumeReading();
    return true;
}

// --- reading ----------------------------------------------------------------------------------

void ClientConnection::onAlloc(uv_handle_t *h, size_t, uv_buf_t *buf) noexcept {
    auto *c = static_cast<ClientConnection *>(h->data);
    *buf = uv_buf_init(c->worker_.readBuffer(), static_cast<unsigned>(c->worker_.readBufferSize()));
}

void ClientConnection::onRead(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) noexcept {
    static_cast<ClientConnection *>(s->data)->handleRead(n, buf);
}

void ClientConnection::pauseReading() {
    if (reading_ && !closing_) {
        uv_read_stop(reinterpret_cast<uv_stream_t *>(&handle_));
        reading_ = false;
    }
}

void ClientConnection::resumeReading() {
    if (!reading_ && !closing_ && !clientEof_) {
        uv_read_start(reinterpret_cast<uv_stream_t *>(&handle_), &ClientConnection::onAlloc,
                      &ClientConnection::onRead);
        reading_ = true;
    }
}

void ClientConnection::handleRead(ssize_t n, const uv_buf_t *buf) {
    if (n == 0 || closing_)
        return;
    if (n < 0) {
        if (lingering_) {
            closeNow();
            return;
        }
        if (n == UV_EOF && inExchange_ && requestComplete_) {
            // Half-close after a complete request: answer it, then close (RFC 9112 §9.6).
            clientEof_ = true;
            keepAlive_ = false;
            pauseReading();
            return;
        }
        if (inExchange_ && parser_.inHead() == false && !responseStarted_)
            FC_DEBUG("client %s went away before the response", peer_);
        closeNow();
        return;
    }
    if (lingering_)
        return;                        // discard what arrives after our last response
    if (timerMode_ == TimerMode::Idle) // first byte of the next request: the head clock starts
        startTimer(TimerMode::Header, cfg().server.headerTimeout);
    else if (timerMode_ == TimerMode::Body)
        startTimer(TimerMode::Body, cfg().server.bodyTimeout);
    if (!pending_.empty() || (inExchange_ && requestComplete_)) {
        pending_.append(buf->base, static_cast<size_t>(n));
        if (pending_.size() > cfg().server.maxHeaderSize + worker_.readBufferSize())
            pauseReading(); // bounded: a client may not pipeline without limit
        if (!(inExchange_ && requestComplete_))
            processPending();
        return;
    }
    consume(buf->base, static_cast<size_t>(n));
}

void ClientConnection::processPending() {
    if (closing_ || pending_.empty())
        return;
    // The previous exchange is over. If it ended inside the parser's own callback (a cache hit
    // answered before onRequestComplete returned), the parser paused only after finishExchange's
    // resume(): resume here, where it is certainly paused.
    if (!inExchange_)
        parser_.resume();
    // consume() may append leftovers to pending_, so feed from a swapped-out buffer.
    std::string data;
    data.swap(pending_);
    consume(data.data(), data.size());
    if (pending_.empty()) { // keep the capacity for the next time
        data.clear();
        pending_.swap(data);
    }
    if (!closing_ && timerMode_ == TimerMode::Idle && parser_.inMessage())
        startTimer(TimerMode::Header, cfg().server.headerTimeout);
}

void ClientConnection::consume(const char *data, size_t len) {
    while (len > 0 && !closing_) {
        auto r = parser_.feed(data, len);
        switch (r.status) {
        case http::ParseStatus::NeedMore:
            return;
        case http::ParseStatus::Paused:
            // A request completed; what follows waits until its response is done. If it is done
            // already (a cache hit answered inside the parser's callback), go on next turn.
            pending_.append(data + r.consumed, len - r.consumed);
            if (!inExchange_ && !closing_ && !lingering_ && !pending_.empty())
                startTimer(TimerMode::Deferred, config::Millis(0));
            return;
        case http::ParseStatus::Error:
            if (parser_.errorStatus() != 0)
                rejectRequest(parser_.errorStatus(), parser_.errorReason());
            return;
        }
    }
}

// --- request side (RequestParser::Sink) -------------------------------------------------------

bool ClientConnection::onRequestHead(http::RequestHead &head) {
    uv_timer_stop(&timer_);
    timerMode_ = TimerMode::None;
    inExchange_ = true;
    requestComplete_ = responseStarted_ = responseComplete_ = retried_ = false;
    startUs_ = uv_hrtime() / 1000;
    upstreamUs_ = -1;
    upstreamServer_ = -1;
    status_ = 0;
    bytesOut_ = 0;
    isHead_ = head.method == "HEAD";
    keepAlive_ = head.keepAlive && !worker_.draining();
    requestHasBody_ = head.hasBody();
    requestChunked_ = head.chunked;
    if (auto expect = head.headers.get("expect")) {
        if (!http::equalsIgnoreCase(http::trimOws(*expect), "100-continue")) {
            rejectRequest(417, "only Expect: 100-continue is supported");
            return false;
        }
        // RFC 9110 §10.1.1: we are ready for the body; say so instead of making the client wait.
        if (requestHasBody_ && head.versionMinor >= 1)
            write("HTTP/1.1 100 Continue\r\n\r\n");
    }
    // FetchFromCacheMiddleware: look the page up before troubling the application.
    auto &counters = worker_.counters();
    lookedUp_ = storing_ = false;
    woken_ = revalidating_ = discardBody_ = bufferForStale_ = sharedTried_ = false;
    stale_.reset();
    answer_.reset();
    fill_.reset();
    if (head.method == "PURGE") {
        answerPurge(head);
        return !closing_;
    }
    bypass_ = cache::classify(head, worker_.cache().policy);
    if (bypass_ == cache::Bypass::None) {
        if (lookup(head) != Lookup::Miss)
            return !closing_; // answered, or waiting for another request's fetch
    } else {
        cacheStatusName_ = "BYPASS";
        counters.inc(counters.bypass[static_cast<int>(bypass_)]);
    }
    startFetch(head);
    return !closing_;
}

void ClientConnection::startFetch(http::RequestHead &head) {
    if (bypass_ == cache::Bypass::None) {
        lookedUp_ = true;
        cacheStatusName_ = "MISS";
        worker_.counters().inc(worker_.counters().misses);
    }
    upstreamStartUs_ = uv_hrtime() / 1000;
    upstreamHead_.clear();
    http::writeUpstreamRequest(head, http::ForwardInfo{peer_}, upstreamHead_);
    // An expired copy with validators is revalidated (RFC 9111 §4.3.1) unless the client sent
    // validators of its own (those are for its copy; the answer is then passed through).
    cache::PageView v;
    if (stale_ && head.method == "GET" && !head.headers.has("if-none-match") &&
        !head.headers.has("if-modified-since") && cache::decodePage(stale_->value(), v) &&
        (!v.etag.empty() || v.lastModified != 0)) {
        appendValidators(v, upstreamHead_);
        revalidating_ = true;
    }
    earlyBody_.clear();
    if (requestHasBody_)
        startTimer(TimerMode::Body, cfg().server.bodyTimeout);
    waitingForUpstream_ = true;
    worker_.pool().acquire(*this);
}

void ClientConnection::onRequestBody(std::string_view piece) {
    std::string framed;
    if (requestChunked_) {
        framed.reserve(piece.size() + 16);
        http::appendChunkHeader(framed, piece.size());
        framed.append(piece);
        framed.append("\r\n");
    } else {
        framed.assign(piece);
    }
    if (upstream_ && !waitingForUpstream_) {
        upstream_->send(std::move(framed));
        if (upstream_ && upstream_->writeQueueSize() > kHighWater) {
            readPausedForBackpressure_ = true;
            pauseReading();
        }
    } else {
        earlyBody_.append(framed);
        if (earlyBody_.size() > kHighWater) {
            readPausedForBackpressure_ = true;
            pauseReading();
        }
    }
}

void ClientConnection::onRequestComplete() {
    requestComplete_ = true;
    if (timerMode_ == TimerMode::Body) {
        uv_timer_stop(&timer_);
        timerMode_ = TimerMode::None;
    }
    if (requestChunked_) {
        if (upstream_ && !waitingForUpstream_)
            upstream_->send(std::string_view("0\r\n\r\n"));
        else
            earlyBody_.append("0\r\n\r\n");
    }
    if (responseComplete_)
        finishExchange();
}

// --- upstream side (UpstreamUser) -------------------------------------------------------------

void ClientConnection::onUpstreamReady(UpstreamConnection &conn) {
    waitingForUpstream_ = false;
    upstream_ = &conn;
    upstreamServer_ = conn.server();
    conn.beginExchange(*this, isHead_);
    conn.send(std::string_view(upstreamHead_));
    if (!earlyBody_.empty()) {
        conn.send(std::move(earlyBody_));
        earlyBody_.clear();
    }
    if (readPausedForBackpressure_ && conn.writeQueueSize() < kHighWater) {
        readPausedForBackpressure_ = false;
        resumeReading();
    }
}

bool ClientConnection::onUpstreamHead(http::ResponseHead &resp) {
    if (closing_ && !lookedUp_)
        return false;
    upstreamUs_ = static_cast<std::int64_t>(uv_hrtime() / 1000 - upstreamStartUs_);
    worker_.counters().observeUpstream(static_cast<std::uint64_t>(upstreamUs_));
    http::RequestHead &req = parser_.head();
    if (lookedUp_) {
        cache::PageView v;
        if (revalidating_ && resp.status == 304 && cache::decodePage(stale_->value(), v)) {
            // Our validators matched: the stored copy is still good. Renew it (new Date,
            // lifetime and fields from the 304) and answer from it once this exchange is over.
            answer_ = fill_.renew(req, v, resp.headers);
            if (!answer_)
                answer_ = stale_.share(); // no longer storable, but validated just now
            answerDetail_ = "revalidated";
            discardBody_ = true;
            return !closing_;
        }
        if (resp.status >= 500 && stale_ && cache::decodePage(stale_->value(), v) &&
            v.usableOnError(worker_.cache().clock->now())) {
            // stale-if-error (RFC 5861 §4): the stale copy instead of the upstream's 5xx.
            fill_.releaseLock(0);
            answer_ = stale_.share();
            answerDetail_ = "stale-if-error";
            discardBody_ = true;
            return !closing_;
        }
        // UpdateCacheMiddleware: decide, and patch the headers both ways.
        storing_ = fill_.plan(req, resp, isHead_);
    }
    if (closing_)
        return storing_; // the client left: keep fetching only to store the page
    framing_ = http::chooseResponseFraming(resp, isHead_, req);
    if (framing_ == http::BodyFraming::Close)
        keepAlive_ = false;
    if (!requestComplete_ && requestHasBody_)
        keepAlive_ = false; // answered before the body ended: the rest cannot be skipped safely
    status_ = resp.status;
    std::string extra;
    appendStatusHeaders(extra, lookedUp_ ? "MISS" : "BYPASS",
                        lookedUp_ ? (fill_.notStored() == cache::NotStored::None
                                         ? std::string_view()
                                         : cache::notStoredName(fill_.notStored()))
                                  : cache::bypassName(bypass_));
    if (storing_ && stale_ && !isHead_) {
        // A stale copy can still stand in if this fetch fails mid-body (stale-if-error), so
        // nothing is sent until the whole page has arrived and been stored.
        bufferForStale_ = true;
        heldHead_.clear();
        http::writeClientResponse(resp, framing_, keepAlive_, req.versionMinor == 0,
                                  "1.1 frontcache", extra, heldHead_);
        return true;
    }
    http::writeClientResponse(resp, framing_, keepAlive_, req.versionMinor == 0, "1.1 frontcache",
                              extra, out_); // flushed with the first body bytes
    responseStarted_ = true;
    return true;
}

// The page outgrew cache.max_object_size while held back for a possible stale-if-error: send what
// was held and stream the rest as usual.
void ClientConnection::stopBuffering() {
    bufferForStale_ = false;
    responseStarted_ = true;
    out_.append(heldHead_);
    std::string_view held = fill_.body();
    if (!held.empty()) {
        if (framing_ == http::BodyFraming::Chunked) {
            http::appendChunkHeader(out_, held.size());
            out_.append(held);
            out_.append("\r\n");
        } else {
            out_.append(held);
        }
    }
}

void ClientConnection::onUpstreamBody(std::string_view piece) {
    if (bufferForStale_) {
        if (fill_.body().size() + piece.size() <= worker_.cache().policy.maxObjectSize) {
            fill_.append(piece);
            return;
        }
        stopBuffering();
    }
    if (storing_ && !fill_.append(piece)) {
        storing_ = false;            // too big: streamed on, never stored
        if (closing_ && upstream_) { // nobody to stream it to either: stop fetching
            upstream_->abort();
            upstream_ = nullptr;
            maybeDelete();
            return;
        }
    }
    if (closing_ || discardBody_)
        return;
    // Batched in out_ and flushed once per upstream read (onUpstreamReadDone).
    if (framing_ == http::BodyFraming::Chunked) {
        http::appendChunkHeader(out_, piece.size());
        out_.append(piece);
        out_.append("\r\n");
    } else {
        out_.append(piece);
    }
}

void ClientConnection::onUpstreamComplete(bool reusable) {
    cache::ItemRef stored;
    if (storing_) {
        storing_ = false;
        stored = fill_.commit(parser_.head()); // the whole body arrived intact
    }
    if (bufferForStale_) {
        if (stored) { // answer from the page just stored
            bufferForStale_ = false;
            answerDetail_ = "";
            answer_ = std::move(stored);
        } else {
            stopBuffering(); // the store refused it: send what the upstream sent
        }
    }
    fill_.releaseLock(0); // whatever happened, waiters may look again now
    UpstreamConnection *u = upstream_;
    upstream_ = nullptr;
    upstreamPaused_ = false;
    if (closing_) { // a fetch that outlived its client (it was cacheable)
        if (u)
            u->release(reusable && requestComplete_);
        maybeDelete();
        return;
    }
    if (answer_) { // a renewed or stale-if-error page replaces what the upstream sent
        if (u)
            u->release(reusable && requestComplete_);
        cache::PageView v;
        cache::ItemRef page = std::move(answer_);
        if (cache::decodePage(page->value(), v)) {
            const std::string_view detail = answerDetail_;
            const char *xcache = detail == "revalidated" ? "REVALIDATED"
                                 : detail.empty()        ? "MISS"
                                                         : "STALE";
            if (xcache[0] == 'S')
                worker_.counters().inc(worker_.counters().staleOnError);
            else if (xcache[0] == 'R')
                worker_.counters().inc(worker_.counters().revalidatedServed);
            serveHit(std::move(page), v, parser_.head(), xcache, detail);
        }
        return;
    }
    if (framing_ == http::BodyFraming::Chunked)
        out_.append("0\r\n\r\n");
    flush();
    if (u)
        u->release(reusable && requestComplete_);
    responseFinished();
}

void ClientConnection::onUpstreamError(int status, const char *reason, bool retryable) {
    upstream_ = nullptr;
    upstreamPaused_ = false;
    if (storing_) { // cut short: a truncated page is never stored
        storing_ = false;
        fill_.abandon(cache::NotStored::Truncated);
    }
    if (closing_) {
        fill_.releaseLock(0);
        maybeDelete();
        return;
    }
    http::RequestHead &req = parser_.head();
    if (retryable && !retried_ && !requestHasBody_ && !responseStarted_ &&
        isIdempotent(req.method)) {
        // RFC 9112 §9.3.1: a reused keep-alive connection may have been closed by the upstream
        // just as we sent; an idempotent request is retried once on a fresh connection — to
        // another server when there are several (RFC 9110 §9.2.2).
        retried_ = true;
        waitingForUpstream_ = true;
        FC_DEBUG("retrying %s %s on a fresh upstream connection (%s)", req.method.c_str(),
                 req.target.c_str(), reason);
        worker_.pool().acquire(*this, true,
                               std::uint64_t{1} << static_cast<unsigned>(upstreamServer_));
        return;
    }
    waitingForUpstream_ = false;
    fill_.releaseLock(0);
    if (answer_ && !responseStarted_) { // the error came after a 304 or during a discarded 5xx
        discardBody_ = false;
        onUpstreamComplete(false);
        return;
    }
    if (lookedUp_ && !responseStarted_ && serveStaleOnError(reason))
        return;
    if (responseStarted_) {
        // Too late for an error status: cut the connection so the client sees the truncation.
        FC_WARN("upstream failed mid-response for %s %s: %s", req.method.c_str(),
                req.target.c_str(), reason);
        closeNow();
        return;
    }
    FC_WARN("%d for %s %s from %s: %s", status, req.method.c_str(), req.target.c_str(), peer_,
            reason);
    worker_.counters().upstreamError(status);
    if (!requestComplete_ && requestHasBody_)
        keepAlive_ = false;
    responseStarted_ = true;
    status_ = status;
    write(http::errorResponse(status, !keepAlive_, reason));
    responseFinished();
}

void ClientConnection::onUpstreamWritable() {
    if (readPausedForBackpressure_) {
        readPausedForBackpressure_ = false;
        resumeReading();
    }
}

// --- finishing --------------------------------------------------------------------------------

void ClientConnection::rejectRequest(int status, const char *reason) {
    FC_INFO("%d for client %s: %s", status, peer_, reason ? reason : "");
    if (upstream_) {
        upstream_->abort();
        upstream_ = nullptr;
    }
    if (waitingForUpstream_) {
        worker_.pool().cancel(*this);
        waitingForUpstream_ = false;
    }
    stopWaiting();
    storing_ = false;
    fill_.abandon(cache::NotStored::Truncated);
    if (responseStarted_) {
        closeNow();
        return;
    }
    responseStarted_ = true;
    keepAlive_ = false;
    write(http::errorResponse(status, true, reason ? reason : ""));
    closeGracefully();
}

void ClientConnection::logExchange() {
    AccessLog &log = worker_.accessLog();
    if (!log.enabled())
        return;
    const http::RequestHead &req = parser_.head();
    std::string_view server = "-";
    if (upstreamServer_ >= 0)
        server =
            worker_.cache().balancer->target(static_cast<std::size_t>(upstreamServer_)).display;
    log.add(peer_, req.method, req.target, req.versionMinor, status_, bytesOut_, cacheStatusName_,
            upstreamUs_, server, static_cast<std::int64_t>(uv_hrtime() / 1000 - startUs_));
}

void ClientConnection::responseFinished() {
    responseComplete_ = true;
    logExchange();
    if (requestComplete_)
        finishExchange();
    else if (requestHasBody_ || !keepAlive_)
        closeGracefully();
    // else: a bodyless request completes within the same parse; onRequestComplete finishes.
}

void ClientConnection::finishExchange() {
    inExchange_ = false;
    fill_.releaseLock(0); // never held past its exchange
    fill_.reset();
    stale_.reset();
    answer_.reset();
    // An idle keep-alive connection keeps no large buffers: 10,000 of them must stay cheap.
    for (std::string *b : {&out_, &earlyBody_, &upstreamHead_})
        if (b->capacity() > 4096)
            std::string().swap(*b);
    if (!keepAlive_ || worker_.draining()) {
        closeGracefully();
        return;
    }
    if (upstreamPaused_)
        upstreamPaused_ = false;
    parser_.resume();
    if (!pending_.empty()) {
        // Deferred to the next loop turn: we may be inside the upstream's parser right now.
        startTimer(TimerMode::Deferred, config::Millis(0));
    } else {
        startTimer(TimerMode::Idle, cfg().server.idleTimeout);
    }
    resumeReading();
}

void ClientConnection::drain() {
    if (!inExchange_ && pending_.empty() && !closing_ && !lingering_)
        closeNow();
    else
        keepAlive_ = false;
}

void ClientConnection::closeGracefully() {
    if (closing_ || lingering_)
        return;
    lingering_ = true;
    keepAlive_ = false;
    // uv_shutdown waits for queued writes, then sends FIN. We keep reading (and discarding) for
    // a short while so unread input does not turn our close into a RST that could destroy the
    // response in flight (lingering close).
    shutdownReq_.data = this;
    if (uv_shutdown(&shutdownReq_, reinterpret_cast<uv_stream_t *>(&handle_),
                    &ClientConnection::onShutdown) != 0) {
        closeNow();
        return;
    }
    if (!clientEof_)
        resumeReading();
}

void ClientConnection::onShutdown(uv_shutdown_t *req, int status) noexcept {
    auto *c = static_cast<ClientConnection *>(req->data);
    if (c->closing_)
        return;
    if (status < 0 || c->clientEof_) {
        c->closeNow();
        return;
    }
    c->startTimer(TimerMode::Linger, kLingerTime);
}

void ClientConnection::closeNow() {
    if (closing_)
        return;
    closing_ = true;
    // A client that goes away does not stop a cacheable fetch: other clients want the page.
    // It is finished (and stored) without a client, unless the worker is shutting down.
    const bool keepFetching = upstream_ && lookedUp_ && !worker_.draining() &&
                              (storing_ || !responseStarted_) && !discardBody_;
    if (upstream_ && !keepFetching) {
        upstream_->abort();
        upstream_ = nullptr;
    }
    if (waitingForUpstream_) {
        worker_.pool().cancel(*this);
        waitingForUpstream_ = false;
    }
    stopWaiting();
    if (!upstream_) {
        storing_ = false;
        fill_.abandon(cache::NotStored::Truncated); // and wake whoever waited for this fetch
    }
    uv_timer_stop(&timer_);
    worker_.untrack(this);
    uv_close(reinterpret_cast<uv_handle_t *>(&handle_), &ClientConnection::onClose);
    uv_close(reinterpret_cast<uv_handle_t *>(&timer_), &ClientConnection::onClose);
}

void ClientConnection::onClose(uv_handle_t *h) noexcept {
    auto *c = static_cast<ClientConnection *>(h->data);
    if (--c->openHandles_ == 0) {
        c->handlesClosed_ = true;
        c->maybeDelete();
    }
}

void ClientConnection::maybeDelete() {
    if (handlesClosed_ && !upstream_ && !sharedPending_)
        delete this;
}

// --- writing ----------------------------------------------------------------------------------

size_t ClientConnection::writeQueueSize() const {
    return uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t *>(&handle_));
}

void ClientConnection::write(std::string_view data) {
    out_.append(data);
    flush();
}

void ClientConnection::flush() {
    if (closing_) {
        out_.clear();
        return;
    }
    if (out_.empty())
        return;
    bytesOut_ += out_.size();
    int rc = streamWrite(reinterpret_cast<uv_stream_t *>(&handle_), out_, this,
                         &ClientConnection::onWrite);
    out_.clear();
    if (rc < 0)
        closeNow();
}

void ClientConnection::onUpstreamReadDone() {
    flush();
    if (upstream_ && writeQueueSize() > kHighWater) {
        upstreamPaused_ = true;
        upstream_->pauseReading();
    }
}

void ClientConnection::onWrite(uv_write_t *req, int status) noexcept {
    auto *w = static_cast<WriteReq *>(req->data);
    auto *c = static_cast<ClientConnection *>(w->owner);
    delete w;
    if (c->closing_)
        return;
    if (status < 0) {
        c->closeNow(); // the client went away
        return;
    }
    if (c->upstreamPaused_ && c->upstream_ && c->writeQueueSize() < kLowWater) {
        c->upstreamPaused_ = false;
        c->upstream_->resumeReading();
    }
}

// --- timers -----------------------------------------------------------------------------------

void ClientConnection::startTimer(TimerMode mode, config::Millis ms) {
    timerMode_ = mode;
    uv_timer_start(&timer_, &ClientConnection::onTimer, static_cast<uint64_t>(ms.count()), 0);
}

void ClientConnection::onTimer(uv_timer_t *t) noexcept {
    auto *c = static_cast<ClientConnection *>(t->data);
    TimerMode mode = c->timerMode_;
    c->timerMode_ = TimerMode::None;
    switch (mode) {
    case TimerMode::Header:
        if (c->parser_.inMessage())
            c->rejectRequest(408, "request head not received within server.header_timeout");
        else
            c->closeNow(); // nothing sent at all
        break;
    case TimerMode::Body:
        c->rejectRequest(408, "request body stalled longer than server.body_timeout");
        break;
    case TimerMode::Idle:
    case TimerMode::Linger:
        c->closeNow();
        break;
    case TimerMode::Deferred:
        c->startTimer(TimerMode::Idle, c->cfg().server.idleTimeout);
        c->processPending();
        break;
    case TimerMode::LockWait: // cache.lock_timeout: stop waiting, fetch for ourselves
        c->worker_.counters().inc(c->worker_.counters().lockTimeouts);
        c->stopWaiting();
        c->onLockReleased();
        break;
    case TimerMode::None:
        break;
    }
}

// --- the cache ----------------------------------------------------------------------------------

// FetchFromCacheMiddleware.process_request: header key -> Vary list -> page key -> page. A fresh
// page is served; an expired one within its grace is served too while one background fetch
// refreshes it; otherwise the request misses and, unless another request is fetching the same
// page already (then it waits for that fetch), it fetches the page itself.
ClientConnection::Lookup ClientConnection::lookup(http::RequestHead &head) {
    const CacheContext &cc = worker_.cache();
    auto &counters = worker_.counters();
    std::string &uri = fill_.uri();
    uri.clear();
    cache::absoluteUri(head, cc.policy, uri);
    key_.clear();
    cache::headerKey(cc.policy, uri, key_);
    cache::ItemRef varyItem = cc.store->get(key_);
    stale_.reset();
    if (varyItem) {
        const std::int64_t now = cc.clock->now();
        // HEAD looks up the GET entry first, then its own (get_cache_key with method='HEAD').
        for (std::string_view method : {std::string_view("GET"), std::string_view("HEAD")}) {
            if (method == "HEAD" && !isHead_)
                break;
            key_.clear();
            cache::pageKey(cc.policy, method, uri, varyItem->value(), head.headers, key_);
            cache::ItemRef page = cc.store->get(key_);
            cache::PageView view;
            if (!page || !cache::decodePage(page->value(), view))
                continue;
            // A waiter may also take what the fetch it waited for stored or renewed, fresh or
            // not: a no-cache page is never fresh, but it was validated on our behalf just now
            // (collapsed forwarding, RFC 9111 §4).
            if (view.fresh(now) || (woken_ && view.storedAt >= waitStartedAt_)) {
                if (woken_)
                    counters.inc(counters.coalescedWakeHits);
                serveHit(std::move(page), view, head);
                return Lookup::Served;
            }
            if (method == "GET")
                stale_ = std::move(page);
        }
    }
    // Not served fresh: the coalescing key is the page key when the variant is known, else the
    // header key (computed again here so that hits copy no key).
    lockKey_.clear();
    if (varyItem)
        cache::pageKey(cc.policy, "GET", uri, varyItem->value(), head.headers, lockKey_);
    else
        cache::headerKey(cc.policy, uri, lockKey_);
    // Another instance may have stored it in the shared cluster. Asked once per request, before
    // coalescing (a waiter woken later looks here only), and not for a page just found not
    // storable (hit-for-miss: the cluster will not have it either).
    if (cc.shared && !sharedTried_ && !woken_ && !cc.locks->passing(lockKey_)) {
        sharedTried_ = sharedPending_ = true;
        stale_.reset();
        sharedLookup(worker_.loop(), *cc.shared, cc.policy, uri, head.headers,
                     [this](SharedLookupResult &r) { onSharedLookup(r); });
        return Lookup::Pending;
    }
    if (stale_) {
        cache::PageView view;
        if (cache::decodePage(stale_->value(), view) && view.inGrace(cc.clock->now())) {
            counters.inc(counters.staleServed);
            BackgroundRefresh::start(worker_, head, uri, lockKey_, stale_.share(), peer_);
            cache::ItemRef page = std::move(stale_);
            serveHit(std::move(page), view, head, "STALE", "stale-while-revalidate");
            return Lookup::Served;
        }
    }
    if (!cc.coalesce || woken_)
        return Lookup::Miss;
    const std::uint64_t id = worker_.addLockWaiter(this);
    const cache::WaiterId me{worker_.index(), id};
    // A HEAD waits for a GET fetch in flight (it is then answered from the GET's page), but
    // never holds the key itself: what a HEAD fetch stores is of no use to GET waiters.
    if (fill_.claim(lockKey_, &me, !isHead_) != cache::FetchLocks::Claim::Wait) {
        worker_.removeLockWaiter(id); // the fetcher (Owner), or not coalesced (Busy, Pass)
        return Lookup::Miss;
    }
    waiterId_ = id;
    waitingForLock_ = true;
    waitStartedAt_ = cc.clock->now();
    cacheStatusName_ = "MISS";
    counters.inc(counters.coalescedWaits);
    startTimer(TimerMode::LockWait, cc.lockTimeout);
    return Lookup::Wait;
}

// The shared cluster answered. A page newer than ours goes into the in-process store (for the
// time it has left), then the lookup runs again here: a hit now, or on to the miss path.
void ClientConnection::onSharedLookup(SharedLookupResult &r) {
    sharedPending_ = false;
    if (closing_) {
        maybeDelete();
        return;
    }
    const CacheContext &cc = worker_.cache();
    auto &counters = worker_.counters();
    cache::PageView remote;
    bool taken = false;
    if (r.error) {
        counters.inc(counters.sharedErrors);
        FC_DEBUG("shared cache: lookup failed: %s", cc.shared->lastError().c_str());
    } else if (r.found && cache::decodePage(r.page, remote)) {
        const std::int64_t now = cc.clock->now();
        const std::int64_t keep =
            remote.freshUntil() + std::max(remote.grace, remote.staleIfError) - now;
        cache::PageView local;
        cache::ItemRef mine = cc.store->get(r.pageKey);
        const bool newer =
            !mine || !cache::decodePage(mine->value(), local) || remote.storedAt > local.storedAt;
        if (keep > 0 && newer && cc.store->set(r.pageKey, r.page, keep) &&
            cc.store->set(r.headerKey, r.varyList, keep))
            taken = remote.fresh(now);
    }
    counters.inc(taken ? counters.sharedHits : counters.sharedMisses);
    http::RequestHead &head = parser_.head();
    if (lookup(head) == Lookup::Miss)
        startFetch(head);
}

void ClientConnection::stopWaiting() {
    if (!waitingForLock_)
        return;
    waitingForLock_ = false;
    worker_.cache().locks->cancel(lockKey_, cache::WaiterId{worker_.index(), waiterId_});
    worker_.removeLockWaiter(waiterId_);
}

void ClientConnection::onLockReleased() {
    waitingForLock_ = false;
    if (timerMode_ == TimerMode::LockWait) {
        uv_timer_stop(&timer_);
        timerMode_ = TimerMode::None;
    }
    if (closing_)
        return;
    woken_ = true; // one wait per request: a miss now fetches for itself
    http::RequestHead &head = parser_.head();
    if (lookup(head) == Lookup::Miss)
        startFetch(head);
}

// stale-if-error: an upstream failure (refused, timeout, reset, 5xx) is answered from the expired
// copy while it is within its stale-if-error window.
bool ClientConnection::serveStaleOnError(const char *why) {
    cache::PageView v;
    if (!stale_ || !cache::decodePage(stale_->value(), v) ||
        !v.usableOnError(worker_.cache().clock->now()))
        return false;
    FC_INFO("serving a stale copy of %s instead of an upstream error (%s)", fill_.uri().c_str(),
            why);
    worker_.counters().inc(worker_.counters().staleOnError);
    cache::ItemRef page = std::move(stale_);
    serveHit(std::move(page), v, parser_.head(), "STALE", "stale-if-error");
    return true;
}

// PURGE on the public port (Varnish's convention): only from admin.allow_purge_from, and only
// for the Host it is sent to.
void ClientConnection::answerPurge(http::RequestHead &head) {
    const CacheContext &cc = worker_.cache();
    cacheStatusName_ = "PURGE";
    responseStarted_ = true;
    if (head.hasBody())
        keepAlive_ = false;
    bool allowed = false;
    for (const auto &a : cc.allowPurgeFrom)
        allowed = allowed || a == peer_;
    if (!allowed) {
        status_ = 405;
        write(http::errorResponse(405, !keepAlive_,
                                  "PURGE is accepted only from admin.allow_purge_from addresses"));
        responseFinished();
        return;
    }
    std::string host(head.headers.get("host").value_or(""));
    std::string path = head.target;
    if (path.rfind("http://", 0) == 0) { // absolute-form: the host is in the target
        std::size_t slash = path.find('/', 7);
        host = path.substr(7, slash == std::string::npos ? std::string::npos : slash - 7);
        path = slash == std::string::npos ? "/" : path.substr(slash);
    }
    std::vector<std::string> keys;
    std::size_t n = cache::purgePaths(*cc.store, cc.policy, {path}, host, &keys);
    if (cc.shared && !keys.empty())
        purgeShared(worker_.loop(), *cc.shared, std::move(keys));
    worker_.counters().inc(worker_.counters().purged, n);
    std::string body = "{\"purged\": " + std::to_string(n) + "}\n";
    std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n";
    resp.append(keepAlive_ ? "\r\n" : "Connection: close\r\n\r\n");
    resp.append(body);
    status_ = 200;
    write(resp);
    responseFinished();
}

void ClientConnection::appendStatusHeaders(std::string &out, const char *xcache,
                                           std::string_view detail) {
    const CacheContext &cc = worker_.cache();
    if (!cc.statusHeader.empty()) {
        out.append(cc.statusHeader);
        out.append(": ");
        out.append(xcache);
        out.append("\r\n");
    }
    if (!cc.cacheStatus)
        return;
    // RFC 9211: "frontcache; hit" or "frontcache; fwd=uri-miss" / "fwd=bypass", with a detail.
    out.append("Cache-Status: frontcache; ");
    if (xcache[0] == 'H' || xcache[0] == 'S') // HIT, STALE
        out.append("hit");
    else if (xcache[0] == 'R') // REVALIDATED: forwarded because stale, the upstream said 304
        out.append("fwd=stale; fwd-status=304");
    else
        out.append(xcache[0] == 'M' ? "fwd=uri-miss" : "fwd=bypass");
    if (!detail.empty()) {
        out.append("; detail=");
        out.append(detail);
    }
    out.append("\r\n");
}

// A hit: [stored head][Age, status headers, Connection, blank line][body] in one writev from
// the item's memory; 304 instead when the client's validators match.
void ClientConnection::serveHit(cache::ItemRef page, const cache::PageView &v,
                                const http::RequestHead &req, const char *xcache,
                                std::string_view detail) {
    const CacheContext &cc = worker_.cache();
    auto &counters = worker_.counters();
    waitingForUpstream_ = false;
    responseStarted_ = true;
    const std::int64_t now = cc.clock->now();
    // Conditional GET (RFC 9110 §13.1.2, §13.1.3; If-None-Match wins over If-Modified-Since).
    bool notModified = false;
    if (auto inm = req.headers.get("if-none-match")) {
        notModified = http::ifNoneMatchMatches(*inm, v.etag);
    } else if (auto ims = req.headers.get("if-modified-since")) {
        auto t = http::parseHttpDate(*ims);
        notModified = t && v.lastModified != 0 && v.lastModified <= *t;
    }
    dynHead_.clear();
    if (notModified) {
        // 304 carries the validators and caching fields of the stored response, no body.
        dynHead_.append("HTTP/1.1 304 Not Modified\r\n");
        std::string_view h = v.head;
        std::size_t eol = h.find("\r\n");
        h.remove_prefix(eol == std::string_view::npos ? h.size() : eol + 2);
        while (!h.empty()) {
            eol = h.find("\r\n");
            std::string_view line = h.substr(0, eol);
            std::string_view name = line.substr(0, line.find(':'));
            for (std::string_view keep : {"etag", "last-modified", "cache-control", "expires",
                                          "vary", "date", "content-location"})
                if (http::equalsIgnoreCase(name, keep)) {
                    dynHead_.append(line);
                    dynHead_.append("\r\n");
                }
            if (eol == std::string_view::npos)
                break;
            h.remove_prefix(eol + 2);
        }
    }
    char num[24];
    auto r = std::to_chars(num, num + sizeof num, now > v.storedAt ? now - v.storedAt : 0);
    dynHead_.append("Age: ");
    dynHead_.append(num, static_cast<std::size_t>(r.ptr - num));
    dynHead_.append("\r\n");
    appendStatusHeaders(dynHead_, xcache, detail);
    if (!keepAlive_)
        dynHead_.append("Connection: close\r\n");
    else if (req.versionMinor == 0)
        dynHead_.append("Connection: keep-alive\r\n");
    dynHead_.append("\r\n");

    flush(); // anything queued before (never the case for a bodyless GET) goes first
    std::string_view parts[3];
    std::size_t n = 0;
    unsigned inItem = 0;
    std::uint64_t bytes = dynHead_.size();
    if (!notModified) {
        parts[n] = v.head;
        inItem |= 1u << n++;
        bytes += v.head.size();
    }
    parts[n++] = dynHead_;
    if (!notModified && !isHead_ && !v.body.empty()) {
        parts[n] = v.body;
        inItem |= 1u << n++;
        bytes += v.body.size();
    }
    if (notModified)
        counters.inc(counters.notModified);
    else if (xcache[0] == 'H')
        counters.inc(counters.hits);
    counters.inc(counters.bytesFromCache, bytes);
    status_ = notModified ? 304 : v.status;
    bytesOut_ += bytes;
    cacheStatusName_ = xcache;
    if (streamWriteHeld(reinterpret_cast<uv_stream_t *>(&handle_), parts, n, inItem,
                        std::move(page), this, &ClientConnection::onWrite) < 0) {
        closeNow();
        return;
    }
    responseFinished();
}

} // namespace fc::proxy
