// The cache status of an exchange: one enum and one table giving, for each status, its X-Cache
// word (also the access log's), its RFC 9211 Cache-Status parameters, its default detail and the
// counter it feeds — the way nginx keeps ngx_http_cache_status[] — so no code dispatches on
// strings or their first letters. The Cache-Status writer (the server) and its reader
// (`frontcache warm`) live here together so they share one spelling of every name.
//
// Threading: constants and pure functions; any thread.
#pragma once

#include <charconv>
#include <cstdint>
#include <iterator>
#include <optional>
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
    StaleLimited,         // expired page instead of going upstream: the client is over [limits]
    Limited,              // 429: the client is over [limits] and no stale copy exists
};

// The names of RFC 9211 Cache-Status (§2), written by appendCacheStatusFields and read by
// readCacheStatus: one spelling for the server and `frontcache warm`.
inline constexpr std::string_view kCacheStatusCache = "frontcache"; // our list member's name
namespace cache_status_param {
inline constexpr std::string_view kHit = "hit";
inline constexpr std::string_view kFwd = "fwd";
inline constexpr std::string_view kFwdStatus = "fwd-status";
inline constexpr std::string_view kTtl = "ttl";
inline constexpr std::string_view kStored = "stored";
inline constexpr std::string_view kCollapsed = "collapsed";
inline constexpr std::string_view kKey = "key";
inline constexpr std::string_view kDetail = "detail";
} // namespace cache_status_param

struct CacheStatusInfo {
    std::string_view word; // X-Cache value and access-log field
    // Its RFC 9211 Cache-Status parameters: `hit`, or `fwd` (a miss's is replaced by the answer's
    // reason, CacheStatusParams::fwd) with a fixed `fwd-status` when not 0. Neither: no field.
    bool hit;
    std::string_view fwd;
    int fwdStatus;
    std::string_view detail; // its default `detail` parameter ("" = none)
    // The counter of requests answered with this status. `countedOnServe`: counted when a page
    // is served with it (a 304 from a fresh page counts not_modified instead of hits); otherwise
    // counted where the status is decided (a miss when its fetch starts; bypass per reason).
    CacheCounters::C CacheCounters::*counter;
    bool countedOnServe;

    constexpr bool writesField() const { return hit || !fwd.empty(); }
};

inline constexpr CacheStatusInfo kCacheStatusTable[] = {
    {"-", false, "", 0, "", nullptr, false},
    {"HIT", true, "", 0, "", &CacheCounters::hits, true},
    {"MISS", false, "uri-miss", 0, "", &CacheCounters::misses, false},
    {"BYPASS", false, "bypass", 0, "", nullptr, false},
    {"STALE", true, "", 0, "stale-while-revalidate", &CacheCounters::staleServed, true},
    {"STALE", true, "", 0, "stale-if-error", &CacheCounters::staleOnError, true},
    {"REVALIDATED", false, "stale", 304, "revalidated", &CacheCounters::revalidatedServed, true},
    {"PURGE", false, "", 0, "", nullptr, false},
    {"STALE", true, "", 0, "over-budget", &CacheCounters::staleLimited, true},
    {"LIMITED", false, "", 0, "", &CacheCounters::limitedRefused, false},
};
inline constexpr std::size_t kCacheStatusCount = std::size(kCacheStatusTable);

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

// "; name" (an sf-boolean true) or "; name=" before its value.
inline void appendParam(std::string &out, std::string_view name, bool withValue) {
    out.append("; ");
    out.append(name);
    if (withValue)
        out.push_back('=');
}

// Appends "<statusHeader>: WORD" and "Cache-Status: frontcache; PARAMS[; detail=D]" (each with
// its CRLF). `detail` overrides the table's (a miss says why it was not stored, a bypass why it
// was not looked up). `statusHeader` empty: no X-Cache line; `cacheStatusField` false: no
// Cache-Status line. No allocation once `out` has grown (the hit path uses it).
inline void appendCacheStatusFields(std::string &out, CacheStatus s, std::string_view detail,
                                    std::string_view statusHeader, bool cacheStatusField,
                                    const CacheStatusParams &p = {}) {
    namespace n = cache_status_param;
    const CacheStatusInfo &i = info(s);
    if (!statusHeader.empty()) {
        out.append(statusHeader);
        out.append(": ");
        out.append(i.word);
        out.append("\r\n");
    }
    if (!cacheStatusField || !i.writesField())
        return;
    out.append("Cache-Status: ");
    out.append(kCacheStatusCache);
    if (i.hit) {
        appendParam(out, n::kHit, false);
    } else {
        appendParam(out, n::kFwd, true);
        out.append(!p.fwd.empty() && s == CacheStatus::Miss ? p.fwd : i.fwd);
    }
    if (int fwdStatus = i.fwdStatus ? i.fwdStatus : p.fwdStatus; fwdStatus > 0) {
        appendParam(out, n::kFwdStatus, true);
        appendDecimal(out, fwdStatus);
    }
    if (p.hasTtl) {
        appendParam(out, n::kTtl, true);
        appendDecimal(out, p.ttl);
    }
    if (p.stored)
        appendParam(out, n::kStored, false);
    if (p.collapsed)
        appendParam(out, n::kCollapsed, false);
    if (!p.key.empty()) {
        appendParam(out, n::kKey, true);
        out.push_back('"');
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
        appendParam(out, n::kDetail, true);
        out.append(detail);
    }
    out.append("\r\n");
}

// What a Cache-Status member says, read back (RFC 9211 §2): the parameters the writer above
// puts there, values decoded (an sf-string's escapes undone). Owns its strings.
struct CacheStatusReading {
    bool hit = false;
    std::string fwd; // "" when the member has none
    int fwdStatus = 0;
    bool hasTtl = false;
    std::int64_t ttl = 0;
    bool stored = false;
    bool collapsed = false;
    std::string key;
    std::string detail;
};

// Reads a Cache-Status field value — every field line joined with ", " (one sf-list, RFC 9110
// §5.3; each cache appends its member, the one nearest the client last) — and returns the
// parameters of the last member named `cache`. Nothing when there is none, or when the field is
// not a Structured Field list (RFC 8941 §4.2: a field that fails to parse is ignored whole).
// Parameters it does not know, or with a value of the wrong type, are skipped.
std::optional<CacheStatusReading> readCacheStatus(std::string_view field,
                                                  std::string_view cache = kCacheStatusCache);

// The status whose table row wrote `r` (its `hit`, `fwd`, fixed `fwd-status` and default
// `detail`; a miss's `fwd` may be any reason); None when no row did.
CacheStatus statusOf(const CacheStatusReading &r);

} // namespace fc::proxy
