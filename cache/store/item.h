// An item of the store: one allocation holding the header, the key and the value.
//
// Items are immutable once linked into the store (a new set makes a new item), and reference
// counted: the store holds one reference while the item is linked, and every ItemRef holds one.
// The memory is freed when the last reference goes, so a value being written to a socket is
// never freed or changed under the writer. ItemRef may be moved between threads; the refcount is
// atomic. Everything else in Item is guarded by the owning shard's lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

namespace fc::cache {

struct Item {
    Item *hnext;                    // hash chain (shard lock)
    Item *prev, *next;              // eviction queue (shard lock)
    std::atomic<std::uint64_t> cas; // changed in place only by md I (relaxed)
    std::atomic<std::uint32_t> refs;
    std::uint32_t flags;                  // client flags (opaque to us), immutable
    std::uint32_t valueLen;               // immutable
    std::atomic<std::uint32_t> expiresAt; // store-relative seconds; 0 = never (touch: relaxed)
    std::uint32_t lastAccess;             // store-relative seconds (shard lock)
    std::uint8_t keyLen;
    std::atomic<std::uint8_t> freq; // S3-FIFO access counter (0..3), bumped without the lock
    std::uint8_t bits; // kLinked | kFetched | kStale | kWonSent | kMain | kBinaryKey | kActive |
                       // kObserved
    // The key bytes, then the value bytes, follow the header in the same allocation.

    static constexpr std::uint8_t kLinked = 1, kFetched = 2, kStale = 4, kWonSent = 8, kMain = 16;
    // Stored by a meta command with `b`: meta answers show its key base64-encoded (memcached's
    // ITEM_KEY_BINARY). Set before the item is linked.
    static constexpr std::uint8_t kBinaryKey = 32;
    // memcached's ITEM_ACTIVE: fetched twice. Its segmented LRU moves an item's last-access time
    // only on the fetch that makes it active (then never again), which mg l and me la show.
    static constexpr std::uint8_t kActive = 64;
    // The store's LinkObserver asked to hear of this item's unlink (cache/store/store.h): it
    // indexed the item when it was linked (a page with cache groups, cache/groups.h).
    static constexpr std::uint8_t kObserved = 128;

    char *data() { return reinterpret_cast<char *>(this + 1); }
    const char *data() const { return reinterpret_cast<const char *>(this + 1); }
    std::string_view key() const { return {data(), keyLen}; }
    std::string_view value() const { return {data() + keyLen, valueLen}; }
    char *valueData() { return data() + keyLen; }
};

static_assert(sizeof(Item) <= 64, "per-item overhead budget is 64 bytes plus the key");

void freeItem(Item *it) noexcept;

inline void retainItem(Item *it) noexcept {
    it->refs.fetch_add(1, std::memory_order_relaxed);
}
inline void releaseItem(Item *it) noexcept {
    if (it->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
        freeItem(it);
}

// Owning handle to one reference of an item. Move-only; empty when default-constructed.
class ItemRef {
public:
    ItemRef() = default;
    explicit ItemRef(Item *adopt) noexcept : it_(adopt) {}
    ItemRef(ItemRef &&o) noexcept : it_(std::exchange(o.it_, nullptr)) {}
    ItemRef &operator=(ItemRef &&o) noexcept {
        if (this != &o) {
            reset();
            it_ = std::exchange(o.it_, nullptr);
        }
        return *this;
    }
    ItemRef(const ItemRef &) = delete;
    ItemRef &operator=(const ItemRef &) = delete;
    ~ItemRef() { reset(); }

    void reset() noexcept {
        if (it_)
            releaseItem(std::exchange(it_, nullptr));
    }
    // Gives up ownership without releasing (the caller now owns the reference).
    Item *release() noexcept { return std::exchange(it_, nullptr); }
    ItemRef share() const noexcept {
        if (it_)
            retainItem(it_);
        return ItemRef(it_);
    }

    explicit operator bool() const { return it_ != nullptr; }
    Item *get() const { return it_; }
    Item *operator->() const { return it_; }
    Item &operator*() const { return *it_; }

private:
    Item *it_ = nullptr;
};

} // namespace fc::cache
