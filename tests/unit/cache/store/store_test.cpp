#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "cache/store/store.h"

using namespace fc::cache;

namespace {
StoreStatus put(Store &s, std::string_view key, std::string_view value, std::int64_t exptime = 0,
                StoreMode mode = StoreMode::Set, std::uint32_t flags = 0, std::uint64_t cas = 0,
                std::uint64_t *casOut = nullptr) {
    ItemRef it = s.allocate(key, flags, exptime, static_cast<std::uint32_t>(value.size()));
    if (!it)
        return StoreStatus::TooLarge;
    std::memcpy(it->valueData(), value.data(), value.size());
    return s.store(mode, it, cas, casOut);
}
std::string value(Store &s, std::string_view key) {
    ItemRef it = s.get(key);
    return it ? std::string(it->value()) : "<miss>";
}
StoreConfig small(std::uint64_t mem = 1 << 20) {
    StoreConfig c;
    c.memoryLimit = mem;
    c.shardBits = 2;
    return c;
}
} // namespace

TEST_CASE("set copies the value and links the item") {
    ManualClock clock;
    Store s(small(), clock);
    std::string v = "value";
    ItemRef it = s.set("k", v, 10);
    REQUIRE(it);
    v[0] = 'X'; // a copy, not a view of the caller's bytes
    CHECK(value(s, "k") == "value");
    CHECK(s.set("empty", "", 0));
    CHECK(value(s, "empty") == "");
    clock.advance(11);
    CHECK(value(s, "k") == "<miss>");
    CHECK_FALSE(s.set("big", std::string(2 << 20, 'b'), 0)); // over item_size_max
}

TEST_CASE("keys") {
    CHECK(validKey("a"));
    CHECK(validKey(std::string(250, 'k')));
    CHECK_FALSE(validKey(std::string(251, 'k')));
    CHECK_FALSE(validKey(""));
    CHECK_FALSE(validKey("has space"));
    CHECK_FALSE(validKey("ctl\x01"));
    CHECK_FALSE(validKey("nl\n"));
}

TEST_CASE("set, get, overwrite, flags, CAS changes on every modification") {
    ManualClock clock;
    Store s(small(), clock);
    std::uint64_t c1 = 0, c2 = 0;
    CHECK(put(s, "k", "v1", 0, StoreMode::Set, 42, 0, &c1) == StoreStatus::Stored);
    ItemRef a = s.get("k");
    REQUIRE(a);
    CHECK(a->value() == "v1");
    CHECK(a->flags == 42);
    CHECK(a->cas.load() == c1);
    CHECK(put(s, "k", "v2", 0, StoreMode::Set, 0, 0, &c2) == StoreStatus::Stored);
    CHECK(c2 != c1);
    CHECK(value(s, "k") == "v2");
    // The old item is still intact for whoever holds it.
    CHECK(a->value() == "v1");
    CHECK(value(s, "nope") == "<miss>");
}

TEST_CASE("add, replace, append, prepend") {
    ManualClock clock;
    Store s(small(), clock);
    CHECK(put(s, "k", "x", 0, StoreMode::Replace) == StoreStatus::NotStored);
    CHECK(put(s, "k", "x", 0, StoreMode::Append) == StoreStatus::NotStored);
    CHECK(put(s, "k", "mid", 0, StoreMode::Add, 7) == StoreStatus::Stored);
    CHECK(put(s, "k", "other", 0, StoreMode::Add) == StoreStatus::NotStored);
    CHECK(put(s, "k", "<", 0, StoreMode::Prepend, 99) == StoreStatus::Stored);
    CHECK(put(s, "k", ">", 0, StoreMode::Append) == StoreStatus::Stored);
    CHECK(value(s, "k") == "<mid>");
    CHECK(s.get("k")->flags == 7); // append/prepend keep the original flags
    CHECK(put(s, "k", "new", 0, StoreMode::Replace) == StoreStatus::Stored);
    CHECK(value(s, "k") == "new");
}

TEST_CASE("cas") {
    ManualClock clock;
    Store s(small(), clock);
    CHECK(put(s, "k", "a", 0, StoreMode::Set, 0, 12345) == StoreStatus::NotFound);
    std::uint64_t c = 0;
    put(s, "k", "a", 0, StoreMode::Set, 0, 0, &c);
    CHECK(put(s, "k", "b", 0, StoreMode::Set, 0, c + 1) == StoreStatus::Exists);
    CHECK(put(s, "k", "b", 0, StoreMode::Set, 0, c) == StoreStatus::Stored);
    CHECK(put(s, "k", "c", 0, StoreMode::Set, 0, c) == StoreStatus::Exists);
    CHECK(value(s, "k") == "b");
    auto st = s.stats();
    CHECK(st.casHits == 1);
    CHECK(st.casBadval == 2);
    CHECK(st.casMisses == 1);
}

TEST_CASE("expiry: relative, absolute, negative, never — with an injected clock") {
    ManualClock clock(1'800'000'000);
    Store s(small(), clock);
    put(s, "rel", "v", 10);
    put(s, "abs", "v", clock.now() + 100);
    put(s, "past", "v", clock.now() - 100);
    put(s, "neg", "v", -1);
    put(s, "never", "v", 0);
    CHECK(value(s, "past") == "<miss>");
    CHECK(value(s, "neg") == "<miss>");
    CHECK(s.ttlRemaining(*s.get("rel")) == 10);
    CHECK(s.ttlRemaining(*s.get("never")) == -1);
    clock.advance(9);
    CHECK(value(s, "rel") == "v");
    clock.advance(1);
    CHECK(value(s, "rel") == "<miss>"); // expires when exptime <= now
    clock.advance(89);
    CHECK(value(s, "abs") == "v");
    clock.advance(1);
    CHECK(value(s, "abs") == "<miss>");
    clock.advance(100000000);
    CHECK(value(s, "never") == "v");
    CHECK(s.stats().getExpired >= 2);
}

TEST_CASE("touch and get-and-touch") {
    ManualClock clock;
    Store s(small(), clock);
    put(s, "k", "v", 5);
    CHECK(s.touch("k", 100) == TouchStatus::Touched);
    CHECK(s.touch("missing", 1) == TouchStatus::NotFound);
    clock.advance(50);
    CHECK(value(s, "k") == "v");
    Store::GetOptions o;
    o.touch = true;
    o.exptime = 1;
    CHECK(s.lookup("k", o));
    clock.advance(1);
    CHECK(value(s, "k") == "<miss>");
}

TEST_CASE("delete") {
    ManualClock clock;
    Store s(small(), clock);
    put(s, "k", "v");
    CHECK(s.remove("k") == DeleteStatus::Deleted);
    CHECK(s.remove("k") == DeleteStatus::NotFound);
    CHECK(value(s, "k") == "<miss>");
}

TEST_CASE("incr/decr: 64-bit, wraps on incr, floors at 0 on decr, non-numeric") {
    ManualClock clock;
    Store s(small(), clock);
    std::uint64_t r = 0;
    CHECK(s.arithmetic("n", true, 1, &r) == ArithStatus::NotFound);
    put(s, "n", "10");
    CHECK(s.arithmetic("n", true, 5, &r) == ArithStatus::Ok);
    CHECK(r == 15);
    CHECK(s.arithmetic("n", false, 100, &r) == ArithStatus::Ok);
    CHECK(r == 0);
    put(s, "n", "18446744073709551615");
    CHECK(s.arithmetic("n", true, 2, &r) == ArithStatus::Ok);
    CHECK(r == 1);
    CHECK(value(s, "n") == "1" + std::string(19, ' ')); // memcached: in place, space-padded
    put(s, "t", "abc");
    CHECK(s.arithmetic("t", true, 1, &r) == ArithStatus::NonNumeric);
    CHECK(s.arithmetic("auto", true, 1, &r, 0, nullptr, true, 40) == ArithStatus::Ok);
    CHECK(r == 40); // auto-created with the initial value (ma N J)
}

TEST_CASE("flush_all, immediate and delayed") {
    ManualClock clock;
    Store s(small(), clock);
    put(s, "a", "1");
    s.flushAll(0);
    CHECK(value(s, "a") == "<miss>");
    put(s, "b", "2"); // stored in the same second, after the flush: alive
    CHECK(value(s, "b") == "2");
    s.flushAll(10);
    clock.advance(9);
    CHECK(value(s, "b") == "2");
    clock.advance(1);
    CHECK(value(s, "b") == "<miss>");
    put(s, "c", "3");
    CHECK(value(s, "c") == "3");
}

TEST_CASE("values above item_size_max are refused") {
    ManualClock clock;
    StoreConfig c = small();
    c.itemSizeMax = 1000;
    Store s(c, clock);
    CHECK_FALSE(s.allocate("k", 0, 0, 1001));
    CHECK(s.allocate("k", 0, 0, 1000));
    put(s, "k", std::string(600, 'a'));
    CHECK(put(s, "k", std::string(600, 'b'), 0, StoreMode::Append) == StoreStatus::TooLarge);
}

TEST_CASE("memory limit counts keys, values and overhead; full store evicts, never fails") {
    ManualClock clock;
    Store s(small(1 << 20), clock);
    std::string v(1000, 'x');
    for (int i = 0; i < 5000; ++i)
        REQUIRE(put(s, "key:" + std::to_string(i), v) == StoreStatus::Stored);
    auto st = s.stats();
    CHECK(st.bytes <= (1u << 20));
    CHECK(st.evictions > 0);
    CHECK(st.currItems * Store::itemFootprint(8, 1000) <= (1u << 20) + 4096);
    CHECK(st.currItems > 800);
    CHECK(st.totalItems == 5000);
    // per-item overhead: at most 64 bytes plus the key
    CHECK(Store::itemFootprint(10, 0) <= 64 + 10 + 16);
    CHECK(sizeof(Item) <= 64);
}

TEST_CASE("S3-FIFO keeps a frequently read key through a scan of one-hit wonders") {
    ManualClock clock;
    Store s(small(256 * 1024), clock);
    put(s, "hot", std::string(100, 'h'));
    for (int i = 0; i < 20000; ++i) {
        s.get("hot");
        put(s, "scan:" + std::to_string(i), std::string(100, 's'));
    }
    CHECK(value(s, "hot").size() == 100);
}

TEST_CASE("LRU policy also works") {
    ManualClock clock;
    StoreConfig c = small(256 * 1024);
    c.policy = EvictionPolicy::Lru;
    Store s(c, clock);
    for (int i = 0; i < 10000; ++i)
        put(s, "k" + std::to_string(i), std::string(100, 'v'));
    CHECK(value(s, "k9999").size() == 100);
    CHECK(value(s, "k0") == "<miss>");
    CHECK(s.stats().bytes <= 256 * 1024);
}

TEST_CASE("expired items are reclaimed incrementally without a request touching them") {
    ManualClock clock;
    Store s(small(), clock);
    for (int i = 0; i < 1000; ++i)
        put(s, "e" + std::to_string(i), "v", 5);
    clock.advance(10);
    std::size_t freed = 0;
    for (int round = 0; round < 100 && freed < 1000; ++round)
        freed += s.reclaimExpired(256);
    CHECK(freed == 1000);
    CHECK(s.stats().currItems == 0);
    CHECK(s.stats().expiredUnfetched == 1000);
    CHECK(s.memoryUsed() == 0);
}

TEST_CASE("meta: vivify on miss, stale marking and the win token") {
    ManualClock clock;
    Store s(small(), clock);
    Store::GetOptions o;
    o.vivify = true;
    o.vivifyExptime = 30;
    LookupInfo info;
    ItemRef it = s.lookup("v", o, &info);
    REQUIRE(it);
    CHECK(info.won);
    CHECK(it->valueLen == 0);
    it.reset();
    s.lookup("v", o, &info);
    CHECK_FALSE(info.won);
    CHECK(info.wonAlreadySent);
    put(s, "k", "data");
    CHECK(s.invalidate("k", 0, false, 0) == DeleteStatus::Deleted);
    s.lookup("k", {}, &info);
    CHECK(info.stale);
    CHECK(info.won);
    s.lookup("k", {}, &info);
    CHECK(info.stale);
    CHECK_FALSE(info.won);
}

TEST_CASE("concurrent readers and writers keep every value intact") {
    SystemClock clock;
    Store s(small(4 << 20), clock);
    std::vector<std::thread> threads;
    std::atomic<int> bad{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 20000; ++i) {
                std::string key = "k" + std::to_string(i % 500);
                if ((i + t) % 3 == 0) {
                    std::string v(200 + i % 50, static_cast<char>('a' + i % 26));
                    put(s, key, v);
                } else if (ItemRef it = s.get(key)) {
                    auto val = it->value();
                    for (char ch : val)
                        if (ch != val[0])
                            ++bad;
                }
            }
        });
    }
    for (auto &th : threads)
        th.join();
    CHECK(bad == 0);
}

TEST_CASE("a lifetime of any length is seconds from now; a memcached exptime that long is a date") {
    ManualClock clock(1'800'000'000);
    Store s(small(), clock);
    const std::int64_t tenYears = 10LL * 365 * 86400; // WhiteNoise's max-age for hashed files
    REQUIRE(s.set("page", "v", Lifetime{tenYears}));
    REQUIRE(s.set("mc", "v", tenYears)); // memcached: beyond 30 days, an absolute time (1979)
    CHECK(s.get("page"));
    CHECK_FALSE(s.get("mc"));
    ItemRef page = s.get("page");
    REQUIRE(page);
    CHECK(s.ttlRemaining(*page) == tenYears);
    ItemRef big = s.allocate("big", 0, Lifetime{tenYears}, 1);
    REQUIRE(big);
    CHECK(s.store(StoreMode::Set, big) == StoreStatus::Stored);
    clock.advance(tenYears - 1);
    CHECK(s.get("page"));
    CHECK(s.get("big"));
    clock.advance(1);
    CHECK_FALSE(s.get("page"));
    // Zero or negative: already expired (never "forever", as memcached's 0 is).
    REQUIRE(s.set("gone", "v", Lifetime{0}));
    CHECK_FALSE(s.get("gone"));
    // Beyond what the store's clock holds: kept as long as it can be.
    REQUIRE(s.set("far", "v", Lifetime{INT64_MAX / 2}));
    CHECK(s.get("far"));
    REQUIRE(s.set("farthest", "v", Lifetime{INT64_MAX}));
    CHECK(s.get("farthest"));
}
