// Cache-Control (RFC 9111 §5.2) and Vary (RFC 9110 §12.5.5) parsing, and entity-tag comparison
// (RFC 9110 §8.8.3). Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/headers.h"

namespace fc::http {

struct CacheControl {
    bool present = false;
    bool isPrivate = false, isPublic = false, noStore = false, noCache = false;
    bool mustRevalidate = false;
    bool noTransform = false; // RFC 9110 §7.7: a proxy must not change the content's coding
    std::optional<std::int64_t> maxAge;  // absent or unparsable = nullopt
    std::optional<std::int64_t> sMaxAge; // idem
    // RFC 5861 extensions: how long a stale response may be served while revalidating in the
    // background, and instead of an error.
    std::optional<std::int64_t> staleWhileRevalidate;
    std::optional<std::int64_t> staleIfError;
    // What RFC 9111 mode reads besides (django mode ignores these).
    bool proxyRevalidate = false;
    bool onlyIfCached = false;                   // request
    bool maxStale = false;                       // request: max-stale, with or without a value
    std::optional<std::int64_t> maxStaleSeconds; // request: max-stale=N (absent: any staleness)
    std::optional<std::int64_t> minFresh;        // request
    // max-age / s-maxage present but unusable (not delta-seconds, or listed twice with different
    // values): §4.2.1 lets a cache consider the response stale; RFC 9111 mode does.
    bool maxAgeInvalid = false, sMaxAgeInvalid = false;
    // The field-name forms (§5.2.2.4, §5.2.2.7): isPrivate / noCache are set for both forms;
    // these hold the names listed (comma-separated, unquoted), empty for the plain form.
    std::string_view privateFields, noCacheFields;
};

// Parses every Cache-Control field of `headers` (directive names are case-insensitive), or
// every `field` field (a targeted field such as CDN-Cache-Control, RFC 9213). Quoted values may
// contain commas. The views point into `headers`.
CacheControl parseCacheControl(const HeaderList &headers, std::string_view field = "cache-control");

// Calls f(name) for each field name listed by the message's Vary fields.
template <typename F> void forEachVary(const HeaderList &headers, F &&f) {
    headers.forEach([&](std::string_view n, std::string_view v) {
        if (equalsIgnoreCase(n, "vary"))
            forEachListMember(v, [&](std::string_view item) { f(item); });
    });
}

// Does the If-None-Match list `inm` match entity-tag `etag` under weak comparison?
bool ifNoneMatchMatches(std::string_view inm, std::string_view etag);

} // namespace fc::http
