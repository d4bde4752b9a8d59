// What the admin port reads and acts on: the pointed-to objects belong to the server
// (server/server.cpp builds this once before the workers start) and outlive the admin port.
//
// Threading: the main loop's thread only. The workers' counters and URL samplers are read with
// relaxed loads; reloads (SIGHUP) change `token` and the counts of reloads on this thread too.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proxy/cache_counters.h"
#include "proxy/url_sampler.h"

namespace fc::cache {
class Clock;
class FetchLocks;
class Store;
} // namespace fc::cache

namespace fc::proxy {
class Balancer;
class Resolver;
struct CacheContext;
} // namespace fc::proxy

namespace fc::fleet {
class PeerForwarder;
struct SnapshotStatus;
} // namespace fc::fleet

namespace fc::admin {

struct AdminContext {
    cache::Store *store = nullptr;
    cache::FetchLocks *locks = nullptr;
    const cache::Clock *clock = nullptr;                // the store's clock (ages, /variants)
    const proxy::Balancer *balancer = nullptr;          // the upstream servers (per-server series)
    const proxy::Resolver *resolver = nullptr;          // their host names' lookups
    std::vector<const proxy::CacheCounters *> counters; // one per worker, and ownCounters
    proxy::CacheCounters *ownCounters = nullptr;        // the admin port's own (its purges)
    std::vector<proxy::UrlSampler *> samplers;          // one per worker (GET /top)
    // The main thread's copy (reloaded with SIGHUP): only handed to proxy::purge, which is the
    // data path's one purge; the admin port reads nothing in it.
    const proxy::CacheContext *cache = nullptr;
    std::string selfAddress; // "127.0.0.1:9090", as bound
    std::int64_t startedAt = 0;
    std::uint64_t reloads = 0, reloadFailures = 0;
    const fleet::SnapshotStatus *snapshots = nullptr; // cache.snapshot set
    fleet::PeerForwarder *peers = nullptr;            // admin.peers (flushes are forwarded too)
    std::string token;                                // admin.token: "" = no Authorization needed
};

} // namespace fc::admin
