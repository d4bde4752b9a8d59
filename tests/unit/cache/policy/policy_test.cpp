#include <doctest/doctest.h>

#include <string>

#include "cache/page/page.h"
#include "cache/policy/keys.h"
#include "cache/policy/policy.h"
#include "cache/policy/request.h"

using namespace fc::cache;
using fc::http::HeaderList;
using fc::http::RequestHead;

namespace {
RequestHead get(std::string target, std::initializer_list<std::pair<const char *, const char *>> h,
                std::string method = "GET") {
    RequestHead r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.headers.add("Host", "example.com");
    for (auto &[n, v] : h)
        r.headers.add(n, v);
    return r;
}
HeaderList headers(std::initializer_list<std::pair<const char *, const char *>> h) {
    HeaderList l;
    for (auto &[n, v] : h)
        l.add(n, v);
    return l;
}
} // namespace

TEST_CASE("which requests are looked up") {
    PolicyConfig c;
    c.bypassPaths = {"/admin/"};
    c.bypassCookies = {"sessionid"};
    CHECK(classify(get("/", {}), c) == Bypass::None);
    CHECK(classify(get("/", {}, "HEAD"), c) == Bypass::None);
    CHECK(classify(get("/", {}, "POST"), c) == Bypass::Method);
    CHECK(classify(get("/?q=1", {}), c) == Bypass::QueryString);
    CHECK(classify(get("/?", {}), c) == Bypass::None); // an empty query is no query
    CHECK(classify(get("/admin/x", {}), c) == Bypass::Path);
    CHECK(classify(get("/", {{"Cookie", "a=1; sessionid=xyz"}}), c) == Bypass::Cookie);
    CHECK(classify(get("/", {{"Cookie", "notsessionid=1"}}), c) == Bypass::None);
    c.queryInKey = true;
    CHECK(classify(get("/?q=1", {}), c) == Bypass::None);
}

TEST_CASE("keys are Django's: header key, page key with the Vary values") {
    PolicyConfig c;
    std::string uri;
    absoluteUri(get("/about/?x=1", {}), c, uri);
    CHECK(uri == "http://example.com/about/");
    c.queryInKey = true;
    uri.clear();
    absoluteUri(get("/about/?x=1", {}), c, uri);
    CHECK(uri == "http://example.com/about/?x=1");
    c.queryInKey = false;
    // Expected keys computed by Django 3.2 itself (python3-django): with a RequestFactory GET of
    // "/" for Host example.com, _generate_cache_header_key('', req) and
    // learn_cache_key(req, response, 600, prefix) for a response without and with Vary: Cookie.
    std::string hk;
    headerKey(c, "http://example.com/", hk);
    CHECK(hk == "views.decorators.cache.cache_header..a6bf1757fff057f266b697df9cf176fd");
    std::string pk;
    pageKey(c, "GET", "http://example.com/", "", get("/", {}).headers, pk);
    CHECK(pk == "views.decorators.cache.cache_page..GET.a6bf1757fff057f266b697df9cf176fd."
                "d41d8cd98f00b204e9800998ecf8427e");
    c.keyPrefix = "site";
    std::string withValue;
    pageKey(c, "GET", "http://example.com/", "HTTP_COOKIE", get("/", {{"Cookie", "a=1"}}).headers,
            withValue);
    CHECK(withValue ==
          "views.decorators.cache.cache_page.site.GET."
          "a6bf1757fff057f266b697df9cf176fd.ac7d097c1e356d503f8bb685fd921531"); // "=a=1\n"
    std::string withCookie, absent, empty;
    pageKey(c, "GET", "u", "HTTP_COOKIE", get("/", {{"Cookie", "a=1"}}).headers, withCookie);
    pageKey(c, "GET", "u", "HTTP_COOKIE", get("/", {}).headers, absent);
    pageKey(c, "GET", "u", "HTTP_COOKIE", get("/", {{"Cookie", ""}}).headers, empty);
    CHECK(withCookie.rfind("views.decorators.cache.cache_page.site.GET.", 0) == 0);
    CHECK(withCookie != absent);
    CHECK(absent != empty); // "-\n" and "=\n"
}

TEST_CASE("varied values cannot run together into another request's key") {
    // Django concatenates the values: "fr-" + "," is "fr" + "-," (its absent marker here), so
    // one request could store a page for every visitor of the other shape. Not here.
    for (Mode mode : {Mode::Django, Mode::Http}) {
        PolicyConfig c;
        c.mode = mode;
        auto key = [&](std::initializer_list<std::pair<const char *, const char *>> h) {
            std::string k;
            pageKey(c, "GET", "http://s/", "HTTP_ACCEPT_LANGUAGE,HTTP_COOKIE", get("/", h).headers,
                    k);
            return k;
        };
        CHECK(key({{"Accept-Language", "fr"}}) !=
              key({{"Accept-Language", "fr-"}, {"Cookie", ","}}));
        CHECK(key({{"Accept-Language", "fr"}}) != key({{"Accept-Language", "fr-,"}}));
        CHECK(key({{"Accept-Language", "ab"}}) != key({{"Accept-Language", "a"}, {"Cookie", "b"}}));
        CHECK(key({{"Cookie", "x"}}) != key({{"Accept-Language", "x"}}));
        CHECK(key({{"Accept-Language", "-"}}) != key({}));
        CHECK(key({{"Accept-Language", "fr"}}) == key({{"Accept-Language", "fr"}}));
    }
}

TEST_CASE("Vary becomes Django's sorted META names") {
    std::string l;
    CHECK(varyHeaderList(headers({{"Vary", "Cookie, accept-encoding"}}), l));
    CHECK(l == "HTTP_ACCEPT_ENCODING,HTTP_COOKIE");
    l.clear();
    CHECK(varyHeaderList(headers({}), l));
    CHECK(l.empty());
    CHECK_FALSE(varyHeaderList(headers({{"Vary", "*"}}), l));
}

TEST_CASE("storability and TTL") {
    PolicyConfig c;
    auto d = [&](int status, HeaderList h, RequestHead req = get("/", {})) {
        return decideStore(req, status, h, c);
    };
    CHECK(d(200, headers({})).reason == NotStored::None);
    CHECK(d(200, headers({})).ttl == 600);
    CHECK(d(404, headers({})).reason == NotStored::Status);
    CHECK(d(304, headers({})).reason == NotStored::Status);
    CHECK(d(200, headers({{"Cache-Control", "max-age=0"}})).reason == NotStored::ZeroTtl);
    CHECK(d(200, headers({{"Cache-Control", "max-age=30, public"}})).ttl == 30);
    CHECK(d(200, headers({{"Cache-Control", "max-age=junk"}})).ttl == 600);
    CHECK(d(200, headers({{"Cache-Control", "max-age=100, s-maxage=5"}})).ttl == 5);
    CHECK(d(200, headers({{"Cache-Control", "private"}})).reason == NotStored::Private);
    CHECK(d(200, headers({{"Cache-Control", "no-store"}})).reason == NotStored::NoStore);
    CHECK(d(200, headers({{"Cache-Control", "no-cache"}})).reason == NotStored::NoCache);
    CHECK(d(200, headers({{"Cache-Control", "no-cache"}, {"Last-Modified", "yesterday"}})).reason ==
          NotStored::NoCache); // a Last-Modified that cannot be sent back is no validator
    {
        // Spec rule 6: no-cache with a validator is stored for its TTL but never fresh, and never
        // served stale (grace and stale-if-error cleared).
        c.grace = c.staleIfError = 60;
        for (const auto &v : {headers({{"Cache-Control", "no-cache"}, {"ETag", "\"v1\""}}),
                              headers({{"Cache-Control", "no-cache, max-age=30"},
                                       {"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"}})}) {
            StoreDecision s = d(200, v);
            CHECK(s.reason == NotStored::None);
            CHECK(s.revalidate);
            CHECK(s.freshFor() == 0);
            CHECK(s.grace == 0);
            CHECK(s.staleIfError == 0);
            CHECK(s.keepFor() == s.ttl);
            CHECK(s.ttl > 0);
        }
        StoreDecision plain = d(200, headers({{"ETag", "\"v1\""}}));
        CHECK_FALSE(plain.revalidate);
        CHECK(plain.freshFor() == 600);
        CHECK(plain.keepFor() == 660);
        c = PolicyConfig{};
    }
    CHECK(d(200, headers({{"Set-Cookie", "a=1"}})).reason == NotStored::SetCookie);
    CHECK(d(200, headers({{"Vary", "Accept, *"}})).reason == NotStored::VaryStar);
    auto authed = get("/", {{"Authorization", "Basic x"}});
    CHECK(d(200, headers({}), authed).reason == NotStored::Authorization);
    CHECK(d(200, headers({{"Cache-Control", "public"}}), authed).reason == NotStored::None);
    CHECK(d(200, headers({{"Cache-Control", "s-maxage=9"}}), authed).reason == NotStored::None);
    c.storeSetCookie = true;
    CHECK(d(200, headers({{"Set-Cookie", "a=1"}})).reason == NotStored::None);
    c.defaultTtl = 0;
    CHECK(d(200, headers({})).reason == NotStored::ZeroTtl);
}

TEST_CASE("patch_response_headers") {
    const std::int64_t now = 784111777; // Sun, 06 Nov 1994 08:49:37 GMT
    HeaderList a = headers({});
    patchResponseHeaders(a, 600, now);
    CHECK(a.get("expires").value() == "Sun, 06 Nov 1994 08:59:37 GMT");
    CHECK(a.get("cache-control").value() == "max-age=600");
    HeaderList b = headers({{"Cache-Control", "Public, max-age=30"}, {"Expires", "x"}});
    patchResponseHeaders(b, 600, now);
    CHECK(b.get("expires").value() == "x");                        // kept when present
    CHECK(b.get("cache-control").value() == "public, max-age=30"); // min, in place
    HeaderList c = headers({{"Cache-Control", "must-revalidate, max-age=900"}});
    patchResponseHeaders(c, 60, now);
    CHECK(c.get("cache-control").value() == "must-revalidate, max-age=60");
    CHECK(c.count("cache-control") == 1);
}

TEST_CASE("stale windows: configured grace / stale-if-error, overridden by RFC 5861 directives") {
    PolicyConfig cfg;
    cfg.grace = 60;
    cfg.staleIfError = 300;
    RequestHead req = get("/", {});
    StoreDecision d = decideStore(req, 200, headers({{"Cache-Control", "max-age=10"}}), cfg);
    CHECK(d.ttl == 10);
    CHECK(d.grace == 60);
    CHECK(d.staleIfError == 300);
    CHECK(d.keepFor() == 310);
    d = decideStore(
        req, 200,
        headers({{"Cache-Control", "max-age=10, stale-while-revalidate=5, stale-if-error=30"}}),
        cfg);
    CHECK(d.grace == 5);
    CHECK(d.staleIfError == 30);
    CHECK(d.keepFor() == 40);
    // must-revalidate: never served stale (RFC 9111 §5.2.2.2).
    d = decideStore(req, 200, headers({{"Cache-Control", "max-age=10, must-revalidate"}}), cfg);
    CHECK(d.reason == NotStored::None);
    CHECK(d.grace == 0);
    CHECK(d.staleIfError == 0);
}

TEST_CASE("a 304 renews the stored head (RFC 9111 §4.3.4)") {
    PolicyConfig cfg;
    RequestHead req = get("/", {});
    const std::int64_t now = 1700000000;
    std::string stored = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nETag: \"v1\"\r\n"
                         "Cache-Control: max-age=60\r\nExpires: Thu, 01 Jan 1970 00:01:00 GMT\r\n"
                         "X-Old: kept\r\nVia: 1.1 frontcache\r\nContent-Length: 5\r\n";
    std::string head, vary;
    HeaderList fresh = headers({{"ETag", "\"v1\""},
                                {"Cache-Control", "max-age=120"},
                                {"Date", "Tue, 14 Nov 2023 22:13:20 GMT"},
                                {"Content-Length", "0"},
                                {"Connection", "keep-alive"},
                                {"Vary", "Accept-Language"}});
    StoreDecision d = renewStoredHead(stored, fresh, req, cfg, now, head, vary);
    REQUIRE(d.reason == NotStored::None);
    CHECK(d.ttl == 120);
    CHECK(vary == "HTTP_ACCEPT_LANGUAGE");
    CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(head.find("Cache-Control: max-age=120\r\n") != std::string::npos);
    CHECK(head.find("max-age=60") == std::string::npos);
    CHECK(head.find("Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n") != std::string::npos);
    CHECK(head.find("X-Old: kept\r\n") != std::string::npos);
    CHECK(head.find("Content-Length: 5\r\n") != std::string::npos); // the stored length stays
    CHECK(head.find("Content-Length: 0") == std::string::npos);
    CHECK(head.find("Connection") == std::string::npos); // hop-by-hop never stored
    CHECK(head.find("1970") == std::string::npos);       // the old Expires is replaced
    CHECK(head.find("Expires: Tue, 14 Nov 2023 22:15:20 GMT\r\n") != std::string::npos);
    // A 304 that makes the page private: not renewed.
    HeaderList priv = headers({{"Cache-Control", "private"}});
    CHECK(renewStoredHead(stored, priv, req, cfg, now, head, vary).reason == NotStored::Private);
}

// --- issue #13: what cannot change a page does not split it -----------------------------------

namespace {
PolicyConfig browserDefaults() {
    PolicyConfig c;
    c.ignoreQueryParams = {"utm_*", "gclid", "fbclid", "_ga"};
    c.ignoreCookies = {"_ga", "_ga_*", "_gid", "_gat*", "__utm*", "_hj*"};
    return c;
}
std::string cookieOf(const RequestHead &r) {
    return std::string(r.headers.get("cookie").value_or("<none>"));
}
} // namespace

TEST_CASE("glob patterns") {
    CHECK(globMatch("utm_*", "utm_source"));
    CHECK(globMatch("utm_*", "utm_"));
    CHECK_FALSE(globMatch("utm_*", "utm"));
    CHECK(globMatch("_ga_*", "_ga_ABC123"));
    CHECK_FALSE(globMatch("_ga_*", "_ga"));
    CHECK(globMatch("_gat*", "_gat"));
    CHECK(globMatch("*", "anything"));
    CHECK(globMatch("a*b*c", "aXXbYYc"));
    CHECK_FALSE(globMatch("a*b*c", "aXXbYY"));
    CHECK(globMatch("gclid", "gclid"));
    CHECK_FALSE(globMatch("gclid", "gclid2"));
}

TEST_CASE("campaign parameters leave the target; what is left keeps its order and bytes") {
    PolicyConfig c = browserDefaults();
    auto norm = [&](std::string t) {
        RequestHead r = get(t, {});
        normalizeCacheableRequest(r, c);
        return r.target;
    };
    CHECK(norm("/news") == "/news");
    CHECK(norm("/news?utm_source=mail&utm_medium=x") == "/news");
    CHECK(norm("/news?gclid=abc") == "/news");
    CHECK(norm("/news?page=2&utm_source=mail") == "/news?page=2");
    CHECK(norm("/news?utm_source=mail&page=2&fbclid=1&q=a%20b") == "/news?page=2&q=a%20b");
    CHECK(norm("/news?page=2&sort=new") == "/news?page=2&sort=new");
    CHECK(norm("/news?utm") == "/news?utm"); // not utm_*
    CHECK(norm("/news?a=1&&b=2") == "/news?a=1&&b=2");
    CHECK(norm("/news?_ga=2.1&a") == "/news?a");
    CHECK(norm("/?") == "/?");
    // Only ignorable parameters: parameterless for query_strings = "bypass".
    RequestHead r = get("/landing?utm_campaign=spring&gclid=x", {});
    CHECK(classify(r, c) == Bypass::QueryString);
    normalizeCacheableRequest(r, c);
    CHECK(classify(r, c) == Bypass::None);
    // The key is the one of the clean URL.
    std::string a, b;
    absoluteUri(r, c, a);
    absoluteUri(get("/landing", {}), c, b);
    CHECK(a == b);
}

TEST_CASE("analytics cookies leave the Cookie field; the ones that count stay, sorted") {
    PolicyConfig c = browserDefaults();
    RequestHead r = get("/", {{"Cookie", "_ga=GA1.2.3; sessionid=abc; _gid=x; csrftoken=t"}});
    CHECK(normalizeCacheableRequest(r, c));
    CHECK(cookieOf(r) == "csrftoken=t; sessionid=abc");
    // Nothing to remove: the field is left exactly as sent (Django's own key).
    RequestHead same = get("/", {{"Cookie", "sessionid=abc; csrftoken=t"}});
    CHECK_FALSE(normalizeCacheableRequest(same, c));
    CHECK(cookieOf(same) == "sessionid=abc; csrftoken=t");
    // Only analytics cookies: no Cookie field at all.
    RequestHead anon = get("/", {{"Cookie", "_ga=1; _ga_XYZ=2; _hjSessionUser_1=3; __utma=4"}});
    CHECK(normalizeCacheableRequest(anon, c));
    CHECK(cookieOf(anon) == "<none>");
    // Two Cookie fields (an HTTP/2 gateway) are one list.
    RequestHead split = get("/", {{"Cookie", "b=2; _ga=1"}, {"Cookie", "a=1"}});
    CHECK(normalizeCacheableRequest(split, c));
    CHECK(cookieOf(split) == "a=1; b=2");
    CHECK(split.headers.count("cookie") == 1);
}

TEST_CASE("visitors differing only in analytics cookies share a page; a session never does") {
    PolicyConfig c = browserDefaults();
    auto key = [&](const char *cookie) {
        RequestHead r = get("/page", {{"Cookie", cookie}});
        normalizeCacheableRequest(r, c);
        std::string uri, k;
        absoluteUri(r, c, uri);
        pageKey(c, "GET", uri, "HTTP_COOKIE", r.headers, k);
        return k;
    };
    CHECK(key("_ga=GA1.1.111; _gid=1") == key("_ga=GA1.1.222; _gid=2; _gat_UA1=1"));
    CHECK(key("_ga=1; sessionid=alice") == key("sessionid=alice; _ga=2"));
    CHECK(key("_ga=1; sessionid=alice") != key("_ga=1; sessionid=bob"));
    CHECK(key("sessionid=alice") != key("sessionid=alice; csrftoken=x"));
    CHECK(key("_ga=1") != key("_ga=1; sessionid=alice"));
    // A cookie that merely starts like an ignored one still counts.
    CHECK(key("_gax=1") != key("_gax=2"));
}

TEST_CASE("key_cookies: only the named cookies count") {
    PolicyConfig c = browserDefaults();
    c.keyCookies = {"sessionid", "django_language"};
    RequestHead r = get("/", {{"Cookie", "theme=dark; sessionid=s; django_language=fr; x=1"}});
    CHECK(normalizeCacheableRequest(r, c));
    CHECK(cookieOf(r) == "django_language=fr; sessionid=s");
}

TEST_CASE("varied values: one line per Vary field; cookies by name and fingerprint only") {
    RequestHead r = get("/", {{"Accept-Language", "fr"}, {"Cookie", "sessionid=secret; a=1"}});
    std::string out;
    variedValues("HTTP_ACCEPT_LANGUAGE,HTTP_COOKIE,HTTP_X_MISSING", r.headers, out);
    CHECK(out.find("HTTP_ACCEPT_LANGUAGE: fr\n") == 0);
    CHECK(out.find("HTTP_COOKIE: sessionid=#") != std::string::npos);
    CHECK(out.find("secret") == std::string::npos);
    CHECK(out.find("; a=#") != std::string::npos);
    CHECK(out.find("HTTP_X_MISSING: (absent)\n") != std::string::npos);
}
