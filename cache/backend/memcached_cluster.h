// A shared memcached cluster (cache.shared_servers) behind the in-process store: pages that one
// frontcache instance stored are found by the others, with the same keys and the same page
// format (cache/page/page.h) as the in-process store.
//
// libmemcached does the protocol, key distribution (consistent hashing, ketama) and failure
// handling (a server that fails is skipped for a while). Its calls block, so the proxy never
// makes them on an I/O thread: it runs them on libuv's thread pool and continues the request
// when they return.
//
// Threading: every method may be called from any thread; each call borrows its own libmemcached
// handle from a small pool (a memcached_st must not be shared between threads). Ownership: owns
// the handles.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

struct memcached_st;

namespace fc::cache {

class MemcachedCluster {
public:
    struct Server {
        std::string host; // numeric address
        std::uint16_t port;
    };
    // `servers` non-empty; `timeoutMs` bounds each connect and each reply.
    MemcachedCluster(const std::vector<Server> &servers, std::uint64_t timeoutMs);
    ~MemcachedCluster();
    MemcachedCluster(const MemcachedCluster &) = delete;
    MemcachedCluster &operator=(const MemcachedCluster &) = delete;

    enum class Result { Found, NotFound, Error };
    // Reads `key` into `value`.
    Result get(std::string_view key, std::string &value);
    // Stores `value` for `keepSeconds` (> 0). False on error.
    bool set(std::string_view key, std::string_view value, std::int64_t keepSeconds);
    // False on error (a missing key is not one).
    bool remove(std::string_view key);

    // The last error libmemcached reported, for the log (any thread; a copy).
    std::string lastError() const;

private:
    memcached_st *borrow();
    void giveBack(memcached_st *m);
    void noteError(memcached_st *m, int rc);

    memcached_st *master_;
    mutable std::mutex mu_;
    std::vector<memcached_st *> free_;
    std::string lastError_;
};

} // namespace fc::cache
