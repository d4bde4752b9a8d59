#include <doctest/doctest.h>

#include <string>

#include "cache/policy/reuse.h"

using namespace fc::cache;
using fc::http::HeaderList;
using fc::http::RequestHead;

namespace {
RequestHead request(std::string method,
                    std::initializer_list<std::pair<const char *, const char *>> h = {}) {
    RequestHead r;
    r.method = std::move(method);
    r.target = "/";
    r.headers.add("Host", "example.com");
    for (auto &[n, v] : h)
        r.headers.add(n, v);
    return r;
}
PageView page(std::string_view etag, std::int64_t lastModified) {
    PageView v;
    v.status = 200;
    v.etag = etag;
    v.lastModified = lastModified;
    return v;
}
constexpr std::int64_t kMon = 784111777; // Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example)
} // namespace

TEST_CASE("revalidation: a GET whose client sent no validators, for a copy that has one") {
    CHECK(revalidates(page("\"v1\"", 0), request("GET")));
    CHECK(revalidates(page("", kMon), request("GET")));
    CHECK_FALSE(revalidates(page("", 0), request("GET"))); // nothing to validate with
    CHECK_FALSE(revalidates(page("\"v1\"", 0), request("HEAD")));
    // The client's own validators are for its copy: passed through, never replaced by ours.
    CHECK_FALSE(revalidates(page("\"v1\"", 0), request("GET", {{"If-None-Match", "\"x\""}})));
    CHECK_FALSE(
        revalidates(page("\"v1\"", 0),
                    request("GET", {{"If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"}})));
    CHECK(hasClientValidators(request("GET", {{"if-none-match", "*"}}).headers));
    CHECK_FALSE(hasClientValidators(request("GET", {{"If-Match", "\"x\""}}).headers));
}

TEST_CASE("our validators go before the blank line, the date in IMF-fixdate") {
    std::string head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    appendValidators(page("\"v1\"", kMon), head);
    CHECK(head == "GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"v1\"\r\n"
                  "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n");
    std::string etagOnly = "GET / HTTP/1.1\r\n\r\n";
    appendValidators(page("W/\"w\"", 0), etagOnly);
    CHECK(etagOnly == "GET / HTTP/1.1\r\nIf-None-Match: W/\"w\"\r\n\r\n");
}

TEST_CASE("a background refresh drops the client's conditional and range fields") {
    RequestHead r = request("GET", {{"If-None-Match", "\"a\""},
                                    {"If-Modified-Since", "x"},
                                    {"If-Match", "\"b\""},
                                    {"If-Unmodified-Since", "y"},
                                    {"If-Range", "\"c\""},
                                    {"Range", "bytes=0-1"},
                                    {"Accept", "text/html"}});
    stripClientConditionals(r);
    int n = 0;
    r.headers.forEach([&](std::string_view, std::string_view) { ++n; });
    CHECK(n == 2); // Host and Accept
    CHECK(r.headers.has("accept"));
}

TEST_CASE("a client's conditional GET against the stored page (RFC 9110 §13.1)") {
    const PageView v = page("\"v1\"", kMon);
    CHECK(clientNotModified(request("GET", {{"If-None-Match", "\"v1\""}}).headers, v));
    CHECK(clientNotModified(request("GET", {{"If-None-Match", "W/\"v1\""}}).headers, v)); // weak
    CHECK(clientNotModified(request("GET", {{"If-None-Match", "\"x\", \"v1\""}}).headers, v));
    CHECK_FALSE(clientNotModified(request("GET", {{"If-None-Match", "\"x\""}}).headers, v));
    CHECK(clientNotModified(
        request("GET", {{"If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"}}).headers, v));
    CHECK_FALSE(clientNotModified(
        request("GET", {{"If-Modified-Since", "Sat, 05 Nov 1994 08:49:37 GMT"}}).headers, v));
    // If-None-Match wins over If-Modified-Since.
    CHECK_FALSE(
        clientNotModified(request("GET", {{"If-None-Match", "\"x\""},
                                          {"If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"}})
                              .headers,
                          v));
    // No Last-Modified stored: If-Modified-Since cannot match; no conditional at all: no 304.
    CHECK_FALSE(clientNotModified(
        request("GET", {{"If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"}}).headers,
        page("\"v1\"", 0)));
    CHECK_FALSE(clientNotModified(request("GET").headers, v));
}

TEST_CASE("a 304 from the store carries the validators and caching fields only") {
    const std::string stored = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nETag: \"v1\"\r\n"
                               "Cache-Control: max-age=600\r\nSet-Cookie: no\r\n"
                               "Expires: Sun, 06 Nov 1994 08:59:37 GMT\r\nVary: Cookie\r\n"
                               "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 5\r\n"
                               "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                               "Content-Location: /a\r\n";
    std::string out;
    appendNotModifiedFields(stored, out);
    CHECK(out == "ETag: \"v1\"\r\nCache-Control: max-age=600\r\n"
                 "Expires: Sun, 06 Nov 1994 08:59:37 GMT\r\nVary: Cookie\r\n"
                 "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                 "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Location: /a\r\n");
    std::string none;
    appendNotModifiedFields("HTTP/1.1 200 OK\r\n", none);
    CHECK(none.empty());
}

TEST_CASE("hit-for-miss: only properties of the page mark the key") {
    CHECK(marksPass(NotStored::Status, 404));
    CHECK_FALSE(marksPass(NotStored::Status, 503)); // a failed attempt
    for (NotStored n :
         {NotStored::SetCookie, NotStored::Private, NotStored::NoStore, NotStored::NoCache,
          NotStored::VaryStar, NotStored::ZeroTtl, NotStored::TooBig})
        CHECK(marksPass(n, 200));
    for (NotStored n :
         {NotStored::Authorization, NotStored::Truncated, NotStored::Head, NotStored::None})
        CHECK_FALSE(marksPass(n, 200));
}
