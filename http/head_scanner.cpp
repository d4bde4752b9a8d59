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

HeadScanner::Result HeadScanner::scan(const char *data, size_t len) {
    if (state_ == State::Failed)
        return {Status::Error, 0, 400, "malformed request head"};
    if (state_ == State::Done)
        return {Status::Done, 0, 0, nullptr};
    for (size_t i = 0; i < len; ++i) {
        if (state_ == State::Value || state_ == State::Name) {
            // Most of a head is field names and values: skip their ordinary bytes in a tight
            // loop (no per-byte dispatch), up to the byte the state machine must see, within
            // the size limit; that byte then goes through the switch below.
            const size_t room = maxHead_ > headBytes_ ? maxHead_ - headBytes_ : 0;
            const size_t end = len - i > room ? i + room : len;
            size_t j = i;
            if (state_ == State::Value)
                while (j < end && data[j] != '\r' && data[j] != '\n' && data[j] != '\0')
                    ++j;
            else
                while (j < end && data[j] != ':' && data[j] != ' ' && data[j] != '\t' &&
                       data[j] != '\r' && data[j] != '\n' && data[j] != '\0')
                    ++j;
            headBytes_ += j - i;
            i = j;
            if (i == len)
                break;
        }
        const char c = data[i];
        if (state_ != State::Leading && ++headBytes_ > maxHead_)
            return inStartLine_ ? fail(i, maxTarget_ ? 414 : 431, "start line too long")
                                : fail(i, 431, "header block too large");
        if (c == '\0')
            return fail(i, 400, "NUL byte in message head");
        switch (state_) {
        case State::Leading:
            if (c == '\r' || c == '\n')
                break; // RFC 9112 §2.2: ignore empty lines before the request line
            state_ = State::StartLine;
            ++headBytes_;
            [[fallthrough]];
        case State::StartLine:
            if (c == '\r') {
                // RFC 9112 §3: method SP request-target SP HTTP-version, nothing less.
                if (maxTarget_ && (spaces_ != 2 || partBytes_ == 0))
                    return fail(i, 400, "malformed request line");
                lineEmpty_ = false;
                state_ = State::Cr;
            } else if (c == '\n') {
                return fail(i, 400, "bare LF in start line");
            } else if (!maxTarget_) {
                break; // a status line: llhttp and ResponseParser check it
            } else if (c == ' ') {
                // Exactly one SP between the parts: "GET  /" would put an empty target before
                // a second one that no size limit counted.
                if (partBytes_ == 0 || ++spaces_ > 2)
                    return fail(i, 400, "malformed request line");
                partBytes_ = 0;
            } else if (spaces_ == 0 ? !isTokenChar(static_cast<unsigned char>(c))
                                    : (c <= 0x20 || c >= 0x7f)) {
                // A method is a token; a target and the version are visible ASCII only
                // (RFC 9112 §3.2, RFC 3986 §2): no HTAB, no other control, no byte >= 0x80.
                return fail(i, 400,
                            spaces_ == 1 ? "invalid character in request-target"
                                         : "malformed request line");
            } else {
                ++partBytes_;
                if (spaces_ == 1 && ++targetBytes_ > maxTarget_)
                    return fail(i, 414, "request-target too long");
            }
            break;
        case State::Cr:
            if (c != '\n')
                return fail(i, 400, "CR not followed by LF in message head");
            inStartLine_ = false;
            if (lineEmpty_) {
                state_ = State::Done;
                return {Status::Done, i + 1, 0, nullptr};
            }
            state_ = State::LineStart;
            break;
        case State::LineStart:
            if (c == '\r') {
                lineEmpty_ = true;
                state_ = State::Cr;
            } else if (c == ' ' || c == '\t') {
                return fail(i, 400, "obsolete line folding in header");
            } else if (c == ':') {
                return fail(i, 400, "empty header field name");
            } else if (c == '\n') {
                return fail(i, 400, "bare LF in message head");
            } else {
                state_ = State::Name;
            }
            break;
        case State::Name:
            if (c == ':')
                state_ = State::Value;
            else if (c == ' ' || c == '\t')
                return fail(i, 400, "whitespace in or after header field name");
            else if (c == '\r' || c == '\n')
                return fail(i, 400, "header line without a colon");
            break;
        case State::Value:
            if (c == '\r') {
                lineEmpty_ = false;
                state_ = State::Cr;
            } else if (c == '\n') {
                return fail(i, 400, "bare LF in header value");
            }
            break;
        case State::Done:
        case State::Failed:
            break;
        }
    }
    return {Status::NeedMore, len, 0, nullptr};
}

} // namespace fc::http
