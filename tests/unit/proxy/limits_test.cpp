#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "proxy/limits.h"

using fc::config::LimitClass;
using fc::config::LimitsConfig;
using fc::proxy::ClientBudget;

namespace {
LimitsConfig limits(double rate, unsigned burst) {
    LimitsConfig c;
    c.rate = rate;
    c.burst = burst;
    return c;
}
// How many of `n` requests at `nowUs` are allowed.
int allowed(ClientBudget &b, const LimitsConfig &c, std::string_view client, int n,
            std::int64_t nowUs, std::string_view ua = {}) {
    int ok = 0;
    for (int i = 0; i < n; ++i)
        ok += b.check(c, client, ua, nowUs).over ? 0 : 1;
    return ok;
}
constexpr std::int64_t kSecond = 1'000'000;
} // namespace

TEST_CASE("a burst at once, then the rate: GCRA with the time given") {
    ClientBudget b;
    const auto c = limits(2, 5); // 2 per second, 5 at once
    const std::int64_t t0 = 1000 * kSecond;
    CHECK(allowed(b, c, "10.0.0.1", 10, t0) == 5);
    auto v = b.check(c, "10.0.0.1", {}, t0);
    CHECK(v.over);
    CHECK(v.cls == 0);
    CHECK(v.retryAfterMs == 500); // the next one is allowed half a second later
    CHECK(allowed(b, c, "10.0.0.1", 10, t0 + kSecond / 2) == 1);
    CHECK(allowed(b, c, "10.0.0.1", 10, t0 + kSecond / 2 + kSecond) == 2); // 2 per second
    // Idle for a while: the bucket is full again, but never more than the burst.
    CHECK(allowed(b, c, "10.0.0.1", 100, t0 + 3600 * kSecond) == 5);
    // Another client has its own budget.
    CHECK(allowed(b, c, "10.0.0.2", 10, t0) == 5);
}

TEST_CASE("IPv6 clients are counted by /64; the allow-list is never limited") {
    ClientBudget b;
    auto c = limits(1, 2);
    const std::int64_t t0 = 1000 * kSecond;
    CHECK(allowed(b, c, "2001:db8:1:2::1", 1, t0) == 1);
    CHECK(allowed(b, c, "2001:db8:1:2:ffff::9", 5, t0) == 1); // the same /64
    CHECK(allowed(b, c, "2001:db8:1:3::1", 5, t0) == 2);      // another one
    c.allow = {*fc::AddressBlock::parse("192.0.2.0/24")};
    CHECK(allowed(b, c, "192.0.2.7", 100, t0) == 100);
    CHECK(b.check(c, "192.0.2.7", {}, t0).cls == -1);
}

TEST_CASE("classes by User-Agent: the first pattern that matches, in lower case") {
    ClientBudget b;
    auto c = limits(10, 10);
    LimitClass bots;
    bots.name = "crawlers";
    bots.userAgents = {"*bot*", "*spider*"};
    bots.rate = 1;
    bots.burst = 2;
    LimitClass monitors;
    monitors.name = "monitors";
    monitors.userAgents = {"uptime*"};
    monitors.rate = 0; // unlimited
    c.classes = {bots, monitors};
    const std::int64_t t0 = 1000 * kSecond;
    CHECK(allowed(b, c, "10.0.0.1", 10, t0, "Mozilla/5.0 (compatible; Googlebot/2.1)") == 2);
    CHECK(b.check(c, "10.0.0.1", "SomeSPIDER", t0).cls == 1);
    CHECK(ClientBudget::className(c, 1) == "crawlers");
    CHECK(ClientBudget::className(c, 0) == "default");
    // The same address as a browser is another budget (its own class).
    CHECK(allowed(b, c, "10.0.0.1", 20, t0, "Mozilla/5.0 Firefox/120") == 10);
    CHECK(allowed(b, c, "10.0.0.1", 50, t0, "Uptime-Kuma/1.0") == 50);
    // "UptimeRobot" is a crawler here: "*bot*" comes first.
    CHECK(b.check(c, "10.0.0.1", "UptimeRobot/2.0", t0).cls == 1);
}

TEST_CASE("the budget holds exactly across threads (one cell, compare-and-swap)") {
    // Many rounds, each a fresh client racing for its first cell from eight threads: two threads
    // of one client must never claim two cells (two budgets).
    ClientBudget b;
    const auto c = limits(1, 20);
    const std::int64_t t0 = 1000 * kSecond;
    for (int round = 0; round < 200; ++round) {
        const std::string client =
            "10.9." + std::to_string(round / 250) + "." + std::to_string(round % 250);
        std::atomic<int> ok{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t)
            threads.emplace_back([&] { ok += allowed(b, c, client, 50, t0); });
        for (auto &t : threads)
            t.join();
        CHECK(ok.load() == 20);
    }
}

TEST_CASE("a flood of addresses makes the table forget, never limit a stranger") {
    ClientBudget b;
    const auto c = limits(1, 3);
    const std::int64_t t0 = 1000 * kSecond;
    CHECK(allowed(b, c, "10.0.0.1", 3, t0) == 3);
    // Far more addresses than cells, all over their budget at the same moment.
    for (std::uint32_t i = 0; i < 3 * ClientBudget::kCells; ++i) {
        const std::string a = "172." + std::to_string(16 + (i >> 16) % 16) + "." +
                              std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255);
        b.check(c, a, {}, t0);
    }
    // A client never seen before still gets its whole burst.
    CHECK(allowed(b, c, "198.51.100.1", 3, t0) == 3);
}

TEST_CASE("IPv4-mapped addresses are their IPv4 address, not one shared /64") {
    ClientBudget b;
    const auto c = limits(1, 2);
    const std::int64_t t0 = 1000 * kSecond;
    CHECK(allowed(b, c, "::ffff:198.51.100.1", 5, t0) == 2);
    CHECK(allowed(b, c, "198.51.100.1", 5, t0) == 0);        // the same client
    CHECK(allowed(b, c, "::ffff:198.51.100.2", 5, t0) == 2); // another one
}

TEST_CASE("a limited client keeps its bucket when a cell before it frees up") {
    // Many clients at once fill neighbourhoods; as the others go idle, a limited client must
    // not find a fresh bucket in a freed cell ahead of its own.
    ClientBudget b;
    const auto c = limits(1, 2);
    std::int64_t t = 1000 * kSecond;
    for (int i = 0; i < 200000; ++i)
        b.check(c,
                "10." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) + "." +
                    std::to_string(i & 255),
                {}, t);
    CHECK(allowed(b, c, "203.0.113.5", 2, t) == 2);
    // Half a second later: still spent.
    CHECK(allowed(b, c, "203.0.113.5", 5, t + kSecond / 2) == 0);
    // A second and a half later every other client's bucket is full again (idle cells all
    // around); this one has earned exactly one request back, not a fresh burst.
    CHECK(allowed(b, c, "203.0.113.5", 5, t + kSecond * 3 / 2) == 1);
}
