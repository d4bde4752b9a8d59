"""RFC 9111 conformance cases, as a table shared by tests/integration/test_http_mode.py (frontcache
in cache.mode = "http") and benchmarks/conformance_compare.py (the same cases against nginx
proxy_cache and Varnish).

Case syntax: `resp` is the origin's answers in order (the last repeats), each (status, fields);
field values may hold {now}, {now-N}, {now+N} (an HTTP date on the cache's clock) and {base} (the
case's path). The body of the origin's n-th answer for a case is "rN". `steps` are requests
(METHOD, {fields}, expect), or ("+", seconds) to move the cache's clock. `expect` keys: st
(status), hit (True: the origin was not asked), body, h ({field: value, or None for absent, or a
function}), sent ({field: value or None} on the request that reached the origin). A case with
fc_only=True checks frontcache's own fields (X-Cache) and is not run against other caches.
"""

import email.utils
import re
import socket
import time

from harness import Reader

CASES = []


def case(sec, name, resp, steps, **kw):
    kw.setdefault("fc_only", sec == "RFC9211")  # frontcache's own Cache-Status parameters
    CASES.append(dict(sec=sec, name=name, resp=resp, steps=steps, **kw))


G = "GET"
CACHED = dict(hit=True)
FETCHED = dict(hit=False)
LM_OLD = ("Last-Modified", "{now-864000}")  # ten days: heuristic lifetime = 1 day (capped)
ETAG = ("ETag", '"v1"')

# --- §3 Storing Responses in Caches ------------------------------------------------------------
case("3", "max-age makes a 200 storable", [(200, [("Cache-Control", "max-age=60")])],
     [(G, {}, dict(hit=False, body="r1")), (G, {}, dict(hit=True, body="r1"))])
case("3", "no freshness and no validator: not stored", [(200, [])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("3", "no explicit freshness, Last-Modified: heuristically stored", [(200, [LM_OLD])],
     [(G, {}, FETCHED), ("+", 3600), (G, {}, CACHED)])
for st in (203, 204, 300, 301, 308, 404, 405, 410, 414, 501):
    case("3", "%d is heuristically cacheable" % st, [(st, [LM_OLD])],
         [(G, {}, dict(hit=False, st=st)), (G, {}, dict(hit=True, st=st))])
for st in (302, 303, 307, 400, 403, 500, 503):
    case("3", "%d without explicit freshness is not stored" % st, [(st, [LM_OLD])],
         [(G, {}, dict(hit=False, st=st)), (G, {}, dict(hit=False, st=st))])
for st in (302, 307, 400, 500):
    case("3", "%d with max-age is stored" % st, [(st, [("Cache-Control", "max-age=60")])],
         [(G, {}, dict(hit=False, st=st)), (G, {}, dict(hit=True, st=st))])
case("3", "public makes a 302 heuristically storable", [(302, [("Cache-Control", "public"), LM_OLD])],
     [(G, {}, FETCHED), (G, {}, dict(hit=True, st=302))])
case("3", "206 is not stored", [(206, [("Cache-Control", "max-age=60"), ("Content-Range", "bytes 0-1/10")])],
     [(G, {}, dict(hit=False, st=206)), (G, {}, dict(hit=False))])
case("3.1", "Expires alone makes it storable", [(200, [("Date", "{now}"), ("Expires", "{now+60}")])],
     [(G, {}, FETCHED), (G, {}, CACHED)])
case("5.2.2.5", "no-store is not stored", [(200, [("Cache-Control", "max-age=60, no-store")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("5.2.2.7", "private is not stored", [(200, [("Cache-Control", "private, max-age=60")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("5.2.2.7", "private=\"X-User\": stored without that field",
     [(200, [("Cache-Control", 'private="X-User", max-age=60'), ("X-User", "alice")])],
     [(G, {}, dict(hit=False, h={"X-User": "alice"})), (G, {}, dict(hit=True, h={"X-User": None}))])
case("5.2.2.4", "no-cache=\"Set-Cookie2\": stored without that field",
     [(200, [("Cache-Control", 'no-cache="X-Secret", max-age=60'), ("X-Secret", "s")])],
     [(G, {}, FETCHED), (G, {}, dict(hit=True, h={"X-Secret": None}))])
case("3.5", "Authorization: not stored", [(200, [("Cache-Control", "max-age=60")])],
     [(G, {"Authorization": "Basic YTpi"}, FETCHED), (G, {"Authorization": "Basic YTpi"}, FETCHED)])
for d in ("public", "s-maxage=60", "must-revalidate"):
    case("3.5", "Authorization with %s: stored" % d, [(200, [("Cache-Control", "max-age=60, " + d)])],
         [(G, {"Authorization": "Basic YTpi"}, FETCHED), (G, {"Authorization": "Basic YTpi"}, CACHED)])
case("3", "Set-Cookie: not stored (frontcache's choice, cache.store_set_cookie)",
     [(200, [("Cache-Control", "max-age=60"), ("Set-Cookie", "a=1")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("4.1", "Vary: * is never reused", [(200, [("Cache-Control", "max-age=60"), ("Vary", "*")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("5.2.1.5", "request no-store: not stored, the next one is",
     [(200, [("Cache-Control", "max-age=60")])],
     [(G, {"Cache-Control": "no-store"}, FETCHED), (G, {}, FETCHED), (G, {}, CACHED)])
case("3", "the response as stored is the response as sent (no Expires or max-age added)",
     [(200, [("Cache-Control", "max-age=60")])],
     [(G, {}, FETCHED), (G, {}, dict(hit=True, h={"Expires": None, "Cache-Control": "max-age=60"}))])

# --- §4.2.1 Calculating Freshness Lifetime ----------------------------------------------------
case("4.2.1", "s-maxage over max-age", [(200, [("Cache-Control", "max-age=100, s-maxage=10")])],
     [(G, {}, FETCHED), ("+", 5), (G, {}, CACHED), ("+", 10), (G, {}, FETCHED)])
case("4.2.1", "max-age over Expires", [(200, [("Cache-Control", "max-age=10"), ("Date", "{now}"),
                                              ("Expires", "{now+100}")])],
     [(G, {}, FETCHED), ("+", 5), (G, {}, CACHED), ("+", 10), (G, {}, FETCHED)])
case("4.2.1", "Expires - Date", [(200, [("Date", "{now}"), ("Expires", "{now+30}")])],
     [(G, {}, FETCHED), ("+", 20), (G, {}, CACHED), ("+", 20), (G, {}, FETCHED)])
case("4.2.1", "Expires is relative to Date, not to receipt",
     [(200, [("Date", "{now-20}"), ("Expires", "{now+10}")])],
     [(G, {}, FETCHED), ("+", 5), (G, {}, CACHED), ("+", 10), (G, {}, FETCHED)])
case("5.3", "an invalid Expires is already expired", [(200, [("Expires", "0")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("5.3", "an Expires in the past", [(200, [("Date", "{now}"), ("Expires", "{now-60}")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("4.2.1", "two Expires fields: stale", [(200, [("Date", "{now}"), ("Expires", "{now+60}"),
                                                  ("Expires", "{now+90}")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("4.2.1", "max-age that is not a number: stale", [(200, [("Cache-Control", "max-age=abc")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("4.2.1", "a negative max-age: stale", [(200, [("Cache-Control", "max-age=-5")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("4.2.1", "max-age twice with different values: stale",
     [(200, [("Cache-Control", "max-age=60"), ("Cache-Control", "max-age=30")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("4.2.1", "max-age twice with the same value is fine",
     [(200, [("Cache-Control", "max-age=60, max-age=60")])],
     [(G, {}, FETCHED), (G, {}, CACHED)])
case("5.2", "a quoted max-age is understood", [(200, [("Cache-Control", 'max-age="60"')])],
     [(G, {}, FETCHED), (G, {}, CACHED)])
case("5.2", "directive names are case-insensitive", [(200, [("Cache-Control", "MAX-AGE=60")])],
     [(G, {}, FETCHED), (G, {}, CACHED)])
case("5.2", "unknown directives are ignored", [(200, [("Cache-Control", "foo=bar, max-age=60, baz")])],
     [(G, {}, FETCHED), (G, {}, CACHED)])
case("4.2.1", "max-age=0 with a validator: stored, revalidated on every use",
     [(200, [("Cache-Control", "max-age=0"), ETAG]), (304, [ETAG, ("Cache-Control", "max-age=0")])],
     [(G, {}, FETCHED), (G, {}, dict(hit=False, st=200, body="r1", sent={"If-None-Match": '"v1"'}))])
case("4.2.2", "heuristic: 10% of the time since Last-Modified",
     [(200, [("Date", "{now}"), ("Last-Modified", "{now-1000}")])],
     [(G, {}, FETCHED), ("+", 50), (G, {}, CACHED), ("+", 100), (G, {}, dict(hit=False))])
case("4.2.2", "heuristic: capped at cache.heuristic_max (1 day)", [(200, [("Date", "{now}"), LM_OLD])],
     [(G, {}, FETCHED), ("+", 86000), (G, {}, CACHED), ("+", 1000), (G, {}, FETCHED)])
case("4.2.2", "a Last-Modified after Date gives no heuristic lifetime",
     [(200, [("Date", "{now}"), ("Last-Modified", "{now+100}")])],
     [(G, {}, FETCHED), ("+", 1), (G, {}, FETCHED)])

# --- §4.2.3 Calculating Age ------------------------------------------------------------------
case("4.2.3", "Age from the origin counts against the lifetime",
     [(200, [("Cache-Control", "max-age=60"), ("Age", "30")])],
     [(G, {}, FETCHED), ("+", 20), (G, {}, CACHED), ("+", 20), (G, {}, FETCHED)])
case("4.2.3", "the Age sent includes the age it arrived with",
     [(200, [("Cache-Control", "max-age=600"), ("Age", "100")])],
     [(G, {}, FETCHED), ("+", 10), (G, {}, dict(hit=True, h={"Age": lambda v: v and int(v) >= 110}))])
case("5.1", "a non-numeric Age is ignored", [(200, [("Cache-Control", "max-age=60"), ("Age", "abc")])],
     [(G, {}, FETCHED), ("+", 50), (G, {}, CACHED)])
case("5.1", "an Age list is read by its first member: \"7200, 0\" is stale",
     [(200, [("Cache-Control", "max-age=3600"), ("Age", "7200, 0")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("4.2.3", "an old Date (apparent age) counts", [(200, [("Cache-Control", "max-age=30"), ("Date", "{now-20}")])],
     [(G, {}, FETCHED), ("+", 5), (G, {}, CACHED), ("+", 10), (G, {}, FETCHED)])
case("4.2.3", "arrived older than its lifetime: stale at once",
     [(200, [("Cache-Control", "max-age=60"), ("Age", "100")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("5.1", "the origin's Age is passed on, and the stored copy's Age counts from it",
     [(200, [("Cache-Control", "max-age=600"), ("Age", "40")])],
     [(G, {}, dict(hit=False, h={"Age": "40"})), ("+", 5), (G, {}, dict(hit=True, h={"Age": "45"}))])
case("5.1", "Age on every answer from the store", [(200, [("Cache-Control", "max-age=60")])],
     [(G, {}, FETCHED), ("+", 7), (G, {}, dict(hit=True, h={"Age": "7"}))])
case("4.2.3", "a Date in the future does not make it younger",
     [(200, [("Cache-Control", "max-age=30"), ("Date", "{now+100}")])],
     [(G, {}, FETCHED), ("+", 20), (G, {}, CACHED), ("+", 20), (G, {}, FETCHED)])

# --- §5.2.1 Request Directives ----------------------------------------------------------------
FRESH60 = [(200, [("Cache-Control", "max-age=60"), ETAG]), (304, [ETAG, ("Cache-Control", "max-age=60")])]
case("5.2.1.4", "request no-cache revalidates", FRESH60,
     [(G, {}, FETCHED), (G, {"Cache-Control": "no-cache"},
                         dict(hit=False, st=200, body="r1", sent={"If-None-Match": '"v1"'}))])
case("5.4", "Pragma: no-cache without Cache-Control revalidates", FRESH60,
     [(G, {}, FETCHED), (G, {"Pragma": "no-cache"}, dict(hit=False, body="r1"))])
case("5.4", "Pragma is ignored when Cache-Control is present", FRESH60,
     [(G, {}, FETCHED), (G, {"Pragma": "no-cache", "Cache-Control": "max-stale=0"}, CACHED)])
case("5.2.1.1", "request max-age=0 on an entry 1 s old revalidates", FRESH60,
     [(G, {}, FETCHED), ("+", 1), (G, {"Cache-Control": "max-age=0"}, dict(hit=False, body="r1"))])
case("5.2.1.1", "request max-age larger than the age", FRESH60,
     [(G, {}, FETCHED), ("+", 30), (G, {"Cache-Control": "max-age=100"}, CACHED)])
case("5.2.1.1", "request max-age smaller than the age", FRESH60,
     [(G, {}, FETCHED), ("+", 30), (G, {"Cache-Control": "max-age=10"}, FETCHED)])
case("5.2.1.3", "min-fresh beyond what is left", FRESH60,
     [(G, {}, FETCHED), ("+", 30), (G, {"Cache-Control": "min-fresh=50"}, FETCHED)])
case("5.2.1.3", "min-fresh within what is left", FRESH60,
     [(G, {}, FETCHED), ("+", 30), (G, {"Cache-Control": "min-fresh=10"}, CACHED)])
STALE_OK = [(200, [("Cache-Control", "max-age=10")])]
case("5.2.1.2", "max-stale=N accepts that much staleness", STALE_OK,
     [(G, {}, FETCHED), ("+", 20), (G, {"Cache-Control": "max-stale=20"}, CACHED)])
case("5.2.1.2", "max-stale=N: more is fetched", STALE_OK,
     [(G, {}, FETCHED), ("+", 20), (G, {"Cache-Control": "max-stale=5"}, FETCHED)])
case("5.2.1.2", "max-stale without a value accepts any staleness",
     [(200, [("Cache-Control", "max-age=10"), ETAG])],
     [(G, {}, FETCHED), ("+", 1000), (G, {"Cache-Control": "max-stale"}, CACHED)])
case("5.2.2.2", "max-stale does not override must-revalidate",
     [(200, [("Cache-Control", "max-age=10, must-revalidate")])],
     [(G, {}, FETCHED), ("+", 20), (G, {"Cache-Control": "max-stale=100"}, FETCHED)])
case("5.2.2.10", "max-stale does not override s-maxage (a shared cache revalidates)",
     [(200, [("Cache-Control", "s-maxage=10")])],
     [(G, {}, FETCHED), ("+", 20), (G, {"Cache-Control": "max-stale=100"}, FETCHED)])
case("5.2.1.7", "only-if-cached, not stored: 504 without asking the origin",
     [(200, [("Cache-Control", "max-age=60")])],
     [(G, {"Cache-Control": "only-if-cached"}, dict(hit=True, st=504)), (G, {}, FETCHED)])
case("5.2.1.7", "only-if-cached, stored: served", [(200, [("Cache-Control", "max-age=60")])],
     [(G, {}, FETCHED), (G, {"Cache-Control": "only-if-cached"}, dict(hit=True, st=200))])
case("5.2.1.7", "only-if-cached, stale: 504", [(200, [("Cache-Control", "max-age=10")])],
     [(G, {}, FETCHED), ("+", 20), (G, {"Cache-Control": "only-if-cached"}, dict(hit=True, st=504))])
case("5.2.1.7", "only-if-cached with max-stale: the stale copy", [(200, [("Cache-Control", "max-age=10")])],
     [(G, {}, FETCHED), ("+", 20), (G, {"Cache-Control": "only-if-cached, max-stale"}, dict(hit=True, st=200))])

# --- §4.3 Validation --------------------------------------------------------------------------
case("4.3.1", "a stale entry with an ETag is revalidated with If-None-Match",
     [(200, [("Cache-Control", "max-age=10"), ETAG]), (304, [ETAG, ("Cache-Control", "max-age=10")])],
     [(G, {}, FETCHED), ("+", 20), (G, {}, dict(hit=False, st=200, body="r1",
                                                 sent={"If-None-Match": '"v1"'}))])
case("4.3.1", "a stale entry with Last-Modified only: If-Modified-Since",
     [(200, [("Cache-Control", "max-age=10"), ("Last-Modified", "{now-100}")]),
      (304, [("Cache-Control", "max-age=10")])],
     [(G, {}, FETCHED), ("+", 20), (G, {}, dict(hit=False, body="r1",
                                                 sent={"If-Modified-Since": lambda v: v is not None}))])
case("4.3.4", "a 304 updates the stored fields and freshness",
     [(200, [("Cache-Control", "max-age=10"), ETAG, ("X-Version", "1")]),
      (304, [ETAG, ("Cache-Control", "max-age=100"), ("X-Version", "2")])],
     [(G, {}, FETCHED), ("+", 20), (G, {}, dict(hit=False, body="r1", h={"X-Version": "2"})),
      ("+", 50), (G, {}, dict(hit=True, body="r1", h={"X-Version": "2"}))])
case("4.3.4", "a 304 does not change Content-Length",
     [(200, [("Cache-Control", "max-age=10"), ETAG]),
      (304, [ETAG, ("Cache-Control", "max-age=100"), ("Content-Length", "999")])],
     [(G, {}, FETCHED), ("+", 20), (G, {}, dict(hit=False, body="r1", h={"Content-Length": "2"}))])
case("4.3.3", "a 200 to the revalidation replaces the entry",
     [(200, [("Cache-Control", "max-age=10"), ETAG]), (200, [("Cache-Control", "max-age=100"), ("ETag", '"v2"')])],
     [(G, {}, FETCHED), ("+", 20), (G, {}, dict(hit=False, body="r2")), (G, {}, dict(hit=True, body="r2"))])
case("5.2.2.4", "response no-cache with a validator: revalidated every time",
     [(200, [("Cache-Control", "no-cache"), ETAG]), (304, [ETAG, ("Cache-Control", "no-cache")])],
     [(G, {}, FETCHED), (G, {}, dict(hit=False, body="r1", sent={"If-None-Match": '"v1"'})),
      (G, {}, dict(hit=False, body="r1"))])
case("5.2.2.4", "response no-cache without a validator: not stored",
     [(200, [("Cache-Control", "no-cache, max-age=60")])],
     [(G, {}, FETCHED), (G, {}, dict(hit=False, body="r2"))])
case("5.2.2.2", "must-revalidate: no stale copy instead of an error",
     [(200, [("Cache-Control", "max-age=10, must-revalidate")]), (500, [])],
     [(G, {}, FETCHED), ("+", 20), (G, {}, dict(hit=False, st=500))])
case("5.2.2.8", "proxy-revalidate: no stale copy instead of an error",
     [(200, [("Cache-Control", "max-age=10, proxy-revalidate")]), (500, [])],
     [(G, {}, FETCHED), ("+", 20), (G, {}, dict(hit=False, st=500))])
case("4.2.4", "without must-revalidate a stale copy replaces a 500 (cache.stale_if_error)",
     [(200, [("Cache-Control", "max-age=10")]), (500, [])],
     [(G, {}, FETCHED), ("+", 20), (G, {}, dict(hit=False, st=200, body="r1"))])
case("RFC5861", "stale-if-error=N from the response",
     [(200, [("Cache-Control", "max-age=10, stale-if-error=30")]), (503, [])],
     [(G, {}, FETCHED), ("+", 30), (G, {}, dict(hit=False, st=200, body="r1")),
      ("+", 20), (G, {}, dict(hit=False, st=503))])
case("RFC5861", "stale-while-revalidate: the stale copy at once, refreshed behind",
     [(200, [("Cache-Control", "max-age=10, stale-while-revalidate=30")])],
     [(G, {}, FETCHED), ("+", 15), (G, {}, dict(st=200, body="r1", h={"X-Cache": "STALE"}))],
     fc_only=True)
case("4.2.4", "without stale-while-revalidate a stale copy is not served while fetching",
     [(200, [("Cache-Control", "max-age=10")])],
     [(G, {}, FETCHED), ("+", 15), (G, {}, dict(hit=False, body="r2"))])
case("4.3.2", "a client's If-None-Match matching a fresh entry: 304 from the cache",
     [(200, [("Cache-Control", "max-age=60"), ETAG])],
     [(G, {}, FETCHED), (G, {"If-None-Match": '"v1"'}, dict(hit=True, st=304))])
case("4.3.2", "If-None-Match compares weakly", [(200, [("Cache-Control", "max-age=60"), ETAG])],
     [(G, {}, FETCHED), (G, {"If-None-Match": 'W/"v1"'}, dict(hit=True, st=304))])
case("4.3.2", "If-None-Match not matching: 200", [(200, [("Cache-Control", "max-age=60"), ETAG])],
     [(G, {}, FETCHED), (G, {"If-None-Match": '"other"'}, dict(hit=True, st=200))])
case("4.3.2", "If-None-Match: * matches", [(200, [("Cache-Control", "max-age=60"), ETAG])],
     [(G, {}, FETCHED), (G, {"If-None-Match": "*"}, dict(hit=True, st=304))])
case("4.3.2", "If-Modified-Since at Last-Modified: 304",
     [(200, [("Cache-Control", "max-age=60"), ("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")])],
     [(G, {}, FETCHED), (G, {"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}, dict(hit=True, st=304))])
case("4.3.2", "If-Modified-Since before Last-Modified: 200",
     [(200, [("Cache-Control", "max-age=60"), ("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")])],
     [(G, {}, FETCHED), (G, {"If-Modified-Since": "Sun, 31 Dec 2023 00:00:00 GMT"}, dict(hit=True, st=200))])
case("4.3.2", "If-None-Match wins over If-Modified-Since",
     [(200, [("Cache-Control", "max-age=60"), ETAG, ("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")])],
     [(G, {}, FETCHED), (G, {"If-None-Match": '"x"', "If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"},
                         dict(hit=True, st=200))])
case("4.3.2", "a 304 carries the ETag and Cache-Control", [(200, [("Cache-Control", "max-age=60"), ETAG])],
     [(G, {}, FETCHED), (G, {"If-None-Match": '"v1"'}, dict(hit=True, st=304, h={"ETag": '"v1"', "Cache-Control": "max-age=60"}))])

# --- §4.4 Invalidating Stored Responses ------------------------------------------------------
for m in ("POST", "PUT", "DELETE", "PATCH", "PROPPATCH"):  # llhttp refuses methods it does not know
    case("4.4", "%s with a 2xx invalidates the target" % m,
         [(200, [("Cache-Control", "max-age=600")])],
         [(G, {}, FETCHED), (G, {}, CACHED), (m, {}, dict(hit=False)), (G, {}, FETCHED)])
case("4.4", "POST with a 303 (non-error) invalidates", [(200, [("Cache-Control", "max-age=600")])],
     [(G, {}, FETCHED), ("POST", {}, dict(hit=False)), (G, {}, FETCHED)],
     post_status=303)
case("4.4", "POST with a 500 does not invalidate", [(200, [("Cache-Control", "max-age=600")])],
     [(G, {}, FETCHED), ("POST", {}, dict(hit=False)), (G, {}, CACHED)], post_status=500)
case("4.4", "Location on the same origin is invalidated", [(200, [("Cache-Control", "max-age=600")])],
     [(G, {"_path": "/other"}, FETCHED), ("POST", {}, dict(hit=False)), (G, {"_path": "/other"}, FETCHED)],
     post_fields=[("Location", "{base}/other")])
case("4.4", "Content-Location on the same origin is invalidated", [(200, [("Cache-Control", "max-age=600")])],
     [(G, {"_path": "/other"}, FETCHED), ("POST", {}, dict(hit=False)), (G, {"_path": "/other"}, FETCHED)],
     post_fields=[("Content-Location", "http://site.test{base}/other")])
case("4.4", "Location on another host is not", [(200, [("Cache-Control", "max-age=600")])],
     [(G, {"_path": "/other"}, FETCHED), ("POST", {}, dict(hit=False)), (G, {"_path": "/other"}, CACHED)],
     post_fields=[("Location", "http://elsewhere.test{base}/other")])
case("4.4", "GET does not invalidate", [(200, [("Cache-Control", "max-age=600")])],
     [(G, {}, FETCHED), (G, {"_query": "?x=1"}, FETCHED), (G, {}, CACHED)])

# --- §4 / §4.3.5 HEAD -------------------------------------------------------------------------
case("4", "HEAD is answered from a stored GET", [(200, [("Cache-Control", "max-age=60")])],
     [(G, {}, FETCHED), ("HEAD", {}, dict(hit=True, st=200, body=""))])
case("4", "a HEAD response does not answer a later GET", [(200, [("Cache-Control", "max-age=60")])],
     [("HEAD", {}, FETCHED), (G, {}, FETCHED)])

# --- §4.1 Calculating Cache Keys with Vary --------------------------------------------------
VL = [(200, [("Cache-Control", "max-age=60"), ("Vary", "Accept-Language")])]
case("4.1", "a different value is another entry", VL,
     [(G, {"Accept-Language": "en"}, FETCHED), (G, {"Accept-Language": "de"}, FETCHED),
      (G, {"Accept-Language": "en"}, dict(hit=True, body="r1"))])
case("4.1", "token case does not matter", VL,
     [(G, {"Accept-Language": "en-US"}, FETCHED), (G, {"Accept-Language": "EN-us"}, CACHED)])
case("4.1", "white space does not matter", VL,
     [(G, {"Accept-Language": "en, fr;q=0.5"}, FETCHED), (G, {"Accept-Language": "en,fr; q=0.5"}, CACHED)])
case("4.1", "the order of list members matters (equal weights: the first is preferred)", VL,
     [(G, {"Accept-Language": "en, fr"}, FETCHED), (G, {"Accept-Language": "fr, en"}, FETCHED)])
case("4.1", "absent and present differ", VL,
     [(G, {}, FETCHED), (G, {"Accept-Language": "en"}, FETCHED), (G, {}, CACHED)])
case("4.1", "a custom field: only surrounding white space is ignored",
     [(200, [("Cache-Control", "max-age=60"), ("Vary", "X-Flavour")])],
     [(G, {"X-Flavour": "Mint"}, FETCHED), (G, {"X-Flavour": "mint"}, FETCHED),
      (G, {"X-Flavour": " Mint "}, dict(hit=True, body="r1"))])
case("4.1", "Vary names are case-insensitive",
     [(200, [("Cache-Control", "max-age=60"), ("Vary", "accept-LANGUAGE")])],
     [(G, {"Accept-Language": "en"}, FETCHED), (G, {"Accept-Language": "de"}, FETCHED),
      (G, {"Accept-Language": "en"}, CACHED)])
case("4.1", "two varied fields", [(200, [("Cache-Control", "max-age=60"), ("Vary", "Accept-Language, X-A")])],
     [(G, {"Accept-Language": "en", "X-A": "1"}, FETCHED), (G, {"Accept-Language": "en", "X-A": "2"}, FETCHED),
      (G, {"Accept-Language": "en", "X-A": "1"}, dict(hit=True, body="r1"))])

# --- keys: the query is part of the URI ------------------------------------------------------
case("4", "the query is part of the key", [(200, [("Cache-Control", "max-age=60")])],
     [(G, {"_query": "?a=1"}, FETCHED), (G, {"_query": "?a=2"}, FETCHED), (G, {"_query": "?a=1"}, CACHED)])
case("4", "POST is never answered from the cache", [(200, [("Cache-Control", "max-age=60")])],
     [(G, {}, FETCHED), ("POST", {}, FETCHED)])

# --- RFC 9213 targeted fields ----------------------------------------------------------------
case("RFC9213", "CDN-Cache-Control wins over Cache-Control",
     [(200, [("Cache-Control", "no-store"), ("CDN-Cache-Control", "max-age=60")])],
     [(G, {}, dict(hit=False, h={"CDN-Cache-Control": None, "Cache-Control": "no-store"})),
      (G, {}, dict(hit=True, h={"CDN-Cache-Control": None}))])
case("RFC9213", "CDN-Cache-Control: no-store overrides a storable Cache-Control",
     [(200, [("Cache-Control", "max-age=60"), ("CDN-Cache-Control", "no-store")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("RFC9213", "a shorter CDN-Cache-Control lifetime", [(200, [("Cache-Control", "max-age=600"),
                                                           ("CDN-Cache-Control", "max-age=10")])],
     [(G, {}, FETCHED), ("+", 20), (G, {}, FETCHED)])

case("RFC9213", "a CDN-Cache-Control that is no Structured Field Dictionary is ignored",
     [(200, [("Cache-Control", "max-age=60"), ("CDN-Cache-Control", "Max-Age=600")])],
     [(G, {}, FETCHED), ("+", 30), (G, {}, CACHED), ("+", 40), (G, {}, FETCHED)])

# --- more of §3 -------------------------------------------------------------------------------
HEUR = (200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501)
for st in HEUR:
    case("3", "%d with Expires is stored" % st, [(st, [("Date", "{now}"), ("Expires", "{now+60}")])],
         [(G, {}, dict(hit=False, st=st)), ("+", 30), (G, {}, dict(hit=True, st=st))])
for st in (302, 303, 307, 400, 403, 500, 503):
    case("3", "%d with s-maxage is stored" % st, [(st, [("Cache-Control", "s-maxage=60")])],
         [(G, {}, dict(hit=False, st=st)), (G, {}, dict(hit=True, st=st))])
case("5.2.2.5", "no-store wins over public and max-age", [(200, [("Cache-Control", "public, max-age=60, no-store")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("5.2.2.7", "private wins over public", [(200, [("Cache-Control", "public, private, max-age=60")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("5.2.2.4", "no-cache wins over max-age (revalidated)",
     [(200, [("Cache-Control", "max-age=60, no-cache"), ETAG]), (304, [ETAG])],
     [(G, {}, FETCHED), (G, {}, dict(hit=False, body="r1", sent={"If-None-Match": '"v1"'}))])
case("5.2.2.1", "must-revalidate does not stop a fresh hit", [(200, [("Cache-Control", "max-age=60, must-revalidate")])],
     [(G, {}, FETCHED), (G, {}, CACHED)])

# --- more of §4.2.1 / §4.2.3 -------------------------------------------------------------------
case("4.2.1", "Expires without Date: from the time received", [(200, [("Expires", "{now+60}")])],
     [(G, {}, FETCHED), ("+", 30), (G, {}, CACHED), ("+", 40), (G, {}, FETCHED)])
case("4.2.1", "Expires equal to Date: stale", [(200, [("Date", "{now}"), ("Expires", "{now}")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("4.2.1", "max-age=0 without a validator: not stored", [(200, [("Cache-Control", "max-age=0")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("4.2.1", "s-maxage=0 wins over max-age=60", [(200, [("Cache-Control", "max-age=60, s-maxage=0")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("4.2.1", "an invalid s-maxage makes it stale despite max-age",
     [(200, [("Cache-Control", "max-age=60, s-maxage=soon")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("4.2.2", "heuristic for a 404", [(404, [("Date", "{now}"), ("Last-Modified", "{now-1000}")])],
     [(G, {}, FETCHED), ("+", 50), (G, {}, dict(hit=True, st=404)), ("+", 100), (G, {}, FETCHED)])
case("4.2.2", "no heuristic when a lifetime is explicit",
     [(200, [("Cache-Control", "max-age=5"), ("Date", "{now}"), ("Last-Modified", "{now-100000}")])],
     [(G, {}, FETCHED), ("+", 10), (G, {}, FETCHED)])
for age in (0, 10, 59):
    case("4.2.3", "Age %d of max-age 60: fresh for %d more" % (age, 60 - age),
         [(200, [("Cache-Control", "max-age=60"), ("Age", str(age))])],
         [(G, {}, FETCHED), ("+", 60 - age - 1), (G, {}, CACHED), ("+", 2), (G, {}, FETCHED)])
case("5.1", "an Age list counts by its first member", [(200, [("Cache-Control", "max-age=60"), ("Age", "10, 20")])],
     [(G, {}, FETCHED), ("+", 45), (G, {}, CACHED), ("+", 10), (G, {}, FETCHED)])
case("4.2.3", "an invalid Date: age from the time received", [(200, [("Cache-Control", "max-age=60"), ("Date", "yesterday")])],
     [(G, {}, FETCHED), ("+", 55), (G, {}, CACHED)])

# --- more of §5.2.1 ---------------------------------------------------------------------------
case("5.2.1.1", "request max-age=0 on an entry of age 0 is fine", FRESH60,
     [(G, {}, FETCHED), (G, {"Cache-Control": "max-age=0"}, CACHED)])
case("5.2.1.2", "max-stale with a fresh entry", FRESH60,
     [(G, {}, FETCHED), (G, {"Cache-Control": "max-stale=10"}, CACHED)])
case("5.2.1.3", "min-fresh=0", FRESH60, [(G, {}, FETCHED), (G, {"Cache-Control": "min-fresh=0"}, CACHED)])
case("5.2.1.4", "request no-cache with Last-Modified only: If-Modified-Since",
     [(200, [("Cache-Control", "max-age=60"), ("Last-Modified", "{now-100}")]), (304, [])],
     [(G, {}, FETCHED), (G, {"Cache-Control": "no-cache"},
                         dict(hit=False, body="r1", sent={"If-Modified-Since": lambda v: v is not None}))])
case("5.2.1.5", "request no-store may still be answered from the cache", FRESH60,
     [(G, {}, FETCHED), (G, {"Cache-Control": "no-store"}, CACHED)])
case("5.2.1", "request directives are case-insensitive", FRESH60,
     [(G, {}, FETCHED), (G, {"Cache-Control": "NO-CACHE"}, dict(hit=False, body="r1"))])

# --- more of §4.3 -----------------------------------------------------------------------------
case("4.3.2", "HEAD with a matching If-None-Match: 304", [(200, [("Cache-Control", "max-age=60"), ETAG])],
     [(G, {}, FETCHED), ("HEAD", {"If-None-Match": '"v1"'}, dict(hit=True, st=304))])
case("4.3.2", "an invalid If-Modified-Since is ignored",
     [(200, [("Cache-Control", "max-age=60"), ("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")])],
     [(G, {}, FETCHED), (G, {"If-Modified-Since": "not a date"}, dict(hit=True, st=200))])
case("4.3.4", "a 304's Date renews the age",
     [(200, [("Cache-Control", "max-age=10"), ETAG]), (304, [ETAG, ("Cache-Control", "max-age=10"), ("Date", "{now}")])],
     [(G, {}, FETCHED), ("+", 20), (G, {}, dict(hit=False, h={"Age": lambda v: v is not None and int(v) <= 1})),
      ("+", 5), (G, {}, CACHED)])
case("4.3.4", "a 304 that makes the response unstorable: served, not kept",
     [(200, [("Cache-Control", "max-age=10"), ETAG]), (304, [ETAG, ("Cache-Control", "no-store")]),
      (200, [("Cache-Control", "max-age=10"), ETAG])],
     [(G, {}, FETCHED), ("+", 20), (G, {}, dict(hit=False, body="r1")), (G, {}, dict(hit=False))])
case("RFC5861", "beyond stale-while-revalidate: fetched before answering",
     [(200, [("Cache-Control", "max-age=10, stale-while-revalidate=5")])],
     [(G, {}, FETCHED), ("+", 30), (G, {}, dict(hit=False, body="r2"))])
case("RFC5861", "must-revalidate cancels stale-while-revalidate",
     [(200, [("Cache-Control", "max-age=10, stale-while-revalidate=60, must-revalidate")])],
     [(G, {}, FETCHED), ("+", 15), (G, {}, dict(hit=False, body="r2"))])

case("4.3.5", "a HEAD response freshens the stored GET it describes",
     [(200, [("Cache-Control", "max-age=10"), ETAG, ("X-Version", "1")]),
      (200, [("Cache-Control", "max-age=100"), ETAG, ("X-Version", "2")])],
     [(G, {}, FETCHED), ("+", 20), ("HEAD", {}, dict(hit=False, st=200)),
      (G, {}, dict(hit=True, body="r1", h={"X-Version": "2"}))])
case("4.3.5", "a HEAD response with another ETag does not",
     [(200, [("Cache-Control", "max-age=10"), ETAG]), (200, [("Cache-Control", "max-age=100"), ("ETag", '"v2"')])],
     [(G, {}, FETCHED), ("+", 20), ("HEAD", {}, dict(hit=False)), (G, {}, FETCHED)])

# --- more of §4.4 -----------------------------------------------------------------------------
for m in ("POST", "PUT", "DELETE", "PATCH", "PROPPATCH"):
    for st in (201, 204, 301):
        case("4.4", "%s answered %d invalidates" % (m, st), [(200, [("Cache-Control", "max-age=600")])],
             [(G, {}, FETCHED), (m, {}, dict(hit=False)), (G, {}, FETCHED)], post_status=st)
    case("4.4", "%s answered 404 does not invalidate" % m, [(200, [("Cache-Control", "max-age=600")])],
         [(G, {}, FETCHED), (m, {}, dict(hit=False)), (G, {}, CACHED)], post_status=404)
case("4.4", "a POST invalidates only its own URI", [(200, [("Cache-Control", "max-age=600")])],
     [(G, {"_query": "?a=1"}, FETCHED), (G, {"_query": "?a=2"}, FETCHED), ("POST", {"_query": "?a=1"}, FETCHED),
      (G, {"_query": "?a=2"}, CACHED), (G, {"_query": "?a=1"}, FETCHED)])

# --- more of §4.1 -----------------------------------------------------------------------------
for field, a, b in (("Accept", "text/html;q=0.9, application/json",
                     "application/json,text/html; q=0.9"),
                    ("Accept-Charset", "UTF-8", "utf-8"),
                    ("Accept-Language", "en;q=0.8, fr", "fr,en; q=0.8")):
    case("4.1", "%s: %r and %r are the same" % (field, a, b),
         [(200, [("Cache-Control", "max-age=60"), ("Vary", field)])],
         [(G, {field: a}, FETCHED), (G, {field: b}, CACHED)])
    case("4.1", "%s: a different value differs" % field,
         [(200, [("Cache-Control", "max-age=60"), ("Vary", field)])],
         [(G, {field: a}, FETCHED), (G, {field: "x/y"}, FETCHED)])
case("4.1", "Vary: Cookie, different cookies", [(200, [("Cache-Control", "max-age=60"), ("Vary", "Cookie")])],
     [(G, {"Cookie": "sessionid=a"}, FETCHED), (G, {"Cookie": "sessionid=b"}, FETCHED),
      (G, {"Cookie": "sessionid=a"}, dict(hit=True, body="r1"))])
case("4.1", "a varied field absent both times matches", [(200, [("Cache-Control", "max-age=60"), ("Vary", "X-A")])],
     [(G, {}, FETCHED), (G, {}, CACHED)])
case("4.1", "two varied fields, one absent", [(200, [("Cache-Control", "max-age=60"), ("Vary", "X-A, X-B")])],
     [(G, {"X-A": "1"}, FETCHED), (G, {"X-A": "1", "X-B": "2"}, FETCHED), (G, {"X-A": "1"}, dict(hit=True, body="r1"))])
case("4.1", "Vary: Accept-Encoding: one stored copy, each client its coding (frontcache)",
     [(200, [("Cache-Control", "max-age=60"), ("Vary", "Accept-Encoding"), ("Content-Type", "text/html")])],
     [(G, {"Accept-Encoding": "gzip"}, FETCHED), (G, {"Accept-Encoding": "br"}, dict(hit=True, h={"Content-Encoding": "br"})),
      (G, {}, dict(hit=True, h={"Content-Encoding": None}))],
     fc_only=True, pad=200)

# --- HEAD, ranges, transformation ---------------------------------------------------------------
case("4", "HEAD answered from a stored 404", [(404, [("Cache-Control", "max-age=60")])],
     [(G, {}, dict(hit=False, st=404)), ("HEAD", {}, dict(hit=True, st=404))])
case("RFC9110 14", "a Range of a stored response: 206 from the cache", [(200, [("Cache-Control", "max-age=60")])],
     [(G, {}, FETCHED), (G, {"Range": "bytes=0-0"}, dict(hit=True, st=206, body="r"))])
case("RFC9110 14", "a Range on a miss: the whole response stored",
     [(200, [("Cache-Control", "max-age=60")])],
     [(G, {"Range": "bytes=1-1"}, dict(hit=False, st=206, body="1")), (G, {}, dict(hit=True, st=200, body="r1"))],
     fc_only=True)
case("RFC9110 7.7", "no-transform: never compressed",
     [(200, [("Cache-Control", "max-age=60, no-transform"), ("Content-Type", "text/html"), ("X-Pad", "x")])],
     [(G, {"Accept-Encoding": "gzip"}, FETCHED), (G, {"Accept-Encoding": "gzip"}, dict(hit=True, h={"Content-Encoding": None}))],
     pad=200)
case("RFC9110 7.7", "without no-transform a text page is compressed (frontcache)",
     [(200, [("Cache-Control", "max-age=60"), ("Content-Type", "text/html")])],
     [(G, {"Accept-Encoding": "gzip"}, FETCHED), (G, {"Accept-Encoding": "gzip"}, dict(hit=True, h={"Content-Encoding": "gzip"}))],
     pad=200, fc_only=True)

# --- more of RFC 9213 ---------------------------------------------------------------------------
case("RFC9213", "CDN-Cache-Control: private", [(200, [("Cache-Control", "max-age=60"), ("CDN-Cache-Control", "private")])],
     [(G, {}, FETCHED), (G, {}, FETCHED)])
case("RFC9213", "CDN-Cache-Control: s-maxage", [(200, [("CDN-Cache-Control", "s-maxage=60")])],
     [(G, {}, FETCHED), (G, {}, CACHED)])
case("RFC9213", "Cache-Control still reaches the client", [(200, [("Cache-Control", "max-age=5"), ("CDN-Cache-Control", "max-age=60")])],
     [(G, {}, FETCHED), ("+", 30), (G, {}, dict(hit=True, h={"Cache-Control": "max-age=5"}))])

# --- RFC 9211 Cache-Status -------------------------------------------------------------------
CS = "Cache-Status"
case("RFC9211", "a miss that is stored", [(200, [("Cache-Control", "max-age=60")])],
     [(G, {}, dict(hit=False, h={CS: "frontcache; fwd=uri-miss; fwd-status=200; stored"})),
      (G, {}, dict(hit=True, h={CS: "frontcache; hit; ttl=60"}))])
case("RFC9211", "ttl counts down", [(200, [("Cache-Control", "max-age=60")])],
     [(G, {}, FETCHED), ("+", 25), (G, {}, dict(hit=True, h={CS: "frontcache; hit; ttl=35"}))])
case("RFC9211", "not stored: no `stored`, and why", [(200, [("Cache-Control", "private")])],
     [(G, {}, dict(hit=False, h={CS: "frontcache; fwd=uri-miss; fwd-status=200; detail=private"}))])
case("RFC9211", "the origin's status", [(404, [])],
     [(G, {}, dict(hit=False, st=404, h={CS: lambda v: "fwd-status=404" in v}))])
case("RFC9211", "vary-miss: the URI is known, this variant is not", VL,
     [(G, {"Accept-Language": "en"}, FETCHED),
      (G, {"Accept-Language": "de"}, dict(hit=False, h={CS: lambda v: "fwd=vary-miss" in v}))])
case("RFC9211", "stale: the stored copy was stale", [(200, [("Cache-Control", "max-age=10")])],
     [(G, {}, FETCHED), ("+", 20), (G, {}, dict(hit=False, h={CS: lambda v: "fwd=stale" in v}))])
case("RFC9211", "request: the client's directives sent it on", FRESH60,
     [(G, {}, FETCHED), (G, {"Cache-Control": "no-cache"},
                         dict(hit=False, h={CS: lambda v: "fwd=stale; fwd-status=304" in v or "fwd=request" in v}))])
case("RFC9211", "a stale answer has a negative ttl",
     [(200, [("Cache-Control", "max-age=10, stale-while-revalidate=60")])],
     [(G, {}, FETCHED), ("+", 15), (G, {}, dict(h={CS: lambda v: "; ttl=-5" in v}))])
case("RFC9211", "bypass", [(200, [("Cache-Control", "max-age=60")])],
     [("POST", {}, dict(hit=False, h={CS: lambda v: v.startswith("frontcache; fwd=bypass")}))])
case("RFC9211", "no key without cache.cache_status_key", [(200, [("Cache-Control", "max-age=60")])],
     [(G, {}, FETCHED), (G, {}, dict(hit=True, h={CS: lambda v: "key=" not in v}))])




def advance_total(c):
    return sum(s[1] for s in c["steps"] if s[0] == "+")


class CaseRunner:
    """Runs cases against a cache at host:port in front of `origin` (harness.Origin).
    `advance(seconds)` moves the cache's clock; `clock()` is the cache's time now (for dates)."""

    def __init__(self, host, port, origin, advance, clock, prefix=""):
        self.host, self.port, self.origin = host, port, origin
        self.advance, self.clock, self.prefix = advance, clock, prefix

    def http_date(self, offset):
        return email.utils.formatdate(self.clock() + offset, usegmt=True)

    def fill(self, value, base):
        value = value.replace("{base}", base)
        return re.sub(r"\{now([+-]\d+)?\}", lambda m: self.http_date(int(m.group(1) or 0)), value)

    def run(self, i, c):
        """Raises AssertionError naming the case and step that failed."""
        base = "%s/c%d" % (self.prefix, i)
        state = {"n": 0, "sent": None, "count": 0}

        def answer(method, target, headers):
            state["count"] += 1
            if method not in ("GET", "HEAD"):
                return (c.get("post_status", 200),
                        [(n, self.fill(v, base)) for n, v in c.get("post_fields", [])], b"done")
            state["n"] += 1
            state["sent"] = headers
            status, fields = c["resp"][min(state["n"], len(c["resp"])) - 1]
            body = b"r%d" % state["n"] + b" padding" * c.get("pad", 0)
            return status, [(n, self.fill(v, base)) for n, v in fields], body

        for p in (base, base + "/other"):
            self.origin.scripts[p] = answer
        for step in c["steps"]:
            if step[0] == "+":
                self.advance(step[1])
                continue
            method, fields, want = step
            fields = dict(fields)
            path = base + fields.pop("_path", "") + fields.pop("_query", "")
            before = state["count"]
            s = socket.create_connection((self.host, self.port), timeout=10)
            head = "%s %s HTTP/1.1\r\nHost: site.test\r\n" % (method, path)
            head += "".join("%s: %s\r\n" % kv for kv in fields.items())
            body = b"x" if method not in ("GET", "HEAD") else b""
            if body:
                head += "Content-Length: 1\r\n"
            s.sendall((head + "Connection: close\r\n\r\n").encode() + body)
            try:
                resp = Reader(s).response(head_request=(method == "HEAD"))
            finally:
                s.close()
            where = "§%s %s: %s %s" % (c["sec"], c["name"], method, fields)
            hit = state["count"] == before
            check = _Check(where)
            if "st" in want:
                check.equal(resp.status, want["st"], "status")
            if "hit" in want:
                check.equal(hit, want["hit"], "from the cache")
            if "body" in want:
                check.equal(resp.body.decode(errors="replace"), want["body"], "body")
            for name, v in want.get("h", {}).items():
                check.value(resp.header(name), v, name)
            for name, v in want.get("sent", {}).items():
                got = next((val for n, val in state["sent"] or [] if n.lower() == name.lower()),
                           None)
                check.value(got, v, "sent " + name)
            if c["sec"] == "RFC5861":
                time.sleep(0.05)  # a background refresh may still be on its way


class _Check:
    def __init__(self, where):
        self.where = where

    def equal(self, got, want, what):
        if got != want:
            raise AssertionError("%s: %s is %r, expected %r" % (self.where, what, got, want))

    def value(self, got, want, what):
        if callable(want):
            if not want(got):
                raise AssertionError("%s: %s = %r" % (self.where, what, got))
        else:
            self.equal(got, want, what)
