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

CacheControl parseCacheControl(const HeaderList &headers) {
    CacheControl cc;
    headers.forEach([&](std::string_view n, std::string_view v) {
        if (!equalsIgnoreCase(n, "cache-control"))
            return;
        cc.present = true;
        while (!v.empty()) {
            std::size_t comma = v.find(',');
            std::string_view item = trimOws(v.substr(0, comma));
            std::size_t eq = item.find('=');
            std::string_view name = trimOws(item.substr(0, eq));
            std::string_view val = eq == std::string_view::npos ? "" : trimOws(item.substr(eq + 1));
            if (equalsIgnoreCase(name, "private"))
                cc.isPrivate = true;
            else if (equalsIgnoreCase(name, "public"))
                cc.isPublic = true;
            else if (equalsIgnoreCase(name, "no-store"))
                cc.noStore = true;
            else if (equalsIgnoreCase(name, "no-cache"))
                cc.noCache = true;
            else if (equalsIgnoreCase(name, "must-revalidate"))
                cc.mustRevalidate = true;
            else if (equalsIgnoreCase(name, "no-transform"))
                cc.noTransform = true;
            else if (equalsIgnoreCase(name, "max-age"))
                cc.maxAge = seconds(val);
            else if (equalsIgnoreCase(name, "s-maxage"))
                cc.sMaxAge = seconds(val);
            else if (equalsIgnoreCase(name, "stale-while-revalidate"))
                cc.staleWhileRevalidate = seconds(val);
            else if (equalsIgnoreCase(name, "stale-if-error"))
                cc.staleIfError = seconds(val);
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
