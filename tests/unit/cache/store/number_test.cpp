// memcached's number readers (cache/store/number.h) against memcached's own code: util.c's
// safe_strtoull/safe_strtoul/safe_strtol, restated below over the C library's strto*, fed the
// same strings (NUL-terminated, as memcached's tokens and "\r\n"-terminated values are).
#include <doctest/doctest.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "cache/store/number.h"

using namespace fc::cache;

namespace {

// memcached 1.6.18 util.c, on a NUL-terminated copy of `s`.
bool refStrtoull(const std::string &s, std::uint64_t &out) {
    errno = 0;
    char *end = nullptr;
    unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (errno == ERANGE || end == s.c_str())
        return false;
    if (std::isspace(static_cast<unsigned char>(*end)) || (*end == '\0' && end != s.c_str())) {
        if (static_cast<long long>(v) < 0 && std::memchr(s.c_str(), '-', end - s.c_str()))
            return false;
        out = v;
        return true;
    }
    return false;
}

bool refStrtol(const std::string &s, std::int64_t &out) {
    errno = 0;
    char *end = nullptr;
    long v = std::strtol(s.c_str(), &end, 10);
    if (errno == ERANGE || end == s.c_str())
        return false;
    if (std::isspace(static_cast<unsigned char>(*end)) || (*end == '\0' && end != s.c_str())) {
        out = static_cast<std::int32_t>(v); // memcached stores it into an int32_t
        return true;
    }
    return false;
}

void checkSame(const std::string &s) {
    INFO("input: \"" << s << "\"");
    std::uint64_t a = 0, b = 0;
    bool ra = safeStrtoull(s, a), rb = refStrtoull(s, b);
    CHECK(ra == rb);
    if (ra && rb)
        CHECK(a == b);
    std::int64_t x = 0, y = 0;
    bool rx = safeStrtol(s, x), ry = refStrtol(s, y);
    CHECK(rx == ry);
    if (rx && ry)
        CHECK(x == y);
}

} // namespace

TEST_CASE("the cases memcached's counters meet, read as strtoull reads them") {
    std::uint64_t v = 0;
    struct Case {
        const char *in;
        bool ok;
        std::uint64_t value;
    };
    const Case cases[] = {
        {"12", true, 12},
        {" 12", true, 12},
        {"\t\n\v\f\r12", true, 12},
        {"12 ", true, 12},
        {"12 abc", true, 12},
        {"12\tabc", true, 12},
        {"12abc", false, 0},
        {"0x10", false, 0},
        {"1.5", false, 0},
        {"1e3", false, 0},
        {"", false, 0},
        {"   ", false, 0}, // memcached reads past such a value (see number.h): fresh memory
        {"+5", true, 5},
        {"-0", true, 0},
        {"-5", false, 0},
        {"- 5", false, 0},
        {"+", false, 0},
        {"18446744073709551615", true, 18446744073709551615ull},
        {"18446744073709551616", false, 0},
        {"-18446744073709551615", true, 1},
        {"-9223372036854775808", false, 0},
        {"-9223372036854775809", true, 9223372036854775807ull},
        {"-18446744073709551616", false, 0},
        {"00000000000000000000000000000000000000007", true, 7},
        {"99999999999999999999999", false, 0},
    };
    for (const Case &c : cases) {
        INFO(c.in);
        CHECK(safeStrtoull(c.in, v) == c.ok);
        if (c.ok)
            CHECK(v == c.value);
        checkSame(c.in);
    }
    // A NUL ends the number as the end of the string does.
    CHECK(safeStrtoull(std::string_view("12\0abc", 6), v));
    CHECK(v == 12);
    CHECK_FALSE(safeStrtoull(std::string_view("\0"
                                              "12",
                                              3),
                             v));
}

TEST_CASE("safe_strtol and safe_strtoul wrap into 32 bits as memcached 1.6.18 does") {
    std::int64_t t = 0;
    CHECK(safeStrtol("99999999999", t));
    CHECK(t == 1215752191);
    CHECK(safeStrtol("-1", t));
    CHECK(t == -1);
    CHECK(safeStrtol("-9223372036854775808", t));
    CHECK_FALSE(safeStrtol("9223372036854775808", t));
    CHECK_FALSE(safeStrtol("-9223372036854775809", t));
    std::uint32_t f = 0;
    CHECK(safeStrtoul("4294967296", f));
    CHECK(f == 0);
    CHECK_FALSE(safeStrtoul("-1", f));
}

TEST_CASE("random strings read the same as the C library reads them") {
    const char alphabet[] = {'0',  '1', '9', '5', ' ', '\t', '\n', '\v',   '\f',
                             '\r', '+', '-', 'x', 'a', 'e',  '.',  '\xa0', '8'};
    std::mt19937 rng(7);
    for (int i = 0; i < 20000; ++i) {
        std::string s;
        const int len = static_cast<int>(rng() % 24);
        for (int j = 0; j < len; ++j)
            s.push_back(alphabet[rng() % sizeof alphabet]);
        if (rng() % 8 == 0) // numbers near and past 2^63 and 2^64
            s = (rng() % 2 ? "-" : "") + std::to_string(rng() % 9 + 1) +
                std::string(18 + rng() % 3, static_cast<char>('0' + rng() % 10));
        checkSame(s);
    }
}
