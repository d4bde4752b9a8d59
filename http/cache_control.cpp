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
