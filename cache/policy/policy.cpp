#include "cache/policy/policy.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "cache/policy/facts.h"
#include "cache/policy/http.h"
#include "cache/policy/keys.h"
#include "http/cache_control.h"
#include "http/date.h"
#include "http/rewrite.h"

namespace fc::cache {

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
        // Expires within what an HTTP date can say (a max-age near 2^63 would overflow).
        constexpr std::int64_t kCentury = 100LL * 365 * 86400;
        char date[http::kHttpDateLen];
        http::formatHttpDate(now + std::min(ttl, kCentury), date);
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

void patchStoredResponse(const PolicyConfig &cfg, http::HeaderList &headers, std::int64_t ttl,
                         std::int64_t now) {
    if (cfg.mode == Mode::Http) {
        removeTargetedField(cfg, headers);
        return;
    }
    patchResponseHeaders(headers, ttl, now);
    headers.remove("age");
}

std::string_view storedCopyOmits(const PolicyConfig &cfg) {
    return cfg.mode == Mode::Http ? "age" : "";
}

} // namespace fc::cache
