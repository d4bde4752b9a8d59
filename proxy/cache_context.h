// What the HTTP data path needs of the cache, shared by the exchange, the fetch, the page fill,
// purges and the admin port: the shared objects and this worker's copy of the cache settings.
// Its own header so that what reads it need not include the whole worker.
//
// Ownership: the pointed-to objects are shared by every worker and outlive them; the settings are
// a per-worker copy, replaced on the worker's own thread when the configuration is reloaded
// (SIGHUP). Threading: read on the owning worker's loop thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cache/backend/memcached_cluster.h"
#include "cache/fetch_locks.h"
#include "cache/groups.h"
#include "cache/policy/policy.h"
#include "cache/store/store.h"
#include "config/config.h"

namespace fc::proxy {

class Balancer;
class ClientBudget;
class PurgeForwarding;
class UpstreamLimiter;
class Worker;

struct CacheContext {
    cache::Store *store = nullptr;
    const cache::Clock *clock = nullptr;
    cache::FetchLocks *locks = nullptr;
    const std::vector<Worker *> *workers = nullptr; // every worker, to wake coalesced waiters
    UpstreamLimiter *limiter = nullptr;             // upstream.max_connections across workers
    Balancer *balancer = nullptr;                   // the upstream servers and their health
    cache::MemcachedCluster *shared = nullptr;      // cache.shared_servers (null = none)
    PurgeForwarding *peers = nullptr;               // admin.peers (null = none)
    ClientBudget *budget = nullptr;                 // [limits] (the table; its rules: the config)
    cache::GroupIndex *groups = nullptr;            // pages by cache group (the store's observer)
    cache::PolicyConfig policy;
    std::string statusHeader;    // "X-Cache" (empty = off)
    bool cacheStatus = true;     // RFC 9211 Cache-Status
    bool cacheStatusKey = false; // ... with key="..." (cache.cache_status_key)
    bool coalesce = true;        // cache.coalesce
    config::Millis lockTimeout{5000};
    std::int64_t hitForMissSeconds = 10;
    std::vector<std::string> allowPurgeFrom; // admin.allow_purge_from: peers allowed to PURGE
    int accessLogFd = -1;                    // -1 = no access log
    cache::GroupFieldsConfig groupFields;    // cache.group_fields, cache.forward_group_aliases
};

// The cache settings of a Config (everything but the shared pointers and the log descriptor).
void applyCacheSettings(const config::Config &c, CacheContext &ctx);

} // namespace fc::proxy
