// cache/policy/request: which requests are looked up (FetchFromCacheMiddleware.process_request
// and the bypass rules), and what cannot change a page taken out of the request before it is
// keyed (cache.ignore_query_params, ignore_cookies, key_cookies).
#include <doctest/doctest.h>

#include <string>

#include "cache/policy/keys.h"
#include "cache/policy/request.h"
#include "requests.h"

using namespace fc::cache;
using namespace fc::cache::testing;
using fc::http::HeaderList;
using fc::http::RequestHead;

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
    // The shapes matched without a walk agree with the walk.
    CHECK(globMatch("*.css", "/a/b.css"));
    CHECK_FALSE(globMatch("*.css", "/a/b.css.map"));
    CHECK(globMatch("*", ""));
    CHECK(globMatch("*x", "x"));
    CHECK_FALSE(globMatch("*x", ""));
    CHECK(globMatch("/old/*", "/old/"));
    CHECK_FALSE(globMatch("/old/*", "/old"));
    CHECK(globMatch("", ""));
    CHECK_FALSE(globMatch("", "a"));
    CHECK(globMatch("*/feed/", "/blog/feed/"));
    CHECK(globMatch("/a*b", "/ab"));
    CHECK_FALSE(globMatch("/a*b", "/a"));
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

TEST_CASE("key_cookies: only the named cookies count") {
    PolicyConfig c = browserDefaults();
    c.keyCookies = {"sessionid", "django_language"};
    RequestHead r = get("/", {{"Cookie", "theme=dark; sessionid=s; django_language=fr; x=1"}});
    CHECK(normalizeCacheableRequest(r, c));
    CHECK(cookieOf(r) == "django_language=fr; sessionid=s");
}
