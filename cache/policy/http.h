// cache.mode = "http": a shared cache per RFC 9111 (and the parts of RFC 9110, 5861, 9213 it
// relies on), for applications that say in their responses what may be stored. Django mode's
// rules are in cache/policy/policy.h; the keys (cache/policy/keys.h), lookup chain, store and page
// format are shared. Where a
// rule below is a choice the RFC leaves open, the comment says which and why.
//
// Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/page/page.h"
#include "cache/policy/facts.h"
#include "cache/policy/policy.h"
#include "cache/store/store.h"
#include "http/cache_control.h"
#include "http/headers.h"

namespace fc::cache {

// §3 (may it be stored), §4.2.1 (freshness lifetime: s-maxage, max-age, Expires - Date),
// §4.2.2 (heuristic freshness), §4.2.3 (the age it arrived with), RFC 5861 (stale windows).
StoreDecision decideStoreHttp(const http::RequestHead &req, const ResponseFacts &resp,
                              const PolicyConfig &cfg, ExchangeTimes times);
// The same from a head's fields, parsed first (tests).
StoreDecision decideStoreHttp(const http::RequestHead &req, int status,
                              const http::HeaderList &resp, const PolicyConfig &cfg,
                              ExchangeTimes times);

// The request's cache directives (§5.2.1, and Pragma: no-cache without Cache-Control, §5.4).
// With cache.honor_client_no_cache off, no-cache, max-age and Pragma are ignored (a reload
// button cannot empty the cache), as nginx can be told to.
struct RequestDirectives {
    bool noCache = false;
    bool noStore = false;
    bool onlyIfCached = false;
    std::optional<std::int64_t> maxAge;
    bool maxStale = false;
    std::optional<std::int64_t> maxStaleSeconds; // absent with maxStale: any staleness
    std::optional<std::int64_t> minFresh;
};
// The defaults (nothing asked) in django mode, and for a request with neither Cache-Control nor
// Pragma, without parsing anything.
RequestDirectives requestDirectives(const http::HeaderList &req, const PolicyConfig &cfg);

// How a stored response may be used for a request (§4, §4.2, §5.2.1, §5.2.2.2).
enum class Reuse {
    Fresh,    // as it is
    StaleOk,  // stale, but the client's max-stale allows it
    Validate, // only after validation with the origin (stale, no-cache, the client's limits)
};
Reuse reuse(const PageView &page, bool mustRevalidate, const RequestDirectives &rd,
            std::int64_t now);
// Whether the stored head says must-revalidate / proxy-revalidate / s-maxage (§5.2.2.2, .8, .10:
// a shared cache may then not serve it stale).
bool storedMustRevalidate(std::string_view head);

// Does the stored page answer this request without the origin? In django mode when it is fresh;
// in http mode when the request's own limits (max-age, min-fresh, max-stale: §4.2, §5.2.1) take
// it too, a stale one only as far as max-stale allows and must-revalidate does not forbid.
bool answersRequest(const PolicyConfig &cfg, const PageView &page, const RequestDirectives &rd,
                    std::int64_t now);

// §4.3.5: does a 200 response to HEAD describe the stored GET response `page`? Its validators
// (ETag, Last-Modified) match the stored ones — at least one of them given — and so does its
// Content-Length when it has one (-1: none).
bool headDescribes(const PageView &page, const http::HeaderList &head, std::int64_t contentLength);
// ... and so freshens it, as a 304 would: in http mode only (django mode stores GETs alone).
inline bool headFreshens(const PolicyConfig &cfg, const PageView &page,
                         const http::HeaderList &head, std::int64_t contentLength) {
    return cfg.mode == Mode::Http && headDescribes(page, head, contentLength);
}

// RFC 9213 §2.2: the targeted field (cache.targeted_cache_control, CDN-Cache-Control) is for
// this cache: removed from what is passed on and stored, in http mode, unless
// cache.forward_targeted_cache_control (a CDN behind frontcache that reads it too). Django mode
// does not read it and passes it on; a field not targeted at frontcache always passes.
void removeTargetedField(const PolicyConfig &cfg, http::HeaderList &headers);

// §4.4: a response to an unsafe request invalidates what the cache holds for the target URI
// when it is a non-error status (2xx, 3xx).
bool invalidates(std::string_view method, int status);
// The paths (with query) named by Location and Content-Location that are on the same origin as
// the request (`host`, `scheme`): relative references are resolved against `targetPath`.
void invalidationTargets(const http::HeaderList &resp, std::string_view scheme,
                         std::string_view host, std::string_view targetPath,
                         std::vector<std::string> &out);
// §4.4 as a whole: what `req`'s response (`status`, `resp`) invalidates in `store` — the target
// and its same-origin Location / Content-Location, both schemes — as paths for a purge on
// `host`; empty when nothing is to purge. A purge scans the store, so the paths are returned
// only when the store holds one of those URIs (its header key is present): POSTs to pages that
// are not cached cost one lookup per URI.
// Empty in django mode (Django's cache does not invalidate).
std::vector<std::string> invalidatedPaths(Store &store, const PolicyConfig &cfg,
                                          const http::RequestHead &req, int status,
                                          const http::HeaderList &resp, bool https,
                                          std::string &host);

// §4.1: a request field's value as it is compared for Vary, normalised where the field's syntax
// allows it: white space around list members and parameters removed; for the Accept family
// (Accept, Accept-Charset, Accept-Encoding, Accept-Language) tokens lower-cased, members ordered
// by weight but kept in their order among equal weights (that order says which is preferred).
// Other fields: leading and trailing white space.
void normalizeVaryValue(std::string_view metaName, std::string_view value, std::string &out);

// Removes the fields named in the comma-separated `names` from a stored head (private="..." and
// no-cache="..." name fields a shared cache must not store or send from its copy).
void removeFields(std::string &head, std::string_view names);

} // namespace fc::cache
