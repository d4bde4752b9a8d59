#include "proxy/rules.h"

#include <doctest/doctest.h>

#include "cache/policy/facts.h"
#include "config/config.h"

using fc::config::Rule;
using fc::proxy::RuleMask;

namespace {
std::vector<Rule> load(const std::string &toml) {
    auto r = fc::config::loadConfigString(toml, "rules.toml");
    for (const auto &e : r.errors)
        MESSAGE(e);
    REQUIRE(r.config);
    return r.config->rules;
}

fc::http::RequestHead req(std::string target,
                          std::vector<std::pair<std::string, std::string>> h = {},
                          std::string method = "GET") {
    fc::http::RequestHead r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.headers.add("Host", "Www.Example.com:8080");
    for (auto &[n, v] : h)
        r.headers.add(n, v);
    return r;
}
} // namespace

TEST_CASE("rules: the first match wins unless it says continue") {
    auto rules = load(R"(
[[rules]]
name = "a"
path_prefix = "/a/"
continue = true
[[rules]]
name = "b"
path = "/a/*.css"
[[rules]]
name = "c"
path_prefix = "/"
)");
    CHECK(fc::proxy::matchRules(rules, req("/a/x.css")) == 0b011);
    CHECK(fc::proxy::matchRules(rules, req("/a/x.js")) == 0b101);
    CHECK(fc::proxy::matchRules(rules, req("/b")) == 0b100);
    CHECK(fc::proxy::matchRules({}, req("/b")) == 0);
}

TEST_CASE("rules: every matcher, and paths and query names as the application decodes them") {
    auto rules = load(R"(
[[rules]]
name = "host"
host = "*.example.com"
method = ["POST"]
[[rules]]
name = "ext"
extension = [".CSS", "js"]
[[rules]]
name = "query"
query_param = "preview"
[[rules]]
name = "cookie"
cookie = ["session*"]
[[rules]]
name = "header"
header = "Authorization"
[[rules]]
name = "equals"
header_equals = { "X-Env" = "staging" }
[[rules]]
name = "admin"
path_prefix = "/admin/"
)");
    auto one = [&](fc::http::RequestHead r) { return fc::proxy::matchRules(rules, r); };
    CHECK(one(req("/x", {}, "POST")) == 1 << 0); // host matched in lower case, port dropped
    CHECK(one(req("/x", {}, "GET")) == 0);
    CHECK(one(req("/s/app.CSS?v=1")) == 1 << 1);
    CHECK(one(req("/s/app.css.map")) == 0);
    CHECK(one(req("/p?a=1&%70review=1")) == 1 << 2);
    CHECK(one(req("/p?previewer=1")) == 0); // exact names, never substrings
    CHECK(one(req("/p", {{"Cookie", "a=1; sessionid=x"}})) == 1 << 3);
    CHECK(one(req("/p", {{"Cookie", "nosession=x"}})) == 0);
    CHECK(one(req("/p", {{"authorization", "Bearer x"}})) == 1 << 4);
    CHECK(one(req("/p", {{"X-Env", "staging"}})) == 1 << 5);
    CHECK(one(req("/p", {{"X-Env", "Staging"}})) == 0);
    CHECK(one(req("/%61dmin/users")) == 1 << 6);
    CHECK(one(req("/%2Fadmin/users")) == 0); // "//admin/" is another path
    CHECK(one(req("http://www.example.com/admin/x")) == 1 << 6);
}

TEST_CASE("rules: request edits, then the query allow-list, deny-list and order") {
    auto rules = load(R"(
[[rules]]
name = "q"
query_allow = ["q", "page", "f_*"]
query_deny = ["f_debug"]
query_sort = true
strip_cookies = true
request_remove = ["X-Secret"]
request_set = { "X-Rule" = "q" }
)");
    auto r = req("/s?page=2&z=1&q=a+b&f_debug=1&f_color=red&q=c",
                 {{"Cookie", "a=1"}, {"X-Secret", "s"}});
    const RuleMask m = fc::proxy::matchRules(rules, r);
    REQUIRE(m == 1);
    CHECK(fc::proxy::ruleRequest(rules, m).editsRequest);
    fc::proxy::applyRequestEdits(rules, m, r);
    CHECK(r.target == "/s?f_color=red&page=2&q=a+b&q=c"); // repeated names keep their order
    CHECK_FALSE(r.headers.has("cookie"));
    CHECK_FALSE(r.headers.has("x-secret"));
    CHECK(r.headers.get("x-rule") == "q");
    auto none = req("/s?z=1");
    fc::proxy::applyRequestEdits(rules, 1, none);
    CHECK(none.target == "/s"); // nothing left: no '?'
}

TEST_CASE("rules: cache and bypass change only what the defaults decide") {
    auto rules = load(R"(
[[rules]]
name = "cache"
path_prefix = "/search"
cache = "cache"
[[rules]]
name = "pass"
path_prefix = "/"
cache = "bypass"
)");
    fc::cache::PolicyConfig cfg; // django mode: a query string bypasses
    bool queryInKey = false;
    auto r = req("/search?q=1");
    auto rr = fc::proxy::ruleRequest(rules, fc::proxy::matchRules(rules, r));
    CHECK(fc::proxy::classifyWithRules(r, cfg, rr, &queryInKey) == fc::cache::Bypass::None);
    CHECK(queryInKey); // each query its own page
    auto post = req("/search?q=1", {}, "POST");
    CHECK(fc::proxy::classifyWithRules(post, cfg, rr, &queryInKey) == fc::cache::Bypass::Method);
    auto other = req("/page");
    auto rr2 = fc::proxy::ruleRequest(rules, fc::proxy::matchRules(rules, other));
    CHECK(fc::proxy::classifyWithRules(other, cfg, rr2, &queryInKey) == fc::cache::Bypass::Rule);
    REQUIRE(rr2.decisive);
    CHECK(rr2.decisive->name == "pass");
}

TEST_CASE("rules: key_headers and key_cookies make each value its own key element") {
    auto rules = load(R"(
[[rules]]
name = "k"
key_headers = ["X-Country"]
key_cookies = ["lang"]
)");
    std::string a, b, c, d;
    fc::proxy::ruleKeyExtra(rules, 1, req("/", {{"X-Country", "DE"}, {"Cookie", "lang=de; s=1"}}),
                            a);
    fc::proxy::ruleKeyExtra(rules, 1, req("/", {{"X-Country", "DE"}, {"Cookie", "s=2; lang=de"}}),
                            b);
    fc::proxy::ruleKeyExtra(rules, 1, req("/", {{"X-Country", "FR"}, {"Cookie", "lang=de"}}), c);
    fc::proxy::ruleKeyExtra(rules, 1, req("/", {{"Cookie", "lang=de"}}), d);
    CHECK(a == b);
    CHECK(a != c);
    CHECK(a != d); // absent is not empty
    CHECK(a.front() == '\x03');
}

TEST_CASE("rules: lifetimes — override, floor, ceiling, respect, status_ttl, never") {
    auto rules = load(R"(
[[rules]]
name = "t"
ttl = "1h"
ttl_mode = "override"
grace = "10s"
status_ttl = { 404 = "30s", "5xx" = "0s" }
)");
    fc::cache::PolicyConfig cfg;
    auto decide = [&](int status, std::vector<std::pair<std::string, std::string>> fields) {
        fc::http::HeaderList h;
        for (auto &[n, v] : fields)
            h.add(n, v);
        auto facts = fc::cache::responseFacts(status, -1, h, cfg);
        auto r = req("/");
        auto d = fc::cache::decideStore(r, facts, cfg);
        const Rule *by =
            fc::proxy::adjustDecision(fc::proxy::ruleTtl(rules, 1, status), facts, d, [&](int s) {
                auto as = facts;
                as.status = s;
                return fc::cache::decideStore(r, as, cfg);
            });
        return std::make_pair(d, by);
    };
    auto [d1, by1] = decide(200, {{"Cache-Control", "max-age=60"}});
    CHECK(d1.reason == fc::cache::NotStored::None);
    CHECK(d1.ttl == 3600);
    CHECK(d1.grace == 10);
    CHECK(by1);
    auto [d2, by2] = decide(404, {});
    CHECK(d2.reason == fc::cache::NotStored::None);
    CHECK(d2.ttl == 30);
    CHECK(d2.status == 404);
    auto [d3, by3] = decide(503, {{"Cache-Control", "max-age=60"}});
    CHECK(d3.reason != fc::cache::NotStored::None);
    // A lifetime never lifts a refusal that is not about the lifetime.
    auto [d4, by4] = decide(200, {{"Cache-Control", "private, max-age=60"}});
    CHECK(d4.reason == fc::cache::NotStored::Private);
    CHECK_FALSE(by4);
    auto [d5, by5] = decide(404, {{"Set-Cookie", "a=1"}});
    CHECK(d5.reason != fc::cache::NotStored::None);
    CHECK_FALSE(by5);

    auto floors = load("[[rules]]\nname = \"f\"\nttl = \"120s\"\nttl_mode = \"floor\"\n"
                       "[[rules]]\nname = \"c\"\nttl = \"5s\"\nttl_mode = \"ceiling\"\n"
                       "[[rules]]\nname = \"r\"\nttl = \"7s\"\n");
    auto with = [&](RuleMask m, std::string cc) {
        fc::http::HeaderList h;
        if (!cc.empty())
            h.add("Cache-Control", cc);
        auto facts = fc::cache::responseFacts(200, -1, h, cfg);
        auto d = fc::cache::decideStore(req("/"), facts, cfg);
        fc::proxy::adjustDecision(fc::proxy::ruleTtl(floors, m, 200), facts, d,
                                  [&](int) { return d; });
        return d.reason == fc::cache::NotStored::None ? d.ttl : -1;
    };
    CHECK(with(1, "max-age=10") == 120);
    CHECK(with(1, "max-age=600") == 600);
    CHECK(with(1, "max-age=0") == 120); // a floor lifts max-age=0
    CHECK(with(2, "max-age=600") == 5);
    CHECK(with(2, "max-age=0") == -1); // a ceiling never lifts
    CHECK(with(4, "") == 7);           // respect: the app said nothing
    CHECK(with(4, "max-age=100") == 100);
}

TEST_CASE("rules: response edits and a fixed response") {
    auto rules = load(R"(
[[rules]]
name = "s"
strip_set_cookie = true
response_remove = ["Server"]
response_set = { "X-Frame-Options" = "DENY" }
[[rules]]
name = "robots"
respond = { body = "ok\n" }
)");
    fc::http::HeaderList h;
    h.add("Set-Cookie", "a=1");
    h.add("set-cookie", "b=2");
    h.add("Server", "x");
    h.add("X-Frame-Options", "SAMEORIGIN");
    fc::proxy::applyResponseEdits(rules, 1, h);
    CHECK_FALSE(h.has("set-cookie"));
    CHECK_FALSE(h.has("server"));
    CHECK(h.get("x-frame-options") == "DENY");
    CHECK(h.count("x-frame-options") == 1);
    const std::string r = fc::proxy::ruleResponse(rules[1], false);
    CHECK(r.starts_with("HTTP/1.1 200 "));
    CHECK(r.find("Content-Type: text/plain; charset=utf-8\r\n") != std::string::npos);
    CHECK(r.ends_with("\r\n\r\nok\n"));
}

namespace {
// The store decision for a response under `rules` (all matched), in `mode`.
fc::cache::StoreDecision decideWith(const std::vector<Rule> &rules, fc::cache::Mode mode,
                                    int status,
                                    std::vector<std::pair<std::string, std::string>> fields,
                                    const Rule **by = nullptr) {
    fc::cache::PolicyConfig cfg;
    cfg.mode = mode;
    cfg.queryInKey = mode == fc::cache::Mode::Http;
    fc::http::HeaderList h;
    for (auto &[n, v] : fields)
        h.add(n, v);
    auto facts = fc::cache::responseFacts(status, -1, h, cfg);
    auto r = req("/");
    auto d = fc::cache::decideStore(r, facts, cfg, {1000, 1000});
    const RuleMask all = (RuleMask{1} << rules.size()) - 1;
    const Rule *b =
        fc::proxy::adjustDecision(fc::proxy::ruleTtl(rules, all, status), facts, d, [&](int s) {
            auto as = facts;
            as.status = s;
            return fc::cache::decideStore(r, as, cfg, {1000, 1000});
        });
    if (by)
        *by = b;
    return d;
}
} // namespace

TEST_CASE("rules: no lifetime ever stores a 304, a 206 or a status no one named") {
    using fc::cache::Mode;
    using fc::cache::NotStored;
    auto rules = load("[[rules]]\nname = \"t\"\nttl = \"10m\"\nttl_mode = \"override\"\n"
                      "status_ttl = { \"3xx\" = \"1h\", \"2xx\" = \"1h\" }\n");
    for (Mode mode : {Mode::Django, Mode::Http}) {
        // One client's own validators or range are answered 304 / 206: never stored for all.
        CHECK(decideWith(rules, mode, 304, {{"ETag", "\"x\""}}).reason != NotStored::None);
        CHECK(decideWith(rules, mode, 206, {{"Content-Range", "bytes 0-1/10"}}).reason !=
              NotStored::None);
    }
    auto plain = load("[[rules]]\nname = \"t\"\nttl = \"10m\"\nttl_mode = \"override\"\n");
    for (Mode mode : {Mode::Django, Mode::Http}) {
        CHECK(decideWith(plain, mode, 500, {}).reason != NotStored::None);
        CHECK(decideWith(plain, mode, 302, {{"Location", "/x"}}).reason != NotStored::None);
        CHECK(decideWith(plain, mode, 403, {}).reason != NotStored::None);
        CHECK(decideWith(plain, mode, 200, {}).reason == NotStored::None);
    }
}

TEST_CASE("rules: floor and ceiling count the age a response arrived with once (http mode)") {
    using fc::cache::Mode;
    auto rules = load("[[rules]]\nname = \"c\"\nttl = \"1h\"\nttl_mode = \"ceiling\"\n"
                      "[[rules]]\nname = \"f\"\nttl = \"60s\"\nttl_mode = \"floor\"\n");
    auto only = [&](std::size_t i) { return std::vector<Rule>{rules[i]}; };
    auto left = [](const fc::cache::StoreDecision &d) { return d.ttl - d.initialAge; };
    auto c = decideWith(only(0), Mode::Http, 200, {{"Cache-Control", "max-age=60"}, {"Age", "50"}});
    CHECK(left(c) == 10);
    auto stale =
        decideWith(only(0), Mode::Http, 200, {{"Cache-Control", "max-age=60"}, {"Age", "500"}});
    CHECK(left(stale) <= 0); // a ceiling never makes a stale response fresh
    auto f =
        decideWith(only(1), Mode::Http, 200, {{"Cache-Control", "max-age=3600"}, {"Age", "3000"}});
    CHECK(left(f) == 600);
    auto lifted =
        decideWith(only(1), Mode::Http, 200, {{"Cache-Control", "max-age=10"}, {"Age", "30"}});
    CHECK(left(lifted) == 60);
}

TEST_CASE("rules: a status code beats its class; grace never where stale is forbidden") {
    using fc::cache::Mode;
    auto rules = load("[[rules]]\nname = \"s\"\nstatus_ttl = { 404 = \"30s\", \"4xx\" = \"0s\" }\n"
                      "grace = \"1h\"\nstale_if_error = \"1d\"\n");
    auto d = decideWith(rules, Mode::Django, 404, {});
    CHECK(d.reason == fc::cache::NotStored::None);
    CHECK(d.ttl == 30);
    CHECK(decideWith(rules, Mode::Django, 410, {}).reason != fc::cache::NotStored::None);
    for (const char *cc : {"max-age=60, must-revalidate", "max-age=60, proxy-revalidate",
                           "max-age=60, s-maxage=60"}) {
        auto h = decideWith(rules, Mode::Http, 200, {{"Cache-Control", cc}});
        CHECK(h.reason == fc::cache::NotStored::None);
        CHECK(h.grace == 0);
        CHECK(h.staleIfError == 0);
    }
    auto ok = decideWith(rules, Mode::Http, 200, {{"Cache-Control", "max-age=60"}});
    CHECK(ok.grace == 3600);
}

TEST_CASE("rules: key elements are what the application reads") {
    auto rules = load("[[rules]]\nname = \"k\"\nkey_headers = [\"X-Tenant\"]\n"
                      "key_cookies = [\"lang\"]\n");
    std::string one, two, a, b;
    // Repeated fields are joined (WSGI), not the first one only.
    fc::proxy::ruleKeyExtra(rules, 1, req("/", {{"X-Tenant", "a"}}), one);
    fc::proxy::ruleKeyExtra(rules, 1, req("/", {{"X-Tenant", "a"}, {"x-tenant", "evil"}}), two);
    CHECK(one != two);
    // A cookie name Django strips to "lang" is "lang" here too.
    fc::proxy::ruleKeyExtra(rules, 1, req("/", {{"Cookie", "lang=de"}}), a);
    fc::proxy::ruleKeyExtra(rules, 1, req("/", {{"Cookie", "lang=de; \xa0lang=evil"}}), b);
    CHECK(a != b);
}

TEST_CASE("rules: an outcome decided from an unkeyed field is part of the key") {
    auto rules = load(R"(
[[rules]]
name = "internal"
header_equals = { "X-Internal" = "1" }
request_set = { "X-Show-Drafts" = "1" }
continue = true
[[rules]]
name = "all"
path_prefix = "/"
)");
    auto inside = req("/", {{"X-Internal", "1"}});
    auto outside = req("/");
    const RuleMask mi = fc::proxy::matchRules(rules, inside);
    const RuleMask mo = fc::proxy::matchRules(rules, outside);
    CHECK(fc::proxy::ruleRequest(rules, mi).keyed);
    std::string ki, ko;
    fc::proxy::ruleKeyExtra(rules, mi, inside, ki);
    fc::proxy::ruleKeyExtra(rules, mo, outside, ko);
    CHECK(ki != ko);
    CHECK(ko.empty()); // a rule that only matched on the path changes no key
}

TEST_CASE("rules: a field a rule sets is no longer a Connection option of the client's") {
    auto rules = load("[[rules]]\nname = \"d\"\nrequest_set = { \"X-Device\" = \"desktop\" }\n");
    auto r = req("/", {{"Connection", "keep-alive, X-Device"}, {"X-Device", "phone"}});
    fc::proxy::applyRequestEdits(rules, 1, r);
    CHECK(r.headers.get("x-device") == "desktop");
    CHECK(r.headers.get("connection") == "keep-alive");
}

TEST_CASE("rules: cache = \"cache\" passes over bypass_cookies only when the cookies go") {
    auto keep = load("[[rules]]\nname = \"c\"\ncache = \"cache\"\n");
    auto strip = load("[[rules]]\nname = \"c\"\ncache = \"cache\"\nstrip_cookies = true\n");
    fc::cache::PolicyConfig cfg;
    cfg.bypassCookies = {"sessionid"};
    bool q = false;
    auto r = req("/blog/a", {{"Cookie", "sessionid=victim"}});
    CHECK(fc::proxy::classifyWithRules(r, cfg, fc::proxy::ruleRequest(keep, 1), &q) ==
          fc::cache::Bypass::Cookie);
    CHECK(fc::proxy::classifyWithRules(r, cfg, fc::proxy::ruleRequest(strip, 1), &q) ==
          fc::cache::Bypass::None);
}

TEST_CASE("rules: hosts match without a trailing dot; config refuses what would break framing") {
    auto rules = load("[[rules]]\nname = \"h\"\nhost = \"admin.example.com\"\n");
    fc::http::RequestHead r;
    r.method = "GET";
    r.target = "/";
    r.headers.add("Host", "ADMIN.example.com.:443");
    CHECK(fc::proxy::matchRules(rules, r) == 1);
    for (const char *bad :
         {"[[rules]]\nname = \"a\"\nrespond = { status = 204 }\n",
          "[[rules]]\nname = \"a\"\nresponse_remove = [\"Vary\"]\n",
          "[[rules]]\nname = \"a\"\nresponse_set = { \"Cache-Control\" = \"public\" }\n",
          "[[rules]]\nname = \"a\"\nrequest_set = { \"X-Forwarded-For\" = \"1.2.3.4\" }\n",
          "[[rules]]\nname = \"a\"\nrequest_remove = [\"Via\"]\n",
          "[[rules]]\nname = \"a\"\npath = \"\"\n",
          "[[rules]]\nname = \"a\"\npath_prefix = \"static\"\n",
          "[[rules]]\nname = \"a\"\nttl_mode = \"override\"\n"}) {
        auto res = fc::config::loadConfigString(bad, "bad.toml");
        CHECK_MESSAGE(!res.config, bad);
    }
}
