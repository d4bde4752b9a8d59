// memcached 1.6's `watch` command: a live stream of what the store does, in the line format of
// memcached's logger (logger.c), so `nc 127.0.0.1 11211` + `watch fetchers mutations evictions`
// shows the cache at work — HTTP hits and stores included, since they are gets and sets of the
// same store:
//
//   ts=SEC.USEC gid=N type=item_get key=K status=found|not_found clsid=C cfd=FD size=BYTES
//   ts=SEC.USEC gid=N type=item_store key=K status=stored|not_stored|exists|not_found cmd=set|
//      add|replace|append|prepend|cas ttl=SECONDS clsid=C cfd=FD size=BYTES
//   ts=SEC.USEC gid=N type=eviction key=K fetch=yes|no ttl=SECONDS|-1 la=SECONDS clsid=C
//      size=BYTES
//   skipped=N            (lines a watcher that did not keep up lost)
//
// As memcached: USEC is not zero-padded, lines end in "\n", a store command logs the lookup of
// the old item before the store, incr/decr/touch/delete log only their lookup. clsid is the slab
// class memcached's default slab sizes (-n 48, -f 1.25) would give the item (0 when not found);
// cfd the connection's descriptor (-1 for a store made from an upstream's response).
//
// Cost: with nobody watching, each store operation pays one relaxed atomic load. With watchers,
// a line is formatted and appended under a mutex to each watcher's bounded buffer (1 MiB; beyond
// it lines are dropped and counted as skipped), and the watcher is woken through its callback.
//
// Threading: log*() from any thread; subscribe/unsubscribe/take from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace fc::cache {

enum WatchKind : std::uint32_t {
    kWatchFetchers = 1,
    kWatchMutations = 2,
    kWatchEvictions = 4,
    kWatchOther = 8, // accepted by memcached (rawcmds, sysevents, connevents, proxyreqs): no lines
};

// The descriptor of the connection whose command the current thread is running (cfd=). Set by
// the connection before it feeds the store.
void setWatchClientFd(int fd);

// memcached's ITEM_ntotal for an item: its 48-byte header, the key and a NUL, the value and its
// CRLF, 4 bytes of client flags when they are not 0, and the CAS.
std::size_t memcachedItemSize(std::size_t keyLen, std::size_t valueLen, std::uint32_t flags);
// memcached's slab class for such an item (default slab sizes).
unsigned slabClassOf(std::size_t keyLen, std::size_t valueLen, std::uint32_t flags = 0);

// `watch [fetchers|mutations|evictions|rawcmds|sysevents|connevents|proxyreqs]...`: the kinds
// asked for (fetchers when none), or 0 when an argument is unknown (memcached answers ERROR).
std::uint32_t parseWatchArgs(const std::string_view *args, std::size_t n);

class WatchLog {
public:
    static constexpr std::size_t kMaxBuffered = 1 << 20;

    struct Watcher {
        std::uint32_t kinds;
        std::function<void()> wake; // called (any thread) when lines arrive; must not block
        std::string lines;          // guarded by the WatchLog's mutex
        std::uint64_t skipped = 0;
        bool woken = false; // a wake-up is pending (coalesces them)
    };

    bool wants(std::uint32_t kind) const {
        return (mask_.load(std::memory_order_relaxed) & kind) != 0;
    }
    void logGet(std::string_view key, bool found, std::size_t valueLen, std::uint32_t flags);
    void logStore(std::string_view key, std::string_view status, std::string_view cmd,
                  std::int64_t ttl, std::size_t valueLen, std::uint32_t flags);
    void logEviction(std::string_view key, bool fetched, std::int64_t ttl, std::int64_t lastAccess,
                     std::size_t valueLen, std::uint32_t flags);

    std::shared_ptr<Watcher> subscribe(std::uint32_t kinds, std::function<void()> wake);
    void unsubscribe(const std::shared_ptr<Watcher> &w);
    // The lines buffered for `w` since the last call ("skipped=N\n" first when some were lost).
    std::string take(Watcher &w);

private:
    void emit(std::uint32_t kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
    std::atomic<std::uint32_t> mask_{0};
    std::atomic<std::uint64_t> gid_{0};
    std::mutex mu_;
    std::vector<std::shared_ptr<Watcher>> watchers_;
};

} // namespace fc::cache
