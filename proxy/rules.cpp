#include "proxy/rules.h"

#include <algorithm>
#include <cstring>

#include "http/rewrite.h"

namespace fc::proxy {

namespace {
using config::Rule;

int hexValue(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

// %XX decoded, as the application reads it (Django's PATH_INFO, QueryDict): a rule on "/admin/"
// must hold for "/%61dmin/" too, or a bypass could be walked around and a cache rule widened.
void percentDecode(std::string_view in, std::string &out) {
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
        int hi = -1, lo = -1;
        if (in[i] == '%' && i + 2 < in.size() && (hi = hexValue(in[i + 1])) >= 0 &&
            (lo = hexValue(in[i + 2])) >= 0) {
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else {
            out.push_back(in[i]);
        }
    }
}

bool anyGlob(const std::vector<std::string> &patterns, std::string_view s) {
    for (const auto &p : patterns)
        if (cache::globMatch(p, s))
            return true;
    return false;
}

// The request's host, lower case, without the port: an absolute-form target's, else Host's.
std::string_view hostOf(const http::RequestHead &req, char (&buf)[256]) {
    const http::TargetParts t = http::splitTarget(req.target);
    std::string_view h = t.absolute() ? t.authority : req.headers.get("host").value_or("");
    if (!h.empty() && h.front() == '[') { // [v6]:port
        const std::size_t close = h.find(']');
        h = h.substr(0, close == std::string_view::npos ? h.size() : close + 1);
    } else if (const std::size_t colon = h.rfind(':'); colon != std::string_view::npos) {
        h = h.substr(0, colon);
    }
    if (h.ends_with('.')) // "example.com." is example.com (Django's split_domain_port)
        h.remove_suffix(1);
    const std::size_t n = std::min(h.size(), sizeof buf);
    for (std::size_t i = 0; i < n; ++i)
        buf[i] = static_cast<char>(h[i] >= 'A' && h[i] <= 'Z' ? h[i] + 32 : h[i]);
    return {buf, n};
}

// A cookie's name as Django reads it: parse_cookie strips what Python's str.strip() strips,
// which is more than HTTP's whitespace (\x0b, \x0c, \x1c-\x1f, and in Latin-1 \x85, \xa0).
std::string_view cookieName(std::string_view n) {
    auto space = [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u == ' ' || (u >= 0x09 && u <= 0x0d) || (u >= 0x1c && u <= 0x1f) || u == 0x85 ||
               u == 0xa0;
    };
    while (!n.empty() && space(n.front()))
        n.remove_prefix(1);
    while (!n.empty() && space(n.back()))
        n.remove_suffix(1);
    return n;
}

template <typename F> void forEachCookie(const http::HeaderList &h, F &&f) {
    h.forEach([&](std::string_view n, std::string_view v) {
        if (http::equalsIgnoreCase(n, "cookie"))
            cache::forEachCookiePair(v, [&](std::string_view name, std::string_view pair) {
                f(cookieName(name), pair);
                return true;
            });
    });
}

bool hasCookie(const http::HeaderList &h, const std::vector<std::string> &names) {
    bool found = false;
    forEachCookie(
        h, [&](std::string_view name, std::string_view) { found = found || anyGlob(names, name); });
    return found;
}

// The field's values as the application reads them: every field of that name (WSGI joins them
// with ','; '_' and '-' spell one name there).
bool fieldValues(const http::HeaderList &h, std::string_view want, std::string &out) {
    bool found = false;
    h.forEach([&](std::string_view n, std::string_view v) {
        if (n.size() != want.size())
            return;
        for (std::size_t i = 0; i < n.size(); ++i) {
            const char a = n[i] == '_' ? '-' : n[i], b = want[i] == '_' ? '-' : want[i];
            if (std::tolower(static_cast<unsigned char>(a)) !=
                std::tolower(static_cast<unsigned char>(b)))
                return;
        }
        if (found)
            out.push_back(',');
        out.append(v);
        found = true;
    });
    return found;
}

// A matcher that reads a request field the key may not hold: a rule that changes anything
// with one must put what it decided into the key, or one client's outcome would be stored for
// everyone.
bool readsUnkeyed(const Rule &r) {
    return !r.headers.empty() || !r.headerEquals.empty() || !r.cookies.empty() ||
           !r.queryParams.empty();
}
bool changesWhatIsStored(const Rule &r) {
    return r.cache == Rule::Cache::Cache || r.ttlMode != Rule::Ttl::None || !r.statusTtl.empty() ||
           r.grace || r.staleIfError || r.stripCookies || r.stripSetCookie ||
           !r.requestSet.empty() || !r.requestRemove.empty() || !r.responseSet.empty() ||
           !r.responseRemove.empty() || !r.queryAllow.empty() || !r.queryDeny.empty() ||
           r.querySort || !r.upstream.empty();
}

bool hasQueryParam(std::string_view query, const std::vector<std::string> &names,
                   std::string &scratch) {
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        std::string_view param = query.substr(0, amp);
        percentDecode(param.substr(0, param.find('=')), scratch);
        if (!scratch.empty() && anyGlob(names, scratch))
            return true;
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    }
    return false;
}

// What the rules read of a request, each part read once and only when a rule asks for it.
struct Probe {
    const http::RequestHead &req;
    std::string_view path, query;
    std::string &scratch;
    std::optional<std::string_view> host;
    char hostBuf[256];
    std::string_view hostName() {
        if (!host)
            host = hostOf(req, hostBuf);
        return *host;
    }
};

bool matches(const Rule &r, Probe &p) {
    const http::RequestHead &req = p.req;
    const std::string_view path = p.path;
    if (!r.methods.empty() &&
        std::find(r.methods.begin(), r.methods.end(), req.method) == r.methods.end())
        return false;
    if (!r.pathPrefixes.empty() &&
        std::none_of(r.pathPrefixes.begin(), r.pathPrefixes.end(),
                     [&](const std::string &p) { return path.starts_with(p); }))
        return false;
    if (!r.paths.empty() && !anyGlob(r.paths, path))
        return false;
    if (!r.extensions.empty()) {
        const std::string_view last = path.substr(path.rfind('/') + 1);
        const std::size_t dot = last.rfind('.');
        if (dot == std::string_view::npos)
            return false;
        const std::string_view ext = last.substr(dot + 1);
        if (std::none_of(r.extensions.begin(), r.extensions.end(),
                         [&](const std::string &e) { return http::equalsIgnoreCase(e, ext); }))
            return false;
    }
    if (!r.hosts.empty() && !anyGlob(r.hosts, p.hostName()))
        return false;
    if (!r.queryParams.empty() && !hasQueryParam(p.query, r.queryParams, p.scratch))
        return false;
    if (!r.cookies.empty() && !hasCookie(req.headers, r.cookies))
        return false;
    if (!r.headers.empty() &&
        std::none_of(r.headers.begin(), r.headers.end(),
                     [&](const std::string &h) { return req.headers.has(h); }))
        return false;
    for (const auto &f : r.headerEquals) {
        auto v = req.headers.get(f.name);
        if (!v || *v != f.value)
            return false;
    }
    return true;
}

bool editsRequest(const Rule &r) {
    return r.stripCookies || !r.requestSet.empty() || !r.requestRemove.empty() ||
           !r.queryAllow.empty() || !r.queryDeny.empty() || r.querySort;
}

template <typename F> void forEachMatched(const std::vector<Rule> &rules, RuleMask m, F &&f) {
    for (std::size_t i = 0; m != 0 && i < rules.size(); ++i, m >>= 1)
        if (m & 1)
            f(rules[i]);
}

// A client's Connection field may name a field as hop-by-hop, and the upstream head then leaves
// it out (http::writeUpstreamRequest): a field a rule sets is no longer one of its options, so
// what is keyed is what is sent.
void dropConnectionOption(http::HeaderList &h, std::string_view name) {
    std::string kept;
    bool named = false;
    h.forEach([&](std::string_view n, std::string_view v) {
        if (!http::equalsIgnoreCase(n, "connection"))
            return;
        http::forEachListMember(v, [&](std::string_view option) {
            if (http::equalsIgnoreCase(option, name)) {
                named = true;
                return;
            }
            if (!kept.empty())
                kept.append(", ");
            kept.append(option);
        });
    });
    if (!named)
        return;
    h.remove("connection");
    if (!kept.empty())
        h.add("Connection", kept);
}

// The query edited in place: parameters named by `deny`, or not by `allow`, removed; then sorted
// by name (a stable sort: repeated names keep their order, which the application may read).
void editQuery(std::string &target, const Rule &r) {
    const std::size_t q = target.find('?');
    if (q == std::string::npos)
        return;
    std::vector<std::string> kept;
    std::string_view query(target.data() + q + 1, target.size() - q - 1);
    std::string name;
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view param = query.substr(0, amp);
        percentDecode(param.substr(0, param.find('=')), name);
        const bool denied = anyGlob(r.queryDeny, name);
        const bool allowed = r.queryAllow.empty() || anyGlob(r.queryAllow, name);
        if (!param.empty() && !denied && allowed)
            kept.emplace_back(param);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    }
    if (r.querySort)
        std::stable_sort(kept.begin(), kept.end(), [](const std::string &a, const std::string &b) {
            return a.substr(0, a.find('=')) < b.substr(0, b.find('='));
        });
    target.resize(q);
    for (std::size_t i = 0; i < kept.size(); ++i) {
        target.push_back(i == 0 ? '?' : '&');
        target.append(kept[i]);
    }
}
} // namespace

RuleMask matchRules(const std::vector<config::Rule> &rules, const http::RequestHead &req) {
    if (rules.empty())
        return 0;
    thread_local std::string decoded, scratch; // reused: no allocation per request once warm
    // The path decoded only when it has an escape; the host only when a rule asks for it.
    const std::string_view target = http::splitTarget(req.target).originPath();
    const std::size_t q = target.find('?');
    std::string_view path = target.substr(0, q);
    if (path.find('%') != std::string_view::npos) {
        percentDecode(path, decoded);
        path = decoded;
    }
    const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
    Probe probe{req, path, query, scratch, std::nullopt, {}};
    RuleMask m = 0;
    for (std::size_t i = 0; i < rules.size() && i < config::Rule::kMaxRules; ++i) {
        if (!matches(rules[i], probe))
            continue;
        m |= RuleMask{1} << i;
        if (!rules[i].continueAfter)
            break;
    }
    return m;
}

RuleRequest ruleRequest(const std::vector<config::Rule> &rules, RuleMask m) {
    RuleRequest out;
    forEachMatched(rules, m, [&](const Rule &r) {
        if (r.respondStatus) {
            out.respond = &r;
            out.decisive = &r;
        }
        if (r.cache != Rule::Cache::Default) {
            out.cache = r.cache;
            out.decisive = &r;
        }

        out.editsRequest |= editsRequest(r);
        out.keyed |= !r.keyHeaders.empty() || !r.keyCookies.empty() ||
                     (readsUnkeyed(r) && changesWhatIsStored(r));
        out.stripsCookies |= r.stripCookies;
    });
    return out;
}

void applyRequestEdits(const std::vector<config::Rule> &rules, RuleMask m, http::RequestHead &req) {
    forEachMatched(rules, m, [&](const Rule &r) {
        if (r.stripCookies)
            req.headers.remove("cookie");
        for (const auto &name : r.requestRemove)
            req.headers.remove(name);
        for (const auto &f : r.requestSet) {
            req.headers.remove(f.name);
            req.headers.add(f.name, f.value);
            dropConnectionOption(req.headers, f.name);
        }
        if (!r.queryAllow.empty() || !r.queryDeny.empty() || r.querySort)
            editQuery(req.target, r);
    });
}

cache::Bypass classifyWithRules(const http::RequestHead &req, const cache::PolicyConfig &cfg,
                                const RuleRequest &r, bool *queryInKey, bool *changed) {
    *queryInKey = cfg.queryInKey;
    bool ignored = false;
    bool &outcome = changed ? *changed : ignored;
    outcome = false;
    const cache::Bypass b = cache::classify(req, cfg);
    if (r.cache == Rule::Cache::Bypass) {
        outcome = b == cache::Bypass::None;
        return outcome ? cache::Bypass::Rule : b;
    }
    // Never over a method, a body or a handshake; over cache.bypass_cookies only when the rules
    // take the cookies out (they are there because the app does not say Vary: Cookie).
    if (r.cache != Rule::Cache::Cache || b == cache::Bypass::Method || b == cache::Bypass::Body ||
        b == cache::Bypass::Upgrade || (b == cache::Bypass::Cookie && !r.stripsCookies))
        return b;
    // The rule caches what the defaults pass: with a query, the query is part of the key.
    *queryInKey = true;
    outcome = b != cache::Bypass::None;
    return cache::Bypass::None;
}

void ruleKeyExtra(const std::vector<config::Rule> &rules, RuleMask m, const http::RequestHead &req,
                  std::string &out) {
    out.clear();
    forEachMatched(rules, m, [&](const Rule &r) {
        for (const auto &name : r.keyHeaders) {
            out.push_back('\x03');
            out.append(name);
            const std::size_t at = out.size();
            out.push_back('=');
            if (!fieldValues(req.headers, name, out))
                out[at] = '-'; // absent is not empty
            out.push_back('\n');
        }
        // Every cookie the pattern names, each occurrence (a value never holds ';').
        for (const auto &pattern : r.keyCookies) {
            out.append("\x03cookie:");
            out.append(pattern);
            out.push_back('=');
            forEachCookie(req.headers, [&](std::string_view name, std::string_view pair) {
                if (cache::globMatch(pattern, name)) {
                    out.append(pair);
                    out.push_back(';');
                }
            });
            out.push_back('\n');
        }
    });
    // Which rules matched, when one decided from a field the key may not hold (readsUnkeyed).
    bool unkeyed = false;
    forEachMatched(rules, m, [&](const Rule &r) {
        unkeyed = unkeyed || (readsUnkeyed(r) && changesWhatIsStored(r));
    });
    if (unkeyed) {
        char mask[32];
        const int n = std::snprintf(mask, sizeof mask, "\x03rules=%llx\n",
                                    static_cast<unsigned long long>(m));
        out.append(mask, static_cast<std::size_t>(n));
    }
}

std::size_t ruleUpstreamPool(const std::vector<config::Rule> &rules, RuleMask m) {
    std::size_t pool = 0;
    forEachMatched(rules, m, [&](const Rule &r) {
        if (!r.upstream.empty())
            pool = r.pool;
    });
    return pool;
}

void applyResponseEdits(const std::vector<config::Rule> &rules, RuleMask m, http::HeaderList &h) {
    forEachMatched(rules, m, [&](const Rule &r) {
        if (r.stripSetCookie)
            h.remove("set-cookie");
        for (const auto &name : r.responseRemove)
            h.remove(name);
        for (const auto &f : r.responseSet) {
            h.remove(f.name);
            h.add(f.name, f.value);
        }
    });
}

RuleTtl ruleTtl(const std::vector<config::Rule> &rules, RuleMask m, int status) {
    RuleTtl t;
    forEachMatched(rules, m, [&](const Rule &r) {
        // Within a rule the code beats its class ({404 = "30s", "4xx" = "0s"} stores a 404).
        std::optional<std::int64_t> exact, byClass;
        for (const auto &[code, ttl] : r.statusTtl) {
            if (code == status)
                exact = ttl;
            else if (code < 6 && code == status / 100)
                byClass = ttl;
        }
        if (exact || byClass) {
            t.statusTtl = exact ? exact : byClass;
            t.statusFrom = &r;
        }
        if (r.ttlMode != Rule::Ttl::None) {
            t.mode = r.ttlMode;
            t.ttl = r.ttl;
            t.from = &r;
        }
        if (r.grace)
            t.grace = r.grace;
        if (r.staleIfError)
            t.staleIfError = r.staleIfError;
    });
    return t;
}

bool hasExplicitLifetime(const cache::ResponseFacts &f) {
    return f.directives.maxAge || f.directives.sMaxAge || f.expires;
}

namespace {
// Statuses no rule ever stores: interim, partial, not-modified answers (often to one client's
// own validators or range) describe no page anyone else may be given.
bool neverStored(int status) {
    return status < 200 || status == 206 || status == 304;
}
// RFC 9110 §15.1: cacheable by default. A plain ttl may store these when the app gave no
// lifetime; any other status only when status_ttl names it.
bool heuristicallyCacheable(int status) {
    for (int s : {200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501})
        if (s == status)
            return true;
    return false;
}
// RFC 9111 §5.2.2.2, .8, .10 and §5.2.2.4: what may never be served stale by a shared cache.
bool staleForbidden(const cache::ResponseFacts &f, const cache::StoreDecision &d) {
    for (const http::CacheControl *cc : {&f.cacheControl, &f.directives})
        if (cc->mustRevalidate || cc->proxyRevalidate || cc->sMaxAge || cc->sMaxAgeInvalid)
            return true;
    return d.revalidate;
}
} // namespace

const config::Rule *adjustDecision(const RuleTtl &t, const cache::ResponseFacts &facts,
                                   cache::StoreDecision &d,
                                   const std::function<cache::StoreDecision(int)> &redecide) {
    using cache::NotStored;
    const int status = facts.status;
    if (neverStored(status))
        return nullptr;
    if (t.statusTtl && *t.statusTtl <= 0) { // status_ttl = 0: never stored
        if (d.reason != NotStored::None)
            return nullptr;
        d.reason = NotStored::Status;
        return t.statusFrom;
    }
    // The lifetime the rules give, from what is left of the response's own (its age on arrival
    // counted once), and whether it may lift a refusal.
    const std::int64_t age = std::max<std::int64_t>(d.initialAge, 0);
    const bool stored = d.reason == NotStored::None;
    const std::int64_t left = stored ? std::max<std::int64_t>(d.ttl - age, 0) : 0;
    std::optional<std::int64_t> ttl;
    bool mayLift = false; // a refusal for the status or for no lifetime
    const config::Rule *by = t.from;
    if (t.statusTtl) {
        ttl = t.statusTtl;
        by = t.statusFrom;
        mayLift = d.reason == NotStored::Status || d.reason == NotStored::ZeroTtl;
    } else if (t.mode == config::Rule::Ttl::Override ||
               (t.mode == config::Rule::Ttl::Respect && !hasExplicitLifetime(facts))) {
        ttl = t.ttl;
    } else if (t.mode == config::Rule::Ttl::Floor) {
        ttl = std::max(left, t.ttl);
    } else if (t.mode == config::Rule::Ttl::Ceiling && stored) {
        ttl = std::min(left, t.ttl);
    }
    if (!t.statusTtl && t.mode != config::Rule::Ttl::Ceiling)
        mayLift = d.reason == NotStored::ZeroTtl && heuristicallyCacheable(status);
    const config::Rule *changed = nullptr;
    if (ttl && *ttl > 0 && (stored || mayLift)) {
        if (d.reason == NotStored::Status) {
            // Decided again as the one status the mode stores without being told, so every
            // other refusal (private, Set-Cookie...) still holds; the status stays the response's.
            cache::StoreDecision again = redecide(200);
            if (again.reason != NotStored::None && again.reason != NotStored::ZeroTtl)
                return nullptr;
            again.status = status;
            d = again;
        }
        d.reason = NotStored::None;
        d.ttl = *ttl + std::max<std::int64_t>(d.initialAge, 0); // fresh for ttl from now
        changed = by;
    }
    if (d.reason == NotStored::None && !staleForbidden(facts, d)) {
        if (t.grace)
            d.grace = *t.grace;
        if (t.staleIfError)
            d.staleIfError = *t.staleIfError;
    }
    return changed;
}

std::string ruleResponse(const config::Rule &r, bool close) {
    return http::cannedResponse(r.respondStatus, r.respondType, r.respondBody, close);
}

} // namespace fc::proxy
