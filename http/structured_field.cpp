#include "http/structured_field.h"

#include <charconv>

namespace fc::http::sf {

namespace {
bool lcalpha(char c) {
    return c >= 'a' && c <= 'z';
}
bool digit(char c) {
    return c >= '0' && c <= '9';
}
bool alpha(char c) {
    return lcalpha(c) || (c >= 'A' && c <= 'Z');
}
// RFC 9110 §5.6.2 tchar, plus ':' and '/' which sf-token allows (§3.3.4).
bool tokenChar(char c) {
    return alpha(c) || digit(c) || std::string_view("!#$%&'*+-.^_`|~:/").find(c) != kBad;
}
std::size_t number(std::string_view s, std::size_t i) { // §3.3.1, §3.3.2
    if (s[i] == '-')
        ++i;
    std::size_t start = i;
    while (i < s.size() && digit(s[i]))
        ++i;
    const std::size_t whole = i - start;
    if (whole == 0 || whole > 15)
        return kBad;
    if (i < s.size() && s[i] == '.') {
        std::size_t frac = ++i;
        while (i < s.size() && digit(s[i]))
            ++i;
        if (whole > 12 || i == frac || i - frac > 3)
            return kBad;
    }
    return i;
}
} // namespace

std::size_t key(std::string_view s, std::size_t i) {
    if (i >= s.size() || !(lcalpha(s[i]) || s[i] == '*'))
        return kBad;
    while (++i < s.size() &&
           (lcalpha(s[i]) || digit(s[i]) || std::string_view("_-.*").find(s[i]) != kBad)) {
    }
    return i;
}

std::size_t bareItem(std::string_view s, std::size_t i) {
    if (i >= s.size())
        return kBad;
    const char c = s[i];
    if (c == '-' || digit(c))
        return number(s, i);
    if (c == '"') { // §3.3.3: visible ASCII and space; \ escapes only " and \ .
        for (++i; i < s.size(); ++i) {
            if (s[i] == '\\') {
                if (++i >= s.size() || (s[i] != '"' && s[i] != '\\'))
                    return kBad;
            } else if (s[i] == '"') {
                return i + 1;
            } else if (s[i] < 0x20 || s[i] > 0x7e) {
                return kBad;
            }
        }
        return kBad;
    }
    if (c == '*' || alpha(c)) { // §3.3.4
        while (++i < s.size() && tokenChar(s[i])) {
        }
        return i;
    }
    if (c == ':') { // §3.3.5
        while (++i < s.size() && s[i] != ':')
            if (!(alpha(s[i]) || digit(s[i]) || s[i] == '+' || s[i] == '/' || s[i] == '='))
                return kBad;
        return i < s.size() ? i + 1 : kBad;
    }
    if (c == '?') // §3.3.6
        return i + 1 < s.size() && (s[i + 1] == '0' || s[i + 1] == '1') ? i + 2 : kBad;
    // RFC 9651 (which obsoletes RFC 8941) adds two types; a field carrying one is valid.
    if (c == '@') { // §3.3.7 Date: an Integer
        if (i + 1 >= s.size() || !(s[i + 1] == '-' || digit(s[i + 1])))
            return kBad;
        const std::size_t end = number(s, i + 1);
        if (end == kBad || s.substr(i + 1, end - i - 1).find('.') != std::string_view::npos)
            return kBad;
        return end;
    }
    if (c == '%') { // §3.3.8 Display String: %"...", non-ASCII as lower-case %xx
        if (i + 1 >= s.size() || s[i + 1] != '"')
            return kBad;
        auto lowerHex = [](char h) { return digit(h) || (h >= 'a' && h <= 'f'); };
        for (i += 2; i < s.size(); ++i) {
            if (s[i] == '"')
                return i + 1;
            if (s[i] == '%') {
                if (i + 2 >= s.size() || !lowerHex(s[i + 1]) || !lowerHex(s[i + 2]))
                    return kBad;
                i += 2;
            } else if (s[i] < 0x20 || s[i] > 0x7e) {
                return kBad;
            }
        }
        return kBad;
    }
    return kBad;
}

std::size_t parameters(std::string_view s, std::size_t i) {
    while (i != kBad && i < s.size() && s[i] == ';') {
        ++i;
        while (i < s.size() && s[i] == ' ')
            ++i;
        i = key(s, i);
        if (i != kBad && i < s.size() && s[i] == '=')
            i = bareItem(s, i + 1);
    }
    return i;
}

std::size_t itemOrInnerList(std::string_view s, std::size_t i) {
    if (i >= s.size() || s[i] != '(')
        return parameters(s, bareItem(s, i));
    ++i;
    for (;;) {
        while (i < s.size() && s[i] == ' ')
            ++i;
        if (i >= s.size())
            return kBad;
        if (s[i] == ')')
            return parameters(s, i + 1);
        i = parameters(s, bareItem(s, i));
        if (i == kBad || i >= s.size() || (s[i] != ' ' && s[i] != ')'))
            return kBad;
    }
}

Item readItem(std::string_view s, std::size_t from, std::size_t to) {
    Item out;
    const std::string_view v = s.substr(from, to - from);
    const char c = v.empty() ? '\0' : v[0];
    if (c == '-' || digit(c)) {
        const bool negative = c == '-';
        const std::size_t start = negative ? 1 : 0;
        std::size_t end = start;
        while (end < v.size() && digit(v[end]))
            ++end;
        std::from_chars(v.data() + start, v.data() + end, out.integer);
        if (negative)
            out.integer = -out.integer;
        out.type = end < v.size() ? Item::Type::Decimal : Item::Type::Integer;
    } else if (c == '"') {
        out.type = Item::Type::String;
        for (std::size_t j = 1; j + 1 < v.size(); ++j)
            out.text.push_back(v[j] == '\\' ? v[++j] : v[j]);
    } else if (c == ':') {
        out.type = Item::Type::ByteSequence;
    } else if (c == '@') {
        out.type = Item::Type::Date;
        std::from_chars(v.data() + 1, v.data() + v.size(), out.integer);
    } else if (c == '%') {
        out.type = Item::Type::DisplayString; // its text is not needed here
    } else if (c == '?') {
        out.type = Item::Type::Boolean;
        out.boolean = v.size() > 1 && v[1] == '1';
    } else {
        out.type = Item::Type::Token;
        out.text = v;
    }
    return out;
}

bool isDictionary(std::string_view s) {
    return forEachMember(s, [&](std::size_t i) {
        i = key(s, i);
        if (i != kBad && i < s.size() && s[i] == '=')
            return itemOrInnerList(s, i + 1);
        return parameters(s, i); // a key alone is true
    });
}

bool parseStringList(std::string_view s, std::vector<std::string> &strings, std::size_t &others) {
    strings.clear();
    others = 0;
    const bool list =
        forEachListMember(s, [&](std::size_t start, std::size_t bareEnd, std::size_t) {
            if (bareEnd > start && s[start] == '"')
                strings.push_back(readItem(s, start, bareEnd).text);
            else
                ++others;
        });
    if (!list)
        strings.clear();
    return list;
}

} // namespace fc::http::sf
