#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "http/parser.h"

using namespace fc::http;

namespace {

struct RequestLog : RequestParser::Sink {
    std::string log;
    bool onRequestHead(RequestHead &h) override {
        log += "HEAD " + h.method + " " + h.target + " 1." + std::to_string(h.versionMinor);
        h.headers.forEach([&](std::string_view n, std::string_view v) {
            log += " [" + std::string(n) + "=" + std::string(v) + "]";
        });
        log += h.keepAlive ? " ka" : " close";
        if (h.chunked)
            log += " chunked";
        if (h.contentLength >= 0)
            log += " cl=" + std::to_string(h.contentLength);
        log += "\n";
        return true;
    }
    void onRequestBody(std::string_view p) override { body += p; }
    void onRequestComplete() override {
        if (!body.empty())
            log += "BODY " + body + "\n";
        body.clear();
        log += "END\n";
    }
    std::string body;
};

struct Outcome {
    std::string log;
    int status = 0; // error status, 0 if none
};

// Feeds `pieces` in order, resuming after each completed message.
Outcome parseRequest(const std::vector<std::string> &pieces, RequestParser::Limits limits = {}) {
    RequestLog sink;
    RequestParser p(sink, limits);
    Outcome out;
    std::string carry;
    for (const auto &piece : pieces) {
        carry += piece;
        size_t off = 0;
        while (off < carry.size()) {
            auto r = p.feed(carry.data() + off, carry.size() - off);
            off += r.consumed;
            if (r.status == ParseStatus::Error) {
                out.status = p.errorStatus();
                out.log = sink.log;
                return out;
            }
            if (r.status == ParseStatus::Paused) {
                p.resume();
                continue;
            }
            break;
        }
        carry.erase(0, off);
    }
    out.log = sink.log;
    return out;
}

// Parses `input` whole, then split in two at every offset, then byte by byte, and checks that
// every way gives the same outcome. Returns it.
Outcome parseEveryWay(const std::string &input, RequestParser::Limits limits = {}) {
    Outcome whole = parseRequest({input}, limits);
    for (size_t i = 1; i < input.size(); ++i) {
        Outcome split = parseRequest({input.substr(0, i), input.substr(i)}, limits);
        INFO("split at " << i);
        REQUIRE(split.log == whole.log);
        REQUIRE(split.status == whole.status);
    }
    std::vector<std::string> bytes;
    for (char c : input)
        bytes.emplace_back(1, c);
    Outcome single = parseRequest(bytes, limits);
    REQUIRE(single.log == whole.log);
    REQUIRE(single.status == whole.status);
    return whole;
}

} // namespace

TEST_CASE("simple GET") {
    auto o = parseEveryWay("GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nAccept:  */* \r\n\r\n");
    CHECK(o.status == 0);
    CHECK(o.log == "HEAD GET /a?b=1 1.1 [Host=example.com] [Accept=*/*] ka\nEND\n");
}

TEST_CASE("pipelined requests come out in order") {
    auto o = parseEveryWay("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
                           "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                           "GET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    CHECK(o.status == 0);
    CHECK(o.log == "HEAD GET /1 1.1 [Host=a] ka\nEND\n"
                   "HEAD POST /2 1.1 [Host=a] [Content-Length=5] ka cl=5\nBODY hello\nEND\n"
                   "HEAD GET /3 1.1 [Host=a] [Connection=close] close\nEND\n");
}

TEST_CASE("chunked body is de-chunked; trailers never join the head") {
    auto o = parseEveryWay("POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nHost: evil\r\n"
                           "Authorization: x\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(o.status == 0);
    CHECK(o.log == "HEAD POST /u 1.1 [Host=a] [Transfer-Encoding=chunked] ka chunked\n"
                   "BODY hello world\nEND\n"
                   "HEAD GET /next 1.1 [Host=a] ka\nEND\n");
}

TEST_CASE("Content-Length is unsigned: 2^63 and up is too large, 2^64 and up is malformed") {
    for (const char *huge : {"9223372036854775808", "18446744073709551615"}) {
        INFO(huge);
        auto o = parseEveryWay(std::string("POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: ") +
                               huge + "\r\n\r\nGET /home HTTP/1.1\r\nHost: a\r\n\r\n");
        CHECK(o.status == 413);
        CHECK(o.log.empty()); // refused before any sink saw it
    }
    CHECK(parseEveryWay("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n"
                        "\r\n")
              .status == 400);
    for (const char *bad : {"+5", "5, 5", "0x5", " ", "5 5"}) {
        INFO(bad);
        CHECK(parseEveryWay(std::string("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ") + bad +
                            "\r\n\r\nhello")
                  .status == 400);
    }
    CHECK(parseEveryWay("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 005\r\n\r\nhello").log ==
          "HEAD POST / 1.1 [Host=a] [Content-Length=005] ka cl=5\nBODY hello\nEND\n");
}

TEST_CASE("transfer codings other than chunked alone are refused") {
    const std::string post = "POST / HTTP/1.1\r\nHost: a\r\n";
    CHECK(parseEveryWay(post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n").status == 501);
    CHECK(parseEveryWay(post + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "0\r\n\r\n")
              .status == 501);
    CHECK(parseEveryWay(post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "0\r\n\r\n")
              .status == 400);
    CHECK(parseEveryWay(post + "Transfer-Encoding: identity\r\n\r\n").status >= 400);
    CHECK(parseEveryWay("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").status ==
          400);
    CHECK(parseEveryWay(post + "Transfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n").log ==
          "HEAD POST / 1.1 [Host=a] [Transfer-Encoding=Chunked] ka chunked\nBODY abc\nEND\n");
}

TEST_CASE("chunk framing llhttp 8.1 accepts is refused, and nothing after it is parsed") {
    const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (const char *body : {"5\r\nhelloXX0\r\n\r\n", "5\r\nhello\n0\r\n\r\n",
                             "5\r\nhello\r\n0\r\n\n", "5 \r\nhello\r\n0\r\n\r\n"}) {
        INFO(body);
        auto o = parseEveryWay(head + body + "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n");
        CHECK(o.status == 400);
        CHECK(o.log.find("smuggled") == std::string::npos);
        CHECK(o.log.find("END") == std::string::npos);
    }
}

TEST_CASE("the request line is method SP target SP version, the target visible ASCII") {
    for (const char *bad :
         {"GET  /a HTTP/1.1\r\nHost: a\r\n\r\n", "GET /a  HTTP/1.1\r\nHost: a\r\n\r\n",
          "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", "GET /\tHTTP/1.1\r\nHost: a\r\n\r\n",
          "GET /a\xff HTTP/1.1\r\nHost: a\r\n\r\n", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
          " GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
          "GET /\r\nHost: a\r\n\r\n", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n"}) {
        INFO(bad);
        CHECK(parseEveryWay(bad).status == 400);
    }
    RequestParser::Limits l;
    l.maxTargetSize = 10;
    CHECK(
        parseEveryWay("GET  /" + std::string(20, 'x') + " HTTP/1.1\r\nHost: a\r\n\r\n", l).status ==
        400);
    CHECK(parseEveryWay("GET /%C3%A9?a=%FF HTTP/1.1\r\nHost: a\r\n\r\n").status == 0);
}

TEST_CASE("HTTP/1.0 defaults to close, keep-alive on request") {
    CHECK(parseEveryWay("GET / HTTP/1.0\r\n\r\n").log == "HEAD GET / 1.0 close\nEND\n");
    CHECK(parseEveryWay("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").log ==
          "HEAD GET / 1.0 [Connection=keep-alive] ka\nEND\n");
}

TEST_CASE("request smuggling shapes are rejected with 400") {
    const char *bad[] = {
        // CL.TE: both framings
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\n\r\n",
        // TE.CL ordering
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
        "0\r\n\r\n",
        // duplicate differing Content-Length
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
        // TE with obs-fold
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
        // chunked not last
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        // invalid chunk size
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        // whitespace before colon
        "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
        // negative / garbage Content-Length
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n",
        // missing Host in HTTP/1.1, two Hosts
        "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        // junk request line
        "GET/ HTTP/1.1\r\nHost: a\r\n\r\n",
        "G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n",
    };
    for (const char *b : bad) {
        INFO(b);
        CHECK(parseEveryWay(b).status == 400);
    }
}

TEST_CASE("limits give 413, 414, 431, 405, 505") {
    RequestParser::Limits l;
    l.maxBody = 10;
    l.maxTargetSize = 300;
    l.maxHeadSize = 1024;
    CHECK(parseEveryWay("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", l).status ==
          413);
    CHECK(parseEveryWay("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n",
                        l)
              .status == 413);
    // A chunk size past max_body is refused at its size line, not after waiting for its data.
    auto big = parseEveryWay("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "ffffffff\r\n",
                             l);
    CHECK(big.status == 413);
    CHECK(big.log.find("BODY") == std::string::npos);
    CHECK(parseEveryWay("GET * HTTP/1.1\r\nHost: a\r\n\r\n").status == 400);
    CHECK(parseEveryWay("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").status == 0);
    CHECK(
        parseEveryWay("GET /" + std::string(400, 'x') + " HTTP/1.1\r\nHost: a\r\n\r\n", l).status ==
        414);
    CHECK(parseEveryWay("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(2000, 'y') + "\r\n\r\n", l)
              .status == 431);
    CHECK(parseEveryWay("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n").status == 405);
    CHECK(parseEveryWay("GET / HTTP/2.0\r\nHost: a\r\n\r\n").status != 0);
}

TEST_CASE("llhttp's upgrade flags are kept on the head, and nothing else changes") {
    struct Sink : RequestParser::Sink {
        std::vector<bool> asked;
        bool onRequestHead(RequestHead &h) override {
            asked.push_back(h.upgradeAsked);
            return true;
        }
        void onRequestBody(std::string_view) override {}
        void onRequestComplete() override {}
    } sink;
    RequestParser p(sink, {});
    const std::string in = "GET /a HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
                           "Upgrade: websocket\r\n\r\n"
                           "GET /b HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n"
                           "GET /c HTTP/1.1\r\nHost: a\r\n\r\n";
    std::size_t at = 0;
    while (at < in.size()) {
        auto r = p.feed(in.data() + at, in.size() - at);
        REQUIRE(r.status != ParseStatus::Error);
        at += r.consumed;
        p.resume();
    }
    CHECK(sink.asked == std::vector<bool>{true, false, false});
}

TEST_CASE("Upgrade requests are parsed as plain HTTP/1.1") {
    auto o = parseEveryWay("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                           "Upgrade: websocket\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(o.status == 0);
    CHECK(o.log.find("HEAD GET /next") != std::string::npos);
}

// --- responses --------------------------------------------------------------------------------

namespace {
struct ResponseLog : ResponseParser::Sink {
    std::string log, body;
    bool onResponseHead(ResponseHead &h) override {
        log += "HEAD " + std::to_string(h.status) + " " + h.reason;
        if (h.chunked)
            log += " chunked";
        if (h.contentLength >= 0)
            log += " cl=" + std::to_string(h.contentLength);
        log += h.keepAlive ? " ka\n" : " close\n";
        return true;
    }
    void onEarlyHints(ResponseHead &h) override {
        log += "HINTS";
        h.headers.forEach([&](std::string_view n, std::string_view v) {
            log += " " + std::string(n) + "=" + std::string(v);
        });
        log += "\n";
    }
    void onResponseBody(std::string_view p) override { body += p; }
    void onResponseComplete() override {
        log += "BODY " + body + "\nEND\n";
        body.clear();
    }
};

std::string parseResponse(const std::vector<std::string> &pieces, bool head, bool eof) {
    ResponseLog sink;
    ResponseParser p(sink, 65536);
    p.start(head);
    for (const auto &piece : pieces) {
        auto r = p.feed(piece.data(), piece.size());
        if (r.status == ParseStatus::Error)
            return sink.log + "ERROR " + p.errorReason();
        if (r.status == ParseStatus::Paused)
            return sink.log;
    }
    if (eof) {
        auto r = p.finish();
        if (r.status == ParseStatus::Error)
            return sink.log + "ERROR " + p.errorReason();
    }
    return sink.log;
}

std::string responseEveryWay(const std::string &input, bool head = false, bool eof = false) {
    std::string whole = parseResponse({input}, head, eof);
    for (size_t i = 1; i < input.size(); ++i) {
        INFO("split at " << i);
        REQUIRE(parseResponse({input.substr(0, i), input.substr(i)}, head, eof) == whole);
    }
    return whole;
}
} // namespace

TEST_CASE("response with Content-Length") {
    CHECK(responseEveryWay("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello") ==
          "HEAD 200 OK cl=5 ka\nBODY hello\nEND\n");
}

TEST_CASE("chunked response") {
    CHECK(responseEveryWay("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n") ==
          "HEAD 200 OK chunked ka\nBODY abcde\nEND\n");
}

TEST_CASE("read-until-close response completes at EOF") {
    CHECK(responseEveryWay("HTTP/1.1 200 OK\r\n\r\nuntil close", false, true) ==
          "HEAD 200 OK close\nBODY until close\nEND\n");
}

TEST_CASE("HEAD response has no body despite Content-Length") {
    CHECK(responseEveryWay("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true) ==
          "HEAD 200 OK cl=100 ka\nBODY \nEND\n");
}

TEST_CASE("204 and 304 end at their head despite Content-Length (RFC 9112 section 6.3)") {
    CHECK(responseEveryWay("HTTP/1.1 304 Not Modified\r\nContent-Length: 999\r\n\r\n") ==
          "HEAD 304 Not Modified cl=999 ka\nBODY \nEND\n");
    CHECK(responseEveryWay("HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n") ==
          "HEAD 204 No Content cl=7 ka\nBODY \nEND\n");
}

TEST_CASE("1xx responses are skipped; 103 is reported") {
    CHECK(
        responseEveryWay("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
                         "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n") ==
        "HINTS Link=x\nHEAD 204 No Content ka\nBODY \nEND\n");
}

TEST_CASE("a 1xx never carries a body: what follows its head is the next response") {
    // Whatever the 1xx says about a body, the bytes after its head are parsed as a response.
    CHECK(responseEveryWay("HTTP/1.1 150 X\r\nContent-Length: 5\r\n\r\n"
                           "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") ==
          "HEAD 200 OK cl=2 ka\nBODY ok\nEND\n");
    CHECK(responseEveryWay("HTTP/1.1 103 Early Hints\r\nContent-Length: 21\r\n\r\n"
                           "<script>evil</script>HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
              .find("ERROR") != std::string::npos);
    std::string many;
    for (int i = 0; i < 20; ++i)
        many += "HTTP/1.1 102 Processing\r\n\r\n";
    CHECK(responseEveryWay(many + "HTTP/1.1 204 No Content\r\n\r\n").find("ERROR") !=
          std::string::npos);
}

TEST_CASE("hostile upstream heads are errors") {
    const char *bad[] = {
        "HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 600 High\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 999 High\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 020 Low\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\n\r\n",
        "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcZZ0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n",
    };
    for (const char *b : bad) {
        INFO(b);
        std::string r = responseEveryWay(b, false, true);
        CHECK(r.find("ERROR") != std::string::npos);
        CHECK(r.find("END") == std::string::npos);
    }
}

TEST_CASE("after the final response nothing more is parsed until start()") {
    ResponseLog sink;
    ResponseParser p(sink, 65536);
    p.start(false);
    std::string a = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    auto r = p.feed(a.data(), a.size());
    CHECK(r.status == ParseStatus::Paused);
    CHECK(r.consumed == a.size());
    std::string b = a;
    r = p.feed(b.data(), b.size());
    CHECK(r.status == ParseStatus::Paused);
    CHECK(r.consumed == 0);
    p.start(false);
    CHECK(p.feed(b.data(), b.size()).consumed == b.size());
}

TEST_CASE("a transfer coding llhttp reads loosely is still decoded as chunked") {
    for (const char *te : {"chunked,", "chunked\t", ", chunked", "chunked , "}) {
        INFO(te);
        std::string r = responseEveryWay(std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: ") +
                                         te + "\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        CHECK(r.rfind("HEAD 200 OK chunked ", 0) == 0); // keep-alive is llhttp's reading
        CHECK(r.find("\nBODY hello\nEND\n") != std::string::npos);
    }
}

TEST_CASE("a 1xx saying Connection: close does not hide the final response") {
    CHECK(responseEveryWay("HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\n"
                           "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") ==
          "HEAD 200 OK cl=2 ka\nBODY ok\nEND\n");
    CHECK(responseEveryWay("HTTP/1.0 102 Processing\r\n\r\n"
                           "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") ==
          "HEAD 200 OK cl=2 ka\nBODY ok\nEND\n");
}

TEST_CASE("response trailers are dropped") {
    CHECK(responseEveryWay("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "2\r\nab\r\n0\r\nSet-Cookie: s=1\r\n\r\n") ==
          "HEAD 200 OK chunked ka\nBODY ab\nEND\n");
}

TEST_CASE("truncated body is an error at EOF") {
    std::string r =
        responseEveryWay("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", false, true);
    CHECK(r.find("ERROR") != std::string::npos);
    CHECK(r.find("END") == std::string::npos);
    CHECK(responseEveryWay("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", false,
                           true)
              .find("ERROR") != std::string::npos);
}

TEST_CASE("garbage response is an error") {
    CHECK(responseEveryWay("SSH-2.0-OpenSSH\r\n\r\n").find("ERROR") != std::string::npos);
    CHECK(responseEveryWay("HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n").find("ERROR") !=
          std::string::npos);
    CHECK(responseEveryWay("HTTP/1.1 101 Switching Protocols\r\n\r\n").find("ERROR") !=
          std::string::npos);
}

namespace {
// A handshake's response, split at every byte: what the parser reports, then "TUNNEL " and the
// bytes it left to the tunnel (the rest of the piece it stopped in, and every later piece).
std::string upgradeEveryWay(const std::string &input) {
    auto run = [](const std::vector<std::string> &pieces) {
        ResponseLog sink;
        ResponseParser p(sink, 65536);
        p.start(false, true);
        std::string out;
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            auto r = p.feed(pieces[i].data(), pieces[i].size());
            if (r.status == ParseStatus::Error)
                return sink.log + "ERROR " + p.errorReason();
            if (r.status == ParseStatus::Paused) {
                if (!p.upgraded())
                    return sink.log;
                out = sink.log + "TUNNEL " + pieces[i].substr(r.consumed);
                for (++i; i < pieces.size(); ++i)
                    out += pieces[i];
                // Nothing more is parsed: the bytes are the tunnel's.
                CHECK(p.feed("HTTP/1.1 200 OK\r\n\r\n", 19).consumed == 0);
                return out;
            }
        }
        return sink.log + "NEEDMORE";
    };
    const std::string whole = run({input});
    for (std::size_t i = 1; i < input.size(); ++i) {
        INFO("split at " << i);
        REQUIRE(run({input.substr(0, i), input.substr(i)}) == whole);
    }
    return whole;
}
} // namespace

TEST_CASE("a 101 to a WebSocket handshake ends the HTTP part; what follows is the tunnel's") {
    // The frame bytes right behind the head are not parsed (a server may speak first).
    CHECK(
        upgradeEveryWay("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
                        "\r\n\r\n\x81\x05hello") == "HEAD 101 Switching Protocols close\n"
                                                    "TUNNEL \x81\x05hello");
    // A 100 before it is skipped as ever.
    CHECK(upgradeEveryWay("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 OK\r\nUpgrade: WebSocket\r\n"
                          "Connection: upgrade\r\n\r\n") == "HEAD 101 OK close\nTUNNEL ");
    // An ordinary answer to a handshake is an ordinary response.
    CHECK(upgradeEveryWay("HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno") ==
          "HEAD 403 Forbidden cl=2 ka\nBODY no\nEND\n");
    // A switch to anything but what was asked for is refused: never a tunnel to h2c or to a
    // protocol nobody named.
    CHECK(upgradeEveryWay("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n")
              .find("ERROR unexpected 101") != std::string::npos);
    CHECK(upgradeEveryWay("HTTP/1.1 101 Switching Protocols\r\n\r\nxyz")
              .find("ERROR unexpected 101") != std::string::npos);
}
