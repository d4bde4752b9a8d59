// What walks the whole store, one shard lock at a time: purge by predicate, the live items for a
// snapshot, the counters summed over the shards.
#include "cache/store/store.h"

#include "cache/store/shard.h"

namespace fc::cache {

std::size_t Store::removeIf(const std::function<bool(std::string_view, std::string_view)> &pred) {
    std::size_t removed = 0;
    std::uint32_t now = relNow();
    for (auto &sp : shards_) {
        Shard &s = *sp;
        std::lock_guard lock(s.mu);
        for (std::size_t b = 0; b < s.buckets.size(); ++b) {
            Item *it = s.buckets[b];
            while (it) {
                Item *next = it->hnext;
                if (isLive(*it, now) && pred(it->key(), it->value())) {
                    ++s.st.deleteHits;
                    unlink(s, it, hashKey(it->key()));
                    ++removed;
                }
                it = next;
            }
        }
    }
    return removed;
}

void Store::forEachLive(const std::function<void(std::vector<ItemRef> &)> &visit) {
    std::vector<ItemRef> refs;
    for (auto &sp : shards_) {
        Shard &s = *sp;
        refs.clear();
        {
            std::lock_guard lock(s.mu);
            std::uint32_t now = relNow();
            refs.reserve(s.count);
            for (Item *head : s.buckets)
                for (Item *it = head; it; it = it->hnext)
                    if (isLive(*it, now)) {
                        retainItem(it);
                        refs.emplace_back(it);
                    }
        }
        visit(refs);
    }
}

std::int64_t Store::absoluteExpiry(const Item &it) const {
    std::uint32_t e = it.expiresAt.load(std::memory_order_relaxed);
    return e == 0 ? 0 : epoch_ + e;
}

StoreStats Store::stats() const {
    StoreStats t;
    for (auto &sp : shards_) {
        Shard &s = *sp;
        std::lock_guard lock(s.mu);
        const StoreStats &x = s.st;
        t.currItems += s.count;
        t.totalItems += x.totalItems;
        t.getHits += x.getHits;
        t.getMisses += x.getMisses;
        t.getExpired += x.getExpired;
        t.getFlushed += x.getFlushed;
        t.evictions += x.evictions;
        t.evictedUnfetched += x.evictedUnfetched;
        t.expiredUnfetched += x.expiredUnfetched;
        t.reclaimed += x.reclaimed;
        t.deleteHits += x.deleteHits;
        t.deleteMisses += x.deleteMisses;
        t.incrHits += x.incrHits;
        t.incrMisses += x.incrMisses;
        t.decrHits += x.decrHits;
        t.decrMisses += x.decrMisses;
        t.casHits += x.casHits;
        t.casMisses += x.casMisses;
        t.casBadval += x.casBadval;
        t.touchHits += x.touchHits;
        t.touchMisses += x.touchMisses;
        t.hashBuckets += s.buckets.size();
    }
    t.bytes = used_.load(std::memory_order_relaxed);
    t.limitMaxbytes = limit_.load(std::memory_order_relaxed);
    return t;
}

} // namespace fc::cache
