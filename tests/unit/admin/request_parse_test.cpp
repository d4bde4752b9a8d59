#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "admin/request_parse.h"

using namespace fc::admin;

TEST_CASE("forEachParam: every key=value in order, until told to stop") {
    std::vector<std::string> seen;
    forEachParam("a=1&b=2&&c", [&](std::string_view kv) {
        seen.emplace_back(kv);
        return true;
    });
    CHECK(seen == std::vector<std::string>{"a=1", "b=2", "", "c"});
    seen.clear();
    forEachParam("a=1&b=2", [&](std::string_view kv) {
        seen.emplace_back(kv);
        return false;
    });
    CHECK(seen == std::vector<std::string>{"a=1"});
    forEachParam("", [&](std::string_view) {
        FAIL("no parameter in an empty query");
        return true;
    });
}

TEST_CASE("percentDecode: %XX and '+', a stray '%' kept") {
    CHECK(percentDecode("/a%20b+c") == "/a b c");
    CHECK(percentDecode("%2Fx%2f") == "/x/");
    CHECK(percentDecode("100%") == "100%");
    CHECK(percentDecode("%zz%4") == "%zz%4");
}

TEST_CASE("bearerMatches: the scheme in any case, the token exactly") {
    CHECK(bearerMatches(std::string_view("Bearer s3cret"), "s3cret"));
    CHECK(bearerMatches(std::string_view("bearer s3cret "), "s3cret"));
    CHECK_FALSE(bearerMatches(std::nullopt, "s3cret"));
    CHECK_FALSE(bearerMatches(std::string_view("Bearer s3cre"), "s3cret"));
    CHECK_FALSE(bearerMatches(std::string_view("Bearer s3creT"), "s3cret"));
    CHECK_FALSE(bearerMatches(std::string_view("Basic s3cret"), "s3cret"));
}

TEST_CASE("purgePath: our trailing host= and soft=1 go, the page's query stays") {
    bool soft = false;
    CHECK(purgePath("/p?x=1&host=a.example&soft=1", soft) == "/p?x=1");
    CHECK(soft);
    soft = false;
    CHECK(purgePath("/p?soft=1&x=1", soft) == "/p?soft=1&x=1");
    CHECK_FALSE(soft);
    CHECK(purgePath("/p?host=a.example", soft) == "/p");
    CHECK(purgePath("/p", soft) == "/p");
}

TEST_CASE("softRequested: soft=1 anywhere in the query") {
    CHECK(softRequested("soft=1"));
    CHECK(softRequested("soft=1&host=a"));
    CHECK(softRequested("host=a&soft=1"));
    CHECK_FALSE(softRequested("soft=10x"));
    CHECK_FALSE(softRequested("xsoft=1"));
    CHECK_FALSE(softRequested(""));
}

TEST_CASE("parsePathList: lines or a JSON array of strings") {
    std::vector<std::string> paths;
    CHECK(parsePathList("/a\r\n\n  /b \n", paths));
    CHECK(paths == std::vector<std::string>{"/a", "/b"});
    paths.clear();
    CHECK(parsePathList(" [\"/a\", \"/b\\\"q\"]", paths));
    CHECK(paths == std::vector<std::string>{"/a", "/b\"q"});
    paths.clear();
    CHECK(parsePathList("[]", paths));
    CHECK(paths.empty());
    CHECK_FALSE(parsePathList("[\"/a\"", paths));
    paths.clear();
    CHECK_FALSE(parsePathList("[/a]", paths));
    paths.clear();
    CHECK_FALSE(parsePathList(" \n", paths));
}
