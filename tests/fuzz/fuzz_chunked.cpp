// libFuzzer target: arbitrary bytes into http::ChunkedDecoder (RFC 9112 §7.1), checked against
// itself and against a small reference decoder written here from the grammar in chunked.h.
//
// Input: bytes 0-1 the split position (little-endian, modulo the body length + 1), byte 2 the
// trailer limit (below 0x80: that many bytes; else the default), byte 3 the data limit (below
// 0x80: that many bytes; else none), then the body. The body is decoded whole, split in two at the
// position, and a byte at a time (each byte in a buffer of its own, so a read past what was given
// is an ASan report). Each way must give the same outcome (Done, Error, TooLarge or NeedMore), the
// same data, and stop at the same byte; each call stays within its input and hands back data only
// from the bytes it consumed; dataBytes() counts the data. The reference is a recursive-descent
// reading of the whole buffer: it decides where a valid body ends (Done: the decoder stops right
// after the final CRLF), where an invalid one first goes wrong (the decoder fails at that byte),
// which size line asks for more data than allowed (TooLarge, right after its LF), or that more is
// needed — and the data in each case.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/chunked.h"

using fc::fuzz::heapCopy;
using fc::fuzz::splitAt;
using fc::fuzz::tchar;
using fc::http::ChunkedDecoder;

namespace {

enum class Outcome { NeedMore, Done, Error, TooLarge };

struct Run {
    Outcome outcome = Outcome::NeedMore;
    std::size_t end = 0; // Done: the byte after the body; Error: the offending byte
    std::string data;
};

// Feeds one piece (all of it, or up to Done/Error), checking each call's contract. `base` is the
// piece's offset in the body.
bool feedPiece(ChunkedDecoder &d, std::string_view piece, std::size_t base, Run &run) {
    std::size_t pos = 0;
    while (pos < piece.size()) {
        std::string_view in = piece.substr(pos);
        const std::uint64_t before = d.dataBytes();
        auto r = d.feed(in);
        CHECK(r.consumed <= in.size());
        if (!r.data.empty()) {
            // Data lies within the consumed bytes of this call's input.
            CHECK(r.data.data() >= in.data());
            CHECK(r.data.data() + r.data.size() <= in.data() + r.consumed);
            CHECK(r.status == ChunkedDecoder::Status::NeedMore);
        }
        CHECK(d.dataBytes() == before + r.data.size());
        run.data.append(r.data);
        pos += r.consumed;
        switch (r.status) {
        case ChunkedDecoder::Status::Done:
            CHECK(r.reason == nullptr && r.consumed > 0);
            run.outcome = Outcome::Done;
            run.end = base + pos;
            return false;
        case ChunkedDecoder::Status::Error:
            CHECK(r.reason != nullptr && r.data.empty());
            run.outcome = Outcome::Error;
            run.end = base + pos;
            return false;
        case ChunkedDecoder::Status::TooLarge:
            // Refused at the LF of the size line, before any of that chunk's data.
            CHECK(r.reason != nullptr && r.data.empty() && r.consumed > 0);
            CHECK(in[r.consumed - 1] == '\n');
            run.outcome = Outcome::TooLarge;
            run.end = base + pos;
            return false;
        case ChunkedDecoder::Status::NeedMore:
            // Either everything was used, or a piece of data came back: progress either way.
            CHECK(r.consumed == in.size() || !r.data.empty());
            CHECK(r.consumed > 0);
            break;
        }
    }
    run.end = base + pos;
    return true;
}

// After Done the decoder says so again and consumes nothing; after Error or TooLarge it says
// Error.
void checkSticky(ChunkedDecoder &d, const Run &run) {
    if (run.outcome == Outcome::NeedMore)
        return;
    static const char more[] = "5\r\nhello\r\n0\r\n\r\n";
    auto r = d.feed(more);
    CHECK(r.consumed == 0 && r.data.empty());
    CHECK(r.status == (run.outcome == Outcome::Done ? ChunkedDecoder::Status::Done
                                                    : ChunkedDecoder::Status::Error));
    CHECK((r.reason == nullptr) == (run.outcome == Outcome::Done));
}

Run decodeWhole(ChunkedDecoder &d, std::string_view body) {
    Run run;
    feedPiece(d, body, 0, run);
    CHECK(d.dataBytes() == run.data.size());
    checkSticky(d, run);
    return run;
}

Run decodeSplit(ChunkedDecoder &d, std::string_view body, std::size_t at) {
    Run run;
    // Each half in a heap buffer of exactly its size.
    const auto a = heapCopy(body.substr(0, at)), b = heapCopy(body.substr(at));
    if (feedPiece(d, {a.get(), at}, 0, run))
        feedPiece(d, {b.get(), body.size() - at}, at, run);
    CHECK(d.dataBytes() == run.data.size());
    checkSticky(d, run);
    return run;
}

Run decodeBytes(ChunkedDecoder &d, std::string_view body) {
    Run run;
    for (std::size_t i = 0; i < body.size(); ++i) {
        const auto one = heapCopy(body.substr(i, 1));
        if (!feedPiece(d, {one.get(), 1}, i, run))
            break;
    }
    CHECK(d.dataBytes() == run.data.size());
    checkSticky(d, run);
    return run;
}

// --- the reference -----------------------------------------------------------------------------
// The grammar chunked.h documents, read top-down over the whole buffer:
//   chunked-body = *chunk last-chunk trailer-section CRLF
//   chunk        = size-line chunk-data CRLF               (size > 0)
//   size-line    = 1*HEXDIG [ BWS ";" ext *( BWS ";" ext ) ] CRLF   (at most kMaxLine bytes)
//   ext          = BWS token [ BWS "=" BWS ( token / quoted-string ) ] BWS
//   trailer-section = *( token ":" *( HTAB / SP / VCHAR / obs-text ) CRLF ) (with its CRLF, at
//                     most the trailer limit)

bool bws(unsigned char c) {
    return c == ' ' || c == '\t';
}
int hexdig(unsigned char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = static_cast<unsigned char>(c | 0x20); // ASCII lower case
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

class Reference {
public:
    Reference(std::string_view in, std::size_t maxTrailer, std::uint64_t maxData)
        : in_(in), maxTrailer_(maxTrailer), maxData_(maxData) {}

    Run run() {
        Run r;
        for (;;) {
            std::uint64_t size = 0;
            if (!sizeLine(size))
                return stop(r);
            if (size > maxData_ - r.data.size()) {
                r.outcome = Outcome::TooLarge;
                r.end = p_;
                return r;
            }
            if (size == 0)
                break;
            const std::size_t avail = in_.size() - p_;
            if (avail < size) {
                r.data.append(in_.substr(p_));
                p_ = in_.size();
                return stop(r);
            }
            r.data.append(in_.substr(p_, static_cast<std::size_t>(size)));
            p_ += static_cast<std::size_t>(size);
            if (!expect('\r') || !expect('\n'))
                return stop(r);
        }
        trailerStart_ = p_;
        inTrailer_ = true;
        for (;;) {
            int c = peek();
            if (c < 0)
                return stop(r);
            if (c == '\r') {
                ++p_;
                if (!expect('\n'))
                    return stop(r);
                r.outcome = Outcome::Done;
                r.end = p_;
                return r;
            }
            if (!tchar(static_cast<unsigned char>(c)))
                return fail(r);
            while ((c = peek()) >= 0 && tchar(static_cast<unsigned char>(c)))
                ++p_;
            if (!expect(':'))
                return stop(r);
            while ((c = peek()) >= 0 && (c == '\t' || (c >= 0x20 && c != 0x7f)))
                ++p_;
            if (!expect('\r') || !expect('\n'))
                return stop(r);
        }
    }

private:
    // The next byte, or -1 at the end of the input; -2 (with failed_) when the byte breaks a
    // length limit.
    int peek() {
        if (p_ >= in_.size())
            return -1;
        if (inLine_ && p_ - lineStart_ + 1 > ChunkedDecoder::kMaxLine) {
            failed_ = true;
            return -2;
        }
        if (inTrailer_ && p_ - trailerStart_ + 1 > maxTrailer_) {
            failed_ = true;
            return -2;
        }
        return static_cast<unsigned char>(in_[p_]);
    }
    bool expect(char want) {
        int c = peek();
        if (c != static_cast<unsigned char>(want)) {
            failed_ = failed_ || c >= 0;
            return false;
        }
        ++p_;
        return true;
    }
    bool bad() { // the byte at p_ is wrong, or there is none yet (then more is needed)
        if (peek() >= 0)
            failed_ = true;
        return false;
    }
    void skipBws() {
        int c;
        while ((c = peek()) >= 0 && bws(static_cast<unsigned char>(c)))
            ++p_;
    }
    bool sizeLine(std::uint64_t &size) {
        lineStart_ = p_;
        inLine_ = true;
        int digits = 0, c;
        while ((c = peek()) >= 0 && hexdig(static_cast<unsigned char>(c)) >= 0) {
            if (size > (UINT64_MAX >> 4))
                return bad();
            size = size * 16 + static_cast<std::uint64_t>(hexdig(static_cast<unsigned char>(c)));
            ++digits;
            ++p_;
        }
        if (c < 0 || digits == 0)
            return bad();
        if (c != '\r') {
            skipBws();
            if (!expect(';'))
                return false;
            for (;;) {
                if (!extension())
                    return false;
                c = peek();
                if (c == ';') {
                    ++p_;
                    continue;
                }
                if (c == '\r')
                    break;
                return bad();
            }
        }
        if (!expect('\r') || !expect('\n'))
            return false;
        inLine_ = false;
        return true;
    }
    // After a ';': BWS token [ BWS "=" BWS value ] BWS, up to the ';' or CR that follows.
    bool extension() {
        skipBws();
        int c = peek();
        if (c < 0 || !tchar(static_cast<unsigned char>(c)))
            return bad();
        while ((c = peek()) >= 0 && tchar(static_cast<unsigned char>(c)))
            ++p_;
        skipBws();
        if (peek() != '=')
            return peek() >= 0 || bad();
        ++p_;
        skipBws();
        c = peek();
        if (c == '"') {
            ++p_;
            for (;;) {
                c = peek();
                if (c < 0)
                    return bad();
                ++p_;
                if (c == '"')
                    break;
                if (c == '\\') {
                    c = peek();
                    if (c < 0 || (c != '\t' && (c < 0x20 || c == 0x7f)))
                        return bad();
                    ++p_;
                } else if (!(c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
                             (c >= 0x5d && c <= 0x7e) || c >= 0x80)) {
                    --p_;
                    return bad();
                }
            }
        } else if (c >= 0 && tchar(static_cast<unsigned char>(c))) {
            while ((c = peek()) >= 0 && tchar(static_cast<unsigned char>(c)))
                ++p_;
        } else {
            return bad();
        }
        skipBws();
        return peek() >= 0 || bad();
    }
    Run &stop(Run &r) {
        r.outcome = failed_ ? Outcome::Error : Outcome::NeedMore;
        r.end = failed_ ? p_ : in_.size();
        return r;
    }
    Run &fail(Run &r) {
        failed_ = true;
        return stop(r);
    }

    std::string_view in_;
    std::size_t maxTrailer_;
    std::uint64_t maxData_;
    std::size_t p_ = 0, lineStart_ = 0, trailerStart_ = 0;
    bool inLine_ = false, inTrailer_ = false, failed_ = false;
};

void same(const Run &a, const Run &b) {
    CHECK(a.outcome == b.outcome);
    CHECK(a.end == b.end);
    CHECK(a.data == b.data);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    if (size < 4)
        return 0;
    const std::size_t maxTrailer = data[2] < 0x80 ? data[2] : 16 * 1024;
    const std::uint64_t maxData = data[3] < 0x80 ? data[3] : UINT64_MAX;
    std::string_view body(reinterpret_cast<const char *>(data) + 4, size - 4);
    const std::size_t at = splitAt(data[0], data[1], body.size());

    ChunkedDecoder d(maxTrailer, maxData);
    const Run whole = decodeWhole(d, body);
    d.reset(); // the same decoder again: reset() forgets everything
    same(whole, decodeWhole(d, body));
    ChunkedDecoder split(maxTrailer, maxData), bytes(maxTrailer, maxData);
    same(whole, decodeSplit(split, body, at));
    same(whole, decodeBytes(bytes, body));
    if (whole.outcome == Outcome::Done) {
        CHECK(whole.end >= 5 && body.substr(whole.end - 2, 2) == "\r\n");
    }
    same(whole, Reference(body, maxTrailer, maxData).run());
    return 0;
}
