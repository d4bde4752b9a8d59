// Store's insides, shared by the files that implement it and by no one else: a shard (its hash
// index, its S3-FIFO queues and ghost table, its counters) and the two helpers every part of the
// store uses. store.cpp: items, the index, lookups and the commands that write a value (set and
// the storage modes, incr/decr); marks.cpp: delete, touch, flush and the marks; evict.cpp:
// eviction and reclaim; walk.cpp: what walks the whole store (purge, snapshots, stats).
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <string_view>
#include <vector>

#include "cache/store/store.h"

namespace fc::cache {

// One of a shard's FIFO queues (small or main), newest at the head; `bytes` is what its items
// count against the memory limit.
struct ItemQueue {
    Item *head = nullptr; // newest
    Item *tail = nullptr; // oldest
    std::uint64_t bytes = 0;

    void pushHead(Item *it, std::size_t sz) {
        it->prev = nullptr;
        it->next = head;
        if (head)
            head->prev = it;
        head = it;
        if (!tail)
            tail = it;
        bytes += sz;
    }
    void remove(Item *it, std::size_t sz) {
        if (it->prev)
            it->prev->next = it->next;
        else
            head = it->next;
        if (it->next)
            it->next->prev = it->prev;
        else
            tail = it->prev;
        it->prev = it->next = nullptr;
        bytes -= sz;
    }
};

inline std::uint64_t hashKey(std::string_view key) {
    return XXH3_64bits(key.data(), key.size());
}
inline std::size_t footprintOf(const Item *it) {
    return Store::itemFootprint(it->keyLen, it->valueLen);
}

// A shard: its mutex guards all the rest.
struct Store::Shard {
    std::mutex mu;
    std::vector<Item *> buckets = std::vector<Item *>(256, nullptr);
    std::size_t count = 0;
    ItemQueue small, main;
    std::vector<std::uint32_t> ghost = std::vector<std::uint32_t>(256, 0);
    std::size_t reclaimCursor = 0;
    StoreStats st; // counters guarded by mu

    Item *find(std::uint64_t h, std::string_view key) const {
        for (Item *it = buckets[h & (buckets.size() - 1)]; it; it = it->hnext)
            if (it->keyLen == key.size() && std::memcmp(it->data(), key.data(), key.size()) == 0)
                return it;
        return nullptr;
    }
    void grow() {
        std::vector<Item *> nb(buckets.size() * 2, nullptr);
        for (Item *head : buckets) {
            while (head) {
                Item *next = head->hnext;
                std::uint64_t h = hashKey(head->key());
                Item *&slot = nb[h & (nb.size() - 1)];
                head->hnext = slot;
                slot = head;
                head = next;
            }
        }
        buckets.swap(nb);
        reclaimCursor = 0;
        if (ghost.size() < buckets.size())
            ghost.assign(buckets.size(), 0);
    }
    static std::uint32_t fingerprint(std::uint64_t h) {
        return static_cast<std::uint32_t>(h >> 32) | 1u;
    }
    void ghostAdd(std::uint64_t h) { ghost[h & (ghost.size() - 1)] = fingerprint(h); }
    bool ghostTake(std::uint64_t h) {
        std::uint32_t &slot = ghost[h & (ghost.size() - 1)];
        if (slot != fingerprint(h))
            return false;
        slot = 0;
        return true;
    }
};

} // namespace fc::cache
