#include "http/cache_control.h"

#include <charconv>

namespace fc::http {

namespace {
std::optional<std::int64_t> seconds(std::string_view v) {
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"')
        v = v.substr(1, v.size() - 2);
    std::int64_t x;
    auto r = std::from_chars(v.data(), v.data() + v.size(), x);
    if (r.ec != std::errc() || r.ptr != v.data() + v.size() || x < 0)
        return std::nullopt;
    return x;
}
} // namespace

namespace {
// The next list member of a Cache-Control value: up to a comma outside a quoted string.
std::size_t memberEnd(std::string_view v) {
    bool quoted = false;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '\\' && quoted)
            ++i;
        else if (v[i] == '"')
            quoted = !quoted;
        else if (v[i] == ',' && !quoted)
            return i;
    }
    return std::string_view::npos;
}

std::string_view unquote(std::string_view v) {
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"')
        return v.substr(1, v.size() - 2);
    return v;
}

// A delta-seconds directive: the value, and whether it was present but unusable (or repeated
// with another value).
void deltaSeconds(std::string_view val, std::optional<std::int64_t> &out, bool &invalid) {
    std::optional<std::int64_t> v = seconds(val);
    if (!v || (out && *out != *v))
        invalid = true;
    out = v;
}
} // namespace

namespace {
// RFC 8941's grammar, one piece per function; each returns the position after what it read, or
// npos when the bytes at `i` are not one.
constexpr std::size_t kBad = std::string_view::npos;
bool lcalpha(char c) {
    return c >= 'a' && c <= 'z';
}
bool digit(char c) {
    return c >= '0' && c <= '9';
}
bool alpha(char c) {
    return lcalpha(c) || (c >= 'A' && c <= 'Z');
}
bool tchar(char c) {
    return alpha(c) || digit(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != kBad;
}
std::size_t sfKey(std::string_view s, std::size_t i) { // §3.1.2
    if (i >= s.size() || !(lcalpha(s[i]) || s[i] == '*'))
        return kBad;
    while (++i < s.size() &&
           (lcalpha(s[i]) || digit(s[i]) || std::string_view("_-.*").find(s[i]) != kBad)) {
    }
    return i;
}
std::size_t sfNumber(std::string_view s, std::size_t i) { // §3.3.1, §3.3.2
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
std::size_t sfBareItem(std::string_view s, std::size_t i) { // §3.3
    if (i >= s.size())
        return kBad;
    const char c = s[i];
    if (c == '-' || digit(c))
        return sfNumber(s, i);
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
        while (++i < s.size() && (tchar(s[i]) || s[i] == ':' || s[i] == '/')) {
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
    return kBad;
}
std::size_t sfParameters(std::string_view s, std::size_t i) { // §3.1.2
    while (i != kBad && i < s.size() && s[i] == ';') {
        ++i;
        while (i < s.size() && s[i] == ' ')
            ++i;
        i = sfKey(s, i);
        if (i != kBad && i < s.size() && s[i] == '=')
            i = sfBareItem(s, i + 1);
    }
    return i;
}
std::size_t sfItemOrInnerList(std::string_view s, std::size_t i) { // §3.1.1
    if (i >= s.size() || s[i] != '(')
        return sfParameters(s, sfBareItem(s, i));
    ++i;
    for (;;) {
        while (i < s.size() && s[i] == ' ')
            ++i;
        if (i >= s.size())
            return kBad;
        if (s[i] == ')')
            return sfParameters(s, i + 1);
        i = sfParameters(s, sfBareItem(s, i));
        if (i == kBad || i >= s.size() || (s[i] != ' ' && s[i] != ')'))
            return kBad;
    }
}
} // namespace

bool isStructuredDictionary(std::string_view s) {
    std::size_t i = 0;
    auto ows = [&] {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
            ++i;
    };
    ows();
    while (i < s.size()) {
        i = sfKey(s, i);
        if (i != kBad && i < s.size() && s[i] == '=')
            i = sfItemOrInnerList(s, i + 1);
        else
            i = sfParameters(s, i); // a key alone is true
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

bool parseStringList(std::string_view s, std::vector<std::string> &strings, std::size_t &others) {
    strings.clear();
    others = 0;
    std::size_t i = 0;
    auto ows = [&] {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
            ++i;
    };
    ows();
    while (i < s.size()) {
        const std::size_t start = i;
        i = sfItemOrInnerList(s, i);
        if (i == kBad) {
            strings.clear();
            return false;
        }
        if (s[start] == '"') { // the string's own end: the first unescaped quote after it
            std::string v;
            for (std::size_t j = start + 1; s[j] != '"'; ++j)
                v.push_back(s[j] == '\\' ? s[++j] : s[j]);
            strings.push_back(std::move(v));
        } else {
            ++others;
        }
        ows();
        if (i >= s.size())
            return true;
        if (s[i] != ',') {
            strings.clear();
            return false;
        }
        ++i;
        ows();
        if (i >= s.size()) { // a trailing comma
            strings.clear();
            return false;
        }
    }
    return true;
}

CacheControl parseCacheControl(const HeaderList &headers, std::string_view field) {
    CacheControl cc;
    const bool targeted = !equalsIgnoreCase(field, "cache-control");
    headers.forEach([&](std::string_view n, std::string_view v) {
        if (!equalsIgnoreCase(n, field))
            return;
        cc.present = true;
        while (!v.empty()) {
            std::size_t comma = memberEnd(v);
            std::string_view item = trimOws(v.substr(0, comma));
            std::size_t eq = item.find('=');
            std::string_view name = trimOws(item.substr(0, eq));
            std::string_view val = eq == std::string_view::npos ? "" : trimOws(item.substr(eq + 1));
            // A targeted field is a Structured Field Dictionary: a member's parameters
            // (";name=value" after its value) say nothing RFC 9213 reads.
            if (targeted && !val.empty() && val.front() != '"')
                val = trimOws(val.substr(0, val.find(';')));
            if (targeted && eq == std::string_view::npos)
                name = trimOws(name.substr(0, name.find(';')));
            if (equalsIgnoreCase(name, "private")) {
                cc.isPrivate = true;
                cc.privateFields = trimOws(unquote(val));
            } else if (equalsIgnoreCase(name, "public")) {
                cc.isPublic = true;
            } else if (equalsIgnoreCase(name, "no-store")) {
                cc.noStore = true;
            } else if (equalsIgnoreCase(name, "no-cache")) {
                cc.noCache = true;
                cc.noCacheFields = trimOws(unquote(val));
            } else if (equalsIgnoreCase(name, "must-revalidate")) {
                cc.mustRevalidate = true;
            } else if (equalsIgnoreCase(name, "proxy-revalidate")) {
                cc.proxyRevalidate = true;
            } else if (equalsIgnoreCase(name, "no-transform")) {
                cc.noTransform = true;
            } else if (equalsIgnoreCase(name, "only-if-cached")) {
                cc.onlyIfCached = true;
            } else if (equalsIgnoreCase(name, "max-age")) {
                deltaSeconds(val, cc.maxAge, cc.maxAgeInvalid);
            } else if (equalsIgnoreCase(name, "s-maxage")) {
                deltaSeconds(val, cc.sMaxAge, cc.sMaxAgeInvalid);
            } else if (equalsIgnoreCase(name, "max-stale")) {
                cc.maxStale = true;
                if (eq != std::string_view::npos)
                    cc.maxStaleSeconds = seconds(val);
            } else if (equalsIgnoreCase(name, "min-fresh")) {
                cc.minFresh = seconds(val);
            } else if (equalsIgnoreCase(name, "stale-while-revalidate")) {
                cc.staleWhileRevalidate = seconds(val);
            } else if (equalsIgnoreCase(name, "stale-if-error")) {
                cc.staleIfError = seconds(val);
            }
            if (comma == std::string_view::npos)
                break;
            v.remove_prefix(comma + 1);
        }
    });
    return cc;
}

bool ifNoneMatchMatches(std::string_view inm, std::string_view etag) {
    auto opaque = [](std::string_view t) {
        t = trimOws(t);
        if (t.size() >= 2 && (t[0] == 'W' || t[0] == 'w') && t[1] == '/')
            t.remove_prefix(2);
        return t;
    };
    if (etag.empty())
        return false;
    std::string_view want = opaque(etag);
    while (!inm.empty()) {
        std::size_t comma = inm.find(',');
        std::string_view item = trimOws(inm.substr(0, comma));
        if (item == "*" || opaque(item) == want)
            return true;
        if (comma == std::string_view::npos)
            break;
        inm.remove_prefix(comma + 1);
    }
    return false;
}

} // namespace fc::http
