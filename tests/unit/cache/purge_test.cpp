#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cache/page.h"
#include "cache/purge.h"
#include "cache/store/clock.h"

using namespace fc::cache;

namespace {

// Stores a page for `uri` under the page key `key`, and a header key for the URI.
void putPage(Store &s, const PolicyConfig &cfg, const std::string &key, const std::string &uri) {
    PageView f;
    f.status = 200;
    f.storedAt = 1;
    f.ttl = 600;
    f.uri = uri;
    f.head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n";
    f.body = "ok";
    ItemRef it = s.allocate(key, 0, 0, static_cast<std::uint32_t>(encodedPageSize(f)));
    REQUIRE(it);
    encodePage(it->valueData(), f);
    s.store(StoreMode::Set, it);
    std::string hk;
    headerKey(cfg, uri, hk);
    ItemRef h = s.allocate(hk, 0, 0, 0);
    REQUIRE(h);
    s.store(StoreMode::Set, h);
}

bool has(Store &s, const std::string &key) {
    return static_cast<bool>(s.get(key));
}

} // namespace

TEST_CASE("purge by path: exact, every host or one, and prefixes") {
    ManualClock clock;
    StoreConfig sc;
    sc.memoryLimit = 1 << 20;
    Store s(sc, clock);
    PolicyConfig cfg;
    const std::vector<std::pair<std::string, std::string>> pages = {
        {"p1", "http://a.test/news"},        {"p2", "http://b.test/news"},
        {"p3", "http://a.test/news?page=2"}, {"p4", "http://a.test/news/42"},
        {"p5", "http://a.test/about"},
    };
    auto fill = [&] {
        for (const auto &[k, u] : pages)
            putPage(s, cfg, k, u);
    };
    fill();
    SUBCASE("exact path, every host; the query must match") {
        CHECK(purgePaths(s, cfg, {"/news"}, "") == 2);
        CHECK_FALSE(has(s, "p1"));
        CHECK_FALSE(has(s, "p2"));
        CHECK(has(s, "p3"));
        CHECK(has(s, "p4"));
        std::string hk;
        headerKey(cfg, "http://a.test/news", hk);
        CHECK_FALSE(has(s, hk)); // the header key goes too
        CHECK(purgePaths(s, cfg, {"/news?page=2"}, "") == 1);
    }
    SUBCASE("narrowed to one host") {
        CHECK(purgePaths(s, cfg, {"/news"}, "b.test") == 1);
        CHECK(has(s, "p1"));
        CHECK_FALSE(has(s, "p2"));
    }
    SUBCASE("a trailing * is a prefix: queries and sub-paths") {
        CHECK(purgePaths(s, cfg, {"/news*"}, "a.test") == 3);
        CHECK(has(s, "p2"));
        CHECK(has(s, "p5"));
        fill();
        CHECK(purgePaths(s, cfg, {"/*"}, "") == 5);
    }
    SUBCASE("nothing matches") {
        CHECK(purgePaths(s, cfg, {"/new", "/news/4"}, "") == 0);
    }
}
