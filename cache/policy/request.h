// Which requests the cache looks at (Django's FetchFromCacheMiddleware.process_request, rules 1-2,
// and the configured bypass rules), and the request as keyed: the query parameters and cookies
// that cannot change a page taken out before anything reads it. Shared by both cache modes.
// Pure functions; safe from any thread.
#pragma once

#include <string_view>

#include "cache/policy/policy.h"
#include "http/headers.h"

namespace fc::cache {

// Each cookie of one Cookie field value, in order, as its name and its "name=value" pair (empty
// pairs skipped). `f(name, pair)` returns false to stop; then this returns false.
template <typename F> bool forEachCookiePair(std::string_view v, F &&f) {
    while (!v.empty()) {
        std::size_t semi = v.find(';');
        std::string_view pair = http::trimOws(v.substr(0, semi));
        v = semi == std::string_view::npos ? std::string_view() : v.substr(semi + 1);
        if (!pair.empty() && !f(http::trimOws(pair.substr(0, pair.find('='))), pair))
            return false;
    }
    return true;
}

// '*' globbing over names ("utm_*", "_ga_*"): '*' matches any run of characters, nothing else
// is special.
bool globMatch(std::string_view pattern, std::string_view name);

// For a request that may be looked up (GET/HEAD without a body), before anything else reads
// it: removes the query parameters cache.ignore_query_params names (a target left with none
// loses its '?', so it counts as parameterless for query_strings = "bypass"), and from the
// Cookie field the cookies that cannot change a page — those cache.ignore_cookies names, or,
// with cache.key_cookies, every one it does not name — keeping the rest sorted by name. The key
// is then computed from what is left, and the application, which fills shared pages, never sees
// what the key ignored. A Cookie field with nothing to remove is left exactly as sent (Django's
// own key for it). Returns true when the head changed.
bool normalizeCacheableRequest(http::RequestHead &req, const PolicyConfig &cfg);

// Why a request is not looked up (BYPASS).
enum class Bypass { None, Method, QueryString, Path, Cookie, Body, Upgrade, Rule };
const char *bypassName(Bypass b);

// Fetch phase, rules 1-2 and the configured bypass rules.
Bypass classify(const http::RequestHead &req, const PolicyConfig &cfg);

} // namespace fc::cache
