// cache/policy/facts: what a response's head says, parsed once for every rule.
#include <doctest/doctest.h>

#include "cache/policy/facts.h"
#include "requests.h"

using namespace fc::cache;
using fc::cache::testing::headers;
using fc::http::HeaderList;

TEST_CASE("every fact of a head, parsed once") {
    PolicyConfig cfg;
    const HeaderList h = headers({{"Cache-Control", "max-age=60, no-transform"},
                                  {"Set-Cookie", "a=1"},
                                  {"Vary", "Cookie, accept-encoding"},
                                  {"Date", "Thu, 01 Jan 1970 00:16:40 GMT"},
                                  {"Last-Modified", "Thu, 01 Jan 1970 00:00:10 GMT"},
                                  {"Expires", "Thu, 01 Jan 1970 00:18:20 GMT"},
                                  {"Expires", "0"},
                                  {"Age", "7"},
                                  {"ETag", "\"v1\""},
                                  {"Content-Encoding", "gzip"},
                                  {"Content-Type", "text/html"}});
    const ResponseFacts f = responseFacts(200, 42, h, cfg);
    CHECK(f.status == 200);
    CHECK(f.contentLength == 42);
    CHECK(f.cacheControl.maxAge == 60);
    CHECK(f.cacheControl.noTransform);
    CHECK(f.directives.maxAge == 60);
    CHECK(f.setCookie);
    CHECK_FALSE(f.varyStar);
    CHECK(f.varyList == "HTTP_ACCEPT_ENCODING,HTTP_COOKIE");
    CHECK(f.date == 1000);
    CHECK(f.lastModified == 10);
    CHECK(f.expires == 1100);
    CHECK(f.expiresCount == 2);
    CHECK(f.age == 7);
    CHECK(f.hasEtag);
    CHECK(f.etag == "\"v1\"");
    CHECK(f.hasContentEncoding);
    CHECK(f.contentEncoding == fc::http::Coding::Gzip);
    CHECK(f.contentType == "text/html");
}

TEST_CASE("what a head leaves out reads as absent") {
    const ResponseFacts f = responseFacts(404, -1, headers({{"Age", "-3"}, {"Vary", "*"}}), {});
    CHECK_FALSE(f.cacheControl.present);
    CHECK_FALSE(f.setCookie);
    CHECK(f.varyStar);
    CHECK(f.varyList.empty());
    CHECK_FALSE(f.date);
    CHECK(f.age == 0); // not a valid Age
    CHECK_FALSE(f.hasEtag);
    CHECK_FALSE(f.hasContentEncoding);
    CHECK(f.contentEncoding == fc::http::Coding::Identity);
    CHECK_FALSE(f.contentType);
}

TEST_CASE("the targeted field is what http mode obeys, Cache-Control what django mode reads") {
    PolicyConfig http;
    http.mode = Mode::Http;
    const HeaderList h = headers({{"Cache-Control", "max-age=60"},
                                  {"CDN-Cache-Control", "max-age=600"},
                                  {"Vary", "X_Token"}});
    const ResponseFacts f = responseFacts(200, -1, h, http);
    CHECK(f.cacheControl.maxAge == 60);
    CHECK(f.directives.maxAge == 600);
    CHECK(f.varyUnderscore);
    CHECK(responseFacts(200, -1, h, PolicyConfig{}).directives.maxAge == 60);
}

TEST_CASE("Age: the first member of a list; too large is 2^31; unusable is none") {
    auto age = [](std::initializer_list<std::pair<const char *, const char *>> h) {
        return ageValue(headers(h));
    };
    CHECK(age({{"Age", "7200"}}) == 7200);
    CHECK(age({{"Age", "7200, 0"}}) == 7200); // "old, 0": stale for max-age=3600
    CHECK(age({{"Age", "7200,0"}}) == 7200);
    CHECK(age({{"Age", "0, 7200"}}) == 0);
    CHECK(age({{"Age", "7200"}, {"Age", "0"}}) == 7200); // the first field
    CHECK(age({{"Age", "99999999999999999999999"}}) == (std::int64_t{1} << 31));
    CHECK(age({{"Age", "abc"}}) == 0);
    CHECK(age({{"Age", "-7200"}}) == 0);
    CHECK(age({{"Age", "+7200"}}) == 0);
    CHECK(age({{"Age", "7200.0"}}) == 0);
    CHECK(age({{"Age", ""}}) == 0);
}

TEST_CASE("a targeted field that is not a Structured Field Dictionary is ignored (RFC 9213)") {
    PolicyConfig http;
    http.mode = Mode::Http;
    for (const char *bad : {"max-age=60, private=\"", "Max-Age=600", "max-age=600,", "max-age=6 0",
                            "max-age=(1", "max-age=600; Q=1", "max-age=1.2345"}) {
        INFO(bad);
        const HeaderList h = headers({{"Cache-Control", "max-age=60"}, {"CDN-Cache-Control", bad}});
        CHECK(responseFacts(200, -1, h, http).directives.maxAge == 60);
    }
    for (const char *good : {"max-age=600", "max-age=600, stale-if-error=30", "public, max-age=600",
                             "max-age=600;x=?1", "max-age=600, a=\"q\\\"\", b=:aGk=:, c=(1 2)"}) {
        INFO(good);
        const HeaderList h =
            headers({{"Cache-Control", "max-age=60"}, {"CDN-Cache-Control", good}});
        CHECK(responseFacts(200, -1, h, http).directives.maxAge == 600);
    }
}
