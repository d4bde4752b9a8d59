#include "cache/policy/http.h"

#include <algorithm>
#include <charconv>

#include "cache/policy/keys.h"
#include "http/date.h"
#include "http/rewrite.h"

namespace fc::cache {

namespace {

// §4.2.2: statuses defined as heuristically cacheable (RFC 9110 §15.1).
bool heuristicallyCacheable(int status) {
    switch (status) {
    case 200:
    case 203:
    case 204:
    case 206:
    case 300:
    case 301:
    case 308:
    case 404:
    case 405:
    case 410:
    case 414:
    case 501:
        return true;
    default:
        return false;
    }
}

bool isAcceptFamily(std::string_view meta) {
    return meta == "HTTP_ACCEPT" || meta == "HTTP_ACCEPT_CHARSET" ||
           meta == "HTTP_ACCEPT_ENCODING" || meta == "HTTP_ACCEPT_LANGUAGE";
}

} // namespace

StoreDecision decideStoreHttp(const http::RequestHead &req, int status,
                              const http::HeaderList &resp, const PolicyConfig &cfg,
                              ExchangeTimes t) {
    return decideStoreHttp(req, responseFacts(status, -1, resp, cfg), cfg, t);
}

namespace {
// §4.2.1: s-maxage, then max-age, then Expires - Date; nullopt when the response gives none. An
// unusable or repeated directive, several Expires fields or an invalid date make the response
// stale (lifetime 0).
std::optional<std::int64_t> freshnessLifetime(const ResponseFacts &resp, std::int64_t date) {
    const http::CacheControl &cc = resp.directives;
    if (cc.sMaxAge || cc.sMaxAgeInvalid)
        return cc.sMaxAgeInvalid ? 0 : *cc.sMaxAge;
    if (cc.maxAge || cc.maxAgeInvalid)
        return cc.maxAgeInvalid ? 0 : *cc.maxAge;
    if (resp.expiresCount > 0)
        return resp.expiresCount == 1 && resp.expires
                   ? std::max<std::int64_t>(0, *resp.expires - date)
                   : 0;
    return std::nullopt;
}

// §4.2.2: a fraction of the time since Last-Modified, capped (cache.heuristic_*).
std::int64_t heuristicLifetime(const ResponseFacts &resp, std::int64_t date,
                               const PolicyConfig &cfg) {
    if (!resp.lastModified || date <= *resp.lastModified)
        return 0;
    return std::min<std::int64_t>(
        cfg.heuristicMax, static_cast<std::int64_t>(static_cast<double>(date - *resp.lastModified) *
                                                    cfg.heuristicFraction));
}
} // namespace

StoreDecision decideStoreHttp(const http::RequestHead &req, const ResponseFacts &resp,
                              const PolicyConfig &cfg, ExchangeTimes t) {
    StoreDecision d;
    const int status = resp.status;
    d.status = status;
    auto no = [&d](NotStored why) {
        d.reason = why;
        return d;
    };
    // §3: a final status the cache understands. 206 is not stored (storing partial content is
    // optional; ranges are cut from complete stored responses) and 304 only updates one.
    if (status < 200 || status > 599 || status == 206 || status == 304)
        return no(NotStored::Status);
    if (http::parseCacheControl(req.headers).noStore) // §5.2.1.5
        return no(NotStored::Request);
    const http::CacheControl &cc = resp.directives;
    if (cc.noStore)
        return no(NotStored::NoStore);
    if (cc.isPrivate && cc.privateFields.empty()) // §5.2.2.7, the unqualified form
        return no(NotStored::Private);
    // §3.5: a request with credentials only when the response says a shared cache may.
    if (req.headers.has("authorization") && !cc.isPublic && !cc.sMaxAge && !cc.sMaxAgeInvalid &&
        !cc.mustRevalidate)
        return no(NotStored::Authorization);
    // Not an RFC rule: a stored Set-Cookie would be sent to every client (a session leak), so it
    // takes cache.store_set_cookie, as in django mode (nginx and Varnish do the same).
    if (!cfg.storeSetCookie && resp.setCookie)
        return no(NotStored::SetCookie);
    if (resp.varyStar) // §4.1: Vary: * never matches a later request
        return no(NotStored::VaryStar);
    if (resp.varyUnderscore) // see NotStored::VaryName
        return no(NotStored::VaryName);

    const std::int64_t date = resp.date.value_or(t.responseTime);
    const std::optional<std::int64_t> explicitLifetime = freshnessLifetime(resp, date);
    // §3: without explicit freshness, only a heuristically cacheable status or `public`.
    if (!explicitLifetime && !heuristicallyCacheable(status) && !cc.isPublic)
        return no(NotStored::Status);
    const std::int64_t lifetime =
        explicitLifetime ? *explicitLifetime : heuristicLifetime(resp, date, cfg);
    const bool validator = resp.hasEtag || resp.lastModified.has_value();
    if (cc.noCache && cc.noCacheFields.empty()) {
        if (!validator) // every reuse would be a whole new fetch: nothing to gain
            return no(NotStored::NoCache);
        d.revalidate = true; // §5.2.2.4
    } else if (lifetime <= 0 && !validator) {
        return no(NotStored::ZeroTtl);
    }
    d.ttl = lifetime;
    // A copy with validators is kept an hour past its lifetime to be revalidated (a 304 is
    // cheaper than the page); without, only for its stale windows.
    d.keepStale = validator ? 3600 : 0;
    // §4.2.3: the age it arrived with.
    const std::int64_t apparent = std::max<std::int64_t>(0, t.responseTime - date);
    const std::int64_t delay = std::max<std::int64_t>(0, t.responseTime - t.requestTime);
    d.initialAge = std::max(apparent, resp.age + delay);
    // Stale windows: only what the response allows (RFC 5861's directives; stale-if-error also
    // from cache.stale_if_error, the "disconnected" case of §4.2.4). A shared cache may not
    // serve stale what says must-revalidate, proxy-revalidate or s-maxage (§5.2.2.2, .8, .10).
    d.grace = cc.staleWhileRevalidate.value_or(0);
    d.staleIfError = cc.staleIfError.value_or(cfg.staleIfError);
    if (cc.mustRevalidate || cc.proxyRevalidate || cc.sMaxAge || cc.sMaxAgeInvalid || d.revalidate)
        d.grace = d.staleIfError = 0;
    d.omitFields = cc.privateFields;
    d.omitFields2 = cc.noCacheFields;
    return d;
}

RequestDirectives requestDirectives(const http::HeaderList &req, const PolicyConfig &cfg) {
    RequestDirectives rd;
    if (cfg.mode != Mode::Http || (!req.has("cache-control") && !req.has("pragma")))
        return rd; // nothing to say (a hit parses nothing)
    const http::CacheControl cc = http::parseCacheControl(req);
    rd.noStore = cc.noStore;
    rd.onlyIfCached = cc.onlyIfCached;
    rd.maxStale = cc.maxStale;
    rd.maxStaleSeconds = cc.maxStaleSeconds;
    rd.minFresh = cc.minFresh;
    if (cfg.honorClientNoCache) {
        bool pragma = false;
        if (!cc.present) // §5.4: Pragma only counts without Cache-Control
            req.forEach([&](std::string_view n, std::string_view v) {
                if (http::equalsIgnoreCase(n, "pragma") && http::listContains(v, "no-cache"))
                    pragma = true;
            });
        rd.noCache = cc.noCache || pragma;
        if (!cc.maxAgeInvalid)
            rd.maxAge = cc.maxAge;
    }
    return rd;
}

Reuse reuse(const PageView &page, bool mustRevalidate, const RequestDirectives &rd,
            std::int64_t now) {
    if (rd.noCache)
        return Reuse::Validate;
    const std::int64_t age = page.age(now);
    if (rd.maxAge && age > *rd.maxAge)
        return Reuse::Validate;
    if (rd.minFresh && page.freshUntil() - now < *rd.minFresh)
        return Reuse::Validate;
    if (page.fresh(now))
        return Reuse::Fresh;
    if (rd.maxStale && !mustRevalidate &&
        (!rd.maxStaleSeconds || now - page.freshUntil() <= *rd.maxStaleSeconds))
        return Reuse::StaleOk;
    return Reuse::Validate;
}

bool storedMustRevalidate(std::string_view head) {
    bool yes = false;
    http::forEachHeadField(
        head, [&](std::string_view field, std::string_view value, std::string_view) {
            // Cache-Control, or a targeted field such as CDN-Cache-Control.
            if (field.size() < 13 ||
                !http::equalsIgnoreCase(field.substr(field.size() - 13), "cache-control"))
                return;
            http::forEachListMember(value, [&](std::string_view m) {
                std::string_view name = http::trimOws(m.substr(0, m.find('=')));
                yes = yes || http::equalsIgnoreCase(name, "must-revalidate") ||
                      http::equalsIgnoreCase(name, "proxy-revalidate") ||
                      http::equalsIgnoreCase(name, "s-maxage");
            });
        });
    return yes;
}

bool headDescribes(const PageView &page, const http::HeaderList &head, std::int64_t contentLength) {
    std::optional<std::string_view> etag = head.get("etag");
    std::optional<std::int64_t> lm = firstDate(head, "last-modified");
    if (!etag && !lm)
        return false; // nothing to tell it is the same representation
    if (etag && http::trimOws(*etag) != page.etag)
        return false;
    if (lm && *lm != page.lastModified)
        return false;
    return contentLength < 0 || static_cast<std::uint64_t>(contentLength) == page.body.size();
}

bool invalidates(std::string_view method, int status) {
    const bool safe =
        method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE";
    return !safe && status >= 200 && status < 400;
}

void invalidationTargets(const http::HeaderList &resp, std::string_view scheme,
                         std::string_view host, std::string_view targetPath,
                         std::vector<std::string> &out) {
    for (std::string_view field : {"location", "content-location"}) {
        std::optional<std::string_view> v = resp.get(field);
        if (!v)
            continue;
        std::string_view ref = http::trimOws(*v);
        ref = ref.substr(0, ref.find('#'));
        if (ref.empty())
            continue;
        std::size_t colon = ref.find("://");
        if (colon != std::string_view::npos) { // absolute: same scheme and authority only
            std::string_view rest = ref.substr(colon + 3);
            std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
            if (!http::equalsIgnoreCase(ref.substr(0, colon), scheme) ||
                !http::equalsIgnoreCase(authority, host))
                continue;
            std::string_view path = rest.substr(authority.size());
            out.emplace_back(path.empty() || path[0] == '?' ? "/" + std::string(path) : path);
        } else if (ref.substr(0, 2) == "//") {
            continue; // network-path reference: another authority, or ours spelt oddly
        } else if (ref[0] == '/') {
            out.emplace_back(ref);
        } else { // relative to the target's directory (RFC 3986 §5.2, without dot segments)
            std::string_view dir = targetPath.substr(0, targetPath.find('?'));
            dir = dir.substr(0, dir.rfind('/') + 1);
            out.emplace_back(std::string(dir.empty() ? "/" : dir) + std::string(ref));
        }
    }
}

bool answersRequest(const PolicyConfig &cfg, const PageView &page, const RequestDirectives &rd,
                    std::int64_t now) {
    const bool fresh = page.fresh(now);
    if (cfg.mode != Mode::Http)
        return fresh;
    const bool mustRevalidate = !fresh && rd.maxStale && storedMustRevalidate(page.head);
    return reuse(page, mustRevalidate, rd, now) != Reuse::Validate;
}

void removeTargetedField(const PolicyConfig &cfg, http::HeaderList &headers) {
    if (cfg.mode == Mode::Http && !cfg.targetedField.empty() && !cfg.forwardTargetedField)
        headers.remove(cfg.targetedField);
}

std::vector<std::string> invalidatedPaths(Store &store, const PolicyConfig &cfg,
                                          const http::RequestHead &req, int status,
                                          const http::HeaderList &resp, bool https,
                                          std::string &host) {
    std::vector<std::string> paths;
    if (cfg.mode != Mode::Http || !invalidates(req.method, status))
        return paths;
    const http::TargetParts t = http::splitTarget(req.target);
    host.assign(t.absolute() ? t.authority : req.headers.get("host").value_or(""));
    paths.emplace_back(t.originPath());
    invalidationTargets(resp, https ? "https" : "http", host, t.originPath(), paths);
    std::string uri, key;
    for (const auto &p : paths)
        for (std::string_view scheme : {"http://", "https://"}) {
            uri.assign(scheme).append(host).append(p);
            key.clear();
            headerKey(cfg, uri, key);
            if (store.get(key))
                return paths;
        }
    paths.clear();
    return paths;
}

namespace {
// A member's weight in thousandths (RFC 9110 §12.4.2): 1000 without a q parameter, -1 when its
// q is not a valid qvalue.
int memberWeight(std::string_view member) {
    std::size_t semi = member.find(';');
    while (semi != std::string_view::npos) {
        std::string_view rest = member.substr(semi + 1);
        const std::size_t next = rest.find(';');
        std::string_view param = http::trimOws(rest.substr(0, next));
        semi = next == std::string_view::npos ? next : semi + 1 + next;
        const std::size_t eq = param.find('=');
        if (eq == std::string_view::npos ||
            !http::equalsIgnoreCase(http::trimOws(param.substr(0, eq)), "q"))
            continue;
        std::string_view q = http::trimOws(param.substr(eq + 1));
        if (q.empty() || (q[0] != '0' && q[0] != '1') || q.size() > 5 ||
            (q.size() > 1 && q[1] != '.'))
            return -1;
        int w = (q[0] - '0') * 1000;
        for (std::size_t i = 2, scale = 100; i < q.size(); ++i, scale /= 10) {
            if (q[i] < '0' || q[i] > '9')
                return -1;
            w += (q[i] - '0') * static_cast<int>(scale);
        }
        return w <= 1000 ? w : -1;
    }
    return 1000;
}
} // namespace

void normalizeVaryValue(std::string_view metaName, std::string_view value, std::string &out) {
    if (!isAcceptFamily(metaName)) {
        out.append(http::trimOws(value));
        return;
    }
    // Members without white space, lower-cased, ordered by weight — and, among equal weights,
    // kept in their order: "en;q=0.8, FR" is "fr,en;q=0.8", but "en, fr" is not "fr, en" (with
    // equal weights the first is the one preferred, as Django's parse_accept_lang_header and
    // content negotiation read it). Only a transformation with identical semantics may make
    // two requests one (§4.1). No allocation: at most 32 members, else compared as sent.
    struct Member {
        std::string_view text;
        int weight;
    };
    Member members[32];
    std::size_t n = 0;
    bool reorder = true;
    http::forEachListMember(value, [&](std::string_view m) {
        if (n == std::size(members)) {
            reorder = false;
            return;
        }
        members[n] = {m, memberWeight(m)};
        reorder = reorder && members[n].weight >= 0;
        ++n;
    });
    if (reorder)
        std::stable_sort(members, members + n,
                         [](const Member &a, const Member &b) { return a.weight > b.weight; });
    if (!reorder && n == std::size(members)) { // an absurd field: compared as sent
        out.append(value);
        return;
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (i)
            out.push_back(',');
        for (char c : members[i].text)
            if (c != ' ' && c != '\t')
                out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
    }
}

void removeFields(std::string &head, std::string_view names) {
    if (http::trimOws(names).find_first_not_of(", ") == std::string_view::npos)
        return; // nothing named (the usual case): the head stays as it is
    std::string kept(http::headStatusLine(head));
    http::forEachHeadField(head,
                           [&](std::string_view name, std::string_view, std::string_view line) {
                               if (http::forEachListMember(names, [&](std::string_view n) {
                                       return !http::equalsIgnoreCase(n, name);
                                   }))
                                   kept.append(line);
                           });
    head.swap(kept);
}

} // namespace fc::cache
