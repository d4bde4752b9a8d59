#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cache/page/page.h"
#include "cache/policy/keys.h"
#include "cache/purge.h"
#include "cache/store/clock.h"

using namespace fc::cache;

namespace {

// Stores a page for `uri` under the page key `key` with the given stale windows.
void putGracePage(Store &s, const std::string &key, const std::string &uri, std::uint32_t grace,
                  std::int64_t storedAt = 100, std::uint32_t ttl = 600) {
    PageView f;
    f.status = 200;
    f.storedAt = storedAt;
    f.ttl = ttl;
    f.grace = grace;
    f.staleIfError = grace ? 300 : 0;
    f.uri = uri;
    f.head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n";
    f.body = "ok";
    ItemRef it = s.allocate(key, 0, 0, static_cast<std::uint32_t>(encodedPageSize(f)));
    REQUIRE(it);
    encodePage(it->valueData(), f);
    s.store(StoreMode::Set, it);
}

// Stores a page for `uri` under the page key `key`, and a header key for the URI.
void putPage(Store &s, const PolicyConfig &cfg, const std::string &key, const std::string &uri) {
    putGracePage(s, key, uri, 0, 1, 600);
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

TEST_CASE("soft purge: expired as of now, kept for its stale windows; no grace: removed") {
    ManualClock clock;
    StoreConfig sc;
    sc.memoryLimit = 1 << 20;
    Store s(sc, clock);
    PolicyConfig cfg;
    putGracePage(s, "g", "http://a.test/news", 60);              // may be served stale
    putGracePage(s, "m", "http://a.test/news?x=1", 0);           // must-revalidate: no grace
    putGracePage(s, "old", "http://a.test/news/1", 60, 100, 10); // already past its freshness
    putGracePage(s, "other", "http://a.test/about", 60);
    std::string hk;
    headerKey(cfg, "http://a.test/news", hk);
    s.set(hk, "", 0);
    const std::int64_t now = 400;
    std::vector<std::string> touched;
    SoftPurgeResult r = softPurgePaths(s, {"/news*"}, "", now, &touched);
    CHECK(r.expired == 2);
    CHECK(r.removed == 1);
    CHECK(touched.size() == 3);
    CHECK_FALSE(has(s, "m"));
    ItemRef g = s.get("g");
    REQUIRE(g);
    PageView v;
    REQUIRE(decodePage(g->value(), v));
    CHECK_FALSE(v.fresh(now)); // expired as of now...
    CHECK(v.inGrace(now));     // ...and within its grace: answered STALE
    CHECK(v.inGrace(now + 59));
    CHECK_FALSE(v.inGrace(now + 60));
    CHECK(v.usableOnError(now + 299));
    CHECK(v.storedAt == 100); // Age still counts from when it was stored
    CHECK(v.body == "ok");
    ItemRef old = s.get("old");
    REQUIRE(old);
    REQUIRE(decodePage(old->value(), v));
    CHECK(v.ttl == 10); // left as it was
    CHECK(has(s, "other"));
    CHECK(has(s, hk)); // the Vary list still holds
}

TEST_CASE("soft purge leaves alone a page replaced while it ran") {
    ManualClock clock;
    StoreConfig sc;
    sc.memoryLimit = 1 << 20;
    Store s(sc, clock);
    PolicyConfig cfg;
    putGracePage(s, "g", "http://a.test/p", 60);
    // The compare-and-swap: a page stored after the walk found "g" keeps its freshness. Here the
    // replacement happens before the call, so the soft purge sees and expires it — and a second
    // soft purge of an already-expired page changes nothing.
    SoftPurgeResult r = softPurgePaths(s, {"/p"}, "", 400);
    CHECK(r.expired == 1);
    ItemRef first = s.get("g");
    const std::uint64_t cas = first->cas.load();
    r = softPurgePaths(s, {"/p"}, "", 401);
    CHECK(r.expired == 1);
    CHECK(s.get("g")->cas.load() == cas); // not rewritten: it was stale already
}
