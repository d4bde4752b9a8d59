// The lookup chain of Django's FetchFromCacheMiddleware.process_request (get_cache_key), over any
// key-value source: header key -> Vary list -> page key for GET, then, for a HEAD request, for
// HEAD (get_cache_key(method='HEAD') is tried after the GET entry). The in-process store
// (proxy/exchange.cpp) and the shared memcached cluster (proxy/shared_cache.cpp) both look pages
// up through this one function, so the order and the keys cannot drift apart.
//
// Pure; safe from any thread. No allocation once `key` has grown to a key's size (the hit path).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cache/policy/keys.h"
#include "cache/policy/policy.h"
#include "http/headers.h"

namespace fc::cache {

// `source.vary(headerKey)` returns the stored Vary list (Django's form) or nullopt when the
// header key is absent; the view must stay valid until lookupChain returns.
// `source.page(method, pageKey)` is offered each candidate page key in order and returns true to
// stop (a page was found and used). `key` is scratch. Returns the Vary list when the header key
// was found (a view into what source.vary returned), nullopt otherwise.
template <typename Source>
std::optional<std::string_view>
lookupChain(const PolicyConfig &cfg, std::string_view uri, const http::HeaderList &req, bool isHead,
            std::string &key, Source &&source, std::string_view extra = {}) {
    key.clear();
    headerKey(cfg, uri, key);
    std::optional<std::string_view> vary = source.vary(std::string_view(key));
    if (!vary)
        return vary;
    for (std::string_view method : {std::string_view("GET"), std::string_view("HEAD")}) {
        if (method == "HEAD" && !isHead)
            break;
        key.clear();
        pageKey(cfg, method, uri, *vary, req, key, extra);
        if (source.page(method, std::string_view(key)))
            break;
    }
    return vary;
}

// The coalescing key of a request that was not served fresh: its GET page key when the variant
// is known (`vary` found), else the header key — so concurrent misses for one variant share one
// fetch, and misses before any Vary list is known share one per URI.
inline void coalescingKey(const PolicyConfig &cfg, std::string_view uri,
                          std::optional<std::string_view> vary, const http::HeaderList &req,
                          std::string &out, std::string_view extra = {}) {
    out.clear();
    if (vary)
        pageKey(cfg, "GET", uri, *vary, req, out, extra);
    else
        headerKey(cfg, uri, out);
}

} // namespace fc::cache
