// Purge, the one implementation behind both ways in: PURGE / POST /purge on the admin port and
// PURGE on the public port (from admin.allow_purge_from). It removes every stored variant of the
// paths (cache/purge.h), the same keys from the shared cluster when there is one, and counts
// purged_total.
//
// Threading: the calling loop's thread (the admin port's main loop or a worker's); `counters`
// must be that thread's own set.
#pragma once

#include <uv.h>

#include <string>
#include <string_view>
#include <vector>

#include "proxy/cache_counters.h"

namespace fc::proxy {

struct CacheContext;

// Returns the number of pages removed. `host` empty: every host.
std::size_t purge(uv_loop_t *loop, const CacheContext &cc, const std::vector<std::string> &paths,
                  std::string_view host, CacheCounters &counters);

// The JSON body both ports answer a purge with: {"purged": N}.
std::string purgeAnswer(std::size_t removed);

} // namespace fc::proxy
