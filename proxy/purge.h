// Purge, the one implementation behind both ways in: PURGE / POST /purge on the admin port and
// PURGE on the public port (from admin.allow_purge_from). It removes every stored variant of the
// paths (cache/purge.h), the same keys from the shared cluster when there is one, and counts
// purged_total.
//
// Threading: the calling loop's thread (the admin port's main loop or a worker's); `counters`
// must be that thread's own set.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "cache/groups.h"
#include "http/headers.h"
#include "proxy/cache_counters.h"

namespace fc::proxy {

struct CacheContext;

struct PurgeOutcome {
    std::size_t removed = 0;
    std::size_t expired = 0; // soft purge: marked expired instead (cache/purge.h)
};

// A purge another instance forwarded (admin.peers): it is not forwarded again, and the keys
// that instance already deleted from the shared cluster are not deleted a second time.
struct PeerOrigin {
    bool sharedDoneKnown = false;
    std::unordered_set<std::uint64_t> sharedDone; // sharedKeyHash() of each
};

// The hash a forwarded purge names a shared-cluster key by (16 hex digits on the wire).
std::uint64_t sharedKeyHash(std::string_view key);

// `host` empty: every host. `soft`: pages that may be served stale are marked expired instead
// of removed (cache::softPurgePaths); the shared cluster's copies are deleted either way, so no
// instance serves the old page fresh from there. Unless `fromPeer`, the purge is then forwarded
// to admin.peers (cc.peers), with the keys deleted from the shared cluster.
PurgeOutcome purge(uv_loop_t *loop, const CacheContext &cc, const std::vector<std::string> &paths,
                   std::string_view host, bool soft, CacheCounters &counters,
                   const PeerOrigin *fromPeer = nullptr);

// Purge by cache group (RFC 9875, cache/groups.h): the pages of `groups` on `host` ("" = every
// host), hard or soft exactly as purge() does paths, through the group index (cost: the pages of
// the groups). The same keys leave the shared cluster, and the purge goes to admin.peers as
// POST /purge?group=...; counts purged_total / soft_purged_total and the group_* counters.
PurgeOutcome purgeGroups(uv_loop_t *loop, const CacheContext &cc,
                         const std::vector<std::string> &groups, std::string_view host, bool soft,
                         CacheCounters &counters, const PeerOrigin *fromPeer = nullptr);

// RFC 9875 §3: a response carrying Cache-Group-Invalidation to an unsafe method with a non-error
// status purges those groups on the request's host (a hard purge, through purgeGroups: the
// shared cluster and the peers too). Anything else: nothing.
void invalidateGroups(uv_loop_t *loop, const CacheContext &cc, const http::RequestHead &req,
                      int status, const http::HeaderList &resp, CacheCounters &counters);

// Adds what reading groups ignored to group_fields_ignored_total{reason}.
void countGroupTally(const cache::GroupTally &t, CacheCounters &counters);

// Splits a forwarded purge's body: the paths, one per line, then a line "# shared-done" and the
// hashes of the keys the sender deleted from the shared cluster. Bodies without that line are
// left whole (origin->sharedDoneKnown stays false).
void takeSharedDone(std::string &body, PeerOrigin &origin);

// The JSON body both ports answer with: {"purged": N} (pages affected), and for a soft purge
// {"purged": N, "expired": E} (how many of them were marked expired rather than removed).
std::string purgeAnswer(const PurgeOutcome &o, bool soft);

} // namespace fc::proxy
