#include "http/range.h"

#include <charconv>

#include "http/date.h"
#include "http/headers.h"

namespace fc::http {

namespace {
bool parseNumber(std::string_view s, std::uint64_t &v) {
    if (s.empty() || s.size() > 19)
        return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}
} // namespace

ByteRange parseRange(std::string_view value, std::uint64_t length) {
    ByteRange r;
    value = trimOws(value);
    constexpr std::string_view kUnit = "bytes=";
    if (value.size() <= kUnit.size() || !equalsIgnoreCase(value.substr(0, kUnit.size()), kUnit))
        return r;
    std::string_view spec = trimOws(value.substr(kUnit.size()));
    if (spec.find(',') != std::string_view::npos)
        return r; // several ranges: the whole page
    std::size_t dash = spec.find('-');
    if (dash == std::string_view::npos)
        return r;
    std::string_view a = trimOws(spec.substr(0, dash)), b = trimOws(spec.substr(dash + 1));
    std::uint64_t first = 0, last = 0;
    if (a.empty()) { // suffix: the last n bytes
        if (!parseNumber(b, last))
            return r;
        if (last == 0 || length == 0) {
            r.kind = ByteRange::Kind::Unsatisfiable;
            return r;
        }
        r.kind = ByteRange::Kind::Satisfiable;
        r.first = last >= length ? 0 : length - last;
        r.last = length - 1;
        return r;
    }
    if (!parseNumber(a, first))
        return r;
    if (!b.empty()) {
        if (!parseNumber(b, last) || last < first)
            return r; // invalid: ignored (§14.1.1)
    } else {
        last = UINT64_MAX;
    }
    if (first >= length) {
        r.kind = ByteRange::Kind::Unsatisfiable;
        return r;
    }
    r.kind = ByteRange::Kind::Satisfiable;
    r.first = first;
    r.last = last >= length ? length - 1 : last;
    return r;
}

bool ifRangeAllows(std::string_view ifRange, std::string_view etag, std::int64_t lastModified) {
    ifRange = trimOws(ifRange);
    if (ifRange.empty())
        return true;
    if (ifRange.front() == '"') // a strong tag, compared strongly with a strong one
        return !etag.empty() && etag.front() == '"' && ifRange == etag;
    if (ifRange.size() > 2 && ifRange.substr(0, 2) == "W/")
        return false;
    auto t = parseHttpDate(ifRange);
    return lastModified != 0 && t && *t == lastModified;
}

} // namespace fc::http
