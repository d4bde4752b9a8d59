#include <doctest/doctest.h>

#include <string>

#include "http/chunked.h"

using namespace fc::http;

namespace {
struct Decoded {
    ChunkedDecoder::Status status = ChunkedDecoder::Status::NeedMore;
    std::string data;
    std::size_t consumed = 0; // of the whole input, when Done
};

// Feeds `in` in pieces cut at `cuts` (ascending offsets), as bytes arrive from a socket.
Decoded decode(const std::string &in, std::initializer_list<std::size_t> cuts = {}) {
    ChunkedDecoder d(64);
    Decoded out;
    std::size_t from = 0;
    auto piece = [&](std::size_t to) {
        std::string_view rest(in.data() + from, to - from);
        std::size_t at = from;
        while (!rest.empty()) {
            auto r = d.feed(rest);
            out.data.append(r.data);
            rest.remove_prefix(r.consumed);
            at += r.consumed;
            out.status = r.status;
            if (r.status != ChunkedDecoder::Status::NeedMore) {
                out.consumed = at;
                return false;
            }
        }
        return true;
    };
    for (std::size_t c : cuts) {
        if (!piece(c))
            return out;
        from = c;
    }
    piece(in.size());
    return out;
}

// The same outcome whole, cut in two at every offset, and byte by byte.
Decoded decodeEveryWay(const std::string &in) {
    Decoded whole = decode(in);
    for (std::size_t i = 1; i < in.size(); ++i) {
        INFO("split at " << i);
        Decoded split = decode(in, {i});
        REQUIRE(split.status == whole.status);
        REQUIRE(split.data == whole.data);
        REQUIRE(split.consumed == whole.consumed);
    }
    ChunkedDecoder d(64);
    std::string data;
    auto status = ChunkedDecoder::Status::NeedMore;
    for (std::size_t i = 0; i < in.size() && status == ChunkedDecoder::Status::NeedMore; ++i) {
        auto r = d.feed(std::string_view(in).substr(i, 1));
        data.append(r.data);
        status = r.status;
    }
    REQUIRE(status == whole.status);
    REQUIRE(data == whole.data);
    return whole;
}
} // namespace

TEST_CASE("chunked bodies decode at every split; what follows is left alone") {
    const std::string body = "5\r\nhello\r\n6;a=b;c=\"x;\\\"y\" ; d\r\n world\r\n"
                             "A\r\n0123456789\r\n000\r\nX-T: 1\r\nY:\r\n\r\n";
    auto d = decodeEveryWay(body + "GET / HTTP/1.1\r\n");
    CHECK(d.status == ChunkedDecoder::Status::Done);
    CHECK(d.data == "hello world0123456789");
    CHECK(d.consumed == body.size());
    CHECK(decodeEveryWay("0\r\n\r\n").status == ChunkedDecoder::Status::Done);
    CHECK(decodeEveryWay("f\r\n" + std::string(15, 'x') + "\r\n0\r\n\r\n").data.size() == 15);
    CHECK(decodeEveryWay("00005\r\nhello\r\n0\r\n\r\n").data == "hello");
}

TEST_CASE("what llhttp 8.1 lets through, and other bad framing, is an error at every split") {
    const char *bad[] = {
        "5\r\nhelloXX0\r\n\r\n",          // bytes other than CRLF after chunk data
        "5\r\nhello\n0\r\n\r\n",          // bare LF after chunk data
        "5\r\nhello\rX0\r\n\r\n",         // CR without LF after chunk data
        "5\r\nhello\r\n0\r\n\n",          // bare LF ending the body
        "5\nhello\r\n0\r\n\r\n",          // bare LF ending the size line
        " 5\r\nhello\r\n0\r\n\r\n",       // white space before the size
        "5 \r\nhello\r\n0\r\n\r\n",       // white space after it without an extension
        "0x5\r\nhello\r\n0\r\n\r\n",      // not hexadecimal
        "-5\r\nhello\r\n0\r\n\r\n",       // signs
        "\r\nhello\r\n0\r\n\r\n",         // no size at all
        "10000000000000000\r\n",          // 2^64: overflows
        "fffffffffffffffff\r\n",          // so does this
        "5;\r\nhello\r\n0\r\n\r\n",       // ';' without a name
        "5;a=\r\nhello\r\n0\r\n\r\n",     // '=' without a value
        "5;a=\"x\r\nhello\r\n0\r\n\r\n",  // unterminated quoted string
        "5;a@b\r\nhello\r\n0\r\n\r\n",    // not a token
        "5;a=b c\r\nhello\r\n0\r\n\r\n",  // two tokens
        "5;a=\x01\r\nhello\r\n0\r\n\r\n", // control character
        "0\r\n X: folded\r\n\r\n",        // obs-fold in the trailer
        "0\r\nX : y\r\n\r\n",             // white space before a trailer's colon
        "0\r\n: y\r\n\r\n",               // empty trailer name
        "0\r\nX\r\n\r\n",                 // trailer line without a colon
        "0\r\nX: a\x01\r\n\r\n",          // control character in a trailer value
        "0\r\nX: a\nY: b\r\n\r\n",        // bare LF in the trailer section
        "0\r\n\rX",                       // CR not followed by LF at the end
    };
    for (const char *b : bad) {
        INFO(b);
        auto d = decodeEveryWay(b);
        CHECK(d.status == ChunkedDecoder::Status::Error);
    }
}

TEST_CASE("the largest size parses; the trailer section and size line are bounded") {
    ChunkedDecoder d(64);
    auto r = d.feed("ffffffffffffffff\r\nab");
    CHECK(r.status == ChunkedDecoder::Status::NeedMore);
    CHECK(r.data == "ab");
    ChunkedDecoder t(64);
    CHECK(t.feed("0\r\nX: " + std::string(100, 'y') + "\r\n\r\n").status ==
          ChunkedDecoder::Status::Error);
    ChunkedDecoder line(64);
    CHECK(line.feed("5;" + std::string(ChunkedDecoder::kMaxLine, 'a')).status ==
          ChunkedDecoder::Status::Error);
    ChunkedDecoder zeros(64); // leading zeros count towards the line, not towards overflow
    CHECK(zeros.feed(std::string(100, '0') + "5\r\nhello\r\n").data == "hello");
}

TEST_CASE("a chunk size past maxData is refused at its size line") {
    ChunkedDecoder d(64, 10);
    CHECK(d.feed("6\r\nabcdef\r\n").data == "abcdef");
    auto r = d.feed(std::string_view("6\r\nabcdef\r\n").substr(9)); // the CRLF after the data
    CHECK(r.status == ChunkedDecoder::Status::NeedMore);
    CHECK(d.feed("5\r\n").status == ChunkedDecoder::Status::TooLarge);
    ChunkedDecoder exact(64, 10);
    CHECK(exact.feed("a\r\n").status == ChunkedDecoder::Status::NeedMore);
}

TEST_CASE("a decoder is reusable after reset, and says how much data it decoded") {
    ChunkedDecoder d;
    CHECK(d.feed("3\r\nabc\r\n0\r\n\r\n").data == "abc");
    auto rest = d.feed(std::string_view("3\r\nabc\r\n0\r\n\r\n").substr(6));
    CHECK(rest.status == ChunkedDecoder::Status::Done);
    CHECK(d.dataBytes() == 3);
    CHECK(d.feed("x").status == ChunkedDecoder::Status::Done);
    d.reset();
    CHECK(d.dataBytes() == 0);
    CHECK(d.feed("zz").status == ChunkedDecoder::Status::Error);
    CHECK(d.feed("0\r\n\r\n").status == ChunkedDecoder::Status::Error); // until reset
}
