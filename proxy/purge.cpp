#include "proxy/purge.h"

#include "cache/purge.h"
#include "proxy/shared_cache.h"
#include "proxy/worker.h"

namespace fc::proxy {

std::size_t purge(uv_loop_t *loop, const CacheContext &cc, const std::vector<std::string> &paths,
                  std::string_view host, CacheCounters &counters) {
    std::vector<std::string> keys;
    std::size_t n = cache::purgePaths(*cc.store, cc.policy, paths, host, &keys);
    if (cc.shared && !keys.empty())
        purgeShared(loop, *cc.shared, std::move(keys));
    counters.inc(counters.purged, n);
    return n;
}

std::string purgeAnswer(std::size_t removed) {
    return "{\"purged\": " + std::to_string(removed) + "}\n";
}

} // namespace fc::proxy
