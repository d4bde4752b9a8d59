// The Django per-site cache rules (docs/architecture.md, "Where each Django rule lives"), applied
// in front of the application: which requests are looked up, the two cache keys, which responses
// are stored and for how long, and the headers added on the way out.
//
// Mirrors django/middleware/cache.py (FetchFromCacheMiddleware, UpdateCacheMiddleware) and
// django/utils/cache.py (get_cache_key, learn_cache_key, _generate_cache_key, get_max_age,
// patch_response_headers, patch_cache_control). Where frontcache is deliberately stricter the
// comment says so. Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cache/compress.h"
#include "http/headers.h"

namespace fc::cache {

// cache.mode: Django's rules (this file), or a shared cache per RFC 9111 (cache/http_policy.h).
enum class Mode { Django, Http };

struct PolicyConfig {
    Mode mode = Mode::Django;
    std::int64_t defaultTtl = 600;          // CACHE_MIDDLEWARE_SECONDS
    std::string keyPrefix;                  // CACHE_MIDDLEWARE_KEY_PREFIX
    bool queryInKey = false;                // cache.query_strings = "key"
    std::vector<std::string> bypassPaths;   // path prefixes never cached
    std::vector<std::string> bypassCookies; // "anonymous only": a request with one is passed
    std::uint64_t maxObjectSize = 1 << 20;
    bool storeSetCookie = false;
    std::int64_t grace = 60;         // cache.grace, seconds (stale-while-revalidate overrides)
    std::int64_t staleIfError = 300; // cache.stale_if_error, seconds (stale-if-error overrides)
    // Issue #13: what cannot change a page does not split it. Name patterns ('*' matches any
    // run of characters).
    std::vector<std::string> ignoreQueryParams; // campaign parameters: out of key and request
    std::vector<std::string> ignoreCookies;     // client-side analytics cookies
    std::vector<std::string> keyCookies;        // when set: only these cookies count
    CompressConfig compress;                    // cache.compress, compress_types, ..._min_size
    // Http mode (RFC 9111).
    double heuristicFraction = 0.1;                  // §4.2.2: of the time since Last-Modified
    std::int64_t heuristicMax = 86400;               // seconds
    bool honorClientNoCache = true;                  // request no-cache, max-age, Pragma
    std::string targetedField = "cdn-cache-control"; // RFC 9213, lower case ("" = none)
};

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
enum class Bypass { None, Method, QueryString, Path, Cookie, Body, Upgrade };
const char *bypassName(Bypass b);

// Fetch phase, rules 1-2 and the configured bypass rules.
Bypass classify(const http::RequestHead &req, const PolicyConfig &cfg);

// Django's request.build_absolute_uri(): scheme + "://" + Host + path [+ "?" + query when the
// query is part of the key]. `scheme` is the one the request arrived with: "https" when a
// trusted proxy says so (Django's request.scheme under SECURE_PROXY_SSL_HEADER) or the PROXY
// protocol reports TLS. Absolute-form targets are used as sent. X-Forwarded-Host is never used.
void absoluteUri(const http::RequestHead &req, const PolicyConfig &cfg, std::string &out,
                 std::string_view scheme = "http");

// views.decorators.cache.cache_header.<prefix>.<md5(uri)>
void headerKey(const PolicyConfig &cfg, std::string_view uri, std::string &out);

// views.decorators.cache.cache_page.<prefix>.<METHOD>.<md5(uri)>.<md5(values)>, where values
// holds the request's values of the headers in `headerList` (Django META names joined by
// ',': "HTTP_ACCEPT_ENCODING,HTTP_COOKIE"), each ended unambiguously: "=" value LF, or "-" LF
// when absent (absent and empty differ — a spec rule, Django itself skips absent headers; and
// no two requests' values run together into one string, as Django's concatenation lets them:
// a key an attacker could collide). Accept-Encoding contributes
// the same constant for every request (spec §5): each stored copy carries every coding it can be
// served in, identity included, and the coding is chosen per request.
void pageKey(const PolicyConfig &cfg, std::string_view method, std::string_view uri,
             std::string_view headerList, const http::HeaderList &req, std::string &out);

// What separates a variant, for the admin port's GET /variants: one "META_NAME: value" line per
// name in `headerList` ("(absent)" when the request had none). Cookie values are not shown, only
// their names and a fingerprint of each value ("sessionid=#1a2b3c4d"), so the listing never
// hands out a session. At most 4 KiB (longer values are cut).
void variedValues(std::string_view headerList, const http::HeaderList &req, std::string &out);

// learn_cache_key: the response's Vary as Django's sorted META names joined by ','. Returns false
// for "Vary: *" (never stored).
bool varyHeaderList(const http::HeaderList &resp, std::string &out);

// Why a fetched response was not stored.
enum class NotStored {
    None,
    Status,        // not 200
    SetCookie,     // stricter: any Set-Cookie (Django: only with Vary: Cookie)
    Private,       // Cache-Control: private
    NoStore,       // stricter: Cache-Control: no-store
    NoCache,       // stricter: no-cache without a validator (see decideStore)
    Authorization, // stricter: RFC 9111 §3.5
    VaryStar,
    ZeroTtl,   // max-age=0 (or a TTL of 0)
    TooBig,    // body over cache.max_object_size
    Truncated, // the upstream cut the body short
    Head,      // a HEAD response when a GET entry is wanted: not stored
    // Varies on Accept-Encoding in a coding frontcache cannot undo (unknown, several codings,
    // no-transform, a HEAD): every client shares one entry per page, so it must hold identity.
    Coding,
    Request, // http mode: the request said no-store (§5.2.1.5); says nothing about the page
    // http mode: Vary names a field with '_'. Field names are matched exactly there, but the
    // stored Vary list holds Django's META names, where '_' and '-' are one: such a page could
    // not be keyed the way an application that reads names exactly varies it.
    VaryName,
};
constexpr NotStored kLastNotStored = NotStored::VaryName;
const char *notStoredName(NotStored n);

struct StoreDecision {
    NotStored reason = NotStored::None;
    std::int64_t ttl = 0;
    std::int64_t grace = 0;        // seconds after the TTL the page is served stale + refreshed
    std::int64_t staleIfError = 0; // seconds after the TTL the page replaces an upstream error
    // Cache-Control: no-cache with a validator (spec rule 6): stored for the TTL, but never
    // fresh — every reuse is revalidated with the upstream first (RFC 9111 §5.2.2.4).
    bool revalidate = false;
    // Http mode (RFC 9111 §4.2.3): the response's age when it arrived (corrected_initial_age),
    // and how long a stale copy with validators is kept for revalidation.
    std::int64_t initialAge = 0;
    std::int64_t keepStale = 0;
    int status = 200; // the status stored (django mode: always 200)
    // Named fields (private="..." / no-cache="...") left out of the stored head.
    std::string_view omitFields, omitFields2;

    // How long the page counts as fresh (the TTL, or 0 when every reuse is revalidated).
    std::int64_t freshFor() const { return revalidate ? 0 : ttl; }
    // How long the store keeps the page: its TTL plus the longest stale window.
    std::int64_t keepFor() const {
        std::int64_t extra = grace > staleIfError ? grace : staleIfError;
        if (keepStale > extra)
            extra = keepStale;
        std::int64_t left = ttl - initialAge;
        return (left > 0 ? left : 0) + extra;
    }
};

// When the exchange with the origin happened (clock seconds), for RFC 9111's age (§4.2.3).
struct ExchangeTimes {
    std::int64_t requestTime = 0;
    std::int64_t responseTime = 0;
};

struct ResponseFacts; // cache/facts.h

// Update phase, rules 1-6 (size and completeness are checked while the body streams), from what
// the response's head says, parsed once (cache/facts.h). In http mode: cache::decideStoreHttp
// (cache/http_policy.h) instead.
StoreDecision decideStore(const http::RequestHead &req, const ResponseFacts &resp,
                          const PolicyConfig &cfg, ExchangeTimes times = {});
// The same from a head's fields, parsed first (a renewed head, tests).
StoreDecision decideStore(const http::RequestHead &req, int status,
                          const http::HeaderList &respHeaders, const PolicyConfig &cfg,
                          ExchangeTimes times = {});

// RFC 9111 §4.3.4 (freshening a stored response with a 304): the stored head's fields are
// replaced by the 304's fields of the same name, except Content-Length, Via, Age and hop-by-hop
// fields; an Expires that the 304 does not repeat is dropped (it described the old lifetime).
// The merged response is decided again (its Cache-Control may have changed) and patched for the
// new lifetime. Returns the decision; when it stores, `outHead` holds the new head and `outVary`
// its Vary list (varyHeaderList).
StoreDecision renewStoredHead(std::string_view storedHead, const http::HeaderList &notModified,
                              const http::RequestHead &req, const PolicyConfig &cfg,
                              std::int64_t now, std::string &outHead, std::string &outVary);

// patch_response_headers(response, ttl): Expires = now + ttl when absent; Cache-Control gets
// max-age = min(existing, ttl), other directives kept (names lower-cased, as Django does).
void patchResponseHeaders(http::HeaderList &headers, std::int64_t ttl, std::int64_t now);

} // namespace fc::cache
