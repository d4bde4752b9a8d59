// Invalidation by path: removes every stored variant of a page (all Vary variants, under every
// Host it was stored for, unless `host` narrows it) and the header keys of those URIs. Pages
// record their absolute URI (cache/page/page.h), so one walk over the store finds them without an
// index that would have to be kept in step with evictions.
//
// Threading: any thread (the store locks one shard at a time). Cost: one pass over the store per
// call, whatever the number of paths.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cache/policy/policy.h"
#include "cache/store/store.h"

namespace fc::cache {

// `paths` are request targets as a client sends them ("/a/b?x=1"); the query must match
// exactly ("/a" does not purge "/a?x=1"), unless the path ends in '*': then it is a prefix
// ("/a*" purges "/a", "/a?x=1" and "/a/b"; "/*" every page). `host` empty = every host.
// Returns pages removed.
// `removedKeys`, when given, receives the keys removed (pages and header keys), e.g. to remove
// them from a shared cluster too.
std::size_t purgePaths(Store &store, const PolicyConfig &cfg, const std::vector<std::string> &paths,
                       std::string_view host, std::vector<std::string> *removedKeys = nullptr);

// A hard purge's last step, for path and group purges alike: the header keys of the URIs whose
// pages went (their Vary lists), removed and reported in `removedKeys` when given.
void removeHeaderKeys(Store &store, const PolicyConfig &cfg, const std::vector<std::string> &uris,
                      std::vector<std::string> *removedKeys);

// Soft purge (as Fastly made popular): the same pages, but each one that may be served stale —
// it has a grace window, so not must-revalidate and not no-cache — is marked expired as of
// `now` instead of removed: the next request is answered from it (STALE) while exactly one
// background fetch renews it, and the application sees one request per page instead of a
// stampede. Pages without a grace window are removed as purgePaths removes them. Header keys are
// kept (the Vary lists still hold). A page replaced while this runs is left alone (the rewrite
// is a compare-and-swap on its CAS). `touchedKeys` receives the page keys expired or removed.
struct SoftPurgeResult {
    std::size_t expired = 0; // marked expired (or already past their freshness)
    std::size_t removed = 0; // without a grace window: removed
};
SoftPurgeResult softPurgePaths(Store &store, const std::vector<std::string> &paths,
                               std::string_view host, std::int64_t now,
                               std::vector<std::string> *touchedKeys = nullptr);

// One page of a soft purge: `old` (a page item) rewritten expired as of `now`, keeping its grace
// and stale-if-error windows, unless it is past its freshness already or was replaced meanwhile
// (a compare-and-swap on its CAS). False when `old` is empty or not a page.
bool softExpire(Store &store, const ItemRef &old, std::int64_t now);

} // namespace fc::cache
