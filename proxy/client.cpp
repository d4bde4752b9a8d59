#include "proxy/client.h"

#include <arpa/inet.h>

#include <cassert>
#include <charconv>
#include <cstring>

#include "http/cache_control.h"
#include "http/date.h"
#include "proxy/log.h"
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
    : worker_(worker), parser_(*this, limitsFrom(worker.config())) {}

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
    notStored_ = cache::NotStored::None;
    bypass_ = cache::classify(head, worker_.cache().policy);
    if (bypass_ == cache::Bypass::None) {
        if (lookup(head))
            return !closing_;
        lookedUp_ = true;
        cacheStatusName_ = "MISS";
        counters.inc(counters.misses);
    } else {
        cacheStatusName_ = "BYPASS";
        counters.inc(counters.bypass[static_cast<int>(bypass_)]);
    }
    upstreamStartUs_ = uv_hrtime() / 1000;
    upstreamHead_.clear();
    http::writeUpstreamRequest(head, http::ForwardInfo{peer_}, upstreamHead_);
    earlyBody_.clear();
    if (requestHasBody_)
        startTimer(TimerMode::Body, cfg().server.bodyTimeout);
    waitingForUpstream_ = true;
    worker_.pool().acquire(*this);
    return !closing_;
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
    if (lookedUp_)
        planStore(resp); // UpdateCacheMiddleware: decide, and patch the headers both ways
    if (closing_)
        return storing_; // the client left: keep fetching only to store the page
    http::RequestHead &req = parser_.head();
    framing_ = http::chooseResponseFraming(resp, isHead_, req);
    if (framing_ == http::BodyFraming::Close)
        keepAlive_ = false;
    if (!requestComplete_ && requestHasBody_)
        keepAlive_ = false; // answered before the body ended: the rest cannot be skipped safely
    status_ = resp.status;
    upstreamUs_ = static_cast<std::int64_t>(uv_hrtime() / 1000 - upstreamStartUs_);
    std::string extra;
    appendStatusHeaders(extra, lookedUp_ ? "MISS" : "BYPASS",
                        lookedUp_ ? (notStored_ == cache::NotStored::None
                                         ? std::string_view()
                                         : cache::notStoredName(notStored_))
                                  : cache::bypassName(bypass_));
    http::writeClientResponse(resp, framing_, keepAlive_, req.versionMinor == 0, "1.1 frontcache",
                              extra, out_); // flushed with the first body bytes
    responseStarted_ = true;
    return true;
}

void ClientConnection::onUpstreamBody(std::string_view piece) {
    if (storing_) {
        if (storeBody_.size() + piece.size() > worker_.cache().policy.maxObjectSize) {
            storing_ = false; // streamed on, never stored
            notStored_ = cache::NotStored::TooBig;
            worker_.counters().inc(worker_.counters().notStored[static_cast<int>(notStored_)]);
            std::string().swap(storeBody_);
            if (closing_ && upstream_) { // nobody to stream it to either: stop fetching
                upstream_->abort();
                upstream_ = nullptr;
                maybeDelete();
                return;
            }
        } else {
            storeBody_.append(piece);
        }
    }
    if (closing_)
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
    if (storing_)
        commitStore(); // the whole body arrived intact
    UpstreamConnection *u = upstream_;
    upstream_ = nullptr;
    upstreamPaused_ = false;
    if (closing_) { // a fetch that outlived its client (it was cacheable)
        if (u)
            u->release(reusable && requestComplete_);
        maybeDelete();
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
        notStored_ = cache::NotStored::Truncated;
        worker_.counters().inc(worker_.counters().notStored[static_cast<int>(notStored_)]);
        std::string().swap(storeBody_);
    }
    if (closing_) {
        maybeDelete();
        return;
    }
    http::RequestHead &req = parser_.head();
    if (retryable && !retried_ && !requestHasBody_ && !responseStarted_ &&
        isIdempotent(req.method)) {
        // RFC 9112 §9.3.1: a reused keep-alive connection may have been closed by the upstream
        // just as we sent; an idempotent request is retried once on a fresh connection.
        retried_ = true;
        waitingForUpstream_ = true;
        FC_DEBUG("retrying %s %s on a fresh upstream connection (%s)", req.method.c_str(),
                 req.target.c_str(), reason);
        worker_.pool().acquire(*this, true);
        return;
    }
    waitingForUpstream_ = false;
    if (responseStarted_) {
        // Too late for an error status: cut the connection so the client sees the truncation.
        FC_WARN("upstream failed mid-response for %s %s: %s", req.method.c_str(),
                req.target.c_str(), reason);
        closeNow();
        return;
    }
    FC_WARN("%d for %s %s from %s: %s", status, req.method.c_str(), req.target.c_str(), peer_,
            reason);
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
    log.add(peer_, req.method, req.target, req.versionMinor, status_, bytesOut_, cacheStatusName_,
            upstreamUs_, static_cast<std::int64_t>(uv_hrtime() / 1000 - startUs_));
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
    // An idle keep-alive connection keeps no large buffers: 10,000 of them must stay cheap.
    for (std::string *b : {&out_, &storeBody_, &earlyBody_, &storeHead_, &upstreamHead_})
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
    const bool keepFetching =
        upstream_ && lookedUp_ && !worker_.draining() && (storing_ || !responseStarted_);
    if (upstream_ && !keepFetching) {
        upstream_->abort();
        upstream_ = nullptr;
    }
    if (waitingForUpstream_) {
        worker_.pool().cancel(*this);
        waitingForUpstream_ = false;
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
    if (handlesClosed_ && !upstream_)
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
    case TimerMode::None:
        break;
    }
}

// --- the cache ----------------------------------------------------------------------------------

// FetchFromCacheMiddleware.process_request: header key -> Vary list -> page key -> page.
// Returns true if the request was answered from the store.
bool ClientConnection::lookup(http::RequestHead &head) {
    const CacheContext &cc = worker_.cache();
    uri_.clear();
    cache::absoluteUri(head, cc.policy, uri_);
    key_.clear();
    cache::headerKey(cc.policy, uri_, key_);
    cache::ItemRef varyItem = cc.store->get(key_);
    if (!varyItem)
        return false; // "no cache information, need to rebuild"
    // HEAD looks up the GET entry first, then its own (get_cache_key with method='HEAD').
    for (std::string_view method : {std::string_view("GET"), std::string_view("HEAD")}) {
        if (method == "HEAD" && !isHead_)
            break;
        key_.clear();
        cache::pageKey(cc.policy, method, uri_, varyItem->value(), head.headers, key_);
        cache::ItemRef page = cc.store->get(key_);
        cache::PageView view;
        if (page && cache::decodePage(page->value(), view)) {
            serveHit(std::move(page), view, head);
            return true;
        }
    }
    return false;
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
    if (xcache[0] == 'H')
        out.append("hit");
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
                                const http::RequestHead &req) {
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
    appendStatusHeaders(dynHead_, "HIT", {});
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
    counters.inc(notModified ? counters.notModified : counters.hits);
    counters.inc(counters.bytesFromCache, bytes);
    status_ = notModified ? 304 : v.status;
    bytesOut_ += bytes;
    cacheStatusName_ = "HIT";
    if (streamWriteHeld(reinterpret_cast<uv_stream_t *>(&handle_), parts, n, inItem,
                        std::move(page), this, &ClientConnection::onWrite) < 0) {
        closeNow();
        return;
    }
    responseFinished();
}

// UpdateCacheMiddleware.process_response, at the response head: decide whether the page will be
// stored, and patch its headers (Expires, Cache-Control max-age) for the client and the store.
void ClientConnection::planStore(http::ResponseHead &resp) {
    const CacheContext &cc = worker_.cache();
    auto &counters = worker_.counters();
    const http::RequestHead &req = parser_.head();
    cache::StoreDecision d = cache::decideStore(req, resp.status, resp.headers, cc.policy);
    storeVary_.clear();
    if (d.reason == cache::NotStored::None && !cache::varyHeaderList(resp.headers, storeVary_))
        d.reason = cache::NotStored::VaryStar;
    if (d.reason == cache::NotStored::None && resp.contentLength >= 0 && !isHead_ &&
        static_cast<std::uint64_t>(resp.contentLength) > cc.policy.maxObjectSize)
        d.reason = cache::NotStored::TooBig;
    notStored_ = d.reason;
    if (d.reason != cache::NotStored::None) {
        counters.inc(counters.notStored[static_cast<int>(d.reason)]);
        return;
    }
    cache::patchResponseHeaders(resp.headers, d.ttl, cc.clock->now());
    resp.headers.remove("age"); // our Age is computed from the time we stored it
    storing_ = true;
    storeTtl_ = d.ttl;
    storeHead_.clear();
    // A HEAD response keeps the Content-Length the upstream announced for the GET.
    http::writeResponseHead(resp, !isHead_, "1.1 frontcache", storeHead_);
    auto etag = resp.headers.get("etag");
    storeEtag_.assign(etag ? *etag : std::string_view());
    auto lm = resp.headers.get("last-modified");
    auto lmt = lm ? http::parseHttpDate(*lm) : std::nullopt;
    storeLastModified_ = lmt ? *lmt : 0;
    storeBody_.clear();
    if (resp.contentLength > 0)
        storeBody_.reserve(static_cast<std::size_t>(resp.contentLength));
}

void ClientConnection::commitStore() {
    const CacheContext &cc = worker_.cache();
    auto &counters = worker_.counters();
    const http::RequestHead &req = parser_.head();
    storing_ = false;
    if (!isHead_) {
        storeHead_.append("Content-Length: ");
        storeHead_.append(std::to_string(storeBody_.size()));
        storeHead_.append("\r\n");
    }
    const std::size_t size =
        cache::encodedPageSize(storeEtag_.size(), storeHead_.size(), storeBody_.size());
    // learn_cache_key: the page under this request's method, then the header key, same TTL.
    key_.clear();
    cache::pageKey(cc.policy, req.method, uri_, storeVary_, req.headers, key_);
    cache::ItemRef page = cc.store->allocate(key_, 0, storeTtl_, static_cast<std::uint32_t>(size));
    if (!page) {
        notStored_ = cache::NotStored::TooBig;
        counters.inc(counters.notStored[static_cast<int>(notStored_)]);
    } else {
        // Only 200 responses are stored (decideStore), so the status is 200.
        cache::encodePage(page->valueData(), 200, cc.clock->now(), storeLastModified_,
                          static_cast<std::uint32_t>(storeTtl_), storeEtag_, storeHead_,
                          storeBody_);
        cc.store->store(cache::StoreMode::Set, page);
        key_.clear();
        cache::headerKey(cc.policy, uri_, key_);
        cache::ItemRef hk =
            cc.store->allocate(key_, 0, storeTtl_, static_cast<std::uint32_t>(storeVary_.size()));
        if (hk) {
            std::memcpy(hk->valueData(), storeVary_.data(), storeVary_.size());
            cc.store->store(cache::StoreMode::Set, hk);
        }
        counters.inc(counters.stored);
    }
    storeBody_.clear(); // its capacity is released when the exchange finishes
}

} // namespace fc::proxy
