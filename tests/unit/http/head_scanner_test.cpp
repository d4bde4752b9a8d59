#include <doctest/doctest.h>

#include <string>

#include "http/head_scanner.h"

using namespace fc::http;

namespace {
// Scans `head` split at `split`; returns the final result.
HeadScanner::Result scanSplit(const std::string &head, size_t split, size_t maxHead = 16384,
                              size_t maxTarget = 8192) {
    HeadScanner s(maxHead, maxTarget);
    auto r = s.scan(head.data(), split);
    if (r.status != HeadScanner::Status::NeedMore)
        return r;
    auto r2 = s.scan(head.data() + split, head.size() - split);
    if (r2.status == HeadScanner::Status::Done)
        r2.consumed += split;
    return r2;
}

// Checks `head` gives the same verdict at every split position.
void expectEverySplit(const std::string &head, HeadScanner::Status status, int httpStatus = 0,
                      size_t maxHead = 16384, size_t maxTarget = 8192) {
    for (size_t i = 0; i <= head.size(); ++i) {
        auto r = scanSplit(head, i, maxHead, maxTarget);
        INFO("split at " << i);
        REQUIRE(r.status == status);
        if (status == HeadScanner::Status::Error)
            CHECK(r.httpStatus == httpStatus);
    }
}
} // namespace

TEST_CASE("a valid head is found at every split") {
    std::string head = "GET /a HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
    expectEverySplit(head, HeadScanner::Status::Done);
    CHECK(scanSplit(head + "BODY", 7).consumed == head.size());
}

TEST_CASE("leading empty lines are tolerated") {
    expectEverySplit("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", HeadScanner::Status::Done);
}

TEST_CASE("hardening rows (docs/architecture.md) are rejected with 400 at every split") {
    const char *bad[] = {
        "GET / HTTP/1.1\r\n: x\r\n\r\n",                   // empty field name
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",              // whitespace before the colon
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", // obs-fold
        "GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n\r\n",        // bare CR after a header line
        "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",         // bare CR in a value
        "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",         // bare LF
        "GET / HTTP/1.1\r\nHost\r\n\r\n",                  // no colon
        "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",             // CR in the request line
    };
    for (const char *h : bad) {
        INFO(h);
        expectEverySplit(h, HeadScanner::Status::Error, 400);
    }
    std::string nul = std::string("GET / HTTP/1.1\r\nX: a") + '\0' + "b\r\n\r\n";
    expectEverySplit(nul, HeadScanner::Status::Error, 400);
}

TEST_CASE("limits: 414 for a long target, 431 for a large head") {
    std::string longTarget = "GET /" + std::string(300, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n";
    expectEverySplit(longTarget, HeadScanner::Status::Error, 414, 16384, 256);
    expectEverySplit(longTarget, HeadScanner::Status::Done, 0, 16384, 301);
    std::string bigHead = "GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(2000, 'b') + "\r\n\r\n";
    expectEverySplit(bigHead, HeadScanner::Status::Error, 431, 1024, 256);
    expectEverySplit(bigHead, HeadScanner::Status::Done, 0, bigHead.size(), 256);
}

TEST_CASE("responses: no target limit") {
    std::string resp = "HTTP/1.1 200 OK with a long reason phrase\r\nContent-Length: 0\r\n\r\n";
    expectEverySplit(resp, HeadScanner::Status::Done, 0, 16384, 0);
}
