#define OPENSSL_SUPPRESS_DEPRECATED
#include "cache/policy.h"

#include "cache/facts.h"
#include "cache/http_policy.h"

#include <openssl/md5.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "http/cache_control.h"
#include "http/date.h"
#include "http/rewrite.h"

namespace fc::cache {

namespace {
// MD5 through libcrypto's one-shot low-level interface: the state lives on the stack. The EVP
// interface allocates a provider context on every digest in OpenSSL 3 (measured: 3 mallocs per
// cache hit, one per key), and keys are computed on every hit. The low-level calls are
// deprecated in OpenSSL 3 but still shipped; OPENSSL_SUPPRESS_DEPRECATED (top of file) says
// we use them on purpose.
void appendMd5Hex(std::string &out, std::string_view data) {
    unsigned char md[MD5_DIGEST_LENGTH];
    MD5(reinterpret_cast<const unsigned char *>(data.data()), data.size(), md);
    const unsigned len = MD5_DIGEST_LENGTH;
    static const char *hex = "0123456789abcdef";
    for (unsigned i = 0; i < len; ++i) {
        out.push_back(hex[md[i] >> 4]);
        out.push_back(hex[md[i] & 15]);
    }
}

std::string_view pathOf(const http::RequestHead &req) {
    return http::splitTarget(req.target).originPath();
}

// A request header's value as Django's request.META[name] would hold it (WSGI joins repeated
// fields with ','); false when absent. `metaName` is "HTTP_ACCEPT_ENCODING"-style. With
// `wsgiNames` false (http mode: an application that reads names exactly), a field whose name
// has '_' is not the field spelt with '-' (server.underscores_in_headers keeps such fields).
bool metaValue(const http::HeaderList &h, std::string_view metaName, std::string &out,
               bool wsgiNames = true) {
    if (metaName.substr(0, 5) != "HTTP_")
        return false;
    std::string_view want = metaName.substr(5);
    // WSGI puts Content-Type / Content-Length in CONTENT_TYPE / CONTENT_LENGTH, never HTTP_*, so
    // Django keys `Vary: Content-Type` as absent — yet the application reads the field. Keyed
    // here as sent (stricter than Django, never looser).
    bool found = false;
    h.forEach([&](std::string_view n, std::string_view v) {
        if (n.size() != want.size() || (!wsgiNames && n.find('_') != std::string_view::npos))
            return;
        for (std::size_t i = 0; i < n.size(); ++i) {
            char c = n[i] == '-' ? '_'
                                 : static_cast<char>(n[i] >= 'a' && n[i] <= 'z' ? n[i] - 32 : n[i]);
            if (c != want[i])
                return;
        }
        if (found)
            out.push_back(',');
        out.append(v);
        found = true;
    });
    return found;
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
    }
    return "?";
}

const char *notStoredName(NotStored n) {
    switch (n) {
    case NotStored::None:
        return "stored";
    case NotStored::Status:
        return "status";
    case NotStored::SetCookie:
        return "set-cookie";
    case NotStored::Private:
        return "private";
    case NotStored::NoStore:
        return "no-store";
    case NotStored::NoCache:
        return "no-cache";
    case NotStored::Authorization:
        return "authorization";
    case NotStored::VaryStar:
        return "vary-star";
    case NotStored::ZeroTtl:
        return "max-age-0";
    case NotStored::TooBig:
        return "too-big";
    case NotStored::Truncated:
        return "truncated";
    case NotStored::Head:
        return "head";
    case NotStored::Coding:
        return "coding";
    case NotStored::Request:
        return "request";
    case NotStored::VaryName:
        return "vary-name";
    }
    return "?";
}

bool globMatch(std::string_view p, std::string_view s) {
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

// Each cookie of one Cookie field value, in order, as its name and its "name=value" pair (empty
// pairs skipped). `f(name, pair)` returns false to stop; then this returns false.
template <typename F> bool forEachCookiePair(std::string_view v, F &&f) {
    while (!v.empty()) {
        std::size_t semi = v.find(';');
        std::string_view pair = http::trimOws(v.substr(0, semi));
        v = semi == std::string_view::npos ? std::string_view() : v.substr(semi + 1);
        if (!pair.empty() && !f(http::trimOws(pair.substr(0, pair.find('='))), pair))
            return false;
    }
    return true;
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

void absoluteUri(const http::RequestHead &req, const PolicyConfig &cfg, std::string &out,
                 std::string_view scheme) {
    std::string_view t = req.target;
    if (http::splitTarget(t).absolute()) {
        out.append(t);
    } else {
        out.append(scheme);
        out.append("://");
        if (auto host = req.headers.get("host"))
            out.append(*host);
        out.append(t);
    }
    if (!cfg.queryInKey) { // bypass mode: an empty "?" does not make a different page
        std::size_t q = out.find('?');
        if (q != std::string::npos)
            out.resize(q);
    }
}

void headerKey(const PolicyConfig &cfg, std::string_view uri, std::string &out) {
    out.append("views.decorators.cache.cache_header.");
    out.append(cfg.keyPrefix);
    out.push_back('.');
    appendMd5Hex(out, uri);
}

namespace {
// What Accept-Encoding contributes to a page key. A stored copy always holds an identity
// representation besides its codings (PageFill refuses to store one that cannot), and each hit
// picks the coding (chooseRepresentation): the raw field, which differs per browser, would only
// split the page. No other element starts with \x01 (see pageKey).
constexpr std::string_view kNegotiatedCoding = "\x01negotiated,";
} // namespace

void pageKey(const PolicyConfig &cfg, std::string_view method, std::string_view uri,
             std::string_view headerList, const http::HeaderList &req, std::string &out) {
    // The varied values, each one unambiguous: "=" value "\n" when present (a value never holds
    // a LF: the parser refuses one), "-\n" when absent. Django concatenates the bare values, so
    // two headers can trade bytes: "Accept-Language: fr-" with "Cookie: ," hashes like
    // "Accept-Language: fr" without a cookie, and one request would store its page for every
    // such visitor. (Pages that vary on nothing keep Django's key exactly: md5 of "".)
    thread_local std::string values, raw; // reused: no allocation per hit once warm
    values.clear();
    while (!headerList.empty()) {
        std::size_t comma = headerList.find(',');
        std::string_view name = headerList.substr(0, comma);
        raw.clear();
        if (name == "HTTP_ACCEPT_ENCODING") {
            values.append(kNegotiatedCoding); // one entry serves every coding (cache/compress.h)
        } else if (!metaValue(req, name, raw, cfg.mode == Mode::Django)) {
            values.append("-\n");
        } else {
            values.push_back('=');
            if (cfg.mode == Mode::Http) // RFC 9111 §4.1: compared after normalisation
                normalizeVaryValue(name, raw, values);
            else
                values.append(raw);
            values.push_back('\n');
        }
        if (comma == std::string_view::npos)
            break;
        headerList.remove_prefix(comma + 1);
    }
    // Fields that override the request (http::isKeyedOverride: a trusted proxy's
    // X-Forwarded-Host, -Port, -Prefix..., X-HTTP-Method-Override) key every page they come
    // with, whatever its Vary says: frameworks build pages from them without saying so. "\x02"
    // starts no other element; without any, the key is unchanged.
    req.forEach([&](std::string_view n, std::string_view v) {
        if (!http::isKeyedOverride(n))
            return;
        values.push_back('\x02');
        for (char c : n)
            values.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
        values.push_back(':');
        values.append(v);
        values.push_back('\n');
    });
    out.append("views.decorators.cache.cache_page.");
    out.append(cfg.keyPrefix);
    out.push_back('.');
    out.append(method);
    out.push_back('.');
    appendMd5Hex(out, uri);
    out.push_back('.');
    appendMd5Hex(out, values);
}

void variedValues(std::string_view headerList, const http::HeaderList &req, std::string &out) {
    std::string value;
    while (!headerList.empty()) {
        std::size_t comma = headerList.find(',');
        std::string_view name = headerList.substr(0, comma);
        value.clear();
        out.append(name);
        out.append(": ");
        if (name == "HTTP_ACCEPT_ENCODING") {
            out.append("(any: the coding is chosen per request)");
        } else if (!metaValue(req, name, value)) {
            out.append("(absent)");
        } else if (name == "HTTP_COOKIE") {
            bool first = true;
            forEachCookiePair(value, [&](std::string_view cookie, std::string_view pair) {
                std::size_t eq = pair.find('=');
                if (!first)
                    out.append("; ");
                first = false;
                out.append(cookie);
                out.append("=#");
                std::string h;
                appendMd5Hex(h, eq == std::string_view::npos ? "" : pair.substr(eq + 1));
                out.append(h, 0, 8);
                return true;
            });
        } else {
            out.append(value);
        }
        out.push_back('\n');
        if (comma == std::string_view::npos)
            break;
        headerList.remove_prefix(comma + 1);
    }
    if (out.size() > 4096)
        out.resize(4096);
}

bool varyHeaderList(const http::HeaderList &resp, std::string &out) {
    std::vector<std::string> names;
    bool star = false;
    http::forEachVary(resp, [&](std::string_view h) {
        if (h == "*")
            star = true;
        std::string m = "HTTP_";
        for (char c : h)
            m.push_back(c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c));
        names.push_back(std::move(m));
    });
    if (star)
        return false;
    std::sort(names.begin(), names.end());
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i)
            out.push_back(',');
        out.append(names[i]);
    }
    return true;
}

StoreDecision decideStore(const http::RequestHead &req, int status, const http::HeaderList &resp,
                          const PolicyConfig &cfg, ExchangeTimes times) {
    return decideStore(req, responseFacts(status, -1, resp, cfg), cfg, times);
}

StoreDecision decideStore(const http::RequestHead &req, const ResponseFacts &resp,
                          const PolicyConfig &cfg, ExchangeTimes times) {
    if (cfg.mode == Mode::Http)
        return decideStoreHttp(req, resp, cfg, times);
    StoreDecision d;
    if (resp.status != 200) {
        d.reason = NotStored::Status;
        return d;
    }
    if (!cfg.storeSetCookie && resp.setCookie) {
        d.reason = NotStored::SetCookie;
        return d;
    }
    const http::CacheControl &cc = resp.cacheControl;
    if (cc.isPrivate) {
        d.reason = NotStored::Private;
        return d;
    }
    if (cc.noStore) {
        d.reason = NotStored::NoStore;
        return d;
    }
    if (cc.noCache) {
        // Stricter than Django (which ignores no-cache): stored only when it can be revalidated
        // — an ETag, or a Last-Modified we can send back in If-Modified-Since.
        if (!resp.hasEtag && !resp.lastModified) {
            d.reason = NotStored::NoCache;
            return d;
        }
        d.revalidate = true;
    }
    if (req.headers.has("authorization") && !cc.isPublic && !cc.sMaxAge && !cc.mustRevalidate) {
        d.reason = NotStored::Authorization;
        return d;
    }
    if (resp.varyStar) {
        d.reason = NotStored::VaryStar;
        return d;
    }
    // get_max_age(), with s-maxage (shared-cache lifetime) taking precedence.
    d.ttl = cc.sMaxAge ? *cc.sMaxAge : cc.maxAge ? *cc.maxAge : cfg.defaultTtl;
    if (d.ttl <= 0)
        d.reason = NotStored::ZeroTtl;
    // RFC 5861: the response's own stale windows win over the configured ones; must-revalidate
    // and no-cache forbid serving it stale at all (RFC 9111 §5.2.2.2, §5.2.2.4).
    d.grace = cc.staleWhileRevalidate ? *cc.staleWhileRevalidate : cfg.grace;
    d.staleIfError = cc.staleIfError ? *cc.staleIfError : cfg.staleIfError;
    if (cc.mustRevalidate || d.revalidate)
        d.grace = d.staleIfError = 0;
    return d;
}

StoreDecision renewStoredHead(std::string_view stored, const http::HeaderList &fresh,
                              const http::RequestHead &req, const PolicyConfig &cfg,
                              std::int64_t now, std::string &outHead, std::string &outVary) {
    // The stored head is our own serialisation: "HTTP/1.1 200 OK\r\n" then "Name: value\r\n".
    http::ResponseHead merged;
    std::string_view status = http::headStatusLine(stored);
    if (status.ends_with("\r\n"))
        status.remove_suffix(2);
    merged.status = 200;
    if (status.size() >= 12) { // "HTTP/1.1 NNN": http mode stores other statuses too
        int code = 0;
        std::from_chars(status.data() + 9, status.data() + 12, code);
        if (code >= 200 && code <= 599)
            merged.status = code;
    }
    if (std::size_t sp = status.find(' ', 9); sp != std::string_view::npos)
        merged.reason = std::string(status.substr(sp + 1));
    auto updated = [&](std::string_view name) {
        if (http::equalsIgnoreCase(name, "content-length") || http::equalsIgnoreCase(name, "via") ||
            http::equalsIgnoreCase(name, "age") || http::isHopByHop(name, fresh))
            return false;
        return fresh.has(name);
    };
    http::forEachHeadField(stored,
                           [&](std::string_view name, std::string_view value, std::string_view) {
                               if (!updated(name) && !http::equalsIgnoreCase(name, "expires"))
                                   merged.headers.add(name, value);
                           });
    fresh.forEach([&](std::string_view n, std::string_view v) {
        if (updated(n))
            merged.headers.add(n, v);
    });
    // Http mode: the 304 arrived now; its Date and Age give the renewed copy's age.
    StoreDecision d = decideStore(req, merged.status, merged.headers, cfg, {now, now});
    outVary.clear();
    if (d.reason == NotStored::None && !varyHeaderList(merged.headers, outVary))
        d.reason = NotStored::VaryStar;
    if (d.reason != NotStored::None)
        return d;
    if (cfg.mode == Mode::Django)
        patchResponseHeaders(merged.headers, d.ttl, now);
    outHead.clear();
    http::writeResponseHead(merged, false, {}, outHead);
    return d;
}

void patchResponseHeaders(http::HeaderList &headers, std::int64_t ttl, std::int64_t now) {
    if (ttl < 0)
        ttl = 0;
    if (!headers.has("expires")) {
        char date[http::kHttpDateLen];
        http::formatHttpDate(now + ttl, date);
        headers.add("Expires", std::string_view(date, sizeof date));
    }
    // patch_cache_control(max_age=ttl): directives keep their order, names lower-cased;
    // max-age becomes min(existing, ttl) in place, or is appended.
    std::string merged;
    bool hadMaxAge = false;
    headers.forEach([&](std::string_view n, std::string_view v) {
        if (!http::equalsIgnoreCase(n, "cache-control"))
            return;
        while (!v.empty()) {
            std::size_t comma = v.find(',');
            std::string_view item = http::trimOws(v.substr(0, comma));
            if (!item.empty()) {
                std::size_t eq = item.find('=');
                std::string name(http::trimOws(item.substr(0, eq)));
                for (char &c : name)
                    c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
                if (!merged.empty())
                    merged.append(", ");
                if (name == "max-age") {
                    std::int64_t cur = 0;
                    std::string_view val = eq == std::string_view::npos ? "" : item.substr(eq + 1);
                    auto r = std::from_chars(val.data(), val.data() + val.size(), cur);
                    bool ok = r.ec == std::errc() && r.ptr == val.data() + val.size();
                    merged.append("max-age=");
                    merged.append(std::to_string(ok ? std::min(cur, ttl) : ttl));
                    hadMaxAge = true;
                } else {
                    merged.append(name);
                    if (eq != std::string_view::npos) {
                        merged.push_back('=');
                        merged.append(item.substr(eq + 1));
                    }
                }
            }
            if (comma == std::string_view::npos)
                break;
            v.remove_prefix(comma + 1);
        }
    });
    if (!hadMaxAge) {
        if (!merged.empty())
            merged.append(", ");
        merged.append("max-age=" + std::to_string(ttl));
    }
    headers.remove("cache-control");
    headers.add("Cache-Control", merged);
}

} // namespace fc::cache
