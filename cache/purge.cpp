#include "cache/purge.h"

#include <algorithm>

#include "cache/page.h"
#include "http/rewrite.h"

namespace fc::cache {

std::size_t purgePaths(Store &store, const PolicyConfig &cfg, const std::vector<std::string> &paths,
                       std::string_view host, std::vector<std::string> *removedKeys) {
    std::vector<std::string> uris; // every absolute URI a removed page was stored for
    auto matches = [&](std::string_view uri) {
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
    };
    std::size_t removed = store.removeIf([&](std::string_view key, std::string_view value) {
        PageView v;
        if (!decodePage(value, v) || !matches(v.uri))
            return false;
        if (removedKeys)
            removedKeys->emplace_back(key);
        if (std::find(uris.begin(), uris.end(), v.uri) == uris.end())
            uris.emplace_back(v.uri);
        return true;
    });
    std::string key;
    for (const auto &uri : uris) {
        key.clear();
        headerKey(cfg, uri, key);
        store.remove(key);
        if (removedKeys)
            removedKeys->push_back(key);
    }
    return removed;
}

} // namespace fc::cache
