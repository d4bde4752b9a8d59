#include "cache/policy/request.h"

#include <algorithm>
#include <cstring>

#include "http/rewrite.h"

namespace fc::cache {

namespace {
std::string_view pathOf(const http::RequestHead &req) {
    return http::splitTarget(req.target).originPath();
}
} // namespace

const char *bypassName(Bypass b) {
    switch (b) {
    case Bypass::None:
        return "none";
    case Bypass::Method:
        return "method";
    case Bypass::QueryString:
        return "query";
    case Bypass::Path:
        return "path";
    case Bypass::Cookie:
        return "cookie";
    case Bypass::Body:
        return "body";
    case Bypass::Upgrade:
        return "upgrade";
    case Bypass::Rule:
        return "rule";
    }
    return "?";
}

bool globMatch(std::string_view p, std::string_view s) {
    // The usual shapes without a walk: a name, "prefix*", "*suffix".
    if (const std::size_t only = p.find('*'); only == std::string_view::npos) {
        return p == s;
    } else if (p.find('*', only + 1) == std::string_view::npos) {
        if (only + 1 == p.size())
            return s.starts_with(p.substr(0, only));
        if (only == 0)
            return s.ends_with(p.substr(1));
    }
    // Iterative wildcard matching with one backtrack point (the last '*').
    std::size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
    while (si < s.size()) {
        if (pi < p.size() && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < p.size() && p[pi] == s[si]) {
            ++pi;
            ++si;
        } else if (star != std::string_view::npos) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < p.size() && p[pi] == '*')
        ++pi;
    return pi == p.size();
}

namespace {
bool anyMatch(const std::vector<std::string> &patterns, std::string_view name) {
    for (const auto &p : patterns)
        if (globMatch(p, name))
            return true;
    return false;
}

// The same across every Cookie field of a request (HTTP/2 gateways split them). The views point
// into `h`'s buffer.
template <typename F> void forEachCookie(const http::HeaderList &h, F &&f) {
    bool going = true;
    h.forEach([&](std::string_view n, std::string_view v) {
        if (going && http::equalsIgnoreCase(n, "cookie"))
            going = forEachCookiePair(v, f);
    });
}

// Campaign parameters out of the query, in place: kept parameters keep their order and bytes.
bool stripQueryParams(std::string &target, const std::vector<std::string> &ignore) {
    std::size_t q = target.find('?');
    if (q == std::string::npos || ignore.empty())
        return false;
    std::size_t out = q + 1, in = q + 1;
    bool changed = false, first = true;
    for (;;) {
        std::size_t amp = target.find('&', in);
        const bool last = amp == std::string::npos;
        if (last)
            amp = target.size();
        std::string_view param(target.data() + in, amp - in);
        if (!param.empty() && anyMatch(ignore, param.substr(0, param.find('=')))) {
            changed = true;
        } else { // kept, moved down over what was dropped (out <= in: memmove)
            if (!first)
                target[out++] = '&';
            std::memmove(target.data() + out, param.data(), param.size());
            out += param.size();
            first = false;
        }
        if (last)
            break;
        in = amp + 1;
    }
    if (!changed)
        return false;
    target.resize(first ? q : out); // nothing left: no '?' at all
    return true;
}
} // namespace

bool normalizeCacheableRequest(http::RequestHead &req, const PolicyConfig &cfg) {
    bool changed = stripQueryParams(req.target, cfg.ignoreQueryParams);
    if (cfg.ignoreCookies.empty() && cfg.keyCookies.empty())
        return changed;
    // A first pass without allocating (the hit path): is there any cookie to take out?
    auto counts = [&](std::string_view name) {
        return cfg.keyCookies.empty() ? !anyMatch(cfg.ignoreCookies, name)
                                      : anyMatch(cfg.keyCookies, name);
    };
    bool removable = false;
    forEachCookie(req.headers, [&](std::string_view name, std::string_view) {
        removable = !counts(name);
        return !removable;
    });
    if (!removable)
        return changed;
    // The cookies that count, sorted by name, become the only Cookie field.
    std::vector<std::pair<std::string_view, std::string_view>> keep;
    forEachCookie(req.headers, [&](std::string_view name, std::string_view pair) {
        if (counts(name))
            keep.emplace_back(name, pair);
        return true;
    });
    std::stable_sort(keep.begin(), keep.end(),
                     [](const auto &a, const auto &b) { return a.first < b.first; });
    std::string value; // built before the field is removed: the views point into the list
    for (const auto &[name, pair] : keep) {
        if (!value.empty())
            value.append("; ");
        value.append(pair);
    }
    req.headers.remove("cookie");
    if (!value.empty())
        req.headers.add("Cookie", value);
    return true;
}

Bypass classify(const http::RequestHead &req, const PolicyConfig &cfg) {
    // FetchFromCacheMiddleware: only GET and HEAD are looked up.
    if (req.method != "GET" && req.method != "HEAD")
        return Bypass::Method;
    if (req.hasBody())
        return Bypass::Body;
    std::string_view path = pathOf(req);
    std::size_t q = path.find('?');
    if (!cfg.queryInKey && q != std::string_view::npos && q + 1 < path.size())
        return Bypass::QueryString; // the seed deployment: "pages without GET parameters"
    std::string_view p = path.substr(0, q);
    for (const auto &prefix : cfg.bypassPaths)
        if (p.substr(0, prefix.size()) == prefix)
            return Bypass::Path;
    if (!cfg.bypassCookies.empty()) {
        bool hit = false;
        forEachCookie(req.headers, [&](std::string_view name, std::string_view) {
            for (const auto &c : cfg.bypassCookies)
                hit = hit || name == c;
            return !hit;
        });
        if (hit)
            return Bypass::Cookie;
    }
    return Bypass::None;
}
} // namespace fc::cache
