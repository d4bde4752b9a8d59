#include "cache/fetch_locks.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

using namespace fc::cache;

TEST_CASE("one owner per key; later claims wait and are returned on release") {
    ManualClock clock;
    FetchLocks locks(clock, 100);
    WaiterId a{0, 1}, b{1, 2};
    CHECK(locks.claim("k", &a) == FetchLocks::Claim::Owner);
    CHECK(locks.claim("k", &a) == FetchLocks::Claim::Wait);
    CHECK(locks.claim("k", &b) == FetchLocks::Claim::Wait);
    CHECK(locks.claim("other", &b) == FetchLocks::Claim::Owner);
    CHECK(locks.claim("k", nullptr) == FetchLocks::Claim::Busy); // background: never waits
    CHECK(locks.heldCount() == 2);
    std::vector<WaiterId> wake;
    locks.release("k", 0, wake);
    REQUIRE(wake.size() == 2);
    CHECK(wake[0] == a);
    CHECK(wake[1] == b);
    CHECK(locks.heldCount() == 1);
    // Released without a pass mark: the next miss owns the key again.
    CHECK(locks.claim("k", &a) == FetchLocks::Claim::Owner);
}

TEST_CASE("a claim that may not own waits for a holder but never takes the key") {
    ManualClock clock;
    FetchLocks locks(clock, 100);
    WaiterId head{0, 1}, get{0, 2};
    CHECK(locks.claim("k", &head, false) == FetchLocks::Claim::Busy); // nobody fetching
    CHECK(locks.heldCount() == 0);
    CHECK(locks.claim("k", &get) == FetchLocks::Claim::Owner);
    CHECK(locks.claim("k", &head, false) == FetchLocks::Claim::Wait);
    std::vector<WaiterId> wake;
    locks.release("k", 60, wake); // marked pass
    REQUIRE(wake.size() == 1);
    CHECK(wake[0] == head);
    CHECK(locks.claim("k", &head, false) == FetchLocks::Claim::Pass);
    CHECK(locks.passing("k"));
    CHECK_FALSE(locks.passing("other"));
    clock.advance(61);
    CHECK_FALSE(locks.passing("k"));
    CHECK(locks.claim("k", &head, false) == FetchLocks::Claim::Busy); // mark over, nobody holds
    CHECK(locks.heldCount() == 0);
}

TEST_CASE("a cancelled waiter is not woken; cancelling twice says so") {
    ManualClock clock;
    FetchLocks locks(clock, 100);
    WaiterId a{0, 1}, b{0, 2};
    locks.claim("k", nullptr);
    locks.claim("k", &a);
    locks.claim("k", &b);
    CHECK(locks.cancel("k", a));
    CHECK_FALSE(locks.cancel("k", a));
    std::vector<WaiterId> wake;
    locks.release("k", 0, wake);
    REQUIRE(wake.size() == 1);
    CHECK(wake[0] == b);
    CHECK_FALSE(locks.cancel("k", b)); // already released
}

TEST_CASE("waiters per key are capped") {
    ManualClock clock;
    FetchLocks locks(clock, 2);
    WaiterId w{0, 0};
    CHECK(locks.claim("k", &w) == FetchLocks::Claim::Owner);
    CHECK(locks.claim("k", &w) == FetchLocks::Claim::Wait);
    CHECK(locks.claim("k", &w) == FetchLocks::Claim::Wait);
    CHECK(locks.claim("k", &w) == FetchLocks::Claim::Busy);
    locks.setMaxWaiters(3);
    CHECK(locks.claim("k", &w) == FetchLocks::Claim::Wait);
}

TEST_CASE("hit-for-miss: a not-storable key passes until its mark expires") {
    ManualClock clock;
    FetchLocks locks(clock, 100);
    WaiterId w{0, 1};
    locks.claim("k", nullptr);
    locks.claim("k", &w);
    std::vector<WaiterId> wake;
    locks.release("k", 10, wake);
    CHECK(wake.size() == 1); // waiters are still released to fetch for themselves
    CHECK(locks.claim("k", &w) == FetchLocks::Claim::Pass);
    clock.advance(9);
    CHECK(locks.claim("k", &w) == FetchLocks::Claim::Pass);
    clock.advance(1);
    CHECK(locks.claim("k", &w) == FetchLocks::Claim::Owner);
}

TEST_CASE("expired pass marks are swept as the table grows") {
    ManualClock clock;
    FetchLocks locks(clock, 100);
    std::vector<WaiterId> wake;
    for (int i = 0; i < 20000; ++i) {
        std::string k = "k" + std::to_string(i);
        locks.claim(k, nullptr);
        locks.release(k, 1, wake);
    }
    clock.advance(2);
    // Claims of new keys sweep the expired marks; the old keys behave as never seen.
    for (int i = 0; i < 20000; ++i)
        CHECK(locks.claim("n" + std::to_string(i), nullptr) == FetchLocks::Claim::Owner);
    CHECK(locks.claim("k5", nullptr) == FetchLocks::Claim::Owner);
    CHECK(locks.heldCount() == 20001);
}

TEST_CASE("concurrent claims from many threads: exactly one owner, everyone else waits") {
    ManualClock clock;
    FetchLocks locks(clock, 100000);
    constexpr int kThreads = 8, kPer = 500;
    std::atomic<int> owners{0}, waits{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
        ts.emplace_back([&, t] {
            for (int i = 0; i < kPer; ++i) {
                WaiterId w{static_cast<std::uint32_t>(t), static_cast<std::uint64_t>(i)};
                auto c = locks.claim("hot", &w);
                (c == FetchLocks::Claim::Owner ? owners : waits).fetch_add(1);
            }
        });
    for (auto &t : ts)
        t.join();
    CHECK(owners.load() == 1);
    CHECK(waits.load() == kThreads * kPer - 1);
    std::vector<WaiterId> wake;
    locks.release("hot", 0, wake);
    CHECK(wake.size() == static_cast<std::size_t>(kThreads * kPer - 1));
}

// A reload changes the cap from the main thread while workers claim (the tsan preset runs this
// under ThreadSanitizer: the cap used to be written under one shard's lock and read under
// another's). Every claim sees either cap, and the last one set holds afterwards.
TEST_CASE("the waiter cap changes while other threads claim") {
    ManualClock clock;
    FetchLocks locks(clock, 1000);
    std::atomic<bool> stop{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&, t] {
            std::vector<WaiterId> wake;
            const std::string key = "k" + std::to_string(t % 2); // two threads per key
            for (std::uint64_t i = 0; !stop.load(); ++i) {
                WaiterId w{static_cast<std::uint32_t>(t), i};
                if (locks.claim(key, &w) == FetchLocks::Claim::Owner && i % 64 == 0)
                    locks.release(key, 0, wake);
            }
        });
    for (std::size_t n = 0; n < 2000; ++n)
        locks.setMaxWaiters(n % 3);
    locks.setMaxWaiters(0);
    stop = true;
    for (auto &t : ts)
        t.join();
    std::vector<WaiterId> wake;
    for (const char *key : {"k0", "k1"})
        locks.release(key, 0, wake);
    WaiterId a{9, 1};
    CHECK(locks.claim("k0", &a) == FetchLocks::Claim::Owner);
    CHECK(locks.claim("k0", &a) == FetchLocks::Claim::Busy); // cap 0: nobody waits
}
