#include "proxy/shared_cache.h"

#include <memory>

#include "cache/policy/lookup.h"
#include "common/log.h"

namespace fc::proxy {

namespace {

// One piece of work for the thread pool: `work` runs there, `after` back on the loop; the job
// frees itself after `after`.
struct Job {
    uv_work_t req;
    std::function<void()> work;
    std::function<void()> after;
};

void queue(uv_loop_t *loop, std::function<void()> work, std::function<void()> after) {
    auto *j = new Job{{}, std::move(work), std::move(after)};
    j->req.data = j;
    int rc = uv_queue_work(
        loop, &j->req, [](uv_work_t *r) noexcept { static_cast<Job *>(r->data)->work(); },
        [](uv_work_t *r, int) noexcept {
            auto *job = static_cast<Job *>(r->data);
            job->after();
            delete job;
        });
    if (rc < 0) { // cannot happen with a live loop; run inline rather than lose the answer
        j->work();
        j->after();
        delete j;
    }
}

} // namespace

void sharedLookup(uv_loop_t *loop, cache::MemcachedCluster &cluster,
                  const cache::PolicyConfig &policy, std::string uri, http::HeaderList headers,
                  std::string keyExtra, std::function<void(SharedLookupResult &)> done) {
    auto result = std::make_shared<SharedLookupResult>();
    queue(
        loop,
        [&cluster, policy, uri = std::move(uri), headers = std::move(headers),
         keyExtra = std::move(keyExtra), result] {
            // The same chain as the in-process lookup (cache/policy/lookup.h), GET variant only.
            SharedLookupResult &r = *result;
            using R = cache::MemcachedCluster::Result;
            struct ClusterSource {
                cache::MemcachedCluster &cluster;
                SharedLookupResult &r;
                std::optional<std::string_view> vary(std::string_view key) {
                    r.headerKey.assign(key);
                    auto got = cluster.get(r.headerKey, r.varyList);
                    r.error = got == R::Error;
                    if (got != R::Found)
                        return std::nullopt;
                    return std::string_view(r.varyList);
                }
                bool page(std::string_view, std::string_view key) {
                    r.pageKey.assign(key);
                    auto got = cluster.get(r.pageKey, r.page);
                    r.error = got == R::Error;
                    r.found = got == R::Found;
                    return true;
                }
            } src{cluster, r};
            std::string key;
            cache::lookupChain(policy, uri, headers, false, key, src, keyExtra);
        },
        [result, done = std::move(done)] { done(*result); });
}

void sharedStore(uv_loop_t *loop, cache::MemcachedCluster &cluster, std::string headerKey,
                 std::string varyList, std::string pageKey, cache::ItemRef page,
                 std::int64_t keepSeconds, CacheCounters &counters) {
    auto ok = std::make_shared<bool>(false);
    auto held = std::make_shared<cache::ItemRef>(std::move(page));
    queue(
        loop,
        [&cluster, headerKey = std::move(headerKey), varyList = std::move(varyList),
         pageKey = std::move(pageKey), held, keepSeconds, ok] {
            // The page first: a header key without its page would only cost a second get.
            *ok = cluster.set(pageKey, (*held)->value(), keepSeconds) &&
                  cluster.set(headerKey, varyList, keepSeconds);
        },
        [&cluster, &counters, ok, held] {
            held->reset(); // the item's last use: released on the loop's thread
            if (*ok) {
                counters.inc(counters.sharedStores);
            } else {
                counters.inc(counters.sharedErrors);
                FC_DEBUG("shared cache: store failed: %s", cluster.lastError().c_str());
            }
        });
}

void purgeShared(uv_loop_t *loop, cache::MemcachedCluster &cluster, std::vector<std::string> keys) {
    auto failed = std::make_shared<std::size_t>(0);
    const std::size_t total = keys.size();
    queue(
        loop,
        [&cluster, keys = std::move(keys), failed] {
            for (const auto &k : keys)
                *failed += cluster.remove(k) ? 0 : 1;
        },
        [&cluster, failed, total] {
            if (*failed)
                FC_WARN("shared cache: %zu of %zu purged keys could not be deleted there: %s",
                        *failed, total, cluster.lastError().c_str());
        });
}

} // namespace fc::proxy
