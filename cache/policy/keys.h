// The cache keys (django/utils/cache.py: get_cache_key, learn_cache_key, _generate_cache_key):
// the absolute URI a page is stored for, the header key that holds its Vary list, the page key of
// one variant, and the admin port's view of what separates variants. Both cache modes key pages
// the same way; where frontcache is stricter than Django the comment says so and why (a key is
// something an attacker will try to collide). Pure functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "cache/policy/policy.h"
#include "http/headers.h"

namespace fc::cache {

// Django's request.build_absolute_uri(): scheme + "://" + Host + path [+ "?" + query when the
// query is part of the key]. `scheme` is the one the request arrived with: "https" when a
// trusted proxy says so (Django's request.scheme under SECURE_PROXY_SSL_HEADER) or the PROXY
// protocol reports TLS. Absolute-form targets are used as sent. X-Forwarded-Host is never used.
// `queryInKey`: the query is kept whatever cache.query_strings says (a rule caches pages with
// queries in bypass mode: each query is then its own page).
void absoluteUri(const http::RequestHead &req, const PolicyConfig &cfg, std::string &out,
                 std::string_view scheme = "http", bool queryInKey = false);

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
// `extra`: what operator rules add to this request's key (proxy/rules.h, ruleKeyExtra), each
// element starting with "\x03"; "" leaves the key as Django's.
void pageKey(const PolicyConfig &cfg, std::string_view method, std::string_view uri,
             std::string_view headerList, const http::HeaderList &req, std::string &out,
             std::string_view extra = {});

// What separates a variant, for the admin port's GET /variants: one "META_NAME: value" line per
// name in `headerList` ("(absent)" when the request had none). Cookie values are not shown, only
// their names and a fingerprint of each value ("sessionid=#1a2b3c4d"), so the listing never
// hands out a session. At most 4 KiB (longer values are cut).
void variedValues(std::string_view headerList, const http::HeaderList &req, std::string &out);

// learn_cache_key: the response's Vary as Django's sorted META names joined by ','. Returns false
// for "Vary: *" (never stored).
bool varyHeaderList(const http::HeaderList &resp, std::string &out);

} // namespace fc::cache
