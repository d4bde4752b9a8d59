#include "cache/fetch_locks.h"

#include <algorithm>
#include <functional>

namespace fc::cache {

FetchLocks::FetchLocks(const Clock &clock, std::size_t maxWaiters)
    : clock_(clock), maxWaiters_(maxWaiters) {}

FetchLocks::Shard &FetchLocks::shardFor(std::string_view key) {
    return shards_[std::hash<std::string_view>{}(key) % kShards];
}

void FetchLocks::setMaxWaiters(std::size_t n) {
    maxWaiters_.store(n, std::memory_order_relaxed);
}

// Expired pass marks are dropped when a shard grows past a threshold that doubles with the live
// size, so the table stays bounded by the keys in use without a timer.
void FetchLocks::sweep(Shard &s, std::int64_t now) {
    std::erase_if(s.map, [now](const auto &kv) {
        return !kv.second.held && kv.second.waiters.empty() && kv.second.passUntil <= now;
    });
    s.sweepAt = std::max<std::size_t>(1024, s.map.size() * 2);
}

FetchLocks::Claim FetchLocks::claim(std::string_view key, const WaiterId *waiter, bool mayOwn) {
    Shard &s = shardFor(key);
    const std::int64_t now = clock_.now();
    std::lock_guard lock(s.mu);
    auto it = s.map.find(std::string(key));
    if (it == s.map.end()) {
        if (!mayOwn)
            return Claim::Busy;
        if (s.map.size() >= s.sweepAt)
            sweep(s, now);
        s.map.emplace(std::string(key), Entry{true, 0, {}});
        return Claim::Owner;
    }
    Entry &e = it->second;
    if (e.held) {
        if (!waiter || e.waiters.size() >= maxWaiters_.load(std::memory_order_relaxed))
            return Claim::Busy;
        e.waiters.push_back(*waiter);
        return Claim::Wait;
    }
    if (e.passUntil > now)
        return Claim::Pass;
    if (!mayOwn)
        return Claim::Busy;
    e.held = true;
    e.passUntil = 0;
    return Claim::Owner;
}

bool FetchLocks::passing(std::string_view key) const {
    const Shard &s = shardFor(key);
    const std::int64_t now = clock_.now();
    std::lock_guard lock(s.mu);
    auto it = s.map.find(std::string(key));
    return it != s.map.end() && !it->second.held && it->second.passUntil > now;
}

void FetchLocks::release(std::string_view key, std::int64_t passSeconds,
                         std::vector<WaiterId> &wake) {
    Shard &s = shardFor(key);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(std::string(key));
    if (it == s.map.end())
        return;
    Entry &e = it->second;
    wake.insert(wake.end(), e.waiters.begin(), e.waiters.end());
    if (passSeconds > 0) {
        e.held = false;
        e.waiters.clear();
        e.passUntil = clock_.now() + passSeconds;
    } else {
        s.map.erase(it);
    }
}

bool FetchLocks::cancel(std::string_view key, const WaiterId &w) {
    Shard &s = shardFor(key);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(std::string(key));
    if (it == s.map.end())
        return false;
    return std::erase(it->second.waiters, w) > 0;
}

std::size_t FetchLocks::heldCount() const {
    std::size_t n = 0;
    for (auto &s : shards_) {
        std::lock_guard lock(s.mu);
        for (auto &kv : s.map)
            n += kv.second.held ? 1 : 0;
    }
    return n;
}

} // namespace fc::cache
