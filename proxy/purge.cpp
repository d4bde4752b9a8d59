#include "proxy/purge.h"

#include "cache/purge.h"
#include "proxy/shared_cache.h"
#include "proxy/worker.h"

namespace fc::proxy {

PurgeOutcome purge(uv_loop_t *loop, const CacheContext &cc, const std::vector<std::string> &paths,
                   std::string_view host, bool soft, CacheCounters &counters) {
    std::vector<std::string> keys;
    PurgeOutcome o;
    if (soft) {
        auto r = cache::softPurgePaths(*cc.store, paths, host, cc.clock->now(), &keys);
        o.removed = r.removed;
        o.expired = r.expired;
    } else {
        o.removed = cache::purgePaths(*cc.store, cc.policy, paths, host, &keys);
    }
    if (cc.shared && !keys.empty())
        purgeShared(loop, *cc.shared, std::move(keys));
    counters.inc(counters.purged, o.removed);
    counters.inc(counters.softPurged, o.expired);
    return o;
}

std::string purgeAnswer(const PurgeOutcome &o, bool soft) {
    std::string s = "{\"purged\": " + std::to_string(o.removed + o.expired);
    if (soft)
        s += ", \"expired\": " + std::to_string(o.expired);
    return s + "}\n";
}

} // namespace fc::proxy
