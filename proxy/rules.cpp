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
    const std::size_t n = std::min(h.size(), sizeof buf);
    for (std::size_t i = 0; i < n; ++i)
        buf[i] = static_cast<char>(h[i] >= 'A' && h[i] <= 'Z' ? h[i] + 32 : h[i]);
    return {buf, n};
}

bool hasCookie(const http::HeaderList &h, const std::vector<std::string> &names) {
    bool found = false;
    h.forEach([&](std::string_view n, std::string_view v) {
        if (found || !http::equalsIgnoreCase(n, "cookie"))
            return;
        cache::forEachCookiePair(v, [&](std::string_view name, std::string_view) {
            found = anyGlob(names, name);
            return !found;
        });
    });
    return found;
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

bool matches(const Rule &r, const http::RequestHead &req, std::string_view host,
             std::string_view path, std::string_view query, std::string &scratch) {
    if (!r.methods.empty() &&
        std::find(r.methods.begin(), r.methods.end(), req.method) == r.methods.end())
        return false;
    if (!r.hosts.empty() && !anyGlob(r.hosts, host))
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
    if (!r.queryParams.empty() && !hasQueryParam(query, r.queryParams, scratch))
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
    thread_local std::string path, scratch; // reused: no allocation per request once warm
    char hostBuf[256];
    const std::string_view host = hostOf(req, hostBuf);
    const std::string_view target = http::splitTarget(req.target).originPath();
    const std::size_t q = target.find('?');
    percentDecode(target.substr(0, q), path);
    const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
    RuleMask m = 0;
    for (std::size_t i = 0; i < rules.size() && i < config::Rule::kMaxRules; ++i) {
        if (!matches(rules[i], req, host, path, query, scratch))
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
        out.keyed |= !r.keyHeaders.empty() || !r.keyCookies.empty();
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
        }
        if (!r.queryAllow.empty() || !r.queryDeny.empty() || r.querySort)
            editQuery(req.target, r);
    });
}

cache::Bypass classifyWithRules(const http::RequestHead &req, const cache::PolicyConfig &cfg,
                                const RuleRequest &r, bool *queryInKey) {
    *queryInKey = cfg.queryInKey;
    const cache::Bypass b = cache::classify(req, cfg);
    if (r.cache == Rule::Cache::Bypass)
        return b == cache::Bypass::None ? cache::Bypass::Rule : b;
    if (r.cache != Rule::Cache::Cache || b == cache::Bypass::Method || b == cache::Bypass::Body ||
        b == cache::Bypass::Upgrade)
        return b;
    // The rule caches what the defaults pass: with a query, the query is part of the key.
    *queryInKey = true;
    return cache::Bypass::None;
}

void ruleKeyExtra(const std::vector<config::Rule> &rules, RuleMask m, const http::RequestHead &req,
                  std::string &out) {
    out.clear();
    forEachMatched(rules, m, [&](const Rule &r) {
        for (const auto &name : r.keyHeaders) {
            out.push_back('\x03');
            out.append(name);
            if (auto v = req.headers.get(name)) {
                out.push_back('=');
                out.append(*v);
            } else {
                out.push_back('-');
            }
            out.push_back('\n');
        }
        for (const auto &pattern : r.keyCookies) {
            out.append("\x03cookie:");
            out.append(pattern);
            out.push_back('=');
            req.headers.forEach([&](std::string_view n, std::string_view v) {
                if (!http::equalsIgnoreCase(n, "cookie"))
                    return;
                cache::forEachCookiePair(v, [&](std::string_view name, std::string_view pair) {
                    if (cache::globMatch(pattern, name)) {
                        out.append(pair);
                        out.push_back(';');
                    }
                    return true;
                });
            });
            out.push_back('\n');
        }
    });
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
        for (const auto &[code, ttl] : r.statusTtl)
            if (code == status || (code < 6 && code == status / 100)) {
                t.statusTtl = ttl;
                t.from = &r;
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

const config::Rule *adjustDecision(const RuleTtl &t, const cache::ResponseFacts &facts,
                                   cache::StoreDecision &d,
                                   const std::function<cache::StoreDecision(int)> &redecide) {
    using cache::NotStored;
    const bool lifetimeOnly = d.reason == NotStored::Status || d.reason == NotStored::ZeroTtl;
    const bool mustRevalidate = facts.directives.mustRevalidate || d.revalidate;
    const config::Rule *changed = nullptr;
    if (t.statusTtl && *t.statusTtl <= 0) {
        if (d.reason == NotStored::None) {
            d.reason = NotStored::Status;
            changed = t.from;
        }
        return changed;
    }
    std::optional<std::int64_t> ttl;
    if (t.statusTtl) {
        ttl = t.statusTtl;
    } else if (t.mode == config::Rule::Ttl::Override ||
               (t.mode == config::Rule::Ttl::Respect && !hasExplicitLifetime(facts))) {
        ttl = t.ttl;
    } else if (t.mode == config::Rule::Ttl::Floor) {
        ttl = std::max(d.reason == NotStored::None ? d.ttl : 0, t.ttl);
    } else if (t.mode == config::Rule::Ttl::Ceiling && d.reason == NotStored::None) {
        ttl = std::min(d.ttl, t.ttl);
    }
    if (ttl && *ttl > 0 && (d.reason == NotStored::None || lifetimeOnly)) {
        if (d.reason == NotStored::Status) {
            // Decided again as the one status the mode stores without being told, so every
            // other refusal (private, Set-Cookie...) still holds; the status stays the response's.
            cache::StoreDecision again = redecide(200);
            if (again.reason != NotStored::None && again.reason != NotStored::ZeroTtl)
                return nullptr;
            again.reason = NotStored::None;
            again.status = facts.status;
            d = again;
        }
        d.reason = NotStored::None;
        d.ttl = *ttl + (d.initialAge > 0 ? d.initialAge : 0); // fresh for ttl from now
        changed = t.from;
    }
    if (d.reason == NotStored::None && !mustRevalidate) {
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
