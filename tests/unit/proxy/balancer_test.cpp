#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <cstring>
#include <map>
#include <thread>
#include <vector>

#include "common/log.h"
#include "proxy/balancer.h"

using fc::config::Millis;
using fc::config::UpstreamConfig;
using fc::proxy::Balancer;
using fc::proxy::UpstreamTarget;

namespace {

std::vector<UpstreamTarget> targets(int n) {
    std::vector<UpstreamTarget> v(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        v[static_cast<std::size_t>(i)].display = "http://10.0.0." + std::to_string(i + 1) + ":80";
    return v;
}

UpstreamConfig config(unsigned maxFails = 3, Millis failTimeout = Millis(1000),
                      UpstreamConfig::Balance b = UpstreamConfig::Balance::RoundRobin) {
    fc::common::setLogLevel(fc::common::LogLevel::Error); // marks are logged as warnings
    UpstreamConfig c;
    c.maxFails = maxFails;
    c.failTimeout = failTimeout;
    c.balance = b;
    return c;
}

// How many of `n` picks (each begun and ended at once) went to each server.
std::map<int, int> spread(Balancer &b, int n, std::int64_t now = 0) {
    std::map<int, int> counts;
    for (int i = 0; i < n; ++i) {
        Balancer::Pick p = b.pick(now);
        counts[p.server]++;
    }
    return counts;
}

void failTimes(Balancer &b, std::size_t server, int times, std::int64_t now) {
    for (int i = 0; i < times; ++i)
        b.failed(server, now, false, "refused");
}

} // namespace

TEST_CASE("round-robin takes turns") {
    Balancer b(targets(3), config());
    auto c = spread(b, 300);
    CHECK(c[0] == 100);
    CHECK(c[1] == 100);
    CHECK(c[2] == 100);
    CHECK(c.count(-1) == 0);
}

TEST_CASE("a server left out does not hand its turns to its neighbour") {
    Balancer b(targets(3), config(1, Millis(60000)));
    b.failed(2, 0, false, "refused");
    auto c = spread(b, 100, 1);
    CHECK(c[0] == 50);
    CHECK(c[1] == 50);
    Balancer lc(targets(3), config(1, Millis(60000), UpstreamConfig::Balance::LeastConnections));
    lc.failed(0, 0, false, "refused");
    c = spread(lc, 100, 1);
    CHECK(c[1] == 50);
    CHECK(c[2] == 50);
}

TEST_CASE("weights: smooth round-robin, and least-connections per unit of weight") {
    auto weighted = [](std::vector<unsigned> w, std::vector<bool> backup = {}) {
        auto t = targets(static_cast<int>(w.size()));
        for (std::size_t i = 0; i < w.size(); ++i) {
            t[i].weight = w[i];
            t[i].backup = i < backup.size() && backup[i];
        }
        return t;
    };
    Balancer b(weighted({5, 1, 1}), config());
    std::string order;
    for (int i = 0; i < 7; ++i)
        order += static_cast<char>('a' + b.pick(0).server);
    CHECK(order == "aabacaa"); // spread out, not aaaaabc
    auto c = spread(b, 700);
    CHECK(c[0] == 500);
    CHECK(c[1] == 100);
    CHECK(c[2] == 100);
    // One left out: its turns go to the others by weight.
    b.checked(1, false, "down");
    b.checked(1, false, "down");
    b.checked(1, false, "down");
    c = spread(b, 600);
    CHECK(c[0] == 500);
    CHECK(c[2] == 100);

    Balancer lc(weighted({3, 1}),
                config(3, Millis(1000), UpstreamConfig::Balance::LeastConnections));
    for (int i = 0; i < 3; ++i)
        lc.begin(0);
    CHECK(lc.pick(0).server == 1); // 3/3 = 1 per unit vs 0/1
    lc.begin(1);
    lc.begin(1);
    CHECK(lc.pick(0).server == 0); // 3/3 = 1 vs 2/1
}

TEST_CASE("backup servers take requests only while no other server is available") {
    auto t = targets(3);
    t[2].backup = true;
    Balancer b(std::move(t), config(1, Millis(1000)));
    auto c = spread(b, 100);
    CHECK(c[2] == 0);
    CHECK(c[0] == 50);
    b.failed(0, 0, false, "refused");
    CHECK(spread(b, 10, 1)[1] == 10); // one primary left: still no backup
    b.failed(1, 0, false, "refused");
    CHECK(spread(b, 10, 1)[2] == 10); // every primary out: the backup
    CHECK(b.pick(1, 0b100).server == -1);
    b.succeeded(0);
    CHECK(spread(b, 10, 1)[0] == 10);
}

TEST_CASE("least-connections prefers the server with fewest exchanges in flight") {
    Balancer b(targets(3), config(3, Millis(1000), UpstreamConfig::Balance::LeastConnections));
    b.begin(0);
    b.begin(0);
    b.begin(1);
    // Server 2 has none: every pick goes there until it catches up.
    Balancer::Pick p = b.pick(0);
    CHECK(p.server == 2);
    b.begin(2);
    p = b.pick(0);
    CHECK(p.server != 0); // 1 and 2 tie at one each; 0 has two
    b.begin(static_cast<std::size_t>(p.server));
    p = b.pick(0);
    CHECK(p.server != 0);
    b.end(0);
    b.end(0);
    CHECK(b.pick(0).server == 0);
    // Ties are broken by rotation, not always the first server.
    Balancer idle(targets(3), config(3, Millis(1000), UpstreamConfig::Balance::LeastConnections));
    auto c = spread(idle, 30);
    CHECK(c[0] == 10);
    CHECK(c[1] == 10);
    CHECK(c[2] == 10);
}

TEST_CASE("a server failing max_fails times in a row is left out, then tried once after back-off") {
    Balancer b(targets(2), config(3, Millis(1000)));
    failTimes(b, 0, 2, 0);
    CHECK(b.up(0)); // two failures: still in
    b.succeeded(0); // a success resets the count
    failTimes(b, 0, 2, 0);
    CHECK(b.up(0));
    failTimes(b, 0, 1, 100); // third in a row
    CHECK_FALSE(b.up(0));
    auto c = spread(b, 50, 500);
    CHECK(c[1] == 50); // all traffic to the other server during the back-off
    // Back-off over (100 + 1000): exactly one request is the trial; the rest still go to 1.
    Balancer::Pick trial{};
    int trials = 0;
    for (int i = 0; i < 20; ++i) {
        Balancer::Pick p = b.pick(1100);
        if (p.server == 0) {
            ++trials;
            trial = p;
        }
    }
    CHECK(trials == 1);
    CHECK(trial.trial);
    SUBCASE("a failed trial doubles the wait") {
        b.failed(0, 1150, true, "refused");
        CHECK(spread(b, 20, 1150 + 1999)[1] == 20);
        CHECK(spread(b, 20, 1150 + 2000)[0] == 1);
        b.failed(0, 3150, true, "refused"); // second failed trial: 4 s
        CHECK(spread(b, 20, 3150 + 3999)[1] == 20);
        CHECK(spread(b, 20, 3150 + 4000)[0] == 1);
    }
    SUBCASE("a successful trial brings it back") {
        b.succeeded(0);
        CHECK(b.up(0));
        auto after = spread(b, 20, 1200);
        CHECK(after[0] == 10);
        CHECK(after[1] == 10);
    }
    SUBCASE("the wait stops growing at 16 x fail_timeout") {
        std::int64_t now = 1150;
        for (int i = 0; i < 10; ++i) {
            b.failed(0, now, true, "refused");
            now += 16000;
            CHECK(spread(b, 4, now)[0] == 1);
        }
    }
}

TEST_CASE("failures of requests started before the mark do not extend it") {
    Balancer b(targets(2), config(2, Millis(1000)));
    failTimes(b, 0, 10, 0); // marked at the second; the other eight change nothing
    CHECK(b.snapshot()[0].markedDown == 1);
    CHECK(b.snapshot()[0].failures == 10);
    CHECK(spread(b, 4, 1000)[0] == 1); // trial due after one fail_timeout, not more
}

TEST_CASE("every server down: no pick, so the client gets a quick error (or a stale copy)") {
    Balancer b(targets(2), config(1, Millis(1000)));
    failTimes(b, 0, 1, 0);
    failTimes(b, 1, 1, 0);
    CHECK(b.pick(10).server == -1);
    CHECK(b.pick(1000).server >= 0); // a trial once the back-off ends
}

TEST_CASE("exclude skips servers a request has tried") {
    Balancer b(targets(3), config());
    for (int i = 0; i < 10; ++i) {
        Balancer::Pick p = b.pick(0, 0b011);
        CHECK(p.server == 2);
    }
    CHECK(b.pick(0, 0b111).server == -1);
}

TEST_CASE("a retry does not take a turn in the rotation") {
    // Server 1 refuses; max_fails 0 keeps it in. Each request that lands on it is retried
    // (excluding it). The retries must not shift the rotation, or every request would land on
    // the refusing server first.
    Balancer b(targets(2), config(0));
    int firstOnDead = 0;
    for (int i = 0; i < 10; ++i) {
        Balancer::Pick p = b.pick(0);
        if (p.server == 1) {
            ++firstOnDead;
            b.failed(1, 0, false, "refused");
            CHECK(b.pick(0, 0b10).server == 0);
        }
    }
    CHECK(firstOnDead == 5);
}

TEST_CASE("one server: failures never leave it out; a failing health check does") {
    Balancer b(targets(1), config(1, Millis(1000)));
    failTimes(b, 0, 100, 0);
    CHECK(b.up(0));
    CHECK(b.pick(0).server == 0);
    b.checked(0, false, "status 500");
    CHECK_FALSE(b.up(0));
    CHECK(b.pick(0).server == -1);
    b.checked(0, true, "");
    CHECK(b.pick(0).server == 0);
}

TEST_CASE("max_fails = 0 turns passive marking off") {
    Balancer b(targets(2), config(0, Millis(1000)));
    failTimes(b, 0, 100, 0);
    CHECK(b.up(0));
}

TEST_CASE("health checks: down after max_fails failed checks, back on the first pass") {
    Balancer b(targets(2), config(2, Millis(60000)));
    b.checked(1, false, "connect: connection refused");
    CHECK(b.up(1));
    b.checked(1, false, "connect: connection refused");
    CHECK_FALSE(b.up(1));
    CHECK(b.snapshot()[1].checkFailing);
    CHECK(spread(b, 10, 0)[0] == 10);
    b.checked(1, true, "");
    CHECK(b.up(1));
    // A passing check also lifts a passive mark (the server restarted): no 60 s wait.
    failTimes(b, 0, 2, 0);
    CHECK_FALSE(b.up(0));
    b.checked(0, true, "");
    CHECK(b.up(0));
    CHECK(spread(b, 10, 1)[0] == 5);
}

TEST_CASE("reload changes the policy in place") {
    Balancer b(targets(2), config(3));
    b.configure(config(1, Millis(500), UpstreamConfig::Balance::LeastConnections));
    failTimes(b, 0, 1, 0);
    CHECK_FALSE(b.up(0));
    CHECK(spread(b, 2, 500)[0] == 1);
}

TEST_CASE("concurrent picks from many threads: exactly one trial") {
    Balancer b(targets(2), config(1, Millis(1000)));
    failTimes(b, 0, 1, 0);
    std::atomic<int> trials{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 1000; ++i)
                if (b.pick(1000).trial)
                    trials.fetch_add(1);
        });
    for (auto &t : threads)
        t.join();
    CHECK(trials.load() == 1);
}

TEST_CASE("a host name with several addresses becomes one target per address") {
    sockaddr_in a{}, b{};
    a.sin_family = b.sin_family = AF_INET;
    a.sin_port = b.sin_port = htons(8000);
    inet_pton(AF_INET, "10.0.0.1", &a.sin_addr);
    inet_pton(AF_INET, "10.0.0.2", &b.sin_addr);
    addrinfo n3{}, n2{}, n1{}; // 10.0.0.1, 10.0.0.2, 10.0.0.1 again (getaddrinfo repeats)
    n1.ai_addr = reinterpret_cast<sockaddr *>(&a);
    n1.ai_addrlen = sizeof a;
    n1.ai_next = &n2;
    n2.ai_addr = reinterpret_cast<sockaddr *>(&b);
    n2.ai_addrlen = sizeof b;
    n2.ai_next = &n3;
    n3.ai_addr = reinterpret_cast<sockaddr *>(&a);
    n3.ai_addrlen = sizeof a;
    UpstreamTarget base;
    base.weight = 3;
    base.hostField = "app:8000";
    auto t = fc::proxy::targetsFor(base, "http://app:8000", &n1);
    REQUIRE(t.size() == 2);
    CHECK(t[0].display == "http://app:8000 (10.0.0.1)");
    CHECK(t[1].display == "http://app:8000 (10.0.0.2)");
    CHECK(t[1].weight == 3);
    CHECK(t[1].hostField == "app:8000");
    CHECK(reinterpret_cast<const sockaddr_in &>(t[1].addr).sin_addr.s_addr == b.sin_addr.s_addr);
    n1.ai_next = nullptr; // one address: the URL alone
    t = fc::proxy::targetsFor(base, "http://app:8000", &n1);
    REQUIRE(t.size() == 1);
    CHECK(t[0].display == "http://app:8000");
}

TEST_CASE("membership: added Warming until promoted, retired slots drain and are reused") {
    Balancer b(targets(1), config(3, Millis(1000)));
    CHECK(b.liveCount() == 1);
    UpstreamTarget t;
    t.display = "http://10.0.0.9:80";
    const int slot = b.add(t, false, 0);
    REQUIRE(slot == 1);
    CHECK(b.phase(1) == Balancer::Phase::Warming);
    CHECK(spread(b, 10)[1] == 0); // not picked before its check passed
    b.promote(1, 0);
    CHECK(b.liveCount() == 2);
    CHECK(spread(b, 10) == std::map<int, int>{{0, 5}, {1, 5}});
    // Retired: no new exchange; shown while a connection drains, then gone.
    b.hold(0);
    b.retire(0, 100);
    CHECK(b.liveCount() == 1);
    CHECK(spread(b, 10)[0] == 0);
    CHECK(b.snapshot().size() == 2);
    CHECK(std::string(b.snapshot()[0].phase) == "retired");
    // Not reused while a connection to it is open, nor before kReuseAfterMs.
    t.display = "http://10.0.0.10:80";
    CHECK(b.add(t, true, 100 + Balancer::kReuseAfterMs) == 2);
    b.unhold(0);
    CHECK(b.snapshot().size() == 2); // slots 1 and 2
    t.display = "http://10.0.0.11:80";
    CHECK(b.add(t, true, 100 + Balancer::kReuseAfterMs - 1) == 3);
    t.display = "http://10.0.0.12:80";
    const int reused = b.add(t, true, 100 + Balancer::kReuseAfterMs);
    CHECK(reused == 0);
    CHECK(b.target(0).display == "http://10.0.0.12:80");
    CHECK(b.snapshot()[0].requests == 0); // a reused slot starts afresh
    // A changed weight takes effect in the rotation at once.
    UpstreamTarget heavy = b.target(1);
    heavy.weight = 3;
    b.update(1, heavy, 200);
    auto s = spread(b, 60);
    CHECK(s[1] == 3 * s[2]);
}

TEST_CASE("every slot taken: add says so") {
    Balancer b(targets(static_cast<int>(Balancer::kSlots)), config());
    UpstreamTarget t;
    CHECK(b.add(t, true, 0) == -1);
    b.retire(5, 0);
    CHECK(b.add(t, true, 1) == -1); // draining: not yet reusable
    CHECK(b.add(t, true, Balancer::kReuseAfterMs) == 5);
}

TEST_CASE("upstream groups: each balances among its own servers, never another's") {
    auto t = targets(5);
    t[2].pool = 1;
    t[3].pool = 1;
    t[4].pool = 2;
    t[3].backup = true;
    Balancer b(t, config());
    std::map<int, int> g0, g1;
    for (int i = 0; i < 40; ++i) {
        ++g0[b.pick(0, 0, 0).server];
        ++g1[b.pick(0, 0, 1).server];
    }
    CHECK(g0 == std::map<int, int>{{0, 20}, {1, 20}});
    CHECK(g1 == std::map<int, int>{{2, 40}}); // the group's backup only when 2 is out
    CHECK(b.liveCount(1) == 2);
    CHECK(b.pick(0, 1u << 2, 1).server == 3); // 2 tried: its group's backup, not group 0
    CHECK(b.pick(0, 0, 2).server == 4);
    CHECK(b.pick(0, 1u << 4, 2).server == -1); // the only server tried: none, not another group's
    CHECK(b.pick(0, 0, 3).server == -1);       // a group with no server
    // One server in its group: the passive rule leaves it in, whatever the others.
    for (int i = 0; i < 10; ++i)
        b.failed(4, 0, false, "test");
    CHECK(b.up(4));
}
