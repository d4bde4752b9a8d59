// cache/policy/policy: what is stored and for how long (UpdateCacheMiddleware, get_max_age), the
// stale windows, Django's patch_response_headers, and a 304 renewing a stored head.
#include <doctest/doctest.h>

#include <string>

#include "cache/page/page.h"
#include "cache/policy/policy.h"
#include "requests.h"

using namespace fc::cache;
using namespace fc::cache::testing;
using fc::http::HeaderList;
using fc::http::RequestHead;

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

TEST_CASE("cache.max_ttl caps what the store keeps, not what the response says") {
    PolicyConfig c;
    c.maxTtl = 365 * 86400;
    RequestHead r = get("/static/app.3f2a.css", {});
    const HeaderList resp = headers({{"Cache-Control", "max-age=315360000, public, immutable"}});
    StoreDecision d = decideStore(r, 200, resp, c);
    REQUIRE(d.reason == NotStored::None);
    CHECK(d.ttl == 315360000); // ten years, as WhiteNoise says: stored (Django stores it too)
    const StoreDecision kept = d.capped(c.maxTtl);
    CHECK(kept.ttl == 365 * 86400);
    CHECK(kept.freshFor() == 365 * 86400);
    CHECK(kept.keepFor() == 365 * 86400 + std::max(kept.grace, kept.staleIfError));
    StoreDecision windows = d;
    windows.grace = windows.staleIfError = windows.keepStale = 400LL * 86400;
    const StoreDecision w = windows.capped(c.maxTtl);
    CHECK(w.grace == 365 * 86400);
    CHECK(w.staleIfError == 365 * 86400);
    CHECK(w.keepStale == 365 * 86400);
    const StoreDecision shortOne =
        decideStore(r, 200, headers({{"Cache-Control", "max-age=60"}}), c);
    CHECK(shortOne.capped(c.maxTtl).ttl == 60); // under the cap: unchanged
    // Fresh here for a year from arrival, whatever age it arrived with (a CDN in front).
    StoreDecision aged = d;
    aged.initialAge = 2LL * 365 * 86400;
    const StoreDecision a = aged.capped(c.maxTtl);
    CHECK(a.ttl == 3LL * 365 * 86400);
    CHECK(a.ttl - a.initialAge == 365 * 86400);
    HeaderList patched = resp;
    patchStoredResponse(c, patched, d.ttl, 1000); // the client is told the app's own lifetime
    CHECK(patched.get("cache-control")->find("max-age=315360000") != std::string_view::npos);
}
