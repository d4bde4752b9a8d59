#include <doctest/doctest.h>

#include <string>

#include "http/cache_control.h"
#include "http/date.h"

using namespace fc::http;

TEST_CASE("HTTP dates: format and the three parse forms") {
    char buf[kHttpDateLen];
    formatHttpDate(784111777, buf);
    CHECK(std::string(buf, sizeof buf) == "Sun, 06 Nov 1994 08:49:37 GMT");
    formatHttpDate(0, buf);
    CHECK(std::string(buf, sizeof buf) == "Thu, 01 Jan 1970 00:00:00 GMT");
    formatHttpDate(1709251200, buf); // leap day
    CHECK(std::string(buf, sizeof buf) == "Fri, 01 Mar 2024 00:00:00 GMT");
    CHECK(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
    CHECK(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
    CHECK(parseHttpDate("Sun Nov  6 08:49:37 1994") == 784111777);
    CHECK_FALSE(parseHttpDate("yesterday"));
    CHECK_FALSE(parseHttpDate("Sun, 06 Nov 1994 08:49:37 UTC"));
    CHECK_FALSE(parseHttpDate("Sun, 32 Nov 1994 08:49:37 GMT"));
    CHECK_FALSE(parseHttpDate("Sun, 06 Xyz 1994 08:49:37 GMT"));
    for (std::int64_t t : {0LL, 951782400LL, 1700000000LL, 4102444800LL}) {
        formatHttpDate(t, buf);
        CHECK(parseHttpDate(std::string_view(buf, sizeof buf)) == t);
    }
}

TEST_CASE("Cache-Control directives") {
    HeaderList h;
    h.add("Cache-Control", "Public, MAX-AGE=30");
    h.add("cache-control", "s-maxage=\"10\", must-revalidate");
    auto cc = parseCacheControl(h);
    CHECK(cc.present);
    CHECK(cc.isPublic);
    CHECK(cc.maxAge == 30);
    CHECK(cc.sMaxAge == 10);
    CHECK(cc.mustRevalidate);
    CHECK_FALSE(cc.isPrivate);
    HeaderList bad;
    bad.add("Cache-Control", "max-age=abc, private, no-store, no-cache");
    auto b = parseCacheControl(bad);
    CHECK_FALSE(b.maxAge); // unparsable counts as absent
    CHECK(b.isPrivate);
    CHECK(b.noStore);
    CHECK(b.noCache);
    CHECK_FALSE(parseCacheControl(HeaderList{}).present);
}

TEST_CASE("Vary and If-None-Match") {
    HeaderList h;
    h.add("Vary", "Accept-Encoding, Cookie");
    h.add("Vary", "Accept-Language");
    std::string seen;
    forEachVary(h, [&](std::string_view v) { seen += std::string(v) + ";"; });
    CHECK(seen == "Accept-Encoding;Cookie;Accept-Language;");
    CHECK(ifNoneMatchMatches("\"a\"", "\"a\""));
    CHECK(ifNoneMatchMatches("W/\"a\"", "\"a\"")); // weak comparison
    CHECK(ifNoneMatchMatches("\"x\", W/\"a\"", "W/\"a\""));
    CHECK(ifNoneMatchMatches("*", "\"z\""));
    CHECK_FALSE(ifNoneMatchMatches("\"b\"", "\"a\""));
    CHECK_FALSE(ifNoneMatchMatches("\"a\"", ""));
}
