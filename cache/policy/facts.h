// What a response's head says, for every decision the cache makes about it — whether it may be
// stored and for how long (both modes), its Vary list, its codings, its validators — parsed
// once when the head arrives instead of by each rule in turn (a storable miss used to parse
// Cache-Control three times, Vary twice, Last-Modified up to three times).
//
// Ownership: the strings are owned (the head is patched before the page is stored); the field
// lists of private="..." / no-cache="..." in `directives` are views into the head's header list,
// valid while it is not changed. Pure; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "cache/policy/policy.h"
#include "http/cache_control.h"
#include "http/coding.h"
#include "http/headers.h"

namespace fc::cache {

struct ResponseFacts {
    int status = 0;
    std::int64_t contentLength = -1; // -1: none (chunked, until close, HEAD)
    http::CacheControl cacheControl; // Cache-Control
    // The directives this cache obeys (RFC 9213 §2.2): in http mode the targeted field
    // (cache.targeted_cache_control) when the response has one, else Cache-Control.
    http::CacheControl directives;
    bool setCookie = false;
    bool varyStar = false;       // Vary: * (§4.1: never matches)
    bool varyUnderscore = false; // a Vary name with '_' (NotStored::VaryName in http mode)
    std::string varyList;        // Django's sorted META names (varyHeaderList); "" when varyStar
    std::optional<std::int64_t> date, lastModified, expires; // the first of each, parsed
    std::size_t expiresCount = 0;                            // §4.2.1: several make it stale
    std::int64_t age = 0;                                    // §5.1: 0 unless a valid Age
    bool hasEtag = false;
    std::string etag;
    std::optional<http::Coding> contentEncoding; // nullopt: a coding frontcache cannot undo
    bool hasContentEncoding = false;
    std::optional<std::string> contentType;
};

// Parses what every rule reads from `resp` (`status`, `contentLength` as the parser read them).
ResponseFacts responseFacts(int status, std::int64_t contentLength, const http::HeaderList &resp,
                            const PolicyConfig &cfg);

// The first `name` field as an HTTP date; `count` (when given) receives how many there are.
std::optional<std::int64_t> firstDate(const http::HeaderList &h, std::string_view name,
                                      std::size_t *count = nullptr);
// §5.1: Age is a non-negative integer, read from the first member of a list ("7200, 0" is 7200:
// stale for max-age=3600); too large: 2^31 (§1.2.2); anything else is ignored (0).
std::int64_t ageValue(const http::HeaderList &h);

} // namespace fc::cache
