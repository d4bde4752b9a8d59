// The cache status of an exchange: one enum and one table giving, for each status, its X-Cache
// word (also the access log's), its RFC 9211 Cache-Status parameters, its default detail and the
// counter it feeds — the way nginx keeps ngx_http_cache_status[] — so no code dispatches on
// strings or their first letters.
//
// Threading: constants only.
#pragma once

#include <charconv>
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

// What one answer adds to its status's Cache-Status parameters (RFC 9211 §2).
struct CacheStatusParams {
    std::string_view fwd;   // replaces a miss's "uri-miss": "vary-miss", "stale", "request"
    int fwdStatus = 0;      // the status the origin answered with (fwd-status)
    bool stored = false;    // the origin's response was stored
    bool collapsed = false; // the request waited for another request's fetch
    bool hasTtl = false;    // a stored response was used: its remaining freshness (negative: stale)
    std::int64_t ttl = 0;
    std::string_view key; // the cache key (cache.cache_status_key, for debugging)
};

inline void appendDecimal(std::string &out, std::int64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

// Appends "<statusHeader>: WORD" and "Cache-Status: frontcache; PARAMS[; detail=D]" (each with
// its CRLF). `detail` overrides the table's (a miss says why it was not stored, a bypass why it
// was not looked up). `statusHeader` empty: no X-Cache line; `cacheStatusField` false: no
// Cache-Status line. No allocation once `out` has grown (the hit path uses it).
inline void appendCacheStatusFields(std::string &out, CacheStatus s, std::string_view detail,
                                    std::string_view statusHeader, bool cacheStatusField,
                                    const CacheStatusParams &p = {}) {
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
    if (!p.fwd.empty() && s == CacheStatus::Miss) {
        out.append("fwd=");
        out.append(p.fwd);
    } else {
        out.append(i.cacheStatus);
    }
    if (p.fwdStatus > 0 && i.cacheStatus.find("fwd-status") == std::string_view::npos) {
        out.append("; fwd-status=");
        appendDecimal(out, p.fwdStatus);
    }
    if (p.hasTtl) {
        out.append("; ttl=");
        appendDecimal(out, p.ttl);
    }
    if (p.stored)
        out.append("; stored");
    if (p.collapsed)
        out.append("; collapsed");
    if (!p.key.empty()) {
        out.append("; key=\"");
        for (char c : p.key) // an sf-string: escape '"' and '\\'
            if (c == '"' || c == '\\')
                out.append(1, '\\').append(1, c);
            else
                out.push_back(c);
        out.push_back('"');
    }
    if (detail.empty())
        detail = i.detail;
    if (!detail.empty()) {
        out.append("; detail=");
        out.append(detail);
    }
    out.append("\r\n");
}

} // namespace fc::proxy
