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

TEST_CASE("Structured Field Dictionaries (RFC 8941 section 4.2.2)") {
    for (const char *ok : {"", "a", "a=1", "a=1, b=2", "a=-1.5", "a=\"x y\"", "a=tok/en:1", "a=?0",
                           "a=:YWJj:", "a=(1 \"b\" c);p=1, d", "*k=1", "a;x;y=2", "a=1 , b=2"})
        CHECK_MESSAGE(isStructuredDictionary(ok), ok);
    for (const char *bad :
         {"A=1", "a=", "a=1,", ",a", "a=1 b", "a=\"unterminated", "a=\"\\x\"", "a=1234567890123456",
          "a=1.2345", "a=(1", "a=?2", "a=:YW*:", "1a=1", "a=1;B=2", "a=\"\x01\""})
        CHECK_MESSAGE(!isStructuredDictionary(bad), bad);
}

TEST_CASE("Structured Field Lists of Strings (RFC 8941 §4.2.1)") {
    std::vector<std::string> s;
    std::size_t others = 0;
    CHECK(parseStringList(R"("a", "b c",  "d\"e\\f")", s, others));
    CHECK(s == std::vector<std::string>{"a", "b c", "d\"e\\f"});
    CHECK(others == 0);
    CHECK(parseStringList(R"("a";p=1, tok, 12, ("x" "y"), ?1, "b")", s, others));
    CHECK(s == std::vector<std::string>{"a", "b"});
    CHECK(others == 4);
    CHECK(parseStringList("", s, others));
    CHECK(s.empty());
    for (const char *bad : {R"("a",)", R"("a" "b")", R"("unterminated)", R"("a\x")", "(", ",",
                            R"("a", , "b")", "\"\x01\"", R"("a";)", "tok en"}) {
        CAPTURE(bad);
        CHECK_FALSE(parseStringList(bad, s, others));
        CHECK(s.empty());
    }
}
