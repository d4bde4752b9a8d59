// HeadScanner: a resumable byte-level check of an HTTP/1.1 message head, run before llhttp sees
// the bytes. It closes the gaps that Debian's llhttp 8.1.0 leaves open (docs/architecture.md,
// "Parser hardening") and enforces the head-size limits:
//   - a CR not followed by LF, a bare LF, or NUL anywhere in the head      -> 400 (RFC 9112 §2.2)
//   - a request line that is not token SP target SP version, with exactly one SP each and a
//     target of visible ASCII only (llhttp takes "GET  /", HTAB as SP, bytes >= 0x80)
//                                                                           -> 400 (RFC 9112 §3)
//   - whitespace between a field name and the colon                         -> 400 (RFC 9112 §5.1)
//   - an empty field name (line starting with ':')                          -> 400 (RFC 9110 §5.1)
//   - obs-fold (a field line starting with SP or HTAB)                      -> 400 (RFC 9112 §5.2)
//   - request-target longer than maxTarget                                  -> 414 (RFC 9112 §3)
//   - head longer than maxHead                                              -> 431 (RFC 6585 §5)
// Empty lines before the start line are tolerated (RFC 9112 §2.2).
//
// Not thread-safe; one per parser. No allocation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fc::http {

class HeadScanner {
public:
    enum class Status { NeedMore, Done, Error };
    struct Result {
        Status status;
        size_t consumed;    // bytes of `data` that belong to the head (all of them unless Done)
        int httpStatus;     // with Error: 400, 414 or 431
        const char *reason; // with Error: short explanation, static storage
    };

    // maxTarget = 0 disables the request-target check (used for responses).
    HeadScanner(size_t maxHead, size_t maxTarget) : maxHead_(maxHead), maxTarget_(maxTarget) {}

    // Scans the next bytes of the head. After Done or Error, call reset() before reuse.
    Result scan(const char *data, size_t len);
    void reset();
    bool inHead() const { return state_ != State::Done; }

private:
    enum class State : std::uint8_t {
        Leading,
        StartLine,
        LineStart,
        Name,
        Value,
        Cr,
        Done,
        Failed
    };
    Result fail(size_t consumed, int status, const char *reason);
    struct Refusal {
        int status = 0; // 0: the byte is fine
        const char *reason = nullptr;
    };
    size_t skipOrdinary(const char *data, size_t i, size_t len);
    Refusal startLine(char c);
    Refusal fieldLine(char c);

    size_t maxHead_, maxTarget_;
    State state_ = State::Leading;
    bool lineEmpty_ = false;  // the line that the pending CR ends is empty
    bool inStartLine_ = true; // still on the start line (for 414 vs 431)
    std::uint8_t spaces_ = 0; // SPs seen on the start line
    size_t headBytes_ = 0, targetBytes_ = 0;
    size_t partBytes_ = 0; // bytes of the request line's current part
};

} // namespace fc::http
