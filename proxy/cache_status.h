// The cache status of an exchange: one enum and one table giving, for each status, its X-Cache
// word (also the access log's), its RFC 9211 Cache-Status parameters, its default detail and the
// counter it feeds — the way nginx keeps ngx_http_cache_status[] — so no code dispatches on
// strings or their first letters.
//
// Threading: constants only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/cache_counters.h"

namespace fc::proxy {

enum class CacheStatus : std::uint8_t {
    None,                 // not (yet) decided: "-" in the access log, no header
    Hit,                  // fresh page from the store
    Miss,                 // fetched from the upstream (or waiting for another request's fetch)
    Bypass,               // not looked up (cache::Bypass says why)
    StaleWhileRevalidate, // expired page in its grace window; one background fetch renews it
    StaleIfError,         // expired page instead of an upstream error (RFC 5861 §4)
    Revalidated,          // expired page the upstream confirmed with a 304 (RFC 9111 §4.3.3)
    Purge,                // a PURGE on the public port
};

struct CacheStatusInfo {
    std::string_view word;        // X-Cache value and access-log field
    std::string_view cacheStatus; // Cache-Status parameters after "frontcache; " (RFC 9211)
    std::string_view detail;      // its default `detail` parameter ("" = none)
    // The counter of requests answered with this status. `countedOnServe`: counted when a page
    // is served with it (a 304 from a fresh page counts not_modified instead of hits); otherwise
    // counted where the status is decided (a miss when its fetch starts; bypass per reason).
    CacheCounters::C CacheCounters::*counter;
    bool countedOnServe;
};

inline constexpr CacheStatusInfo kCacheStatusTable[] = {
    {"-", "", "", nullptr, false},
    {"HIT", "hit", "", &CacheCounters::hits, true},
    {"MISS", "fwd=uri-miss", "", &CacheCounters::misses, false},
    {"BYPASS", "fwd=bypass", "", nullptr, false},
    {"STALE", "hit", "stale-while-revalidate", &CacheCounters::staleServed, true},
    {"STALE", "hit", "stale-if-error", &CacheCounters::staleOnError, true},
    {"REVALIDATED", "fwd=stale; fwd-status=304", "revalidated", &CacheCounters::revalidatedServed,
     true},
    {"PURGE", "", "", nullptr, false},
};

inline const CacheStatusInfo &info(CacheStatus s) {
    return kCacheStatusTable[static_cast<std::size_t>(s)];
}

// Appends "<statusHeader>: WORD" and "Cache-Status: frontcache; PARAMS[; detail=D]" (each with
// its CRLF). `detail` overrides the table's (a miss says why it was not stored, a bypass why it
// was not looked up). `statusHeader` empty: no X-Cache line; `cacheStatusField` false: no
// Cache-Status line.
inline void appendCacheStatusFields(std::string &out, CacheStatus s, std::string_view detail,
                                    std::string_view statusHeader, bool cacheStatusField) {
    const CacheStatusInfo &i = info(s);
    if (!statusHeader.empty()) {
        out.append(statusHeader);
        out.append(": ");
        out.append(i.word);
        out.append("\r\n");
    }
    if (!cacheStatusField || i.cacheStatus.empty())
        return;
    out.append("Cache-Status: frontcache; ");
    out.append(i.cacheStatus);
    if (detail.empty())
        detail = i.detail;
    if (!detail.empty()) {
        out.append("; detail=");
        out.append(detail);
    }
    out.append("\r\n");
}

} // namespace fc::proxy
