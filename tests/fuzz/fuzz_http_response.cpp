// libFuzzer target: arbitrary bytes as an upstream's answer to http::ResponseParser, driven the
// way an upstream connection drives it: start(), feed() as bytes arrive until the response is
// complete (Paused) or refused (Error), finish() when the bytes end first.
//
// Input: byte 0 bit 0 says whether the request was a HEAD (the other run takes the other value),
// bytes 1-2 a split position (little-endian, modulo the response length + 1), then the response.
// For each of start(false) and start(true) the response is fed whole, split in two at the
// position, and a byte at a time (each piece in a heap buffer of its own); the three logs of
// callbacks (heads, early hints, body bytes, completion) and outcomes (where the response ended,
// or that it was refused) must be the same. Checked on the way:
//   - feed() never consumes more than it was given; NeedMore consumes everything;
//   - Paused comes with exactly one onResponseComplete, in that call; no callback follows it
//     (another feed() of the rest calls nothing) until start();
//   - no callback after an Error, and feeding again stays an Error;
//   - only a 103 reaches onEarlyHints and only before the final head; a 1xx never reaches
//     onResponseHead, so never has body callbacks; no body before the final head, none for a
//     HEAD, a 204 or a 304, and a Content-Length body is exactly that long;
//   - an accepted head has a status in 200-599, a reason without control characters, field
//     names that are tokens and values without CR, LF or NUL;
//   - after whatever came before, start() and a plain response parse normally;
//   - every accepted field value goes through http::sf::isDictionary (RFC 8941) too, and
//     http::sf::parseStringList (its strings are visible ASCII).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "http/cache_control.h"
#include "http/parser.h"
#include "http/structured_field.h"

using namespace fc::http;
using fc::fuzz::heapCopy;
using fc::fuzz::splitAt;
using fc::fuzz::token;

namespace {

using Log = std::vector<std::string>; // one entry per event; adjacent body bytes are one entry

void appendHead(std::string &log, const ResponseHead &h) {
    log += std::to_string(h.status) + " " + h.reason + " v" + std::to_string(h.versionMajor) + "." +
           std::to_string(h.versionMinor);
    h.headers.forEach([&](std::string_view n, std::string_view v) {
        CHECK(token(n));
        CHECK(v.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
        // Every field value through the Structured Field grammar (RFC 8941), as a targeted
        // CDN-Cache-Control is: it reads only within the value, whatever the bytes.
        if (fc::http::sf::isDictionary(v))
            log.append("|sf");
        // And as a List of Strings (RFC 9875 Cache-Groups): each string is visible ASCII.
        std::vector<std::string> strings;
        std::size_t others = 0;
        if (fc::http::sf::parseStringList(v, strings, others))
            for (const auto &s : strings)
                for (char c : s)
                    CHECK(c >= 0x20 && c < 0x7f);
        log.append("|").append(n).append(":").append(v);
    });
}

struct Sink : ResponseParser::Sink {
    Log log;
    bool head = false;     // the final head arrived
    bool complete = false; // onResponseComplete ran (nothing may follow until start())
    bool requestWasHead = false;
    int status = 0;
    std::int64_t contentLength = -1;
    std::uint64_t bodyBytes = 0;
    int completions = 0;

    void start(bool wasHead) {
        head = complete = false;
        requestWasHead = wasHead;
        status = 0;
        contentLength = -1;
        bodyBytes = 0;
        completions = 0;
    }
    bool onResponseHead(ResponseHead &h) override {
        CHECK(!complete && !head);
        CHECK(h.status >= 200 && h.status <= 599);
        CHECK(h.versionMajor == 1);
        for (unsigned char c : h.reason)
            CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
        CHECK(!(h.chunked && h.contentLength >= 0));
        head = true;
        status = h.status;
        contentLength = h.contentLength;
        std::string e = "H ";
        appendHead(e, h);
        e += h.keepAlive ? " keep" : " close";
        e += h.chunked ? " chunked" : "";
        e += " cl=" + std::to_string(h.contentLength);
        log.push_back(std::move(e));
        return true;
    }
    void onEarlyHints(ResponseHead &h) override {
        CHECK(!complete && !head);
        CHECK(h.status == 103);
        std::string e = "E ";
        appendHead(e, h);
        log.push_back(std::move(e));
    }
    void onResponseBody(std::string_view piece) override {
        CHECK(!complete && head); // never before the final head: no 1xx body
        // llhttp ends an open body span with an empty piece when a feed() ends where the span
        // began (a feed of no bytes, for one); sinks take that as nothing.
        if (piece.empty())
            return;
        CHECK(!requestWasHead && status != 204 && status != 304);
        bodyBytes += piece.size();
        if (contentLength >= 0)
            CHECK(bodyBytes <= static_cast<std::uint64_t>(contentLength));
        // Adjacent pieces are one run of bytes in the log, wherever the splits fell.
        if (log.empty() || log.back().compare(0, 2, "B ") != 0)
            log.emplace_back("B ");
        log.back().append(piece);
    }
    void onResponseComplete() override {
        CHECK(!complete && head);
        if (contentLength >= 0 && !requestWasHead && status != 204 && status != 304)
            CHECK(bodyBytes == static_cast<std::uint64_t>(contentLength));
        complete = true;
        ++completions;
        log.emplace_back("C");
    }
};

// Feeds `pieces` (offsets into `in`) the way an upstream connection does; returns the log.
template <typename Pieces>
Log drive(ResponseParser &p, Sink &sink, std::string_view in, bool wasHead, const Pieces &pieces) {
    sink.log.clear();
    sink.start(wasHead);
    p.start(wasHead);
    Log &log = sink.log;
    std::size_t base = 0;
    bool ended = false;
    for (std::size_t len : pieces) {
        const auto buf = heapCopy(in.substr(base, len));
        const int before = sink.completions;
        auto r = p.feed(buf.get(), len);
        CHECK(r.consumed <= len);
        if (r.status == ParseStatus::NeedMore) {
            CHECK(r.consumed == len && sink.completions == before);
            base += len;
            continue;
        }
        if (r.status == ParseStatus::Paused) {
            CHECK(sink.completions == before + 1);
            log.push_back("Paused at " + std::to_string(base + r.consumed));
            // The rest of the input (or these bytes) must call nothing without start().
            const std::size_t restLen = len - r.consumed;
            std::string_view more = restLen ? std::string_view(buf.get() + r.consumed, restLen)
                                            : std::string_view("HTTP/1.1 200 OK\r\n\r\n");
            std::string copy(more);
            const Log before2 = log;
            auto again = p.feed(copy.data(), copy.size());
            CHECK(again.status == ParseStatus::Paused || again.status == ParseStatus::Error);
            CHECK(again.consumed == 0); // nothing is parsed until start()
            CHECK(log == before2);
        } else {
            CHECK(sink.completions == before);
            CHECK(p.errorStatus() == 502 && p.errorReason() != nullptr);
            // Not the reason: HeadScanner runs ahead of llhttp over the bytes it has, so which of
            // two faults in one head is named first depends on where the bytes were split.
            log.emplace_back("Error");
            const Log before2 = log;
            auto again = p.feed(buf.get(), len);
            CHECK(again.status == ParseStatus::Error && again.consumed == 0);
            CHECK(log == before2);
        }
        ended = true;
        break;
    }
    if (!ended) {
        const int before = sink.completions;
        auto r = p.finish();
        if (r.status == ParseStatus::Paused) {
            CHECK(sink.completions == before + 1);
            log.emplace_back("Ended by close");
        } else if (r.status == ParseStatus::Error) {
            CHECK(sink.completions == before);
            log.emplace_back("Error at close");
        } else {
            CHECK(sink.completions == before && in.empty());
            log.emplace_back("Nothing");
        }
    }
    return log;
}

// After anything, start() and a plain response parse as they should.
void checkFresh(ResponseParser &p, Sink &sink) {
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    sink.log.clear();
    sink.start(false);
    p.start(false);
    std::string copy(ok);
    auto r = p.feed(copy.data(), copy.size());
    CHECK(r.status == ParseStatus::Paused && r.consumed == copy.size());
    CHECK(sink.log == Log({"H 200 OK v1.1|Content-Length:2 keep cl=2", "B ok", "C"}));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    if (size < 3 || size > (1 << 16))
        return 0;
    std::string_view in(reinterpret_cast<const char *>(data) + 3, size - 3);
    const std::size_t at = splitAt(data[1], data[2], in.size());
    Sink sink;
    ResponseParser parser(sink, 4096);
    for (bool wasHead : {(data[0] & 1) != 0, (data[0] & 1) == 0}) {
        const std::size_t whole[] = {in.size()};
        const Log a = drive(parser, sink, in, wasHead, whole);
        const std::size_t split[] = {at, in.size() - at};
        CHECK(drive(parser, sink, in, wasHead, split) == a);
        if (in.size() <= 4096) {
            const std::vector<std::size_t> ones(in.size(), 1);
            CHECK(drive(parser, sink, in, wasHead, ones) == a);
        }
        checkFresh(parser, sink);
    }
    return 0;
}
