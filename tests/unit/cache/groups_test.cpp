// cache/groups: reading the group fields (RFC 9875 Cache-Groups and the aliases), the bounds on
// hostile input, and the group index kept by the store through every way a page comes and goes.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "cache/groups.h"
#include "cache/page/page.h"
#include "cache/policy/keys.h"
#include "cache/store/clock.h"
#include "cache/store/snapshot.h"
#include "http/cache_control.h"
#include "http/structured_field.h"

using namespace fc;
using namespace fc::cache;

namespace {

std::string groupsOf(const std::vector<std::pair<std::string, std::string>> &fields,
                     GroupTally *tallyOut = nullptr, http::HeaderList *after = nullptr,
                     GroupFieldsConfig cfg = {}) {
    http::HeaderList h;
    for (const auto &[n, v] : fields)
        h.add(n, v);
    std::string g;
    GroupTally t;
    takeGroups(cfg, h, g, t);
    if (tallyOut)
        *tallyOut = t;
    if (after)
        *after = h;
    return g;
}

StoreConfig smallStore(std::uint64_t mem = 64ull << 20) {
    StoreConfig c;
    c.memoryLimit = mem;
    c.shardBits = 2;
    return c;
}

// Stores a page for `uri` with these groups ("a\nb\n") under `key`; returns the item.
ItemRef putPage(Store &s, std::string_view key, std::string_view uri, std::string_view groups,
                std::int64_t lifetime = 600, std::uint32_t grace = 0, std::size_t bodyLen = 2,
                std::int64_t storedAt = 0) {
    PageView f;
    f.status = 200;
    f.storedAt = storedAt;
    f.ttl = 600;
    f.grace = grace;
    f.uri = uri;
    f.groups = groups;
    f.head = "HTTP/1.1 200 OK\r\n";
    const std::string body(bodyLen, 'x');
    f.body = body;
    ItemRef it =
        s.allocate(key, 0, Lifetime{lifetime}, static_cast<std::uint32_t>(encodedPageSize(f)));
    REQUIRE(it);
    encodePage(it->valueData(), f);
    REQUIRE(s.store(StoreMode::Set, it) == StoreStatus::Stored);
    return it;
}

std::size_t count(const GroupIndex &ix, std::string_view g, std::string_view host = {}) {
    return ix.pages(g, host).size();
}

struct Fixture {
    ManualClock clock;
    GroupIndex index;
    Store store{smallStore(), clock};
    PolicyConfig policy;
    Fixture() { store.setObserver(&index); }
    std::size_t purge(std::vector<std::string> groups, std::string_view host = {}) {
        return purgeGroups(store, index, policy, groups, host, false, clock.now()).removed;
    }
};

} // namespace

TEST_CASE("Cache-Groups and the aliases are read, each by its own syntax") {
    CHECK(groupsOf({{"Cache-Groups", R"("a", "b")"}}) == "a\nb\n");
    CHECK(groupsOf({{"Cache-Groups", R"("a")"}, {"cache-groups", R"("b")"}}) == "a\nb\n");
    CHECK(groupsOf({{"Surrogate-Key", "  k1   k2\tk3 "}}) == "k1\nk2\nk3\n");
    CHECK(groupsOf({{"Cache-Tag", "t1, t2 ,t3,,"}}) == "t1\nt2\nt3\n");
    CHECK(groupsOf({{"xkey", "x1 x2"}, {"xkey", "x3"}}) == "x1\nx2\nx3\n");
    // Duplicates once, across fields; case kept (groups are case-sensitive).
    CHECK(groupsOf({{"Cache-Groups", R"("a", "A")"}, {"xkey", "a b"}}) == "a\nA\nb\n");
    // A field that is not a List is ignored whole; a non-String member alone.
    GroupTally t;
    CHECK(groupsOf({{"Cache-Groups", R"("a", b)"}}, &t) == "a\n");
    CHECK(t.ignored[int(GroupIgnored::Invalid)] == 1);
    CHECK(groupsOf({{"Cache-Groups", R"("a", ()"}}, &t).empty());
    CHECK(t.ignored[int(GroupIgnored::Invalid)] == 1);
    CHECK(groupsOf({{"Cache-Groups", R"("a",)"}, {"Cache-Groups", R"("b")"}}, &t).empty());
    // Alias tokens must be visible ASCII.
    CHECK(groupsOf({{"Surrogate-Key", "ok caf\xc3\xa9"}}, &t) == "ok\n");
    CHECK(t.ignored[int(GroupIgnored::Invalid)] == 1);
}

TEST_CASE("aliases leave the response unless forwarded; Cache-Groups stays") {
    http::HeaderList after;
    groupsOf({{"Cache-Groups", R"("a")"},
              {"Surrogate-Key", "b"},
              {"Cache-Tag", "c"},
              {"XKey", "d"},
              {"Content-Type", "text/html"}},
             nullptr, &after);
    CHECK(after.has("cache-groups"));
    CHECK_FALSE(after.has("surrogate-key"));
    CHECK_FALSE(after.has("cache-tag"));
    CHECK_FALSE(after.has("xkey"));
    CHECK(after.has("content-type"));
    GroupFieldsConfig keep;
    keep.forwardAliases = true;
    groupsOf({{"Surrogate-Key", "b"}}, nullptr, &after, keep);
    CHECK(after.has("surrogate-key"));
    GroupFieldsConfig onlyStandard;
    onlyStandard.fields = {GroupField::CacheGroups};
    CHECK(groupsOf({{"Surrogate-Key", "b"}, {"Cache-Groups", R"("a")"}}, nullptr, &after,
                   onlyStandard) == "a\n");
    CHECK(after.has("surrogate-key")); // not a group field here: left alone
}

TEST_CASE("hostile origins: bounded count and length, counted") {
    std::string many;
    for (int i = 0; i < 300; ++i)
        many += (i ? ", \"g" : "\"g") + std::to_string(i) + "\"";
    GroupTally t;
    const std::string g = groupsOf({{"Cache-Groups", many}}, &t);
    std::size_t n = 0;
    forEachGroup(g, [&](std::string_view x) { n += !x.empty(); });
    CHECK(n == kMaxGroups);
    CHECK(t.ignored[int(GroupIgnored::TooMany)] == 300 - kMaxGroups);
    const std::string longOne(kMaxGroupLength + 1, 'x');
    const std::string justFits(kMaxGroupLength, 'y');
    CHECK(groupsOf({{"xkey", longOne + " " + justFits}}, &t) == justFits + "\n");
    CHECK(t.ignored[int(GroupIgnored::TooLong)] == 1);
    // Every split of a valid field is either a valid list or ignored whole, never a crash.
    const std::string field = R"("a b", "c\"d";x=1, e, ("f" 2))";
    for (std::size_t cut = 0; cut <= field.size(); ++cut) {
        std::vector<std::string> s;
        std::size_t others = 0;
        http::sf::parseStringList(field.substr(0, cut), s, others);
    }
}

TEST_CASE("Cache-Group-Invalidation: unsafe methods, non-error statuses (RFC 9875 §3)") {
    for (const char *m : {"POST", "PUT", "PATCH", "DELETE"}) {
        CHECK(invalidatesGroups(m, 200));
        CHECK(invalidatesGroups(m, 204));
        CHECK(invalidatesGroups(m, 303));
        CHECK_FALSE(invalidatesGroups(m, 404));
        CHECK_FALSE(invalidatesGroups(m, 500));
        CHECK_FALSE(invalidatesGroups(m, 101));
    }
    for (const char *m : {"GET", "HEAD", "OPTIONS", "TRACE"})
        CHECK_FALSE(invalidatesGroups(m, 200));
    http::HeaderList h;
    h.add("Cache-Group-Invalidation", R"("a", "b", "a")");
    std::vector<std::string> out;
    GroupTally t;
    CHECK(invalidationGroups(h, "cache-group-invalidation", out, t));
    CHECK(out == std::vector<std::string>{"a", "b"});
    http::HeaderList tokens; // a valid List, but of tokens: no group
    tokens.add("Cache-Group-Invalidation", "a, b");
    CHECK(invalidationGroups(tokens, "cache-group-invalidation", out, t));
    CHECK(out.empty());
    http::HeaderList bad;
    bad.add("Cache-Group-Invalidation", R"("a" "b")");
    CHECK_FALSE(invalidationGroups(bad, "cache-group-invalidation", out, t));
    CHECK(out.empty());
    CHECK_FALSE(invalidationGroups(http::HeaderList(), "cache-group-invalidation", out, t));
}

TEST_CASE("pages keep their groups in the page format (FCP4 only when they have some)") {
    ManualClock clock;
    Store s(smallStore(), clock);
    ItemRef with = putPage(s, "k1", "http://h/a", "g1\ng2\n");
    ItemRef without = putPage(s, "k2", "http://h/b", "");
    CHECK(with->value().substr(0, 4) == "FCP4");
    CHECK(without->value().substr(0, 4) == "FCP3");
    PageView v;
    REQUIRE(decodePage(with->value(), v));
    CHECK(v.groups == "g1\ng2\n");
    CHECK(v.uri == "http://h/a");
    CHECK(v.body == "xx");
    REQUIRE(decodePage(without->value(), v));
    CHECK(v.groups.empty());
    const std::string bytes(with->value());
    for (std::size_t cut = 0; cut < bytes.size(); ++cut)
        CHECK_FALSE(decodePage(std::string_view(bytes).substr(0, cut), v));
}

TEST_CASE("exact, case-sensitive, host-scoped purges") {
    Fixture f;
    putPage(f.store, "a", "http://one.test/a", "news\n");
    putPage(f.store, "b", "http://one.test/b", "newsx\nNews\n");
    putPage(f.store, "c", "https://one.test/c", "news\nab\n");
    putPage(f.store, "d", "http://two.test/d", "news\n");
    CHECK(f.index.groups() == 5); // news@one, newsx@one, News@one, ab@one, news@two
    CHECK(f.index.entries() == 6);
    CHECK(count(f.index, "news") == 3);
    CHECK(count(f.index, "news", "one.test") == 2);
    CHECK(count(f.index, "new") == 0);
    CHECK(count(f.index, "a") == 0);
    CHECK(f.purge({"a"}) == 0); // "a" never purges "ab"
    CHECK(f.purge({"news"}, "one.test") == 2);
    CHECK(f.store.get("b"));
    CHECK(f.store.get("d"));
    CHECK_FALSE(f.store.get("a"));
    CHECK_FALSE(f.store.get("c"));
    CHECK(f.purge({"NEWS"}) == 0);
    CHECK(f.purge({"news", "News"}) == 2); // d on two.test, b
    CHECK(f.index.groups() == 0);
    CHECK(f.index.entries() == 0);
}

TEST_CASE("a hard purge removes the header keys of the URIs, and reports every key") {
    Fixture f;
    putPage(f.store, "page1", "http://h/x", "g\n");
    std::string hk;
    headerKey(f.policy, "http://h/x", hk);
    f.store.set(hk, "vary", Lifetime{600});
    std::vector<std::string> keys;
    auto r = purgeGroups(f.store, f.index, f.policy, {"g"}, "", false, f.clock.now(), &keys);
    CHECK(r.removed == 1);
    CHECK(keys == std::vector<std::string>{"page1", hk});
    CHECK_FALSE(f.store.get(hk));
}

TEST_CASE("the index follows replacement and delete") {
    Fixture f;
    putPage(f.store, "k", "http://h/p", "old\n");
    CHECK(count(f.index, "old") == 1);
    putPage(f.store, "k", "http://h/p", "new\n"); // the page re-rendered with other groups
    CHECK(count(f.index, "old") == 0);
    CHECK(count(f.index, "new") == 1);
    CHECK(f.purge({"old"}) == 0);
    f.store.set("k", "not a page any more", Lifetime{600});
    CHECK(count(f.index, "new") == 0);
    putPage(f.store, "k", "http://h/p", "new\n");
    CHECK(f.store.remove("k") == DeleteStatus::Deleted);
    CHECK(f.index.entries() == 0);
    CHECK(f.index.groups() == 0);
}

TEST_CASE("the index follows eviction") {
    ManualClock clock;
    GroupIndex index;
    Store store(smallStore(4ull << 20), clock);
    store.setObserver(&index);
    for (int i = 0; i < 400; ++i)
        putPage(store, "k" + std::to_string(i), "http://h/" + std::to_string(i), "all\n", 600, 0,
                40000);
    CHECK(store.stats().evictions > 0);
    CHECK(index.entries() == store.stats().currItems);
    CHECK(count(index, "all") == store.stats().currItems);
    PolicyConfig policy;
    const std::size_t linked = store.stats().currItems;
    CHECK(purgeGroups(store, index, policy, {"all"}, "", false, clock.now()).removed == linked);
    CHECK(store.stats().currItems == 0);
    CHECK(index.entries() == 0);
}

TEST_CASE("expired pages are not purged, and leave the index when reclaimed") {
    Fixture f;
    putPage(f.store, "short", "http://h/s", "g\n", 10);
    putPage(f.store, "long", "http://h/l", "g\n", 1000);
    f.clock.advance(20);
    CHECK(count(f.index, "g") == 2); // still linked, not yet reclaimed
    f.store.reclaimExpired(100000);
    CHECK(count(f.index, "g") == 1);
    CHECK(f.purge({"g"}) == 1);
    putPage(f.store, "short", "http://h/s", "g\n", 10);
    f.clock.advance(20);
    CHECK(f.purge({"g"}) == 0);        // expired: nothing to purge
    CHECK_FALSE(f.store.get("short")); // found dead on access: dropped, and out of the index
    CHECK(f.index.entries() == 0);
}

TEST_CASE("flush_all empties the index; pages stored after it are indexed") {
    Fixture f;
    putPage(f.store, "a", "http://h/a", "g\n");
    putPage(f.store, "b", "http://h/b", "g\n");
    f.store.flushAll(0);
    CHECK(f.index.groups() == 0);
    CHECK(f.index.entries() == 0);
    putPage(f.store, "c", "http://h/c", "g\n");
    CHECK(count(f.index, "g") == 1);
    CHECK_FALSE(f.store.get("a")); // the dead items leave without touching the new entries
    CHECK(count(f.index, "g") == 1);
    CHECK(f.purge({"g"}) == 1);
}

TEST_CASE("soft purge by group: expired with a grace window, removed without") {
    Fixture f;
    f.clock.set(1000);
    putPage(f.store, "soft", "http://h/s", "g\n", 900, 60, 2, 1000);
    putPage(f.store, "hard", "http://h/h", "g\n", 900, 0, 2, 1000);
    f.clock.advance(5);
    auto r = purgeGroups(f.store, f.index, f.policy, {"g"}, "", true, f.clock.now());
    CHECK(r.expired == 1);
    CHECK(r.removed == 1);
    CHECK_FALSE(f.store.get("hard"));
    ItemRef it = f.store.get("soft");
    REQUIRE(it);
    PageView v;
    REQUIRE(decodePage(it->value(), v));
    CHECK_FALSE(v.fresh(f.clock.now()));
    CHECK(v.inGrace(f.clock.now()));
    CHECK(v.groups == "g\n");        // the rewritten page keeps its groups...
    CHECK(count(f.index, "g") == 1); // ...and its place in the index
}

TEST_CASE("a restore from a snapshot rebuilds the index") {
    ManualClock clock;
    std::string file;
    {
        GroupIndex index;
        Store a(smallStore(), clock);
        a.setObserver(&index);
        for (int i = 0; i < 50; ++i)
            putPage(a, "k" + std::to_string(i), "http://h/" + std::to_string(i),
                    i % 2 ? "odd\nall\n" : "even\nall\n");
        a.set("plain", "not a page", Lifetime{600});
        REQUIRE(writeSnapshot(
            a,
            [&](std::string_view b) {
                file.append(b);
                return true;
            },
            clock.now()));
    }
    GroupIndex index;
    Store b(smallStore(), clock);
    b.setObserver(&index);
    SnapshotReader r(b, clock.now());
    REQUIRE(r.feed(file));
    REQUIRE(r.finish());
    CHECK(count(index, "all") == 50);
    CHECK(count(index, "odd", "h") == 25);
    CHECK(index.groups() == 3);
    PolicyConfig policy;
    CHECK(purgeGroups(b, index, policy, {"even"}, "", false, clock.now()).removed == 25);
    CHECK(count(index, "all") == 25);
}

namespace {
// Counts what the store tells its observer.
struct Counting final : LinkObserver {
    int links = 0, unlinks = 0, flushes = 0;
    std::size_t linked(Item &) noexcept override {
        ++links;
        return 100;
    }
    std::size_t unlinked(Item &) noexcept override {
        ++unlinks;
        return 100;
    }
    void flushed(std::uint64_t) noexcept override { ++flushes; }
};
} // namespace

TEST_CASE("a hit never reaches the observer; every link and unlink does") {
    ManualClock clock;
    Counting seen;
    Store s(smallStore(), clock);
    s.setObserver(&seen);
    const std::uint64_t empty = s.memoryUsed();
    putPage(s, "k", "http://h/p", "g\n");
    CHECK(seen.links == 1);
    const std::uint64_t one = s.memoryUsed();
    CHECK(one == empty + Store::itemFootprint(1, s.get("k")->valueLen) + 100); // charged
    for (int i = 0; i < 100; ++i) // hits, gets without a bump, a touch
        CHECK(s.get("k"));
    Store::GetOptions quiet;
    quiet.bump = false;
    CHECK(s.lookup("k", quiet));
    CHECK(s.touch("k", 600) == TouchStatus::Touched);
    CHECK(s.get("missing").get() == nullptr);
    CHECK(seen.links == 1);
    CHECK(seen.unlinks == 0);
    putPage(s, "k", "http://h/p", "g\n"); // replaced: the old one unlinked, the new linked
    CHECK(seen.links == 2);
    CHECK(seen.unlinks == 1);
    s.flushAll(0);
    CHECK(seen.flushes == 1);
    CHECK_FALSE(s.get("k")); // found dead: unlinked
    CHECK(seen.unlinks == 2);
    CHECK(s.memoryUsed() == empty); // every charge given back
}

TEST_CASE("the index counts against the store's memory: a hostile origin cannot outgrow it") {
    ManualClock clock;
    GroupIndex index;
    Store store(smallStore(4ull << 20), clock);
    store.setObserver(&index);
    // Small pages with 128 long groups each: the index would be many times the pages' size.
    std::string groups;
    for (std::size_t g = 0; g < kMaxGroups; ++g)
        groups += "group-" + std::string(200, 'x') + std::to_string(g) + "\n";
    for (int i = 0; i < 2000; ++i)
        putPage(store, "k" + std::to_string(i), "http://h/" + std::to_string(i), groups);
    CHECK(store.stats().evictions > 0);
    CHECK(store.memoryUsed() <= 4ull << 20);
    const std::size_t pages = store.stats().currItems;
    CHECK(index.entries() == pages * kMaxGroups);
    CHECK(count(index, "group-" + std::string(200, 'x') + "7") == pages);
}

TEST_CASE("top lists the largest groups first") {
    Fixture f;
    for (int i = 0; i < 5; ++i)
        putPage(f.store, "a" + std::to_string(i), "http://h/a" + std::to_string(i), "big\n");
    putPage(f.store, "s", "http://h/s", "small\n");
    auto top = f.index.top(1);
    REQUIRE(top.size() == 1);
    CHECK(top[0].group == "big");
    CHECK(top[0].host == "h");
    CHECK(top[0].pages == 5);
    CHECK(f.index.top(100).size() == 2);
}

TEST_CASE("stores, evictions and purges from several threads keep the index true") {
    ManualClock clock;
    GroupIndex index;
    Store store(smallStore(2ull << 20), clock);
    store.setObserver(&index);
    PolicyConfig policy;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 500; ++i) {
                putPage(store, "k" + std::to_string(t) + "-" + std::to_string(i % 60),
                        "http://h/" + std::to_string(i), "g" + std::to_string(i % 3) + "\nall\n",
                        600, 0, 20000);
                if (i % 50 == 0)
                    purgeGroups(store, index, policy, {"g1"}, "", false, clock.now());
            }
        });
    for (auto &th : threads)
        th.join();
    std::size_t linked = store.stats().currItems;
    CHECK(count(index, "all") == linked);
    purgeGroups(store, index, policy, {"all"}, "", false, clock.now());
    CHECK(store.stats().currItems == 0);
    CHECK(index.entries() == 0);
    CHECK(index.groups() == 0);
}

TEST_CASE("hosts: matched in lower case; many made-up hosts are each one lookup; a long one is not "
          "indexed") {
    Fixture f;
    putPage(f.store, "a", "http://Shop.Example.COM/a", "g\n");
    CHECK(count(f.index, "g", "shop.example.com") == 1);
    CHECK(count(f.index, "g", "SHOP.example.com") == 1);
    for (int i = 0; i < 2000; ++i) // a client inventing Hosts for one popular group
        putPage(f.store, "x" + std::to_string(i),
                "http://shop.example.com:" + std::to_string(i) + "/a", "g\n");
    CHECK(count(f.index, "g", "shop.example.com:77") == 1);
    CHECK(f.index.groups() == 2001);
    const std::string longHost(300, 'h');
    putPage(f.store, "long", "http://" + longHost + "/a", "g\n");
    CHECK(f.store.get("long"));
    CHECK(count(f.index, "g", longHost) == 0);
    CHECK(f.index.groups() == 2001);
    CHECK(f.purge({"g"}, "shop.example.com") == 1);
}

namespace {
// Links a page from inside flush_all's notification, as another thread storing at that moment
// would: it comes after the flush, so it lives and must stay indexed.
struct StoreDuringFlush final : LinkObserver {
    GroupIndex &index;
    Store *store = nullptr;
    bool storing = false;
    explicit StoreDuringFlush(GroupIndex &ix) : index(ix) {}
    std::size_t linked(Item &it) noexcept override { return index.linked(it); }
    std::size_t unlinked(Item &it) noexcept override { return index.unlinked(it); }
    void flushed(std::uint64_t cas) noexcept override {
        if (!storing) {
            storing = true;
            putPage(*store, "late", "http://h/late", "g\n");
        }
        index.flushed(cas);
    }
};
} // namespace

TEST_CASE("flush_all racing a store keeps the page stored after it in the index") {
    ManualClock clock;
    GroupIndex index;
    StoreDuringFlush observer(index);
    Store store{smallStore(), clock};
    observer.store = &store;
    store.setObserver(&observer);
    putPage(store, "early", "http://h/early", "g\n");
    store.flushAll(0);
    CHECK(store.get("late"));
    CHECK_FALSE(store.get("early"));
    CHECK(count(index, "g") == 1);
    PolicyConfig policy;
    CHECK(purgeGroups(store, index, policy, {"g"}, {}, false, clock.now()).removed == 1);
    CHECK_FALSE(store.get("late"));
}

TEST_CASE(
    "purges are remembered for the cluster's copies: by host, every host, and when forgotten") {
    GroupIndex ix;
    CHECK_FALSE(ix.purgedSince("a\n", "http://h/x", 100));
    ix.notePurged("a", "H", 100); // hosts in lower case
    CHECK(ix.purgedSince("b\na\n", "http://h/x", 99));
    CHECK_FALSE(ix.purgedSince("a\n", "http://h/x", 100)); // stored in the purge's second
    CHECK_FALSE(ix.purgedSince("a\n", "http://other/x", 50));
    CHECK_FALSE(ix.purgedSince("ab\n", "http://h/x", 50)); // exact names
    CHECK_FALSE(ix.purgedSince("", "http://h/x", 50));     // no groups, nothing to say
    ix.notePurged("b", "", 200);                           // every host
    CHECK(ix.purgedSince("b\n", "http://other/x", 150));
    // Past the cap, forgotten for one time: every page with groups stored before it is purged.
    for (std::size_t i = 0; i <= GroupIndex::kMaxTombstones; ++i)
        ix.notePurged("g" + std::to_string(i), "h", 300);
    CHECK(ix.purgedSince("unrelated\n", "http://h/x", 299));
    CHECK_FALSE(ix.purgedSince("unrelated\n", "http://h/x", 300));
}
