#include "cache/store/store.h"

#include <cassert>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <new>

#include "cache/store/number.h"
#include "cache/store/shard.h"

namespace fc::cache {

void freeItem(Item *it) noexcept {
    it->~Item();
    std::free(it);
}

bool validKey(std::string_view key) {
    if (key.empty() || key.size() > kMaxKeyLength)
        return false;
    for (unsigned char c : key)
        if (c <= ' ' || c == 0x7f)
            return false;
    return true;
}

std::size_t Store::itemFootprint(std::size_t keyLen, std::size_t valueLen) {
    // Header + key + value, plus the allocator's 8-byte chunk header, rounded to its 16-byte
    // granularity: what the item really costs, so the memory limit means what it says.
    std::size_t raw = sizeof(Item) + keyLen + valueLen + 8;
    return (raw + 15) & ~std::size_t(15);
}

Store::Store(StoreConfig cfg, const Clock &clock)
    : cfg_(cfg), clock_(clock), epoch_(clock.now() - 2), limit_(cfg.memoryLimit) {
    std::size_t n = std::size_t(1) << cfg_.shardBits;
    shards_.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        shards_.push_back(std::make_unique<Shard>());
}

Store::~Store() {
    for (auto &s : shards_) {
        for (Item *head : s->buckets) {
            while (head) {
                Item *next = head->hnext;
                head->bits &= static_cast<std::uint8_t>(~Item::kLinked);
                releaseItem(head);
                head = next;
            }
        }
    }
}

Store::Shard &Store::shardFor(std::uint64_t hash) const {
    return *shards_[hash >> (64 - cfg_.shardBits)];
}

std::uint32_t Store::relNow() const {
    std::int64_t r = clock_.now() - epoch_;
    return r <= 0 ? 1 : static_cast<std::uint32_t>(r);
}

std::uint32_t Store::relativeExpiry(std::int64_t exptime) const {
    // memcached's realtime(): 0 = never; negative = already expired; up to 30 days = relative;
    // beyond = absolute Unix time (in the past = already expired).
    if (exptime == 0)
        return 0;
    if (exptime < 0)
        return 1;
    if (exptime > kRelativeExptimeMax) {
        std::int64_t rel = exptime - epoch_;
        if (rel <= 1)
            return 1;
        return rel > 0xffffffffLL ? 0xffffffffu : static_cast<std::uint32_t>(rel);
    }
    return relNow() + static_cast<std::uint32_t>(exptime);
}

std::uint32_t Store::expiryAfter(Lifetime l) const {
    if (l.seconds <= 0)
        return 1; // already expired
    const std::int64_t now = relNow();
    if (l.seconds >= 0xffffffffLL - now)
        return 0xffffffffu; // as long as the store's clock reaches
    return static_cast<std::uint32_t>(now + l.seconds);
}

std::int64_t Store::ttlRemaining(const Item &it) const {
    std::uint32_t e = it.expiresAt.load(std::memory_order_relaxed);
    if (e == 0)
        return -1;
    std::uint32_t now = relNow();
    return e > now ? static_cast<std::int64_t>(e - now) : 0;
}

bool Store::isLive(const Item &it, std::uint32_t now) const {
    std::uint32_t e = it.expiresAt.load(std::memory_order_relaxed);
    if (e != 0 && e <= now)
        return false;
    std::uint32_t fa = flushAt_.load(std::memory_order_relaxed);
    if (fa != 0 && fa <= now && it.lastAccess < fa)
        return false;
    return it.cas.load(std::memory_order_relaxed) >= flushCas_.load(std::memory_order_relaxed);
}

Item *Store::newItem(std::string_view key, std::uint32_t flags, std::uint32_t expiresAt,
                     std::uint32_t valueLen) {
    void *mem = std::malloc(sizeof(Item) + key.size() + valueLen);
    if (!mem)
        return nullptr;
    Item *it = new (mem) Item{};
    it->hnext = it->prev = it->next = nullptr;
    it->cas.store(0, std::memory_order_relaxed);
    it->refs.store(1, std::memory_order_relaxed);
    it->flags = flags;
    it->valueLen = valueLen;
    it->expiresAt.store(expiresAt, std::memory_order_relaxed);
    it->lastAccess = 0;
    it->keyLen = static_cast<std::uint8_t>(key.size());
    it->freq.store(0, std::memory_order_relaxed);
    it->bits = 0;
    std::memcpy(it->data(), key.data(), key.size());
    return it;
}

ItemRef Store::allocate(std::string_view key, std::uint32_t flags, std::int64_t exptime,
                        std::uint32_t valueLen) {
    return allocateAt(key, flags, relativeExpiry(exptime), valueLen);
}

ItemRef Store::allocate(std::string_view key, std::uint32_t flags, Lifetime lifetime,
                        std::uint32_t valueLen) {
    return allocateAt(key, flags, expiryAfter(lifetime), valueLen);
}

ItemRef Store::allocateAt(std::string_view key, std::uint32_t flags, std::uint32_t expiresAt,
                          std::uint32_t valueLen) {
    assert(!key.empty() && key.size() <= kMaxKeyLength); // binary keys (meta "b") allowed
    if (valueLen > cfg_.itemSizeMax)
        return {};
    return ItemRef(newItem(key, flags, expiresAt, valueLen));
}

// Links a new item (shard lock held). Takes the store's own reference.
void Store::link(Shard &s, Item *it, std::uint64_t hash) {
    retainItem(it);
    it->bits |= Item::kLinked;
    it->lastAccess = relNow();
    Item *&slot = s.buckets[hash & (s.buckets.size() - 1)];
    it->hnext = slot;
    slot = it;
    ++s.count;
    ++s.st.totalItems;
    std::size_t sz = footprintOf(it);
    if (cfg_.policy == EvictionPolicy::S3Fifo && !s.ghostTake(hash)) {
        s.small.pushHead(it, sz);
    } else {
        it->bits |= Item::kMain;
        s.main.pushHead(it, sz);
    }
    used_.fetch_add(sz, std::memory_order_relaxed);
    if (s.count > s.buckets.size())
        s.grow();
    if (observer_) {
        if (const std::size_t charge = observer_->linked(*it)) {
            it->bits |= Item::kObserved;
            used_.fetch_add(charge, std::memory_order_relaxed);
        }
    }
}

// Unlinks an item from index and queue and drops the store's reference (shard lock held).
void Store::unlink(Shard &s, Item *it, std::uint64_t hash) {
    Item **pp = &s.buckets[hash & (s.buckets.size() - 1)];
    while (*pp && *pp != it)
        pp = &(*pp)->hnext;
    assert(*pp == it);
    *pp = it->hnext;
    it->hnext = nullptr;
    std::size_t sz = footprintOf(it);
    (it->bits & Item::kMain ? s.main : s.small).remove(it, sz);
    const std::size_t charge = it->bits & Item::kObserved ? observer_->unlinked(*it) : 0;
    it->bits &= static_cast<std::uint8_t>(~(Item::kLinked | Item::kMain | Item::kObserved));
    --s.count;
    used_.fetch_sub(sz + charge, std::memory_order_relaxed);
    releaseItem(it);
}

// An item found expired or flushed on access (shard lock held).
void Store::dropDead(Shard &s, Item *it, std::uint64_t hash) {
    std::uint32_t e = it->expiresAt.load(std::memory_order_relaxed);
    if (e != 0 && e <= relNow()) {
        ++s.st.getExpired;
        if (!(it->bits & Item::kFetched))
            ++s.st.expiredUnfetched;
    } else {
        ++s.st.getFlushed;
    }
    ++s.st.reclaimed;
    unlink(s, it, hash);
}

// The live item for `key`, or nullptr; an expired or flushed one found on the way is dropped
// (lazy expiry). Shard lock held.
Item *Store::findLive(Shard &s, std::uint64_t h, std::string_view key) {
    Item *it = s.find(h, key);
    if (it && !isLive(*it, relNow())) {
        dropDead(s, it, h);
        return nullptr;
    }
    return it;
}

ItemRef Store::lookup(std::string_view key, const GetOptions &o, LookupInfo *info) {
    std::uint64_t h = hashKey(key);
    Shard &s = shardFor(h);
    std::unique_lock lock(s.mu);
    std::uint32_t now = relNow();
    Item *it = findLive(s, h, key);
    if (o.countStats)
        watchGet(key, it);
    if (!it) {
        if (o.countStats)
            ++s.st.getMisses;
        if (!o.vivify)
            return {};
        // mg N: create an empty placeholder; this caller wins the right to fill it.
        Item *fresh = newItem(key, 0, relativeExpiry(o.vivifyExptime), 0);
        if (!fresh)
            return {};
        fresh->cas.store(nextCas_.fetch_add(1, std::memory_order_relaxed),
                         std::memory_order_relaxed);
        if (o.claimWins)
            fresh->bits |= Item::kWonSent;
        link(s, fresh, h);
        if (o.bump) // memcached bumps the item it just created: fetched, accessed now
            fresh->bits |= Item::kFetched;
        if (info) {
            *info = LookupInfo{};
            info->won = true;
            info->created = true;
        }
        lock.unlock();
        ensureRoom(0);
        return ItemRef(fresh);
    }
    if (info) {
        info->created = false;
        info->hitBefore = (it->bits & Item::kFetched) != 0;
        info->lastAccessAgo = now > it->lastAccess ? now - it->lastAccess : 0;
        info->stale = (it->bits & Item::kStale) != 0;
        info->won = false;
        info->wonAlreadySent = (it->bits & Item::kWonSent) != 0;
        bool wantWin = info->stale;
        if (o.recache) {
            std::uint32_t e = it->expiresAt.load(std::memory_order_relaxed);
            // memcached compares the expiry with realtime(R) (an R of 0 or less never wins).
            if (e != 0 && e < relativeExpiry(o.recacheBelow))
                wantWin = true;
        }
        if (wantWin && !info->wonAlreadySent) {
            info->won = true;
            if (o.claimWins)
                it->bits |= Item::kWonSent;
        }
    }
    if (o.touch)
        it->expiresAt.store(relativeExpiry(o.exptime), std::memory_order_relaxed);
    if (o.bump) {
        // Write only what changes: on a hot item every store would bounce its cache line
        // between the cores that read it.
        std::uint8_t f = it->freq.load(std::memory_order_relaxed);
        if (f < 3)
            it->freq.store(static_cast<std::uint8_t>(f + 1), std::memory_order_relaxed);
        bumpAccess(*it, now);
        if (cfg_.policy == EvictionPolicy::Lru) {
            std::size_t sz = footprintOf(it);
            s.main.remove(it, sz);
            s.main.pushHead(it, sz);
        }
    }
    if (o.countStats) {
        ++s.st.getHits;
        if (o.touch)
            ++s.st.touchHits;
    }
    retainItem(it);
    return ItemRef(it);
}

ItemRef Store::set(std::string_view key, std::string_view value, std::int64_t exptime) {
    return setAt(key, value, relativeExpiry(exptime));
}

ItemRef Store::set(std::string_view key, std::string_view value, Lifetime lifetime) {
    return setAt(key, value, expiryAfter(lifetime));
}

ItemRef Store::setAt(std::string_view key, std::string_view value, std::uint32_t expiresAt) {
    ItemRef it = allocateAt(key, 0, expiresAt, static_cast<std::uint32_t>(value.size()));
    if (!it)
        return it;
    if (!value.empty())
        std::memcpy(it->valueData(), value.data(), value.size());
    if (store(StoreMode::Set, it) != StoreStatus::Stored)
        it.reset();
    return it;
}

// The watch line of a store: the command (a set or replace with a CAS is "cas"), the outcome,
// the TTL left, the item's size and flags.
void Store::watchStore(const Item &it, StoreMode mode, std::uint64_t casIn, StoreStatus st,
                       std::uint32_t now) {
    static constexpr std::string_view kCmd[] = {"set", "add", "replace", "append", "prepend"};
    static constexpr std::string_view kStatus[] = {"stored",    "not_stored", "exists",
                                                   "not_found", "too_large",  "no_memory"};
    const bool concat = mode == StoreMode::Append || mode == StoreMode::Prepend;
    std::uint32_t e = it.expiresAt.load(std::memory_order_relaxed);
    watch_.logStore(it.key(), kStatus[static_cast<int>(st)],
                    casIn && !concat && mode != StoreMode::Add ? "cas"
                                                               : kCmd[static_cast<int>(mode)],
                    e > now ? static_cast<std::int64_t>(e - now) : 0, it.valueLen, it.flags);
}

// append and prepend: `item` becomes a new item holding the old value and the new one, joined.
// Stored when it did (the caller links it), else why not.
StoreStatus Store::concatenate(StoreMode mode, const Item &old, ItemRef &item) {
    const Item *it = item.get();
    std::uint64_t len = std::uint64_t(old.valueLen) + it->valueLen;
    if (len > cfg_.itemSizeMax)
        return StoreStatus::TooLarge;
    // The old item keeps its flags and expiry (protocol.txt: append ignores them).
    Item *combined = newItem(it->key(), old.flags, old.expiresAt.load(std::memory_order_relaxed),
                             static_cast<std::uint32_t>(len));
    if (!combined)
        return StoreStatus::OutOfMemory;
    std::string_view a = mode == StoreMode::Append ? old.value() : it->value();
    std::string_view b = mode == StoreMode::Append ? it->value() : old.value();
    std::memcpy(combined->valueData(), a.data(), a.size());
    std::memcpy(combined->valueData() + a.size(), b.data(), b.size());
    item = ItemRef(combined);
    return StoreStatus::Stored;
}

StoreStatus Store::store(StoreMode mode, ItemRef &item, std::uint64_t casIn, std::uint64_t *casOut,
                         bool invalidate) {
    Item *it = item.get();
    assert(it && !(it->bits & Item::kLinked));
    const bool concat = mode == StoreMode::Append || mode == StoreMode::Prepend;
    if (!concat && !ensureRoom(footprintOf(it)))
        return StoreStatus::OutOfMemory;
    std::uint64_t h = hashKey(it->key());
    Shard &s = shardFor(h);
    std::unique_lock lock(s.mu);
    std::uint32_t now = relNow();
    Item *old = findLive(s, h, it->key());
    watchGet(it->key(), old);
    // memcached's logger: the old item's lookup, then the outcome of the store.
    auto outcome = [&](StoreStatus st) {
        if (watch_.wants(kWatchMutations))
            watchStore(*it, mode, casIn, st, now);
        return st;
    };
    // A CAS makes set and replace a compare-and-swap; append and prepend compare only when the
    // item exists (memcached's do_store_item; a missing one is NOT_STORED by the mode below).
    if (casIn != 0 && (old || !concat)) {
        if (!old) {
            ++s.st.casMisses;
            return outcome(StoreStatus::NotFound);
        }
        std::uint64_t cur = old->cas.load(std::memory_order_relaxed);
        if (cur != casIn) {
            if (!(invalidate && casIn < cur)) {
                ++s.st.casBadval;
                return outcome(StoreStatus::Exists);
            }
            // memcached's set_stale: the value is replaced, but the old TTL, the stale mark and
            // a token already handed out stay.
            it->bits |= Item::kStale | (old->bits & Item::kWonSent);
            it->expiresAt.store(old->expiresAt.load(std::memory_order_relaxed),
                                std::memory_order_relaxed);
        }
        ++s.st.casHits;
    }
    switch (mode) {
    case StoreMode::Set:
        break;
    case StoreMode::Add:
        if (old) {
            // memcached's do_item_update (segmented LRU, 1.6's default): the refused add is an
            // access of the item that is there, whenever it was last accessed.
            old->lastAccess = now;
            return outcome(StoreStatus::NotStored);
        }
        break;
    case StoreMode::Replace:
        if (!old)
            return outcome(StoreStatus::NotStored);
        break;
    case StoreMode::Append:
    case StoreMode::Prepend: {
        if (!old)
            return outcome(StoreStatus::NotStored);
        if (StoreStatus st = concatenate(mode, *old, item); st != StoreStatus::Stored)
            return outcome(st);
        it = item.get();
        break;
    }
    }
    std::uint64_t cas = nextCas_.fetch_add(1, std::memory_order_relaxed);
    it->cas.store(cas, std::memory_order_relaxed);
    if (old)
        unlink(s, old, h);
    link(s, it, h);
    if (casOut)
        *casOut = cas;
    outcome(StoreStatus::Stored);
    const bool charged = it->bits & Item::kObserved; // its index entries count too
    lock.unlock();
    if (concat || charged)
        ensureRoom(0);
    return StoreStatus::Stored;
}

namespace {
// memcached (1.6.18, slab_chunk_size_max) splits an item over this many bytes into chunks, and
// do_add_delta calls a chunked item non-numeric whatever its value ("1" and 600,000 spaces).
constexpr std::size_t kSlabChunkMax = 512 * 1024;
} // namespace

ArithStatus Store::arithmetic(std::string_view key, bool incr, std::uint64_t delta,
                              std::uint64_t *result, std::uint64_t casIn, std::uint64_t *casOut,
                              bool autoCreate, std::uint64_t initial, std::int64_t createExptime,
                              bool setExptime, std::int64_t exptime, ArithInfo *info) {
    std::uint64_t h = hashKey(key);
    Shard &s = shardFor(h);
    std::unique_lock lock(s.mu);
    Item *old = findLive(s, h, key);
    watchGet(key, old);
    std::uint64_t value;
    std::uint32_t flags = 0, expiresAt;
    if (!old) {
        if (!autoCreate) {
            ++(incr ? s.st.incrMisses : s.st.decrMisses);
            return ArithStatus::NotFound;
        }
        value = initial;
        expiresAt = relativeExpiry(createExptime);
    } else {
        // memcached's do_add_delta: an empty or chunked value is non-numeric before any CAS is
        // compared; then the value is read with safe_strtoull's rules (cache/store/number.h).
        if (old->valueLen == 0 ||
            memcachedItemSize(old->keyLen, old->valueLen, old->flags) > kSlabChunkMax)
            return ArithStatus::NonNumeric;
        if (casIn != 0 && old->cas.load(std::memory_order_relaxed) != casIn)
            return ArithStatus::Exists;
        std::uint64_t cur;
        if (!safeStrtoull(old->value(), cur))
            return ArithStatus::NonNumeric;
        ++(incr ? s.st.incrHits : s.st.decrHits);
        value = incr ? cur + delta : (delta > cur ? 0 : cur - delta); // incr wraps at 2^64
        flags = old->flags;
        expiresAt = old->expiresAt.load(std::memory_order_relaxed);
    }
    if (info) {
        info->created = !old;
        info->expiresBefore = old ? expiresAt : 0;
    }
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    std::size_t len = static_cast<std::size_t>(r.ptr - buf);
    // memcached rewrites a counter in place when the new number is not longer, padding it with
    // spaces to the old length ("100" decr 1 is "99 "); a longer one gets a new item of its size.
    const std::size_t stored = old && old->valueLen >= len ? old->valueLen : len;
    if (setExptime && old && stored == old->valueLen)
        expiresAt = relativeExpiry(exptime);
    Item *it = newItem(key, flags, expiresAt, static_cast<std::uint32_t>(stored));
    if (!it)
        return ArithStatus::NotStored;
    std::memcpy(it->valueData(), buf, len);
    std::memset(it->valueData() + len, ' ', stored - len);
    std::uint64_t cas = nextCas_.fetch_add(1, std::memory_order_relaxed);
    it->cas.store(cas, std::memory_order_relaxed);
    const bool inPlace = old && stored == old->valueLen; // memcached's in-place rewrite
    // The same item to memcached: it keeps its fetched, active and stale marks, a token already
    // handed out and its binary key; its last access is now (do_add_delta's do_item_update), as
    // link() sets it.
    constexpr std::uint8_t kKept =
        Item::kFetched | Item::kActive | Item::kStale | Item::kWonSent | Item::kBinaryKey;
    const std::uint8_t keptBits = inPlace ? (old->bits & kKept) : 0;
    if (old)
        unlink(s, old, h);
    link(s, it, h);
    it->bits |= keptBits;
    releaseItem(it); // the store's reference is the only one
    lock.unlock();
    ensureRoom(0);
    if (result)
        *result = value;
    if (casOut)
        *casOut = cas;
    return ArithStatus::Ok;
}

// ---------------------------------------------------------------------------------------------
// Room for a write. ensureRoom stays in this file, with the writes that call it first, so its
// fast path (nothing to evict) can inline into them; the eviction itself is in evict.cpp.

bool Store::ensureRoom(std::size_t bytes) {
    // Evict (outside any shard lock held by the caller) until the new bytes fit. A few rounds
    // over every shard at most: if nothing can be evicted the store is smaller than the item.
    std::size_t attempts = shards_.size() * 4 + 64;
    while (used_.load(std::memory_order_relaxed) + bytes > limit_.load(std::memory_order_relaxed)) {
        if (attempts-- == 0 || !evictOne())
            return used_.load(std::memory_order_relaxed) + bytes <=
                   limit_.load(std::memory_order_relaxed);
    }
    return true;
}

} // namespace fc::cache
