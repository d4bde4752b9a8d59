#include "http/head_scanner.h"

#include "http/headers.h"

namespace fc::http {

void HeadScanner::reset() {
    state_ = State::Leading;
    lineEmpty_ = false;
    inStartLine_ = true;
    spaces_ = 0;
    headBytes_ = targetBytes_ = partBytes_ = 0;
}

HeadScanner::Result HeadScanner::fail(size_t consumed, int status, const char *reason) {
    state_ = State::Failed;
    return {Status::Error, consumed, status, reason};
}

// Most of a head is field names and values: their ordinary bytes are skipped in a tight loop
// (no per-byte dispatch), up to the byte the state machine must see, within the size limit.
size_t HeadScanner::skipOrdinary(const char *data, size_t i, size_t len) {
    const size_t room = maxHead_ > headBytes_ ? maxHead_ - headBytes_ : 0;
    const size_t end = len - i > room ? i + room : len;
    size_t j = i;
    if (state_ == State::Value)
        while (j < end && data[j] != '\r' && data[j] != '\n' && data[j] != '\0')
            ++j;
    else
        while (j < end && data[j] != ':' && data[j] != ' ' && data[j] != '\t' && data[j] != '\r' &&
               data[j] != '\n' && data[j] != '\0')
            ++j;
    headBytes_ += j - i;
    return j;
}

HeadScanner::Result HeadScanner::scan(const char *data, size_t len) {
    if (state_ == State::Failed)
        return {Status::Error, 0, 400, "malformed request head"};
    if (state_ == State::Done)
        return {Status::Done, 0, 0, nullptr};
    for (size_t i = 0; i < len; ++i) {
        if (state_ == State::Value || state_ == State::Name) {
            i = skipOrdinary(data, i, len);
            if (i == len)
                break;
        }
        const char c = data[i];
        if (state_ != State::Leading && ++headBytes_ > maxHead_)
            return inStartLine_ ? fail(i, maxTarget_ ? 414 : 431, "start line too long")
                                : fail(i, 431, "header block too large");
        if (c == '\0')
            return fail(i, 400, "NUL byte in message head");
        if (state_ == State::Leading) {
            if (c == '\r' || c == '\n')
                continue; // RFC 9112 §2.2: ignore empty lines before the request line
            state_ = State::StartLine;
            ++headBytes_;
        }
        const Refusal r = state_ == State::StartLine ? startLine(c) : fieldLine(c);
        if (r.status)
            return fail(i, r.status, r.reason);
        if (state_ == State::Done)
            return {Status::Done, i + 1, 0, nullptr};
    }
    return {Status::NeedMore, len, 0, nullptr};
}

// RFC 9112 §3: method SP request-target SP HTTP-version, nothing less (a response's status line
// is left to llhttp and ResponseParser).
HeadScanner::Refusal HeadScanner::startLine(char c) {
    if (c == '\r') {
        if (maxTarget_ && (spaces_ != 2 || partBytes_ == 0))
            return {400, "malformed request line"};
        lineEmpty_ = false;
        state_ = State::Cr;
        return {};
    }
    if (c == '\n')
        return {400, "bare LF in start line"};
    if (!maxTarget_)
        return {};
    if (c == ' ') {
        // Exactly one SP between the parts: "GET  /" would put an empty target before a second
        // one that no size limit counted.
        if (partBytes_ == 0 || ++spaces_ > 2)
            return {400, "malformed request line"};
        partBytes_ = 0;
        return {};
    }
    if (spaces_ == 0 ? !isTokenChar(static_cast<unsigned char>(c)) : (c <= 0x20 || c >= 0x7f))
        // A method is a token; a target and the version are visible ASCII only (RFC 9112 §3.2,
        // RFC 3986 §2): no HTAB, no other control, no byte >= 0x80.
        return {400,
                spaces_ == 1 ? "invalid character in request-target" : "malformed request line"};
    ++partBytes_;
    if (spaces_ == 1 && ++targetBytes_ > maxTarget_)
        return {414, "request-target too long"};
    return {};
}

// The line ends, the field lines (RFC 9112 §5) and the empty line that ends the head.
HeadScanner::Refusal HeadScanner::fieldLine(char c) {
    switch (state_) {
    case State::Cr:
        if (c != '\n')
            return {400, "CR not followed by LF in message head"};
        inStartLine_ = false;
        state_ = lineEmpty_ ? State::Done : State::LineStart;
        return {};
    case State::LineStart:
        if (c == '\r') {
            lineEmpty_ = true;
            state_ = State::Cr;
        } else if (c == ' ' || c == '\t') {
            return {400, "obsolete line folding in header"};
        } else if (c == ':') {
            return {400, "empty header field name"};
        } else if (c == '\n') {
            return {400, "bare LF in message head"};
        } else {
            state_ = State::Name;
        }
        return {};
    case State::Name:
        if (c == ':')
            state_ = State::Value;
        else if (c == ' ' || c == '\t')
            return {400, "whitespace in or after header field name"};
        else if (c == '\r' || c == '\n')
            return {400, "header line without a colon"};
        return {};
    case State::Value:
        if (c == '\r') {
            lineEmpty_ = false;
            state_ = State::Cr;
        } else if (c == '\n') {
            return {400, "bare LF in header value"};
        }
        return {};
    default:
        return {};
    }
}

} // namespace fc::http
