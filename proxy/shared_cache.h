// The shared memcached cluster (cache.shared_servers, cache/backend/memcached_cluster.h) from a
// loop: its blocking calls run on libuv's thread pool and the result comes back to the loop that
// asked. Only misses and stores come here; the hit path never does.
//
// Threading: start these on a loop's thread; `done` runs on that thread. The loop does not end
// while a job is queued or running (each is bounded by cache.shared_timeout per call).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cache/backend/memcached_cluster.h"
#include "cache/policy/policy.h"
#include "cache/store/item.h"
#include "http/headers.h"
#include "proxy/cache_counters.h"

namespace fc::proxy {

// What a lookup found: the page for the request's variant, under its page key, with the Vary
// list from the header key.
struct SharedLookupResult {
    bool error = false;    // the cluster could not be asked (it is down): a miss
    bool found = false;    // `page` holds a stored page (not yet decoded)
    std::string headerKey; // learn_cache_key's header key of the URI
    std::string pageKey;   // the page key for this request's variant (when the Vary list was
                           // found)
    std::string varyList;  // the header key's value
    std::string page;      // the page's bytes (cache/page/page.h)
};

// FetchFromCacheMiddleware against the cluster: header key -> Vary list -> page key -> page.
// `headers` is a copy of the request's fields (the request may change while this runs).
void sharedLookup(uv_loop_t *loop, cache::MemcachedCluster &cluster,
                  const cache::PolicyConfig &policy, std::string uri, http::HeaderList headers,
                  std::string keyExtra, std::function<void(SharedLookupResult &)> done);

// Stores a page (held, not copied) and its header key in the cluster; the outcome is counted.
void sharedStore(uv_loop_t *loop, cache::MemcachedCluster &cluster, std::string headerKey,
                 std::string varyList, std::string pageKey, cache::ItemRef page,
                 std::int64_t keepSeconds, CacheCounters &counters);

// Deletes what a purge removed here from the cluster too; failures are logged.
void purgeShared(uv_loop_t *loop, cache::MemcachedCluster &cluster, std::vector<std::string> keys);

} // namespace fc::proxy
