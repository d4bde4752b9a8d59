// memcached's number readers (util.c: safe_strtoull, safe_strtoul, safe_strtol), rule for rule,
// over a string_view instead of a NUL-terminated string. Shared by the protocol (the numbers of a
// command line) and the store (a counter's value, read by incr/decr and ma).
//
// What memcached does, and so what these do:
//  - strto*(3) in base 10 and the C locale: white space first (isspace: ' ', \t \n \v \f \r),
//    then one optional sign, then digits, as many as there are. No digits: nothing is read.
//    Too many for the type: ERANGE. A minus sign negates modulo 2^64 for strtoull, so
//    "-18446744073709551615" reads as 1 and "-9223372036854775809" as 2^63 - 1.
//  - The digits must be followed by white space or the end of the string ("12 x", "12\tx" and
//    "12\0x" are 12; "12x", "0x10", "1.5" are refused).
//  - safe_strtoull and safe_strtoul refuse a number with a minus sign only when its value is
//    negative as a signed number ("-1" is refused, "-0" is 0, the examples above are accepted).
//  - safe_strtoul stores strtoul's 64-bit result into a uint32_t and safe_strtol strtol's into an
//    int32_t unchecked (memcached 1.6.18): larger numbers wrap.
//
// The end of the view stands for the end of memcached's string: a token ends with the '\0' its
// tokenizer wrote, an item's value with "\r\n" (white space). One case cannot be reproduced: a
// value of white space alone, which memcached's strtoull reads past, through the "\r\n" and into
// whatever its slab chunk held before ("  " over an old "1234567890" reads 567890); here, as on
// fresh memory, it is not a number.
//
// Pure functions, no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

namespace fc::cache {

// isspace() in the C locale.
constexpr bool isCSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// What strto*(3) read at the start of `s` in base 10: `digits` false when it read nothing;
// `magnitude` the digits' value, `overflow` when they exceed 2^64 - 1; `end` where they stop.
struct StrtoRead {
    std::uint64_t magnitude = 0;
    bool negative = false;
    bool overflow = false;
    bool digits = false;
    std::size_t end = 0;
};

constexpr StrtoRead strtoRead(std::string_view s) {
    StrtoRead r;
    std::size_t i = 0;
    while (i < s.size() && isCSpace(s[i]))
        ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-'))
        r.negative = s[i++] == '-';
    constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
        const auto d = static_cast<std::uint64_t>(s[i] - '0');
        if (r.magnitude > (kMax - d) / 10)
            r.overflow = true; // strto* goes on reading the digits: endptr is past them all
        else
            r.magnitude = r.magnitude * 10 + d;
        r.digits = true;
    }
    r.end = i;
    return r;
}

// safe_strto*'s test of what follows the number: white space or the end of the string.
constexpr bool numberEnds(std::string_view s, const StrtoRead &r) {
    return r.end == s.size() || s[r.end] == '\0' || isCSpace(s[r.end]);
}

// safe_strtoull: CAS values, deltas, initial values, verbosity levels, counters.
constexpr bool safeStrtoull(std::string_view s, std::uint64_t &v) {
    const StrtoRead r = strtoRead(s);
    if (!r.digits || r.overflow || !numberEnds(s, r))
        return false;
    const std::uint64_t x = r.negative ? 0 - r.magnitude : r.magnitude;
    if (r.negative && static_cast<std::int64_t>(x) < 0)
        return false;
    v = x;
    return true;
}

// safe_strtoul into a uint32_t (client flags): strtoul is strtoull on LP64, then truncated.
constexpr bool safeStrtoul(std::string_view s, std::uint32_t &v) {
    std::uint64_t x = 0;
    if (!safeStrtoull(s, x))
        return false;
    v = static_cast<std::uint32_t>(x);
    return true;
}

// safe_strtol into an int32_t (exptimes, lengths, TTL tokens), widened back for the caller:
// strtol's range is 64-bit, the int32_t it is stored into wraps (99999999999 becomes
// 1215752191, an absolute time long past: memcached stores such an item already expired).
constexpr bool safeStrtol(std::string_view s, std::int64_t &v) {
    const StrtoRead r = strtoRead(s);
    constexpr std::uint64_t kLongMax = std::numeric_limits<std::int64_t>::max();
    if (!r.digits || r.overflow || r.magnitude > kLongMax + (r.negative ? 1 : 0) ||
        !numberEnds(s, r))
        return false;
    const std::uint64_t x = r.negative ? 0 - r.magnitude : r.magnitude;
    v = static_cast<std::int32_t>(static_cast<std::uint32_t>(x));
    return true;
}

} // namespace fc::cache
