#include "http/parser.h"

#include "http/rewrite.h"

namespace fc::http {

namespace {
template <typename P> P &self(llhttp_t *p) {
    return *static_cast<P *>(p->data);
}
} // namespace

// ---------------------------------------------------------------------------------------------
// RequestParser

RequestParser::RequestParser(Sink &sink, Limits limits)
    : sink_(sink), limits_(limits), scanner_(limits.maxHeadSize, limits.maxTargetSize),
      chunked_(limits.maxHeadSize, limits.maxBody) {
    llhttp_settings_init(&settings_);
    settings_.on_message_begin = &RequestParser::onMessageBegin;
    settings_.on_url = &RequestParser::onUrl;
    settings_.on_header_field = &RequestParser::onHeaderField;
    settings_.on_header_value = &RequestParser::onHeaderValue;
    settings_.on_header_value_complete = &RequestParser::onHeaderValueComplete;
    settings_.on_headers_complete = &RequestParser::onHeadersComplete;
    settings_.on_body = &RequestParser::onBody;
    settings_.on_message_complete = &RequestParser::onMessageComplete;
    llhttp_init(&parser_, HTTP_REQUEST, &settings_);
    parser_.data = this;
}

ParseResult RequestParser::fail(int status, const char *reason, size_t consumed) {
    if (errorStatus_ == 0 && errorReason_ == nullptr) {
        errorStatus_ = status;
        errorReason_ = reason;
    }
    return {ParseStatus::Error, consumed};
}

ParseResult RequestParser::feed(const char *data, size_t len) {
    if (errorReason_ != nullptr)
        return {ParseStatus::Error, 0};
    if (decodingChunks_)
        return decodeChunks(data, len, 0);
    if (llhttp_get_errno(&parser_) == HPE_PAUSED)
        return {ParseStatus::Paused, 0};
    if (scanner_.inHead() && len > 0) {
        inMessage_ = true;
        auto r = scanner_.scan(data, len);
        if (r.status == HeadScanner::Status::Error)
            return fail(r.httpStatus, r.reason, r.consumed);
    }
    llhttp_errno_t err = llhttp_execute(&parser_, data, len);
    const auto at = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
    switch (err) {
    case HPE_OK:
        return {ParseStatus::NeedMore, len};
    case HPE_PAUSED:
        // Either the message is complete, or its head is and a chunked body follows.
        return decodingChunks_ ? decodeChunks(data, len, at) : ParseResult{ParseStatus::Paused, at};
    case HPE_USER:
        return fail(errorStatus_, errorReason_ ? errorReason_ : "rejected", at);
    default:
        return fail(400, llhttp_get_error_reason(&parser_), at);
    }
}

// The body of a chunked request, from `done`: decoded strictly (http/chunked.h), trailers dropped
// — never merged into the head that goes upstream.
ParseResult RequestParser::decodeChunks(const char *data, size_t len, size_t done) {
    while (done < len) {
        auto r = chunked_.feed({data + done, len - done});
        done += r.consumed;
        if (!r.data.empty()) {
            bodyBytes_ += r.data.size();
            if (bodyBytes_ > limits_.maxBody)
                return fail(413, "request body larger than server.max_body", done);
            sink_.onRequestBody(r.data);
        }
        if (r.status == ChunkedDecoder::Status::Error)
            return fail(400, r.reason, done);
        if (r.status == ChunkedDecoder::Status::TooLarge)
            return fail(413, "request body larger than server.max_body", done);
        if (r.status == ChunkedDecoder::Status::Done) {
            decodingChunks_ = false;
            complete();
            return {ParseStatus::Paused, done};
        }
    }
    return {ParseStatus::NeedMore, len};
}

void RequestParser::complete() {
    inMessage_ = false;
    scanner_.reset();
    sink_.onRequestComplete();
}

void RequestParser::resume() {
    if (llhttp_get_errno(&parser_) == HPE_PAUSED)
        llhttp_resume(&parser_);
}

int RequestParser::onMessageBegin(llhttp_t *p) {
    auto &s = self<RequestParser>(p);
    s.head_.clear();
    s.bodyBytes_ = 0;
    s.chunked_.reset();
    s.inMessage_ = true;
    return 0;
}

int RequestParser::onUrl(llhttp_t *p, const char *at, size_t len) {
    self<RequestParser>(p).head_.target.append(at, len);
    return 0;
}

int RequestParser::onHeaderField(llhttp_t *p, const char *at, size_t len) {
    self<RequestParser>(p).head_.headers.appendName({at, len});
    return 0;
}

int RequestParser::onHeaderValue(llhttp_t *p, const char *at, size_t len) {
    self<RequestParser>(p).head_.headers.appendValue({at, len});
    return 0;
}

int RequestParser::onHeaderValueComplete(llhttp_t *p) {
    self<RequestParser>(p).head_.headers.finishValue();
    return 0;
}

namespace {
// The Transfer-Encoding fields of a message, read as one list (RFC 9110 §5.3).
struct TransferCodings {
    int fields = 0, members = 0, chunked = 0;
};
TransferCodings transferCodings(const HeaderList &h) {
    TransferCodings t;
    h.forEach([&](std::string_view n, std::string_view v) {
        if (!equalsIgnoreCase(n, "transfer-encoding"))
            return;
        ++t.fields;
        forEachListMember(v, [&](std::string_view m) {
            ++t.members;
            t.chunked += equalsIgnoreCase(m, "chunked") ? 1 : 0;
        });
    });
    return t;
}
// Exactly "chunked", once: the one transfer coding frontcache decodes.
bool onlyChunked(const TransferCodings &t) {
    return t.members == 1 && t.chunked == 1;
}
} // namespace

int RequestParser::onHeadersComplete(llhttp_t *p) {
    auto &s = self<RequestParser>(p);
    auto &h = s.head_;
    auto reject = [&](int status, const char *reason) {
        s.errorStatus_ = status;
        s.errorReason_ = reason;
        return -1;
    };
    h.method = llhttp_method_name(static_cast<llhttp_method_t>(llhttp_get_method(p)));
    h.versionMajor = llhttp_get_http_major(p);
    h.versionMinor = llhttp_get_http_minor(p);
    h.keepAlive = llhttp_should_keep_alive(p) != 0;
    h.chunked = false;
    h.contentLength = -1;
    if (llhttp_get_method(p) == HTTP_CONNECT)
        return reject(405, "CONNECT is not supported by a reverse proxy");
    if (h.versionMajor != 1)
        return reject(505, "only HTTP/1.x is supported");
    // RFC 9112 §3.2: origin-form, absolute-form, or asterisk-form for OPTIONS only.
    if (h.target.empty() || (h.target[0] != '/' && !(h.target == "*" && h.method == "OPTIONS") &&
                             !splitTarget(h.target).absolute()))
        return reject(400, "invalid request-target");
    // RFC 9112 §3.2: a client MUST send Host in HTTP/1.1; exactly one (§3.2 "more than one").
    size_t hosts = h.headers.count("host");
    if ((h.versionMinor >= 1 && hosts == 0) || hosts > 1)
        return reject(400, hosts ? "more than one Host header" : "missing Host header");
    // Framing (RFC 9112 §6). llhttp has refused Transfer-Encoding with Content-Length, and one
    // whose last coding is not chunked; what it lets through is checked here.
    if (TransferCodings te = transferCodings(h.headers); te.fields > 0) {
        if (h.versionMinor == 0) // §6.1: the framing of such a message is faulty
            return reject(400, "Transfer-Encoding in an HTTP/1.0 request");
        if (!onlyChunked(te)) // §6.1: a coding we do not understand (gzip, chunked) is a 501
            return reject(te.members > te.chunked ? 501 : 400,
                          "only Transfer-Encoding: chunked is supported");
        h.chunked = true;
    } else if (p->flags & F_CONTENT_LENGTH) {
        // llhttp has read 1*DIGIT into an unsigned 64-bit number (refusing overflow, signs and
        // lists); compared as such, before anything treats it as signed.
        if (p->content_length > s.limits_.maxBody)
            return reject(413, "request body larger than server.max_body");
        if (p->content_length > static_cast<std::uint64_t>(INT64_MAX))
            return reject(400, "Content-Length too large"); // only with a max_body that large
        h.contentLength = static_cast<std::int64_t>(p->content_length);
    }
    h.upgradeAsked = (p->flags & F_UPGRADE) && (p->flags & F_CONNECTION_UPGRADE);
    // What follows is parsed as HTTP/1.1 whatever the Upgrade: a tunnel starts only once the
    // upstream has answered 101 (proxy/), and then the connection no longer parses at all.
    p->upgrade = 0;
    if (!s.sink_.onRequestHead(h)) {
        s.errorStatus_ = 0;
        s.errorReason_ = "rejected by handler";
        return -1;
    }
    if (!h.chunked)
        return 0;
    // llhttp is told there is no body (its chunk parser is lenient, http/chunked.h); feed()
    // decodes it, then completes the message.
    s.decodingChunks_ = true;
    return 1;
}

int RequestParser::onBody(llhttp_t *p, const char *at, size_t len) {
    auto &s = self<RequestParser>(p);
    s.bodyBytes_ += len;
    if (s.bodyBytes_ > s.limits_.maxBody) {
        s.errorStatus_ = 413;
        s.errorReason_ = "request body larger than server.max_body";
        return HPE_USER;
    }
    s.sink_.onRequestBody({at, len});
    return 0;
}

int RequestParser::onMessageComplete(llhttp_t *p) {
    auto &s = self<RequestParser>(p);
    if (!s.decodingChunks_) // else the chunked body follows: complete() once it is decoded
        s.complete();
    return HPE_PAUSED;
}

// ---------------------------------------------------------------------------------------------
// ResponseParser

ResponseParser::ResponseParser(Sink &sink, size_t maxHeadSize)
    : sink_(sink), scanner_(maxHeadSize, 0), chunked_(maxHeadSize) {
    llhttp_settings_init(&settings_);
    settings_.on_message_begin = &ResponseParser::onMessageBegin;
    settings_.on_status = &ResponseParser::onStatus;
    settings_.on_header_field = &ResponseParser::onHeaderField;
    settings_.on_header_value = &ResponseParser::onHeaderValue;
    settings_.on_header_value_complete = &ResponseParser::onHeaderValueComplete;
    settings_.on_headers_complete = &ResponseParser::onHeadersComplete;
    settings_.on_body = &ResponseParser::onBody;
    settings_.on_message_complete = &ResponseParser::onMessageComplete;
    llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
    parser_.data = this;
}

void ResponseParser::start(bool requestWasHead, bool upgrade) {
    llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
    parser_.data = this;
    scanner_.reset();
    chunked_.reset();
    head_.clear();
    requestWasHead_ = requestWasHead;
    upgradeAsked_ = upgrade;
    informational_ = inMessage_ = headDone_ = decodingChunks_ = upgraded_ = false;
    interims_ = 0;
    errorStatus_ = 0;
    errorReason_ = nullptr;
}

ParseResult ResponseParser::fail(const char *reason, size_t consumed) {
    if (errorReason_ == nullptr)
        errorReason_ = reason;
    errorStatus_ = 502;
    return {ParseStatus::Error, consumed};
}

ParseResult ResponseParser::feed(const char *data, size_t len) {
    // After the final response, nothing more is parsed until start() (as RequestParser does
    // until resume()); llhttp's error position then points into an earlier buffer.
    if (upgraded_ ||
        (!decodingChunks_ && errorReason_ == nullptr && llhttp_get_errno(&parser_) == HPE_PAUSED))
        return {ParseStatus::Paused, 0};
    size_t done = 0;
    for (;;) {
        if (errorReason_ != nullptr)
            return {ParseStatus::Error, done};
        if (decodingChunks_) { // the chunked body (http/chunked.h); trailers are dropped
            while (done < len) {
                auto r = chunked_.feed({data + done, len - done});
                done += r.consumed;
                if (!r.data.empty())
                    sink_.onResponseBody(r.data);
                if (r.status == ChunkedDecoder::Status::Error ||
                    r.status == ChunkedDecoder::Status::TooLarge)
                    return fail(r.reason, done);
                if (r.status == ChunkedDecoder::Status::Done) {
                    decodingChunks_ = false;
                    inMessage_ = false;
                    sink_.onResponseComplete();
                    return {ParseStatus::Paused, done};
                }
            }
            return {ParseStatus::NeedMore, len};
        }
        const char *chunk = data + done;
        size_t left = len - done;
        if (scanner_.inHead() && left > 0) {
            inMessage_ = true;
            auto r = scanner_.scan(chunk, left);
            if (r.status == HeadScanner::Status::Error)
                return fail(r.reason, done + r.consumed);
        }
        llhttp_errno_t err = llhttp_execute(&parser_, chunk, left);
        if (err == HPE_OK)
            return {ParseStatus::NeedMore, len};
        size_t at = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
        if (upgraded_ && (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE))
            return {ParseStatus::Paused, at}; // the tunnel's bytes follow
        if (err == HPE_PAUSED) {
            if (informational_) { // a 1xx ended: go on with the final response
                // A fresh llhttp, not a resumed one: after a 1xx with "Connection: close" (or
                // an HTTP/1.0 one) Debian's llhttp, built without strict mode, would swallow
                // everything that follows in its "closed" state.
                informational_ = false;
                llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
                parser_.data = this;
                done = at;
                continue;
            }
            if (decodingChunks_) { // the head is done; the chunks follow
                done = at;
                continue;
            }
            return {ParseStatus::Paused, at};
        }
        return fail(err == HPE_USER ? "rejected by handler" : llhttp_get_error_reason(&parser_),
                    at);
    }
}

ParseResult ResponseParser::finish() {
    if (errorReason_ != nullptr)
        return {ParseStatus::Error, 0};
    if (!inMessage_)
        return {ParseStatus::NeedMore, 0};
    llhttp_errno_t err = decodingChunks_ ? HPE_INVALID_EOF_STATE : llhttp_finish(&parser_);
    if (err == HPE_PAUSED || (err == HPE_OK && !inMessage_))
        return {ParseStatus::Paused, 0};
    return fail(headDone_ ? "upstream closed the connection before the response was complete"
                          : "upstream closed the connection before sending a response",
                0);
}

int ResponseParser::onMessageBegin(llhttp_t *p) {
    auto &s = self<ResponseParser>(p);
    s.head_.clear();
    s.inMessage_ = true;
    return 0;
}

int ResponseParser::onStatus(llhttp_t *p, const char *at, size_t len) {
    self<ResponseParser>(p).head_.reason.append(at, len);
    return 0;
}

int ResponseParser::onHeaderField(llhttp_t *p, const char *at, size_t len) {
    self<ResponseParser>(p).head_.headers.appendName({at, len});
    return 0;
}

int ResponseParser::onHeaderValue(llhttp_t *p, const char *at, size_t len) {
    self<ResponseParser>(p).head_.headers.appendValue({at, len});
    return 0;
}

int ResponseParser::onHeaderValueComplete(llhttp_t *p) {
    self<ResponseParser>(p).head_.headers.finishValue();
    return 0;
}

// What frontcache refuses to frame or forward (a 502, the connection closed): a status outside
// 100-599 (RFC 9110 §15), a reason phrase with control characters (RFC 9112 §4), a version
// other than 1.x, a transfer coding other than chunked alone — or chunked in an HTTP/1.0
// response (RFC 9112 §6.1: read-until-close of a coded body would be stored as identity) — and a
// Content-Length no signed 64-bit count holds.
const char *ResponseParser::checkHead(const ResponseHead &h, const llhttp_t *p) {
    if (h.status < 100 || h.status > 599)
        return "upstream status code outside 100-599";
    if (h.versionMajor != 1)
        return "upstream response is not HTTP/1.x";
    for (char c : h.reason)
        if (!isFieldValueChar(static_cast<unsigned char>(c)))
            return "control character in the upstream's reason phrase";
    if (TransferCodings te = transferCodings(h.headers); te.fields > 0) {
        if (!onlyChunked(te))
            return "upstream transfer coding other than chunked";
        if (h.versionMinor == 0)
            return "Transfer-Encoding in an HTTP/1.0 response";
    } else if ((p->flags & F_CONTENT_LENGTH) &&
               p->content_length > static_cast<std::uint64_t>(INT64_MAX)) {
        return "upstream Content-Length too large";
    }
    return nullptr;
}

int ResponseParser::onHeadersComplete(llhttp_t *p) {
    auto &s = self<ResponseParser>(p);
    auto &h = s.head_;
    h.status = llhttp_get_status_code(p);
    h.versionMajor = llhttp_get_http_major(p);
    h.versionMinor = llhttp_get_http_minor(p);
    if (const char *bad = checkHead(h, p)) {
        s.errorReason_ = bad;
        return -1;
    }
    if (h.status == 101) {
        // RFC 9110 §15.2.2: only to a request that asked, and only to the protocol asked for.
        const auto up = h.headers.get("upgrade");
        if (!s.upgradeAsked_ || !up || !listContains(*up, "websocket")) {
            s.errorReason_ = "unexpected 101 Switching Protocols from upstream";
            return -1;
        }
        s.headDone_ = true;
        s.upgraded_ = true;
        h.keepAlive = false;
        h.contentLength = -1;
        if (!s.sink_.onResponseHead(h)) {
            s.errorReason_ = "rejected by handler";
            return -1;
        }
        return 1; // no body: the message ends here and llhttp stops (onMessageComplete)
    }
    if (h.status < 200) {
        // RFC 9110 §15.2: a 1xx ends at its head, whatever it says about a body. 103 may be
        // passed on (RFC 8297); 100 and the rest are consumed. A bounded number of them.
        if (++s.interims_ > 16) {
            s.errorReason_ = "too many 1xx responses from upstream";
            return -1;
        }
        s.informational_ = true;
        if (h.status == 103)
            s.sink_.onEarlyHints(h);
        return 1;
    }
    h.keepAlive = llhttp_should_keep_alive(p) != 0;
    // From our reading of the field (checkHead: chunked alone), not llhttp's F_CHUNKED, which
    // "chunked," leaves unset — llhttp would then read the framing as a body until close.
    h.chunked = transferCodings(h.headers).fields > 0;
    h.contentLength = (p->flags & F_CONTENT_LENGTH) && !h.chunked
                          ? static_cast<std::int64_t>(p->content_length)
                          : -1;
    s.headDone_ = true;
    if (!s.sink_.onResponseHead(h)) {
        s.errorReason_ = "rejected by handler";
        return -1;
    }
    // RFC 9112 §6.3: a response to HEAD, a 204 and a 304 end at their head, whatever their
    // Content-Length says (llhttp leaves that to its caller, as Node does).
    if (s.requestWasHead_ || h.status == 204 || h.status == 304)
        return 1;
    if (!h.chunked)
        return 0;
    s.decodingChunks_ = true; // llhttp skips the body; feed() decodes it
    s.chunked_.reset();
    return 1;
}

int ResponseParser::onBody(llhttp_t *p, const char *at, size_t len) {
    self<ResponseParser>(p).sink_.onResponseBody({at, len});
    return 0;
}

int ResponseParser::onMessageComplete(llhttp_t *p) {
    auto &s = self<ResponseParser>(p);
    if (s.upgraded_) {
        s.inMessage_ = false;
        return HPE_PAUSED; // the tunnel is the caller's: not a complete response to release
    }
    if (s.informational_) {
        s.head_.clear();
        s.scanner_.reset();
        return HPE_PAUSED;
    }
    if (s.decodingChunks_)
        return HPE_PAUSED; // the chunked body follows: feed() completes the message
    s.inMessage_ = false;
    s.sink_.onResponseComplete();
    return HPE_PAUSED;
}

} // namespace fc::http
