// cache/policy/keys: Django's header key and page key (each varied value ended unambiguously),
// the Vary list as Django's sorted META names, and the variant listing of GET /variants.
#include <doctest/doctest.h>

#include <string>

#include "cache/policy/keys.h"
#include "cache/policy/request.h"
#include "requests.h"

using namespace fc::cache;
using namespace fc::cache::testing;
using fc::http::HeaderList;
using fc::http::RequestHead;

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
