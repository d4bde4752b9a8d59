// cache/page: the stored page format (FCP3), its freshness windows and what it keeps.
#include <doctest/doctest.h>

#include <string>

#include "cache/page/page.h"

using namespace fc::cache;

TEST_CASE("the stored page format round-trips") {
    std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n";
    PageView f;
    f.status = 200;
    f.storedAt = 1700000000;
    f.lastModified = 784111777;
    f.ttl = 600;
    f.grace = 60;
    f.staleIfError = 300;
    f.etag = "\"e1\"";
    f.uri = "http://site.test/a?b";
    f.head = head;
    f.body = "hello";
    std::string buf(encodedPageSize(f), '\0');
    encodePage(buf.data(), f);
    PageView v;
    REQUIRE(decodePage(buf, v));
    CHECK(v.status == 200);
    CHECK(v.storedAt == 1700000000);
    CHECK(v.lastModified == 784111777);
    CHECK(v.ttl == 600);
    CHECK(v.grace == 60);
    CHECK(v.staleIfError == 300);
    CHECK(v.etag == "\"e1\"");
    CHECK(v.uri == "http://site.test/a?b");
    CHECK(v.head == head);
    CHECK(v.body == "hello");
    CHECK(buf.substr(0, 4) == "FCP3");
    CHECK(v.repCount == 1); // head and body alone: one representation, sent as stored
    CHECK(v.reps[0].coding == fc::http::Coding::AsStored);
    // Freshness windows: fresh before the TTL, then grace, then stale-if-error.
    CHECK(v.fresh(1700000599));
    CHECK_FALSE(v.fresh(1700000600));
    CHECK(v.inGrace(1700000659));
    CHECK_FALSE(v.inGrace(1700000660));
    CHECK(v.usableOnError(1700000899));
    CHECK_FALSE(v.usableOnError(1700000900));
    CHECK_FALSE(decodePage("not a page", v));
    CHECK_FALSE(decodePage(buf.substr(0, 20), v));
    CHECK_FALSE(decodePage(buf.substr(0, kPageHeaderSize + 4), v)); // cut inside the URI
}

TEST_CASE("a page keeps what separates its variant; pages written before it read as empty") {
    PageView f;
    f.status = 200;
    f.storedAt = 1000;
    f.ttl = 60;
    f.etag = "\"e\"";
    f.uri = "http://example.com/x";
    f.varied = "HTTP_ACCEPT_LANGUAGE: fr\n";
    f.head = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n";
    f.body = "body";
    std::string buf(encodedPageSize(f), '\0');
    encodePage(buf.data(), f);
    PageView v;
    REQUIRE(decodePage(buf, v));
    CHECK(v.varied == f.varied);
    CHECK(v.head == f.head);
    CHECK(v.body == "body");
    f.varied = {};
    std::string old(encodedPageSize(f), '\0');
    encodePage(old.data(), f);
    REQUIRE(decodePage(old, v));
    CHECK(v.varied.empty());
    CHECK(v.body == "body");
    CHECK_FALSE(decodePage(std::string_view(buf).substr(0, 60), v)); // cut inside the lines
}
