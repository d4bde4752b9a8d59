// The store's eviction (S3-FIFO or LRU, per shard) and the reclaim of expired items: what makes
// room when a write does not fit (store.cpp's ensureRoom calls evictOne), the server's reclaim
// timer, and a smaller memory limit.
#include "cache/store/store.h"

#include <algorithm>

#include "cache/store/shard.h"

namespace fc::cache {

bool Store::evictOne() {
    const std::size_t n = shards_.size();
    for (std::size_t tries = 0; tries < n; ++tries) {
        Shard &s = *shards_[evictHand_.fetch_add(1, std::memory_order_relaxed) & (n - 1)];
        std::lock_guard lock(s.mu);
        if (s.count == 0)
            continue;
        std::uint32_t now = relNow();
        // S3-FIFO: evict from the small queue while it holds more than 10% of the bytes; items
        // accessed while there graduate to main. Main is a FIFO with lazy promotion: an item
        // whose counter is non-zero is re-inserted with the counter decremented. LRU: main only,
        // its tail.
        for (int guard = 0; guard < 1 << 16; ++guard) {
            const bool fromSmall =
                s.small.tail &&
                (s.small.bytes * 10 > (s.small.bytes + s.main.bytes) || !s.main.tail);
            Item *victim = fromSmall ? s.small.tail : s.main.tail;
            if (!victim)
                break;
            std::uint64_t h = hashKey(victim->key());
            if (!isLive(*victim, now)) {
                ++s.st.reclaimed;
                if (!(victim->bits & Item::kFetched))
                    ++s.st.expiredUnfetched;
                unlink(s, victim, h);
                return true;
            }
            std::uint8_t f = victim->freq.load(std::memory_order_relaxed);
            std::size_t sz = footprintOf(victim);
            if (cfg_.policy == EvictionPolicy::S3Fifo && f > 0) {
                if (fromSmall) {
                    s.small.remove(victim, sz);
                    victim->bits |= Item::kMain;
                    victim->freq.store(0, std::memory_order_relaxed);
                } else {
                    s.main.remove(victim, sz);
                    victim->freq.store(static_cast<std::uint8_t>(f - 1), std::memory_order_relaxed);
                }
                s.main.pushHead(victim, sz);
                continue;
            }
            ++s.st.evictions;
            if (!(victim->bits & Item::kFetched))
                ++s.st.evictedUnfetched;
            if (watch_.wants(kWatchEvictions)) {
                std::uint32_t e = victim->expiresAt.load(std::memory_order_relaxed);
                watch_.logEviction(victim->key(), (victim->bits & Item::kFetched) != 0,
                                   e == 0 ? -1 : static_cast<std::int64_t>(e) - now,
                                   now > victim->lastAccess ? now - victim->lastAccess : 0,
                                   victim->valueLen, victim->flags);
            }
            if (cfg_.policy == EvictionPolicy::S3Fifo && fromSmall)
                s.ghostAdd(h);
            unlink(s, victim, h);
            return true;
        }
    }
    return false;
}

std::size_t Store::reclaimExpired(std::size_t budget) {
    std::size_t freed = 0;
    const std::size_t n = shards_.size();
    std::uint32_t now = relNow();
    while (budget > 0) {
        std::size_t idx = reclaimHand_.fetch_add(1, std::memory_order_relaxed) & (n - 1);
        Shard &s = *shards_[idx];
        std::lock_guard lock(s.mu);
        std::size_t steps = std::min<std::size_t>(budget, 64);
        budget -= steps;
        for (; steps > 0; --steps) {
            std::size_t b = s.reclaimCursor++ & (s.buckets.size() - 1);
            Item *it = s.buckets[b];
            while (it) {
                Item *next = it->hnext;
                if (!isLive(*it, now)) {
                    ++s.st.reclaimed;
                    if (!(it->bits & Item::kFetched))
                        ++s.st.expiredUnfetched;
                    unlink(s, it, hashKey(it->key()));
                    ++freed;
                }
                it = next;
            }
        }
    }
    return freed;
}

void Store::setMemoryLimit(std::uint64_t bytes) {
    limit_.store(bytes, std::memory_order_relaxed);
    ensureRoom(0);
}

} // namespace fc::cache
