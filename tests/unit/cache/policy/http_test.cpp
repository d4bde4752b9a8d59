// cache/policy/http: cache.mode = "http", RFC 9111's rules (and RFC 5861, RFC 9213). The
// integration table (tests/integration/rfc9111_cases.py) checks them end to end; these pin the
// pure functions, one rule per case.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cache/policy/http.h"
#include "cache/policy/keys.h"
#include "cache/store/clock.h"
#include "requests.h"

using namespace fc::cache;
using fc::cache::testing::headers;
using fc::http::HeaderList;
using fc::http::RequestHead;

namespace {
RequestHead request(std::string method, std::string target,
                    std::initializer_list<std::pair<const char *, const char *>> fs) {
    RequestHead r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.headers = headers(fs);
    return r;
}
PolicyConfig httpMode() {
    PolicyConfig c;
    c.mode = Mode::Http;
    return c;
}
StoreDecision decide(int status, HeaderList resp,
                     RequestHead req = request("GET", "/", {{"Host", "h"}})) {
    return decideStoreHttp(req, status, resp, httpMode(), {1000, 1000});
}
} // namespace

TEST_CASE("§3: only what the response allows is stored") {
    CHECK(decide(200, headers({{"Cache-Control", "max-age=60"}})).reason == NotStored::None);
    CHECK(decide(200, headers({{"Cache-Control", "no-store, max-age=60"}})).reason ==
          NotStored::NoStore);
    CHECK(decide(200, headers({{"Cache-Control", "private, max-age=60"}})).reason ==
          NotStored::Private);
    CHECK(decide(200, headers({{"Cache-Control", "max-age=60"}, {"Vary", "*"}})).reason ==
          NotStored::VaryStar);
    CHECK(decide(200, headers({{"Cache-Control", "max-age=60"}, {"Vary", "X_Token"}})).reason ==
          NotStored::VaryName);
    // §3.5: credentials only with public, s-maxage or must-revalidate.
    auto withAuth = request("GET", "/", {{"Host", "h"}, {"Authorization", "Basic x"}});
    CHECK(decide(200, headers({{"Cache-Control", "max-age=60"}}), withAuth).reason ==
          NotStored::Authorization);
    CHECK(decide(200, headers({{"Cache-Control", "public, max-age=60"}}), withAuth).reason ==
          NotStored::None);
}

TEST_CASE("§4.2.1: s-maxage, then max-age, then Expires - Date") {
    CHECK(decide(200, headers({{"Cache-Control", "max-age=60, s-maxage=30"}})).ttl == 30);
    CHECK(decide(200, headers({{"Cache-Control", "max-age=60"}})).ttl == 60);
    CHECK(decide(200, headers({{"Date", "Thu, 01 Jan 1970 00:16:40 GMT"},
                               {"Expires", "Thu, 01 Jan 1970 00:18:20 GMT"}}))
              .ttl == 100);
}

TEST_CASE("§4.4: unsafe methods invalidate on 2xx and 3xx only") {
    CHECK(invalidates("POST", 200));
    CHECK(invalidates("DELETE", 303));
    CHECK_FALSE(invalidates("POST", 404));
    CHECK_FALSE(invalidates("GET", 200));
    CHECK_FALSE(invalidates("OPTIONS", 200));
    std::vector<std::string> out;
    invalidationTargets(
        headers({{"Location", "/thanks"}, {"Content-Location", "http://other.test/x"}}), "http",
        "h", "/form", out);
    CHECK(out == std::vector<std::string>{"/thanks"}); // another origin's is not ours to purge
    out.clear();
    invalidationTargets(headers({{"Location", "done"}}), "http", "h", "/a/form?x", out);
    CHECK(out == std::vector<std::string>{"/a/done"});
}

TEST_CASE("§4.4 as a whole: paths to purge only when the store holds one of the URIs") {
    ManualClock clock;
    StoreConfig sc;
    sc.memoryLimit = 1 << 20;
    Store store(sc, clock);
    const PolicyConfig cfg = httpMode();
    auto post = request("POST", "/form", {{"Host", "h"}});
    const HeaderList resp = headers({{"Location", "/thanks"}});
    std::string host;
    CHECK(invalidatedPaths(store, cfg, post, 303, resp, false, host).empty()); // nothing held
    std::string key;
    headerKey(cfg, "https://h/thanks", key); // the https copy of the redirect's target
    ItemRef h = store.allocate(key, 0, 0, 0);
    REQUIRE(h);
    store.store(StoreMode::Set, h);
    auto paths = invalidatedPaths(store, cfg, post, 303, resp, false, host);
    CHECK(paths == std::vector<std::string>{"/form", "/thanks"});
    CHECK(host == "h");
    CHECK(invalidatedPaths(store, cfg, post, 500, resp, false, host).empty()); // an error
}

TEST_CASE("http mode: Accept-family values are normalised only as far as their meaning allows") {
    auto norm = [](std::string_view name, std::string_view v) {
        std::string out;
        normalizeVaryValue(name, v, out);
        return out;
    };
    CHECK(norm("HTTP_ACCEPT_LANGUAGE", "en-US, FR;q=0.5") == "en-us,fr;q=0.5");
    CHECK(norm("HTTP_ACCEPT_LANGUAGE", "fr;q=0.5, en-US") == "en-us,fr;q=0.5"); // by weight
    CHECK(norm("HTTP_ACCEPT_LANGUAGE", "en, fr") != norm("HTTP_ACCEPT_LANGUAGE", "fr, en"));
    CHECK(norm("HTTP_ACCEPT_LANGUAGE", "de;q=0.5, en, fr;q=0.5") == "en,de;q=0.5,fr;q=0.5");
    CHECK(norm("HTTP_ACCEPT", "a/b;q=1.000, c/d;Q=0.9") == "a/b;q=1.000,c/d;q=0.9");
    CHECK(norm("HTTP_ACCEPT", "a/b;q=2, c/d") == "a/b;q=2,c/d"); // an invalid weight: no reorder
    CHECK(norm("HTTP_X_CUSTOM", "  B, a ") == "B, a");
}

// The one interface: each rule below is called by the data path in both modes and does nothing,
// or Django's thing, in django mode — proxy/ holds no branch on the mode.
TEST_CASE("the mode's rules answer for django mode too") {
    PolicyConfig django;
    const PolicyConfig http = httpMode();
    PageView page;
    page.storedAt = 1000;
    page.ttl = 60;
    page.head = "HTTP/1.1 200 OK\r\n\r\n";

    SUBCASE("a request's directives are read in http mode only") {
        const HeaderList h = headers({{"Cache-Control", "max-stale=30, only-if-cached"}});
        CHECK_FALSE(requestDirectives(h, django).onlyIfCached);
        CHECK_FALSE(requestDirectives(h, django).maxStale);
        CHECK(requestDirectives(h, http).onlyIfCached);
        CHECK(requestDirectives(h, http).maxStale);
        CHECK_FALSE(requestDirectives(headers({{"Accept", "*/*"}}), http).onlyIfCached);
    }
    SUBCASE("a stored page answers: fresh in django mode; within the request's limits in http") {
        const RequestDirectives none;
        CHECK(answersRequest(django, page, none, 1059));
        CHECK_FALSE(answersRequest(django, page, none, 1060));
        CHECK(answersRequest(http, page, none, 1059));
        CHECK_FALSE(answersRequest(http, page, none, 1060));
        const RequestDirectives stale =
            requestDirectives(headers({{"Cache-Control", "max-stale=30"}}), http);
        CHECK(answersRequest(http, page, stale, 1080));         // 20 s stale: within max-stale
        CHECK_FALSE(answersRequest(http, page, stale, 1100));   // 40 s: beyond it
        CHECK_FALSE(answersRequest(django, page, stale, 1080)); // django reads no directives
        const RequestDirectives young =
            requestDirectives(headers({{"Cache-Control", "max-age=10"}}), http);
        CHECK_FALSE(answersRequest(http, page, young, 1020)); // 20 s old, the client says 10
        PageView mustRevalidate = page;
        mustRevalidate.head = "HTTP/1.1 200 OK\r\nCache-Control: must-revalidate\r\n\r\n";
        CHECK_FALSE(answersRequest(http, mustRevalidate, stale, 1080));
    }
    SUBCASE("nothing is invalidated in django mode") {
        ManualClock clock;
        StoreConfig sc;
        sc.memoryLimit = 1 << 20;
        Store store(sc, clock);
        std::string key, host;
        headerKey(django, "http://h/form", key);
        ItemRef item = store.allocate(key, 0, 0, 0);
        REQUIRE(item);
        store.store(StoreMode::Set, item);
        auto post = request("POST", "/form", {{"Host", "h"}});
        CHECK(invalidatedPaths(store, django, post, 200, {}, false, host).empty());
        CHECK(invalidatedPaths(store, http, post, 200, {}, false, host) ==
              std::vector<std::string>{"/form"});
    }
    SUBCASE("the targeted field: removed in http mode only") {
        HeaderList h =
            headers({{"CDN-Cache-Control", "max-age=60"}, {"Cache-Control", "no-cache"}});
        removeTargetedField(django, h);
        CHECK(h.has("cdn-cache-control"));
        PolicyConfig forward = http;
        forward.forwardTargetedField = true; // cache.forward_targeted_cache_control
        removeTargetedField(forward, h);
        CHECK(h.has("cdn-cache-control"));
        removeTargetedField(http, h);
        CHECK_FALSE(h.has("cdn-cache-control"));
        CHECK(h.has("cache-control"));
    }
    SUBCASE("a stored response as passed on, and what its stored copy leaves out") {
        HeaderList d = headers({{"Age", "5"}, {"CDN-Cache-Control", "max-age=9"}});
        patchStoredResponse(django, d, 60, 1000); // Django's patch_response_headers, no Age
        CHECK_FALSE(d.has("age"));
        CHECK(d.get("cache-control") == std::optional<std::string_view>("max-age=60"));
        CHECK(d.has("expires"));
        CHECK(d.has("cdn-cache-control"));
        HeaderList h = headers({{"Age", "5"}, {"CDN-Cache-Control", "max-age=9"}});
        patchStoredResponse(http, h, 60, 1000); // as sent, but for the targeted field
        CHECK(h.get("age") == std::optional<std::string_view>("5"));
        CHECK_FALSE(h.has("cache-control"));
        CHECK_FALSE(h.has("expires"));
        CHECK_FALSE(h.has("cdn-cache-control"));
        CHECK(storedCopyOmits(django).empty());
        CHECK(storedCopyOmits(http) == "age");
    }
}
