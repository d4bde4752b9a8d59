// RFC 8941 Structured Field Values: the one parser of the grammar, for every structured field
// frontcache reads — targeted cache control (RFC 9213, a Dictionary), Cache-Groups and
// Cache-Group-Invalidation (RFC 9875, Lists of Strings), and Cache-Status (RFC 9211, a List of
// Items with parameters, read back by `frontcache warm` and the tests).
//
// Each grammar function takes a field value and a position and returns the position after what
// it read there, or kBad where RFC 8941 §4.2 says "fail parsing"; no allocation. On top of them,
// the readers a caller needs. Pure; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fc::http::sf {

constexpr std::size_t kBad = std::string_view::npos;

std::size_t key(std::string_view s, std::size_t i);        // §3.1.2
std::size_t bareItem(std::string_view s, std::size_t i);   // §3.3, and RFC 9651's Date, Display
std::size_t parameters(std::string_view s, std::size_t i); // §3.1.2: *( ";" key ["=" item] )
std::size_t itemOrInnerList(std::string_view s, std::size_t i); // §3.1.1, with parameters

// A bare item read back: `bareItem` accepted s[from, to).
struct Item {
    enum class Type { Integer, Decimal, String, Token, ByteSequence, Boolean, Date, DisplayString };
    Type type = Type::Boolean;
    std::int64_t integer = 0; // Integer (and a Decimal's integer part)
    bool boolean = true;      // Boolean (a parameter without a value is true)
    std::string text;         // String (unescaped) or Token
};
Item readItem(std::string_view s, std::size_t from, std::size_t to);

// Calls f(key, item) for each parameter of s[from, to), which `parameters` accepted.
template <typename F> void forEachParameter(std::string_view s, std::size_t from, F &&f) {
    std::size_t i = from;
    while (i < s.size() && s[i] == ';') {
        ++i;
        while (i < s.size() && s[i] == ' ')
            ++i;
        const std::size_t k = i;
        i = key(s, i);
        const std::string_view name = s.substr(k, i - k);
        if (i < s.size() && s[i] == '=') {
            const std::size_t v = i + 1;
            i = bareItem(s, v);
            f(name, readItem(s, v, i));
        } else {
            f(name, Item{});
        }
    }
}

// §4.2.1 and §4.2.2 share their outer walk: OWS, members separated by "," and OWS, no trailing
// comma. `member(i)` reads one member at i and returns the position after it, or kBad. True when
// every member read and the separators hold.
template <typename M> bool forEachMember(std::string_view s, M &&member) {
    std::size_t i = 0;
    auto ows = [&] {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
            ++i;
    };
    ows();
    while (i < s.size()) {
        i = member(i);
        if (i == kBad)
            return false;
        ows();
        if (i >= s.size())
            return true;
        if (s[i] != ',')
            return false;
        ++i;
        ows();
        if (i >= s.size())
            return false; // a trailing comma
    }
    return true;
}

// §4.2.1: calls f(start, bareEnd, end) for each member of a List — s[start, bareEnd) its bare
// item (bareEnd == start for an inner list), s[bareEnd, end) its parameters. Returns false, having
// called f for the members before, when `s` is not a List (the field is then ignored whole).
template <typename F> bool forEachListMember(std::string_view s, F &&f) {
    return forEachMember(s, [&](std::size_t start) {
        const std::size_t bareEnd = s[start] == '(' ? start : bareItem(s, start);
        const std::size_t end =
            bareEnd == start ? itemOrInnerList(s, start) : parameters(s, bareEnd);
        if (bareEnd == kBad || end == kBad)
            return kBad;
        f(start, bareEnd, end);
        return end;
    });
}

// §4.2.2: is `value` a valid Dictionary? (RFC 9213 §2.1: a targeted field such as
// CDN-Cache-Control that is not one is ignored, Cache-Control applies.)
bool isDictionary(std::string_view value);

// §4.2.1: `value` (a field's lines joined with ", ", §4.2) as a List. False when it is not one —
// the field is then ignored whole, and `strings` is left empty. Otherwise `strings` receives each
// member that is a String, unescaped (§4.2.5), in order, and `others` counts the members of any
// other type (tokens, numbers, inner lists...). Parameters are checked by the grammar and
// dropped. For RFC 9875's Cache-Groups and Cache-Group-Invalidation (cache/groups.h).
bool parseStringList(std::string_view value, std::vector<std::string> &strings,
                     std::size_t &others);

} // namespace fc::http::sf
