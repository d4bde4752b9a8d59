// [[rules]] (config.h, Rule): each table read and checked; errors name FILE:LINE:COL and
// rules[N].key. What a rule does is proxy/rules.h's; docs/rules.md is the reference.
#include <algorithm>
#include <cctype>

#include "config/loader.h"

namespace fc::config {

namespace {
bool isTokenChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool isToken(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), isTokenChar);
}
// A field value we may write: visible ASCII, spaces and tabs inside (RFC 9110 §5.5), so a rule
// can never split a head.
bool isFieldValue(std::string_view s) {
    for (char c : s)
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
            return false;
    return s.empty() || (s.front() != ' ' && s.back() != ' ');
}
std::string lower(std::string s) {
    for (char &c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
// Request fields a rule may not set or remove: the framing, the connection and what frontcache
// itself writes or believes (http/rewrite.cpp's own list: X-Forwarded-*, Forwarded, Via...).
// Read as WSGI reads names ('_' is '-').
bool reservedField(std::string_view name) {
    std::string n = lower(std::string(name));
    for (char &c : n)
        c = c == '_' ? '-' : c;
    for (const char *f :
         {"content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer",
          "keep-alive", "host", "expect", "via", "forwarded", "x-request-id", "x-real-ip",
          "x-http-method-override", "x-method-override", "x-http-method"})
        if (n == f)
            return true;
    return n.starts_with("x-forwarded-") || n.starts_with("proxy-");
}
// Response fields a rule may not set or remove: what decides whether and how a response is
// stored and reused (a rule's lifetime actions say that), and the framing.
bool decidingField(std::string_view name) {
    const std::string n = lower(std::string(name));
    for (const char *f : {"content-length",
                          "transfer-encoding",
                          "connection",
                          "upgrade",
                          "te",
                          "trailer",
                          "keep-alive",
                          "cache-control",
                          "cdn-cache-control",
                          "surrogate-control",
                          "vary",
                          "expires",
                          "pragma",
                          "age",
                          "date",
                          "etag",
                          "last-modified",
                          "content-encoding",
                          "content-range",
                          "set-cookie"})
        if (n == f)
            return true;
    return false;
}
} // namespace

Loader::Handler Loader::fieldTable(std::vector<RuleField> &out, FieldUse use) {
    const bool response = use == FieldUse::Response;
    return [this, &out, use, response](const toml::node &n, const std::string &key) {
        const toml::table *t = n.as_table();
        if (!t)
            return error(n.source(), key, "expected a table of fields, e.g. { \"X-A\" = \"1\" }");
        out.clear();
        for (auto &&[k, v] : *t) {
            const std::string sub = key + "." + std::string(k.str());
            auto s = v.as_string();
            if (!isToken(k.str()) || (use != FieldUse::Match &&
                                      (response ? decidingField(k.str()) : reservedField(k.str()))))
                return error(k.source(), sub,
                             response ? "not a response field a rule may set (a token; not one "
                                        "that decides storing — Cache-Control, Vary, Expires, "
                                        "Set-Cookie...: use ttl, strip_set_cookie — nor framing)"
                                      : "not a request field a rule may set (a token; not Host, "
                                        "framing, hop-by-hop, X-Forwarded-*, Forwarded, Via or "
                                        "another field frontcache writes)");
            if (!s || !isFieldValue(s->get()))
                return error(v.source(), sub,
                             "expected a field value (a string of visible characters and "
                             "spaces, no line breaks)");
            out.push_back({std::string(k.str()), s->get()});
        }
    };
}

void Loader::ruleMatchKey(std::string_view k, const toml::node &v, const std::string &sub,
                          Rule &r) {
    // One string or a list of them.
    auto list = [&](std::vector<std::string> &out, bool toLower, bool toUpper) {
        if (v.is_string()) {
            toml::array one;
            one.push_back(v.as_string()->get());
            stringList(out)(one, sub);
        } else {
            stringList(out)(v, sub);
        }
        for (auto &s : out)
            for (char &c : s)
                c = static_cast<char>(toLower   ? std::tolower(static_cast<unsigned char>(c))
                                      : toUpper ? std::toupper(static_cast<unsigned char>(c))
                                                : c);
    };
    if (k == "host")
        list(r.hosts, true, false);
    else if (k == "path")
        list(r.paths, false, false);
    else if (k == "path_prefix")
        list(r.pathPrefixes, false, false);
    else if (k == "method")
        list(r.methods, false, true);
    else if (k == "extension")
        list(r.extensions, true, false);
    else if (k == "query_param")
        list(r.queryParams, false, false);
    else if (k == "cookie")
        list(r.cookies, false, false);
    else if (k == "header")
        list(r.headers, true, false);
    else if (k == "header_equals")
        fieldTable(r.headerEquals, FieldUse::Match)(v, sub);
    for (auto &e : r.extensions)
        if (!e.empty() && e.front() == '.')
            e.erase(0, 1);
    for (const auto &p : r.paths)
        if (p.empty() || (p.front() != '/' && p.front() != '*'))
            return error(v.source(), sub, "a path pattern starts with '/' or '*'");
    for (const auto &p : r.pathPrefixes)
        if (p.empty() || p.front() != '/')
            return error(v.source(), sub, "a path prefix starts with '/'");
    for (const auto &h : r.hosts)
        if (h.find(':') != std::string::npos)
            return error(v.source(), sub, "host patterns are matched without the port");
}

void Loader::ruleStatusTtl(const toml::node &v, const std::string &sub, Rule &r) {
    const toml::table *t = v.as_table();
    if (!t)
        return error(v.source(), sub, "expected a table such as { 404 = \"30s\", 5xx = 0 }");
    for (auto &&[code, ttl] : *t) {
        const std::string s(code.str());
        int status = 0;
        if (s.size() == 3 && s[1] == 'x' && s[2] == 'x' && s[0] >= '1' && s[0] <= '5')
            status = s[0] - '0';
        else if (s.size() == 3 &&
                 std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
            status = std::stoi(s);
        if (status != 0 &&
            (status < 6 || (status >= 200 && status <= 599 && status != 206 && status != 304))) {
            std::int64_t secs = 0;
            Millis m{0};
            const std::size_t before = errors_.size();
            duration(m)(ttl, sub + "." + s);
            if (errors_.size() != before)
                return;
            secs = std::chrono::duration_cast<std::chrono::seconds>(m).count();
            r.statusTtl.emplace_back(status, secs);
        } else {
            return error(code.source(), sub + "." + s,
                         "expected a status 200-599 (not 206 or 304) or a class such as "
                         "\"4xx\"");
        }
    }
}

void Loader::ruleActionKey(std::string_view k, const toml::node &v, const std::string &sub,
                           Rule &r) {
    auto seconds = [&](std::int64_t &out) {
        Millis m{0};
        const std::size_t before = errors_.size();
        duration(m)(v, sub);
        if (errors_.size() == before)
            out = std::chrono::duration_cast<std::chrono::seconds>(m).count();
    };
    if (k == "cache") {
        choice(r.cache, {{"cache", Rule::Cache::Cache}, {"bypass", Rule::Cache::Bypass}})(v, sub);
    } else if (k == "ttl") {
        seconds(r.ttl);
        if (r.ttlMode == Rule::Ttl::None)
            r.ttlMode = Rule::Ttl::Respect;
    } else if (k == "ttl_mode") {
        choice(r.ttlMode, {{"respect", Rule::Ttl::Respect},
                           {"override", Rule::Ttl::Override},
                           {"floor", Rule::Ttl::Floor},
                           {"ceiling", Rule::Ttl::Ceiling}})(v, sub);
    } else if (k == "status_ttl") {
        ruleStatusTtl(v, sub, r);
    } else if (k == "grace") {
        seconds(r.grace.emplace());
    } else if (k == "stale_if_error") {
        seconds(r.staleIfError.emplace());
    } else if (k == "query_allow") {
        patternList(r.queryAllow)(v, sub);
    } else if (k == "query_deny") {
        patternList(r.queryDeny)(v, sub);
    } else if (k == "query_sort") {
        boolean(r.querySort)(v, sub);
    } else if (k == "key_headers") {
        stringList(r.keyHeaders)(v, sub);
        for (auto &h : r.keyHeaders)
            if (!isToken(h))
                return error(v.source(), sub, "\"" + h + "\" is not a field name");
    } else if (k == "key_cookies") {
        patternList(r.keyCookies)(v, sub);
    } else if (k == "strip_cookies") {
        boolean(r.stripCookies)(v, sub);
    } else if (k == "strip_set_cookie") {
        boolean(r.stripSetCookie)(v, sub);
    } else if (k == "request_set") {
        fieldTable(r.requestSet, FieldUse::Request)(v, sub);
    } else if (k == "response_set") {
        fieldTable(r.responseSet, FieldUse::Response)(v, sub);
    } else if (k == "request_remove" || k == "response_remove") {
        const bool response = k == "response_remove";
        auto &out = response ? r.responseRemove : r.requestRemove;
        stringList(out)(v, sub);
        for (auto &h : out)
            if (!isToken(h) || (response ? decidingField(h) : reservedField(h)))
                return error(v.source(), sub,
                             "\"" + h + "\" is not a field name a rule may remove");
    } else {
        error(v.source(), sub, "unknown key");
    }
}

bool Loader::loadRule(const toml::table &t, const std::string &key, Rule &r,
                      const std::vector<UpstreamGroup> &groups) {
    static const std::vector<std::string_view> kMatch = {"host",   "path",      "path_prefix",
                                                         "method", "extension", "query_param",
                                                         "cookie", "header",    "header_equals"};
    const std::size_t before = errors_.size();
    for (auto &&[k, v] : t) {
        const std::string sub = key + "." + std::string(k.str());
        if (k.str() == "name") {
            string(r.name)(v, sub);
            if (r.name.empty() || r.name.size() > 64 ||
                !std::all_of(r.name.begin(), r.name.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                           c == '.';
                }))
                error(v.source(), sub,
                      "expected a name of letters, digits, '-', '_' or '.' (at most 64)");
        } else if (k.str() == "upstream") {
            string(r.upstream)(v, sub);
            for (std::size_t g = 0; g < groups.size(); ++g)
                if (groups[g].name == r.upstream)
                    r.pool = g + 1;
            if (r.pool == 0)
                error(v.source(), sub,
                      "\"" + r.upstream +
                          "\" names no [[upstream.groups]] (give it a group "
                          "with that name and its servers)");
        } else if (k.str() == "continue") {
            boolean(r.continueAfter)(v, sub);
        } else if (k.str() == "respond") {
            const toml::table *rt = v.as_table();
            if (!rt)
                return fail(v.source(), sub,
                            "expected { status = 200, body = \"...\", content_type = \"...\" }");
            for (auto &&[rk, rv] : *rt) {
                const std::string rsub = sub + "." + std::string(rk.str());
                if (rk.str() == "status") {
                    integer(r.respondStatus, 200, 599)(rv, rsub);
                    // No body may follow these (RFC 9110 §15.3.5, §15.3.6, §15.4.5).
                    if (r.respondStatus == 204 || r.respondStatus == 205 || r.respondStatus == 304)
                        error(rv.source(), rsub,
                              "a fixed response has a body: not 204, 205 "
                              "or 304");
                } else if (rk.str() == "body")
                    string(r.respondBody)(rv, rsub);
                else if (rk.str() == "content_type") {
                    string(r.respondType)(rv, rsub);
                    if (!isFieldValue(r.respondType))
                        error(rv.source(), rsub, "expected a media type");
                } else
                    error(rk.source(), rsub, "unknown key (status, body, content_type)");
            }
            if (r.respondStatus == 0)
                r.respondStatus = 200;
            if (r.respondType.empty())
                r.respondType = "text/plain; charset=utf-8";
        } else if (std::find(kMatch.begin(), kMatch.end(), k.str()) != kMatch.end()) {
            ruleMatchKey(k.str(), v, sub, r);
        } else {
            ruleActionKey(k.str(), v, sub, r);
        }
    }
    if (r.name.empty())
        error(t.source(), key + ".name",
              "every rule needs a name (it is shown by explain, logs "
              "and Cache-Status)");
    if (r.respondStatus && (r.cache != Rule::Cache::Default || r.ttlMode != Rule::Ttl::None))
        error(t.source(), key + ".respond", "a rule that responds neither caches nor bypasses");
    if (r.ttlMode != Rule::Ttl::None && r.ttl <= 0)
        error(t.source(), key + ".ttl", "ttl_mode needs a ttl of at least one second");
    r.where = file_ + ":" + std::to_string(t.source().begin.line);
    return errors_.size() == before;
}

void Loader::upstreamGroups(const toml::node &n, const std::string &key,
                            std::vector<UpstreamServer> &servers,
                            std::vector<UpstreamGroup> &groups) {
    const toml::array *arr = n.as_array();
    if (!arr || arr->size() > UpstreamConfig::kMaxGroups)
        return error(n.source(), key,
                     "expected at most 15 tables [[upstream.groups]], each with a name and its "
                     "url or servers");
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const std::string sub = key + "[" + std::to_string(i) + "]";
        const toml::table *t = (*arr)[i].as_table();
        if (!t)
            return error((*arr)[i].source(), sub, "each group is a table [[upstream.groups]]");
        UpstreamGroup g;
        UpstreamConfig mine;
        mine.servers.clear();
        for (auto &&[k, v] : *t) {
            const std::string field = sub + "." + std::string(k.str());
            if (k.str() == "name") {
                string(g.name)(v, field);
            } else if (k.str() == "url") {
                UpstreamServer one;
                if (upstreamUrl(v, field, one))
                    mine.servers = {one};
            } else if (k.str() == "servers") {
                upstreamServers(v, field, mine);
            } else {
                error(k.source(), field, "unknown key (name, url, servers)");
            }
        }
        if (g.name.empty())
            error(t->source(), sub + ".name", "every group needs a name (rules choose it by it)");
        if (mine.servers.empty())
            error(t->source(), sub + ".servers", "a group needs url or servers");
        for (const auto &other : groups)
            if (other.name == g.name)
                error(t->source(), sub + ".name", "\"" + g.name + "\" names an earlier group");
        groups.push_back(g);
        for (auto &s : mine.servers) {
            for (const auto &other : servers)
                if (other.url == s.url)
                    error(t->source(), sub, "\"" + s.url + "\" is in two groups");
            s.pool = groups.size();
            servers.push_back(std::move(s));
        }
    }
}

void Loader::loadRules(const toml::table &root, std::vector<Rule> &out,
                       const std::vector<UpstreamGroup> &groups) {
    const toml::node *n = root.get("rules");
    if (!n)
        return;
    const toml::array *arr = n->as_array();
    if (!arr || arr->size() > Rule::kMaxRules)
        return error(n->source(), "rules",
                     "expected at most 64 tables [[rules]], each with a name, what it matches and "
                     "what it does");
    out.clear();
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const std::string key = "rules[" + std::to_string(i) + "]";
        const toml::table *t = (*arr)[i].as_table();
        if (!t) {
            error((*arr)[i].source(), key, "each rule is a table [[rules]]");
            continue;
        }
        Rule r;
        if (!loadRule(*t, key, r, groups))
            continue;
        for (const auto &o : out)
            if (o.name == r.name)
                error(t->source(), key + ".name", "\"" + r.name + "\" names an earlier rule too");
        out.push_back(std::move(r));
    }
}

} // namespace fc::config
