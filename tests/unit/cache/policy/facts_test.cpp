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
