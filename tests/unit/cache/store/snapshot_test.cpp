#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "cache/store/snapshot.h"
#include "cache/store/store.h"

using namespace fc::cache;

namespace {
StoreConfig cfg(std::uint64_t mem = 16 << 20) {
    StoreConfig c;
    c.memoryLimit = mem;
    c.shardBits = 2;
    return c;
}

std::string snapshotOf(Store &s, std::int64_t now, SnapshotCounts *counts = nullptr) {
    std::string file;
    REQUIRE(writeSnapshot(
        s,
        [&](std::string_view b) {
            file.append(b);
            return true;
        },
        now, counts));
    return file;
}

std::string value(Store &s, std::string_view key) {
    ItemRef it = s.get(key);
    return it ? std::string(it->value()) : "<miss>";
}

// Fills a store with items of several sizes, flags and expiries.
void fill(Store &s, int n) {
    for (int i = 0; i < n; ++i) {
        std::string key = "key:" + std::to_string(i);
        std::string v(static_cast<std::size_t>(i * 37 % 3000), static_cast<char>('a' + i % 26));
        ItemRef it = s.allocate(key, static_cast<std::uint32_t>(i), i % 3 == 0 ? 0 : 1000 + i,
                                static_cast<std::uint32_t>(v.size()));
        REQUIRE(it);
        std::memcpy(it->valueData(), v.data(), v.size());
        REQUIRE(s.store(StoreMode::Set, it) == StoreStatus::Stored);
    }
}
} // namespace

TEST_CASE("a snapshot restores every live item with its flags, value and absolute expiry") {
    ManualClock clock;
    Store a(cfg(), clock);
    fill(a, 2000); // several blocks: 2000 items of up to 3 KB
    a.set("gone", "x", 5);
    clock.advance(10); // "gone" expires before the snapshot
    SnapshotCounts wrote;
    std::string file = snapshotOf(a, clock.now(), &wrote);
    CHECK(wrote.items == 2000);
    CHECK(wrote.fileBytes == file.size());
    CHECK(file.size() > 2 * kSnapshotBlockBytes);

    clock.advance(100); // the restart took 100 s: expiry stays absolute
    Store b(cfg(), clock);
    SnapshotReader r(b, clock.now());
    REQUIRE(r.feed(file));
    REQUIRE(r.finish());
    CHECK(r.counts().items == 2000);
    CHECK(r.counts().expired == 0);
    CHECK(r.created() == clock.now() - 100);
    for (int i = 0; i < 2000; ++i) {
        std::string key = "key:" + std::to_string(i);
        ItemRef x = a.get(key), y = b.get(key);
        REQUIRE(y);
        CHECK(y->value() == x->value());
        CHECK(y->flags == x->flags);
        CHECK(b.absoluteExpiry(*y) == a.absoluteExpiry(*x));
    }
    CHECK(value(b, "gone") == "<miss>");
    // Expiry still counts from the original times: 1000+i seconds after the first store.
    clock.advance(1000 + 2000 - 110);
    CHECK(value(b, "key:1") == "<miss>");
    CHECK(value(b, "key:0") != "<miss>"); // never expires
}

TEST_CASE("items past their expiry at restore are dropped and counted") {
    ManualClock clock;
    Store a(cfg(), clock);
    a.set("short", "1", 30);
    a.set("long", "2", 3000);
    std::string file = snapshotOf(a, clock.now());
    clock.advance(60);
    Store b(cfg(), clock);
    SnapshotReader r(b, clock.now());
    REQUIRE(r.feed(file));
    REQUIRE(r.finish());
    CHECK(r.counts().items == 1);
    CHECK(r.counts().expired == 1);
    CHECK(value(b, "long") == "2");
    CHECK(value(b, "short") == "<miss>");
}

TEST_CASE("the reader accepts the file split at every byte") {
    ManualClock clock;
    Store a(cfg(), clock);
    a.set("a", "alpha", 0);
    a.set("b", std::string(300, 'b'), 500);
    a.set("c", "", 0);
    std::string file = snapshotOf(a, clock.now());
    for (std::size_t cut = 0; cut <= file.size(); ++cut) {
        Store b(cfg(), clock);
        SnapshotReader r(b, clock.now());
        REQUIRE(r.feed(std::string_view(file).substr(0, cut)));
        REQUIRE(r.feed(std::string_view(file).substr(cut)));
        REQUIRE(r.finish());
        CHECK(value(b, "a") == "alpha");
        CHECK(value(b, "b") == std::string(300, 'b'));
        CHECK(value(b, "c") == "");
    }
    // and one byte at a time
    Store b(cfg(), clock);
    SnapshotReader r(b, clock.now());
    for (char ch : file)
        REQUIRE(r.feed(std::string_view(&ch, 1)));
    CHECK(r.finish());
    CHECK(r.counts().items == 3);
}

TEST_CASE("a truncated snapshot is rejected at every length") {
    ManualClock clock;
    Store a(cfg(), clock);
    fill(a, 40);
    std::string file = snapshotOf(a, clock.now());
    for (std::size_t len = 0; len < file.size(); ++len) {
        Store b(cfg(), clock);
        SnapshotReader r(b, clock.now());
        r.feed(std::string_view(file).substr(0, len));
        CHECK_FALSE(r.finish());
        CHECK(!r.error().empty());
    }
    Store b(cfg(), clock);
    SnapshotReader empty(b, clock.now());
    CHECK_FALSE(empty.finish());
    CHECK(empty.error() == "empty file");
}

TEST_CASE("a flipped byte anywhere is found") {
    ManualClock clock;
    Store a(cfg(), clock);
    fill(a, 40);
    std::string file = snapshotOf(a, clock.now());
    for (std::size_t at = 0; at < file.size(); ++at) {
        std::string bad = file;
        bad[at] = static_cast<char>(bad[at] ^ 0x20);
        Store b(cfg(), clock);
        SnapshotReader r(b, clock.now());
        bool fed = r.feed(bad);
        bool ok = fed && r.finish();
        INFO("byte " << at);
        CHECK_FALSE(ok);
    }
}

TEST_CASE("another version, trailing bytes and a missing block are refused") {
    ManualClock clock;
    Store a(cfg(), clock);
    fill(a, 3000);
    std::string file = snapshotOf(a, clock.now());
    {
        std::string v2 = file;
        v2[8] = 2; // version 2, header hash recomputed would still be a different version:
        Store b(cfg(), clock);
        SnapshotReader r(b, clock.now());
        CHECK_FALSE(r.feed(v2)); // the header hash catches it first
    }
    {
        Store b(cfg(), clock);
        SnapshotReader r(b, clock.now());
        CHECK_FALSE(r.feed(file + "x"));
        CHECK(r.error() == "bytes after the end record");
    }
    {
        // Cut out the second block whole: every block is valid, the end record is not.
        std::size_t first = kSnapshotHeaderSize;
        auto blockLen = [&](std::size_t at) {
            std::uint64_t len = 0;
            for (int i = 0; i < 8; ++i)
                len |= std::uint64_t(static_cast<unsigned char>(file[at + 8 + i])) << (8 * i);
            return kSnapshotBlockHeaderSize + len;
        };
        std::size_t second = first + blockLen(first);
        std::string missing = file.substr(0, second) + file.substr(second + blockLen(second));
        Store b(cfg(), clock);
        SnapshotReader r(b, clock.now());
        CHECK_FALSE(r.feed(missing));
        CHECK(r.error().find("end record") != std::string::npos);
    }
}

TEST_CASE("items larger than the new store accepts are skipped, not fatal") {
    ManualClock clock;
    Store a(cfg(), clock);
    a.set("big", std::string(200000, 'x'), 0);
    a.set("small", "s", 0);
    std::string file = snapshotOf(a, clock.now());
    StoreConfig c = cfg();
    c.itemSizeMax = 100000;
    Store b(c, clock);
    SnapshotReader r(b, clock.now());
    REQUIRE(r.feed(file));
    REQUIRE(r.finish());
    CHECK(r.counts().refused == 1);
    CHECK(value(b, "small") == "s");
}

TEST_CASE("a snapshot taken while other threads write is a consistent file") {
    ManualClock clock;
    Store a(cfg(64 << 20), clock);
    fill(a, 5000);
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        int i = 0;
        while (!stop.load())
            a.set("w:" + std::to_string(i++ % 20000), std::string(100, 'w'), 0);
    });
    std::string file = snapshotOf(a, clock.now());
    stop = true;
    writer.join();
    Store b(cfg(64 << 20), clock);
    SnapshotReader r(b, clock.now());
    REQUIRE(r.feed(file));
    REQUIRE(r.finish());
    CHECK(r.counts().items >= 5000);
    CHECK(value(b, "key:4999") == value(a, "key:4999"));
}
