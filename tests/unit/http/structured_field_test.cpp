#include "http/structured_field.h"

#include <doctest/doctest.h>

using namespace fc::http::sf;

TEST_CASE("Structured Field Dictionaries (RFC 8941 section 4.2.2)") {
    for (const char *ok : {"", "a", "a=1", "a=1, b=2", "a=-1.5", "a=\"x y\"", "a=tok/en:1", "a=?0",
                           "a=:YWJj:", "a=(1 \"b\" c);p=1, d", "*k=1", "a;x;y=2", "a=1 , b=2"})
        CHECK_MESSAGE(isDictionary(ok), ok);
    for (const char *bad :
         {"A=1", "a=", "a=1,", ",a", "a=1 b", "a=\"unterminated", "a=\"\\x\"", "a=1234567890123456",
          "a=1.2345", "a=(1", "a=?2", "a=:YW*:", "1a=1", "a=1;B=2", "a=\"\x01\""})
        CHECK_MESSAGE(!isDictionary(bad), bad);
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

TEST_CASE("Structured Field items and parameters read back") {
    const std::string_view s =
        R"(frontcache; hit; ttl=-12; key="a\"b"; fwd=uri-miss, ("x" y);p=?0, :YWJj:)";
    std::vector<std::string> seen;
    const bool list =
        forEachListMember(s, [&](std::size_t start, std::size_t bareEnd, std::size_t end) {
            std::string member = bareEnd == start ? "(inner)" : readItem(s, start, bareEnd).text;
            forEachParameter(s, bareEnd == start ? end : bareEnd,
                             [&](std::string_view k, const Item &v) {
                                 member += ";" + std::string(k) + "=";
                                 switch (v.type) {
                                 case Item::Type::Integer:
                                     member += std::to_string(v.integer);
                                     break;
                                 case Item::Type::Boolean:
                                     member += v.boolean ? "true" : "false";
                                     break;
                                 default:
                                     member += v.text;
                                 }
                             });
            seen.push_back(member);
        });
    CHECK(list);
    REQUIRE(seen.size() == 3);
    CHECK(seen[0] == "frontcache;hit=true;ttl=-12;key=a\"b;fwd=uri-miss");
    CHECK(seen[2].empty()); // a byte sequence has no text
    CHECK(readItem("12.5", 0, 4).type == Item::Type::Decimal);
    CHECK(readItem("?0", 0, 2).boolean == false);
    CHECK(readItem("*tok/en:1", 0, 9).text == "*tok/en:1");
    // RFC 9651's Date and Display String are members like any other (not strings).
    std::vector<std::string> strings;
    std::size_t others = 0;
    CHECK(parseStringList(R"("a", @1659578233, %"caf%c3%a9", "b")", strings, others));
    CHECK(strings == std::vector<std::string>{"a", "b"});
    CHECK(others == 2);
    CHECK(readItem("@-5", 0, 3).integer == -5);
    for (const char *bad : {"@1.5", "@", "%\"x", "%\"%C3\"", "%x"})
        CHECK_MESSAGE(!parseStringList(bad, strings, others), bad);
    // Every split of a valid list is either not a list or a list of fewer members.
    for (std::size_t cut = 0; cut < s.size(); ++cut) {
        std::size_t members = 0;
        if (forEachListMember(s.substr(0, cut), [&](auto, auto, auto) { ++members; }))
            CHECK(members <= 3);
    }
}
