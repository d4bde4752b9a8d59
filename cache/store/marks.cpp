// What changes an item's life or marks but not its value: delete, md I (stale), touch, flush_all,
// and the marks mg sets once its answer is complete (the access, the recache token).
#include "cache/store/store.h"

#include "cache/store/shard.h"

namespace fc::cache {

// delete and md: find the live item, check the CAS, count, then apply `act` under the lock.
template <typename Act>
DeleteStatus Store::deleteLike(std::string_view key, std::uint64_t casIn, Act &&act) {
    std::uint64_t h = hashKey(key);
    Shard &s = shardFor(h);
    std::lock_guard lock(s.mu);
    Item *it = findLive(s, h, key);
    watchGet(key, it);
    if (!it) {
        ++s.st.deleteMisses;
        return DeleteStatus::NotFound;
    }
    if (casIn != 0 && it->cas.load(std::memory_order_relaxed) != casIn)
        return DeleteStatus::Exists;
    ++s.st.deleteHits;
    act(s, it, h);
    return DeleteStatus::Deleted;
}

DeleteStatus Store::remove(std::string_view key, std::uint64_t casIn) {
    return deleteLike(key, casIn,
                      [this](Shard &s, Item *it, std::uint64_t h) { unlink(s, it, h); });
}

DeleteStatus Store::invalidate(std::string_view key, std::uint64_t casIn, bool setExptime,
                               std::int64_t exptime) {
    return deleteLike(key, casIn, [&](Shard &, Item *it, std::uint64_t) {
        it->bits |= Item::kStale;
        it->bits &= static_cast<std::uint8_t>(~Item::kWonSent);
        it->cas.store(nextCas_.fetch_add(1, std::memory_order_relaxed), std::memory_order_relaxed);
        if (setExptime)
            it->expiresAt.store(relativeExpiry(exptime), std::memory_order_relaxed);
    });
}

TouchStatus Store::touch(std::string_view key, std::int64_t exptime) {
    std::uint64_t h = hashKey(key);
    Shard &s = shardFor(h);
    std::lock_guard lock(s.mu);
    std::uint32_t now = relNow();
    Item *it = findLive(s, h, key);
    watchGet(key, it);
    if (!it) {
        ++s.st.touchMisses;
        return TouchStatus::NotFound;
    }
    ++s.st.touchHits;
    it->expiresAt.store(relativeExpiry(exptime), std::memory_order_relaxed);
    bumpAccess(*it, now); // memcached's touch is a fetch too (mg h answers h1 after it)
    return TouchStatus::Touched;
}

void Store::flushAll(std::int64_t delaySeconds) {
    if (delaySeconds > 0) {
        flushAt_.store(relativeExpiry(delaySeconds), std::memory_order_relaxed);
    } else {
        flushAt_.store(0, std::memory_order_relaxed);
        const std::uint64_t cas = nextCas_.fetch_add(1, std::memory_order_relaxed);
        flushCas_.store(cas, std::memory_order_relaxed);
        if (observer_)
            observer_->flushed(cas);
    }
}

bool Store::removeExact(Item &it) {
    const std::uint64_t h = hashKey(it.key());
    Shard &s = shardFor(h);
    std::lock_guard lock(s.mu);
    if (!(it.bits & Item::kLinked) || !isLive(it, relNow()))
        return false;
    ++s.st.deleteHits;
    unlink(s, &it, h);
    return true;
}

void Store::bump(Item &it) {
    Shard &s = shardFor(hashKey(it.key()));
    std::lock_guard lock(s.mu);
    if (!(it.bits & Item::kLinked))
        return;
    std::uint8_t f = it.freq.load(std::memory_order_relaxed);
    if (f < 3)
        it.freq.store(static_cast<std::uint8_t>(f + 1), std::memory_order_relaxed);
    bumpAccess(it, relNow());
}

bool Store::claimWin(Item &it) {
    Shard &s = shardFor(hashKey(it.key()));
    std::lock_guard lock(s.mu);
    if (it.bits & Item::kWonSent)
        return false;
    it.bits |= Item::kWonSent;
    return true;
}

} // namespace fc::cache
