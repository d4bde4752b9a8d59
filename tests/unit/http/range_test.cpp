#include <doctest/doctest.h>

#include "http/range.h"

using namespace fc::http;
using K = ByteRange::Kind;

TEST_CASE("single byte ranges against a length (RFC 9110 §14.1.2)") {
    auto r = [](std::string_view v, std::uint64_t len) { return parseRange(v, len); };
    ByteRange a = r("bytes=0-9", 100);
    CHECK(a.kind == K::Satisfiable);
    CHECK(a.first == 0);
    CHECK(a.last == 9);
    a = r("bytes=90-", 100);
    CHECK((a.kind == K::Satisfiable && a.first == 90 && a.last == 99));
    a = r("bytes=90-1000", 100); // clamped
    CHECK((a.kind == K::Satisfiable && a.first == 90 && a.last == 99));
    a = r("bytes=-10", 100);
    CHECK((a.kind == K::Satisfiable && a.first == 90 && a.last == 99));
    a = r("bytes=-1000", 100); // the whole representation
    CHECK((a.kind == K::Satisfiable && a.first == 0 && a.last == 99));
    a = r("Bytes=5-5 ", 100); // the unit is case-insensitive
    CHECK((a.kind == K::Satisfiable && a.first == 5 && a.last == 5));
    CHECK(r("bytes=100-", 100).kind == K::Unsatisfiable);
    CHECK(r("bytes=100-200", 100).kind == K::Unsatisfiable);
    CHECK(r("bytes=-0", 100).kind == K::Unsatisfiable);
    CHECK(r("bytes=0-", 0).kind == K::Unsatisfiable);
    // Ignored: the whole page is sent.
    CHECK(r("", 100).kind == K::Ignore);
    CHECK(r("items=0-9", 100).kind == K::Ignore);
    CHECK(r("bytes=", 100).kind == K::Ignore);
    CHECK(r("bytes=9-0", 100).kind == K::Ignore);
    CHECK(r("bytes=a-9", 100).kind == K::Ignore);
    CHECK(r("bytes=0-9,20-29", 100).kind == K::Ignore);
    CHECK(r("bytes=-", 100).kind == K::Ignore);
    CHECK(r("bytes=99999999999999999999-", 100).kind == K::Ignore);
}

TEST_CASE("If-Range: a strong tag or the exact Last-Modified date") {
    const std::int64_t lm = 1784332800; // Sat, 18 Jul 2026 00:00:00 GMT
    CHECK(ifRangeAllows("", "\"a\"", 0));
    CHECK(ifRangeAllows("\"v1\"", "\"v1\"", 0));
    CHECK_FALSE(ifRangeAllows("\"v1\"", "\"v2\"", 0));
    CHECK_FALSE(ifRangeAllows("\"v1\"", "W/\"v1\"", 0)); // weak stored tag: no strong match
    CHECK_FALSE(ifRangeAllows("W/\"v1\"", "W/\"v1\"", 0));
    CHECK(ifRangeAllows("Sat, 18 Jul 2026 00:00:00 GMT", "", lm));
    CHECK_FALSE(ifRangeAllows("Sat, 18 Jul 2026 00:00:01 GMT", "", lm));
    CHECK_FALSE(ifRangeAllows("Sat, 18 Jul 2026 00:00:00 GMT", "", 0));
    CHECK_FALSE(ifRangeAllows("not a date", "\"v1\"", lm));
}
