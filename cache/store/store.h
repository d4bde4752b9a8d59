// The in-process, memcached-compatible key/value store.
//
// Semantics follow memcached 1.6 (doc/protocol.txt): keys of 1-250 bytes without spaces or
// control characters; 32-bit client flags; exptime 0 = never, 1..2592000 = seconds from now,
// larger = absolute Unix time, negative = already expired; a 64-bit CAS that changes on every
// modification; values up to itemSizeMax; a memory limit that counts keys, values and the
// per-item overhead (the real allocation size), with eviction instead of failure when full.
//
// Eviction: S3-FIFO (Yang et al., SOSP'23) per shard — a small FIFO (10 % of the bytes) that
// filters one-hit wonders, a main FIFO with 2-bit frequency counters and lazy re-insertion, and
// a ghost table of recently evicted key hashes that sends returning keys straight to main.
// Reads only bump an atomic counter (no list manipulation). Plain LRU is available for
// comparison (StoreConfig::policy).
//
// Expired items are reclaimed lazily when touched and incrementally by reclaimExpired(), which
// the server calls from a timer: no request ever scans the whole store.
//
// Threading: all methods are safe to call concurrently from any thread. The index is split into
// shards, each with its own mutex held only for the hash lookup and list update; values are
// written and read outside the lock through refcounted ItemRefs.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "cache/store/clock.h"
#include "cache/store/item.h"
#include "cache/store/watch.h"

namespace fc::cache {

constexpr std::size_t kMaxKeyLength = 250;
constexpr std::int64_t kRelativeExptimeMax = 60 * 60 * 24 * 30; // memcached's REALTIME_MAXDELTA

// How long an item lives, in seconds from now, whatever the length: the HTTP side keeps pages as
// long as their responses say (years, for hashed static files), capped by cache.max_ttl. A
// memcached exptime (an int64) is read by memcached's rules instead: beyond 30 days it is an
// absolute Unix time, so a page's lifetime must never travel as one.
struct Lifetime {
    std::int64_t seconds = 0;
};

// Is `key` a valid memcached key (1-250 bytes, no control characters or spaces)?
bool validKey(std::string_view key);

enum class EvictionPolicy { S3Fifo, Lru };

// Told of items as they are linked into and unlinked from the store, whatever the cause (a
// store, a replacement, delete, eviction, expiry or flush found on access, a restore from a
// snapshot), so that an index kept beside the store (cache/groups.h: pages by cache group) is
// never out of step with it. A hit never calls it: lookups do not link.
//
// Threading: called under the item's shard lock, from any thread; an implementation takes only
// its own locks (after the shard's: never call back into the store while holding them) and does
// no I/O. It must outlive the store's last link or unlink.
class LinkObserver {
public:
    // `it` was just linked (its value is complete). Returns the bytes the observer keeps for it
    // (its index entries), which the store counts against its memory limit beside the item's
    // own, so that what the index holds is bounded by cache.memory and evicted with the items;
    // > 0 also asks to be told when it is unlinked (the item is marked Item::kObserved). 0:
    // never again for this item.
    virtual std::size_t linked(Item &it) noexcept = 0;
    // An item linked() charged for is being unlinked; returns the same bytes linked() did (a
    // function of the item's immutable value). Its memory stays valid until the call returns.
    virtual std::size_t unlinked(Item &it) noexcept = 0;
    // flush_all without delay: every item whose CAS is below `flushCas` is dead at once (they are
    // unlinked later, lazily); one linked meanwhile on another thread has a CAS at or above it
    // and lives.
    virtual void flushed(std::uint64_t flushCas) noexcept = 0;

protected:
    ~LinkObserver() = default;
};

struct StoreConfig {
    std::uint64_t memoryLimit = 64ull << 20;
    std::uint32_t itemSizeMax = 1u << 20; // largest value accepted
    unsigned shardBits = 6;               // 2^6 = 64 shards
    EvictionPolicy policy = EvictionPolicy::S3Fifo;
};

enum class StoreMode { Set, Add, Replace, Append, Prepend };

enum class StoreStatus { Stored, NotStored, Exists, NotFound, TooLarge, OutOfMemory };
enum class DeleteStatus { Deleted, NotFound, Exists };
enum class ArithStatus { Ok, NotFound, NonNumeric, Exists, NotStored };
enum class TouchStatus { Touched, NotFound };

struct StoreStats {
    std::uint64_t currItems = 0, totalItems = 0, bytes = 0, limitMaxbytes = 0;
    std::uint64_t getHits = 0, getMisses = 0, getExpired = 0, getFlushed = 0;
    std::uint64_t evictions = 0, evictedUnfetched = 0, expiredUnfetched = 0, reclaimed = 0;
    std::uint64_t deleteHits = 0, deleteMisses = 0, incrHits = 0, incrMisses = 0;
    std::uint64_t decrHits = 0, decrMisses = 0, casHits = 0, casMisses = 0, casBadval = 0;
    std::uint64_t touchHits = 0, touchMisses = 0;
    std::uint64_t hashBuckets = 0;
};

// What a lookup may report besides the item (meta protocol needs them).
struct LookupInfo {
    bool hitBefore = false; // the item had been fetched before this lookup
    std::uint32_t lastAccessAgo = 0;
    bool stale = false; // marked invalid by md I / ms I
    bool won = false;   // this caller won the right to recache (N / R / stale)
    bool wonAlreadySent = false;
    bool created = false; // mg N made it just now
};

class Store {
public:
    Store(StoreConfig cfg, const Clock &clock);
    ~Store();
    Store(const Store &) = delete;
    Store &operator=(const Store &) = delete;

    // --- time -----------------------------------------------------------------------------
    // Converts a memcached exptime to the store's relative time (0 = never; 1 = already
    // expired, used for negative and past absolute times).
    std::uint32_t relativeExpiry(std::int64_t exptime) const;
    // The store's time `l` seconds from now (<= 0: already expired), clamped to its range.
    std::uint32_t expiryAfter(Lifetime l) const;
    std::uint32_t relNow() const;
    // Seconds of TTL left for an item, -1 when it never expires.
    std::int64_t ttlRemaining(const Item &it) const;

    // --- reads ----------------------------------------------------------------------------
    struct GetOptions {
        bool bump = true;       // an access: eviction frequency, last access, "fetched"
        bool countStats = true; // count a get hit / miss
        bool touch = false;     // also set a new expiry (gat, mg T)
        std::int64_t exptime = 0;
        bool vivify = false; // mg N: on a miss create an empty item and let this caller win
        std::int64_t vivifyExptime = 0;
        bool recache = false; // mg R: win if the TTL left is below recacheBelow
        std::int64_t recacheBelow = 0;
        // Mark the recache token handed out (N, R, stale) here; mg leaves it to claimWin, so a
        // line that fails half way through claims nothing, as in memcached.
        bool claimWins = true;
    };
    // Returns the live item or an empty ref.
    ItemRef lookup(std::string_view key, const GetOptions &opts, LookupInfo *info = nullptr);
    ItemRef get(std::string_view key) { return lookup(key, GetOptions{}); }

    // --- writes ---------------------------------------------------------------------------
    // Allocates an unlinked item with room for `valueLen` bytes; the caller fills
    // valueData() and then calls store(). Empty ref if valueLen exceeds itemSizeMax.
    ItemRef allocate(std::string_view key, std::uint32_t flags, std::int64_t exptime,
                     std::uint32_t valueLen);
    // The same for a lifetime of any length (the HTTP side's pages).
    ItemRef allocate(std::string_view key, std::uint32_t flags, Lifetime lifetime,
                     std::uint32_t valueLen);
    // Links `item` according to `mode`. `casIn` != 0 makes it a compare-and-swap (memcached's
    // "cas" command, or ms C). On success *casOut (if given) receives the new CAS.
    // `invalidate` (ms I): with a CAS older than the item's, store it but mark it stale.
    StoreStatus store(StoreMode mode, ItemRef &item, std::uint64_t casIn = 0,
                      std::uint64_t *casOut = nullptr, bool invalidate = false);
    // allocate + copy `value` + store(Set): memcached's plain "set". Returns the linked item, or
    // an empty ref when the value does not fit.
    ItemRef set(std::string_view key, std::string_view value, std::int64_t exptime);
    ItemRef set(std::string_view key, std::string_view value, Lifetime lifetime);
    DeleteStatus remove(std::string_view key, std::uint64_t casIn = 0);
    // md I: mark stale and bump the CAS instead of removing; optional new exptime.
    DeleteStatus invalidate(std::string_view key, std::uint64_t casIn, bool setExptime,
                            std::int64_t exptime);
    // incr/decr: 64-bit unsigned; incr wraps, decr floors at 0. With `autoCreate`, a miss
    // creates the item with `initial` and `createExptime` (ma N/J). `setExptime` (ma T) applies
    // to an existing counter only when it is rewritten in place: memcached copies a counter that
    // outgrows its item and applies T to the old, unlinked one.
    struct ArithInfo {
        bool created = false;            // autoCreate made the counter
        std::uint32_t expiresBefore = 0; // the old item's store-relative expiry (0 never)
    };
    ArithStatus arithmetic(std::string_view key, bool incr, std::uint64_t delta,
                           std::uint64_t *result, std::uint64_t casIn = 0,
                           std::uint64_t *casOut = nullptr, bool autoCreate = false,
                           std::uint64_t initial = 0, std::int64_t createExptime = 0,
                           bool setExptime = false, std::int64_t exptime = 0,
                           ArithInfo *info = nullptr);
    TouchStatus touch(std::string_view key, std::int64_t exptime);
    // Invalidates every item stored before now + delay (memcached's flush_all [delay]).
    void flushAll(std::int64_t delaySeconds);

    // --- maintenance ----------------------------------------------------------------------
    // Frees up to `budget` expired items, continuing where the previous call stopped.
    std::size_t reclaimExpired(std::size_t budget);
    // Removes every live item for which pred(key, value) is true; returns how many. Walks the
    // whole store, one shard lock at a time (an administrative operation: purge by path), and
    // calls `pred` under that lock, so it must not call back into the store.
    std::size_t removeIf(const std::function<bool(std::string_view, std::string_view)> &pred);
    // mg R: marks `it` as having handed out its recache token; true when this caller is the one
    // who did (nobody had yet).
    bool claimWin(Item &it);
    // An access counted after the fact (mg with h, l, T, N or R bumps only once its answer is
    // complete, as memcached's does): the eviction counter, the fetched and active marks.
    void bump(Item &it);
    // Calls `visit` once per shard with that shard's live items: the references are taken under
    // the shard's lock and visited after it is released, so gets and sets go on while a slow
    // visitor (a snapshot writing to disk) works. Items stored or removed meanwhile may or may
    // not be seen. Memory held back from eviction: one shard's items at a time.
    void forEachLive(const std::function<void(std::vector<ItemRef> &)> &visit);
    // Unix time at which `it` expires, 0 when it never does (a snapshot keeps absolute expiry).
    std::int64_t absoluteExpiry(const Item &it) const;
    // Unlinks this very item if it is still linked and live (not a newer one under its key):
    // what a purge from an index of items (cache/groups.h) removes. True when it did.
    bool removeExact(Item &it);
    // The observer told of links and unlinks (null = none). Set before any other thread uses the
    // store (at start, before a snapshot is restored into it).
    void setObserver(LinkObserver *o) { observer_ = o; }
    // Changes the memory limit (memcached's cache_memlimit); evicts if now over it.
    void setMemoryLimit(std::uint64_t bytes);

    StoreStats stats() const;
    const StoreConfig &config() const { return cfg_; }
    // memcached's `watch`: every get, store and eviction, for whoever watches
    // (cache/store/watch.h).
    WatchLog &watch() { return watch_; }
    std::uint64_t memoryUsed() const { return used_.load(std::memory_order_relaxed); }
    // Bytes counted for an item of this key and value length (header + key + value, rounded as
    // the allocator rounds).
    static std::size_t itemFootprint(std::size_t keyLen, std::size_t valueLen);

private:
    struct Shard;
    Shard &shardFor(std::uint64_t hash) const;
    bool ensureRoom(std::size_t bytes);
    bool evictOne();
    bool isLive(const Item &it, std::uint32_t now) const;
    // allocate and set at the store's time `expiresAt` (relativeExpiry or expiryAfter).
    ItemRef allocateAt(std::string_view key, std::uint32_t flags, std::uint32_t expiresAt,
                       std::uint32_t valueLen);
    ItemRef setAt(std::string_view key, std::string_view value, std::uint32_t expiresAt);
    Item *newItem(std::string_view key, std::uint32_t flags, std::uint32_t expiresAt,
                  std::uint32_t valueLen);
    void link(Shard &s, Item *it, std::uint64_t hash);
    void unlink(Shard &s, Item *it, std::uint64_t hash);
    void dropDead(Shard &s, Item *it, std::uint64_t hash);
    Item *findLive(Shard &s, std::uint64_t hash, std::string_view key);
    // memcached's do_item_bump with its segmented LRU: the first fetch marks the item fetched,
    // the second makes it active and moves its last-access time, later ones change nothing.
    // (Shard lock held; only the bits that change are written.)
    static void bumpAccess(Item &it, std::uint32_t now) {
        if (it.bits & Item::kActive)
            return;
        if (!(it.bits & Item::kFetched)) {
            it.bits |= Item::kFetched;
        } else {
            it.bits |= Item::kActive;
            it.lastAccess = now;
        }
    }
    void watchGet(std::string_view key, const Item *it) {
        if (watch_.wants(kWatchFetchers))
            watch_.logGet(key, it != nullptr, it ? it->valueLen : 0, it ? it->flags : 0);
    }
    template <typename Act>
    DeleteStatus deleteLike(std::string_view key, std::uint64_t casIn, Act &&act);
    // store()'s parts: its watch line (the caller checks wants(kWatchMutations)), and append and
    // prepend's joined item.
    void watchStore(const Item &it, StoreMode mode, std::uint64_t casIn, StoreStatus st,
                    std::uint32_t now);
    StoreStatus concatenate(StoreMode mode, const Item &old, ItemRef &item);

    StoreConfig cfg_;
    const Clock &clock_;
    std::int64_t epoch_; // unix time of relative second 0
    std::vector<std::unique_ptr<Shard>> shards_;
    std::atomic<std::uint64_t> used_{0};
    std::atomic<std::uint64_t> limit_;
    std::atomic<std::uint32_t> evictHand_{0};
    std::atomic<std::uint32_t> reclaimHand_{0};
    std::atomic<std::uint64_t> nextCas_{1};
    // flush_all: items last stored/accessed before flushAt_ are dead once flushAt_ <= now
    // (a delayed flush), and items with a CAS below flushCas_ are dead at once (an immediate
    // flush; the CAS separates items stored in the same second before and after it).
    std::atomic<std::uint32_t> flushAt_{0};
    std::atomic<std::uint64_t> flushCas_{0};
    WatchLog watch_;
    LinkObserver *observer_ = nullptr;
};

} // namespace fc::cache
