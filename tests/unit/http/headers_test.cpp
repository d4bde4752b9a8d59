#include <doctest/doctest.h>

#include "http/headers.h"

using namespace fc::http;

TEST_CASE("case-insensitive lookup and removal") {
    HeaderList h;
    h.add("Host", "example.com");
    h.add("X-A", "1");
    h.add("x-a", "2");
    CHECK(h.get("HOST").value() == "example.com");
    CHECK(h.count("X-A") == 2);
    CHECK_FALSE(h.get("missing"));
    CHECK(h.remove("X-a") == 2);
    CHECK(h.size() == 1);
    CHECK(h[0].name == "Host");
}

TEST_CASE("incremental construction trims trailing whitespace of values") {
    HeaderList h;
    h.appendName("Con");
    h.appendName("tent-Type");
    h.appendValue("text/");
    h.appendValue("html  ");
    h.finishValue();
    h.appendName("Empty");
    h.finishValue();
    h.appendName("X");
    h.appendValue("y");
    h.finishValue();
    REQUIRE(h.size() == 3);
    CHECK(h[0].name == "Content-Type");
    CHECK(h[0].value == "text/html");
    CHECK(h[1].name == "Empty");
    CHECK(h[1].value == "");
    CHECK(h[2].value == "y");
}

TEST_CASE("list tokens") {
    CHECK(listContains("keep-alive, Upgrade", "upgrade"));
    CHECK(listContains("close", "close"));
    CHECK_FALSE(listContains("closed", "close"));
    CHECK_FALSE(listContains("", "close"));
    CHECK(trimOws(" \t a b \t") == "a b");
}
