#include "cache/purge.h"

#include <algorithm>
#include <unordered_set>

#include "cache/page/page.h"
#include "cache/policy/keys.h"
#include "http/rewrite.h"

namespace fc::cache {

namespace {
// Does the page stored for `uri` fall under `paths` (and `host`, when given)?
bool uriMatches(std::string_view uri, const std::vector<std::string> &paths,
                std::string_view host) {
    // "http://HOST/PATH?QUERY" (absoluteUri); scheme "http" or as sent in absolute-form.
    const http::TargetParts parts = http::splitTarget(uri);
    if (!parts.absolute())
        return false;
    std::string_view h = parts.authority;
    std::string_view p = parts.originPath();
    if (!host.empty() && h != host)
        return false;
    return std::any_of(paths.begin(), paths.end(), [&](std::string_view want) {
        if (!want.empty() && want.back() == '*')
            return p.starts_with(want.substr(0, want.size() - 1));
        return p == want;
    });
}
} // namespace

std::size_t purgePaths(Store &store, const PolicyConfig &cfg, const std::vector<std::string> &paths,
                       std::string_view host, std::vector<std::string> *removedKeys) {
    std::vector<std::string> uris; // every absolute URI a removed page was stored for, once
    std::unordered_set<std::string> seen;
    std::size_t removed = store.removeIf([&](std::string_view key, std::string_view value) {
        PageView v;
        if (!decodePage(value, v) || !uriMatches(v.uri, paths, host))
            return false;
        if (removedKeys)
            removedKeys->emplace_back(key);
        if (seen.emplace(v.uri).second)
            uris.emplace_back(v.uri);
        return true;
    });
    removeHeaderKeys(store, cfg, uris, removedKeys);
    return removed;
}

void removeHeaderKeys(Store &store, const PolicyConfig &cfg, const std::vector<std::string> &uris,
                      std::vector<std::string> *removedKeys) {
    std::string key;
    for (const auto &uri : uris) {
        key.clear();
        headerKey(cfg, uri, key);
        store.remove(key);
        if (removedKeys)
            removedKeys->push_back(key);
    }
}

SoftPurgeResult softPurgePaths(Store &store, const std::vector<std::string> &paths,
                               std::string_view host, std::int64_t now,
                               std::vector<std::string> *touchedKeys) {
    SoftPurgeResult r;
    std::vector<std::string> toExpire;
    r.removed = store.removeIf([&](std::string_view key, std::string_view value) {
        PageView v;
        if (!decodePage(value, v) || !uriMatches(v.uri, paths, host))
            return false;
        if (touchedKeys)
            touchedKeys->emplace_back(key);
        if (v.grace == 0)
            return true; // nothing may serve it stale: a hard purge
        toExpire.emplace_back(key);
        return false;
    });
    for (const auto &key : toExpire)
        if (softExpire(store, store.get(key), now))
            ++r.expired;
    return r;
}

bool softExpire(Store &store, const ItemRef &old, std::int64_t now) {
    PageView v;
    if (!old || !decodePage(old->value(), v))
        return false; // evicted or replaced meanwhile
    if (!v.fresh(now))
        return true; // already past its freshness
    // Fresh until now, then its grace and stale-if-error windows as they were.
    v.ttl = static_cast<std::uint32_t>(std::max<std::int64_t>(0, v.age(now)));
    const std::int64_t keep = std::max(v.grace, v.staleIfError);
    ItemRef fresh =
        store.allocate(old->key(), old->flags, Lifetime{std::max<std::int64_t>(keep, 1)},
                       static_cast<std::uint32_t>(encodedPageSize(v)));
    if (!fresh)
        return true;
    encodePage(fresh->valueData(), v);
    // A CAS on the old item: a page stored meanwhile is newer and stays.
    store.store(StoreMode::Set, fresh, old->cas.load(std::memory_order_relaxed));
    return true;
}

} // namespace fc::cache
