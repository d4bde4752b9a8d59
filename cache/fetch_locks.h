// Request coalescing: at most one upstream fetch per cache key at a time, across all workers.
//
// The first miss for a key claims it and fetches; later misses for the same key wait (they are
// recorded as waiters) and are woken, by id, when the owner releases the key — the caller turns
// the returned ids into wake-ups on the waiters' own threads, so nobody polls (nginx's cache lock
// re-checks every 500 ms). Bounded: a key takes at most `maxWaiters` waiters (later ones fetch
// for themselves), and waiters give up after their own timeout (cancel()).
//
// A key whose response turned out not storable is remembered as "pass" for a while (Varnish's
// hit-for-miss): claims return Pass at once so the next burst goes to the upstream in parallel
// instead of queueing behind one request that will not be cached either.
//
// Threading: every method may be called from any thread; a key's shard mutex is held only for the
// map update (never across I/O). Only misses come here: the hit path never does.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cache/store/clock.h"

namespace fc::cache {

// Who is waiting: the worker that owns the waiting connection, and an id unique in that worker.
struct WaiterId {
    std::uint32_t worker = 0;
    std::uint64_t id = 0;
    bool operator==(const WaiterId &) const = default;
};

class FetchLocks {
public:
    // `clock` must outlive the table (it times the pass marks).
    FetchLocks(const Clock &clock, std::size_t maxWaiters);

    enum class Claim {
        Owner, // the caller fetches and must release() the key when done
        Wait,  // another fetch holds the key; the caller was added as a waiter
        Busy,  // another fetch holds the key and the caller did not ask to wait, or the key has
               // maxWaiters waiters already: fetch without the lock
        Pass,  // the key is marked not storable: fetch without the lock
    };
    // `waiter` null: do not wait (a background refresh only wants to know whether to start).
    // `mayOwn` false: wait if another fetch holds the key, but never become the owner (Busy
    // instead) — a HEAD miss can use what a GET fetch stores, not the other way round.
    Claim claim(std::string_view key, const WaiterId *waiter, bool mayOwn = true);
    // The owner is done. Appends the waiters to wake to `wake`. `passSeconds` > 0 marks the key as
    // not storable for that long.
    void release(std::string_view key, std::int64_t passSeconds, std::vector<WaiterId> &wake);
    // A waiter stops waiting (timed out, or its client left). False if it was not waiting (it was
    // already released: a wake-up is on its way and will find nobody).
    bool cancel(std::string_view key, const WaiterId &w);

    // True while the key is marked not storable (a claim would return Pass).
    bool passing(std::string_view key) const;

    // The reload's new cache.lock_max_waiters (main thread, while workers claim). A claim in
    // flight may still use the old limit; the next one sees the new.
    void setMaxWaiters(std::size_t n);
    std::size_t heldCount() const; // keys being fetched now (for /metrics)

private:
    struct Entry {
        bool held = false;
        std::int64_t passUntil = 0;
        std::vector<WaiterId> waiters;
    };
    struct Shard {
        mutable std::mutex mu;
        std::unordered_map<std::string, Entry> map;
        std::size_t sweepAt = 1024;
    };
    Shard &shardFor(std::string_view key);
    const Shard &shardFor(std::string_view key) const {
        return const_cast<FetchLocks *>(this)->shardFor(key);
    }
    void sweep(Shard &s, std::int64_t now);

    const Clock &clock_;
    // An atomic, not a field under the shard mutexes: the writer (reload) and the readers
    // (claim) hold different shard locks, so no one mutex orders them. It guards nothing else,
    // so relaxed loads and stores are enough.
    std::atomic<std::size_t> maxWaiters_;
    static constexpr std::size_t kShards = 16;
    Shard shards_[kShards];
};

} // namespace fc::cache
