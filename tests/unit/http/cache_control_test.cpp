// http/cache_control: Cache-Control directives, Vary's field list and If-None-Match.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "http/cache_control.h"

using namespace fc::http;

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
