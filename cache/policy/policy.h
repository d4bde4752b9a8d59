// The cache's one interface for storing a response, whichever the mode: cache.mode's settings
// (PolicyConfig), the decision (decideStore: Django's UpdateCacheMiddleware rules here, RFC 9111's
// in cache/policy/http.h when cache.mode = "http"), renewing a stored head with a 304, and the
// headers Django adds on the way out. Which requests are looked up: cache/policy/request.h; the
// keys: cache/policy/keys.h (docs/architecture.md, "Where each Django rule lives").
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

#include "cache/page/compress.h"
#include "http/headers.h"

namespace fc::cache {

// cache.mode: Django's rules (this file), or a shared cache per RFC 9111 (cache/policy/http.h).
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
    std::int64_t maxTtl = 365 * 86400; // cache.max_ttl, seconds: the longest a page stays fresh
    std::int64_t grace = 60;           // cache.grace, seconds (stale-while-revalidate overrides)
    std::int64_t staleIfError = 300;   // cache.stale_if_error, seconds (stale-if-error overrides)
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
    bool forwardTargetedField = false;               // kept in what is passed on and stored
};

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

    // The decision as the store keeps it: fresh here for at most `maxTtl` seconds after it
    // arrives (the TTL counts from the age it arrived with), each stale window at most `maxTtl`
    // (cache.max_ttl; what the response's headers say is not changed).
    StoreDecision capped(std::int64_t maxTtl) const {
        StoreDecision d = *this;
        if (d.initialAge < 0)
            d.initialAge = 0;
        if (d.initialAge > (std::int64_t{1} << 30)) // as the page records it
            d.initialAge = std::int64_t{1} << 30;
        if (d.ttl - d.initialAge > maxTtl)
            d.ttl = d.initialAge + maxTtl;
        for (std::int64_t *v : {&d.grace, &d.staleIfError, &d.keepStale})
            if (*v > maxTtl)
                *v = maxTtl;
        return d;
    }
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

struct ResponseFacts; // cache/policy/facts.h

// Update phase, rules 1-6 (size and completeness are checked while the body streams), from what
// the response's head says, parsed once (cache/policy/facts.h). In http mode:
// cache::decideStoreHttp (cache/policy/http.h) instead.
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

// A response about to be stored, as it goes on to the client: in django mode, Django's
// patch_response_headers and the origin's Age removed (ours is computed from when it was
// stored); in http mode, left as sent but for the targeted field (RFC 9213 §2.2).
void patchStoredResponse(const PolicyConfig &cfg, http::HeaderList &headers, std::int64_t ttl,
                         std::int64_t now);
// Fields the stored copy leaves out beyond those the response names (private="...",
// no-cache="..."), as a comma list: in http mode the origin's Age, which this client is passed
// (RFC 9111 §5.1) but which answers from the store compute from the age kept in the page.
std::string_view storedCopyOmits(const PolicyConfig &cfg);

} // namespace fc::cache
