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
    : sink_(sink), limits_(limits), scanner_(limits.maxHeadSize, limits.maxTargetSize) {
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
    if (llhttp_get_errno(&parser_) == HPE_PAUSED)
        return {ParseStatus::Paused, 0};
    if (scanner_.inHead() && len > 0) {
        inMessage_ = true;
        auto r = scanner_.scan(data, len);
        if (r.status == HeadScanner::Status::Error)
            return fail(r.httpStatus, r.reason, r.consumed);
    }
    llhttp_errno_t err = llhttp_execute(&parser_, data, len);
    switch (err) {
    case HPE_OK:
        return {ParseStatus::NeedMore, len};
    case HPE_PAUSED:
        return {ParseStatus::Paused, static_cast<size_t>(llhttp_get_error_pos(&parser_) - data)};
    case HPE_USER:
        return fail(errorStatus_, errorReason_ ? errorReason_ : "rejected",
                    static_cast<size_t>(llhttp_get_error_pos(&parser_) - data));
    default:
        return fail(400, llhttp_get_error_reason(&parser_),
                    static_cast<size_t>(llhttp_get_error_pos(&parser_) - data));
    }
}

void RequestParser::resume() {
    if (llhttp_get_errno(&parser_) == HPE_PAUSED)
        llhttp_resume(&parser_);
}

int RequestParser::onMessageBegin(llhttp_t *p) {
    auto &s = self<RequestParser>(p);
    s.head_.clear();
    s.bodyBytes_ = 0;
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

int RequestParser::onHeadersComplete(llhttp_t *p) {
    auto &s = self<RequestParser>(p);
    auto &h = s.head_;
    h.method = llhttp_method_name(static_cast<llhttp_method_t>(llhttp_get_method(p)));
    h.versionMajor = llhttp_get_http_major(p);
    h.versionMinor = llhttp_get_http_minor(p);
    h.keepAlive = llhttp_should_keep_alive(p) != 0;
    h.chunked = (p->flags & F_CHUNKED) != 0;
    h.contentLength =
        (p->flags & F_CONTENT_LENGTH) ? static_cast<std::int64_t>(p->content_length) : -1;
    if (h.chunked)
        h.contentLength = -1;
    if (llhttp_get_method(p) == HTTP_CONNECT) {
        s.errorStatus_ = 405;
        s.errorReason_ = "CONNECT is not supported by a reverse proxy";
        return -1;
    }
    if (h.versionMajor != 1) {
        s.errorStatus_ = 505;
        s.errorReason_ = "only HTTP/1.x is supported";
        return -1;
    }
    if (h.target.empty() ||
        (h.target[0] != '/' && h.target != "*" && !splitTarget(h.target).absolute())) {
        s.errorStatus_ = 400;
        s.errorReason_ = "invalid request-target";
        return -1;
    }
    // RFC 9112 §3.2: a client MUST send Host in HTTP/1.1; exactly one (§3.2 "more than one").
    size_t hosts = h.headers.count("host");
    if ((h.versionMinor >= 1 && hosts == 0) || hosts > 1) {
        s.errorStatus_ = 400;
        s.errorReason_ = hosts ? "more than one Host header" : "missing Host header";
        return -1;
    }
    if (h.contentLength > 0 && static_cast<std::uint64_t>(h.contentLength) > s.limits_.maxBody) {
        s.errorStatus_ = 413;
        s.errorReason_ = "request body larger than server.max_body";
        return -1;
    }
    // Upgrade/h2c is hop-by-hop and not forwarded: parse what follows as HTTP/1.1.
    p->upgrade = 0;
    if (!s.sink_.onRequestHead(h)) {
        s.errorStatus_ = 0;
        s.errorReason_ = "rejected by handler";
        return -1;
    }
    return 0;
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
    s.inMessage_ = false;
    s.scanner_.reset();
    s.sink_.onRequestComplete();
    return HPE_PAUSED;
}

// ---------------------------------------------------------------------------------------------
// ResponseParser

ResponseParser::ResponseParser(Sink &sink, size_t maxHeadSize)
    : sink_(sink), scanner_(maxHeadSize, 0) {
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

void ResponseParser::start(bool requestWasHead) {
    llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
    parser_.data = this;
    scanner_.reset();
    head_.clear();
    requestWasHead_ = requestWasHead;
    informational_ = inMessage_ = headDone_ = false;
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
    size_t done = 0;
    for (;;) {
        if (errorReason_ != nullptr)
            return {ParseStatus::Error, done};
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
        if (err == HPE_PAUSED) {
            if (informational_) { // a 1xx ended: go on with the final response
                informational_ = false;
                llhttp_resume(&parser_);
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
    llhttp_errno_t err = llhttp_finish(&parser_);
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

int ResponseParser::onHeadersComplete(llhttp_t *p) {
    auto &s = self<ResponseParser>(p);
    auto &h = s.head_;
    h.status = llhttp_get_status_code(p);
    if (h.status == 101) {
        s.errorReason_ = "unexpected 101 Switching Protocols from upstream";
        return -1;
    }
    if (h.status >= 100 && h.status < 200) {
        s.informational_ = true; // 1xx are not forwarded; we answer 100-continue ourselves
        return 0;
    }
    h.versionMajor = llhttp_get_http_major(p);
    h.versionMinor = llhttp_get_http_minor(p);
    h.keepAlive = llhttp_should_keep_alive(p) != 0;
    h.chunked = (p->flags & F_CHUNKED) != 0;
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
    return s.requestWasHead_ || h.status == 204 || h.status == 304 ? 1 : 0;
}

int ResponseParser::onBody(llhttp_t *p, const char *at, size_t len) {
    self<ResponseParser>(p).sink_.onResponseBody({at, len});
    return 0;
}

int ResponseParser::onMessageComplete(llhttp_t *p) {
    auto &s = self<ResponseParser>(p);
    if (s.informational_) {
        s.head_.clear();
        s.scanner_.reset();
        return HPE_PAUSED;
    }
    s.inMessage_ = false;
    s.sink_.onResponseComplete();
    return HPE_PAUSED;
}

} // namespace fc::http
