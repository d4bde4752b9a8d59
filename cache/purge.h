// Invalidation by path: removes every stored variant of a page (all Vary variants, under every
// Host it was stored for, unless `host` narrows it) and the header keys of those URIs. Pages
// record their absolute URI (cache/page.h), so one walk over the store finds them without an
// index that would have to be kept in step with evictions.
//
// Threading: any thread (the store locks one shard at a time). Cost: one pass over the store per
// call, whatever the number of paths.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cache/policy.h"
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

} // namespace fc::cache
