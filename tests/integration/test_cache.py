"""The cache in front of an origin: every worked example of Django's per-site cache
rules (docs/architecture.md says where each rule lives), each 'stricter' rule, and what must never be stored.
Time is moved with Frontcache.advance(), never slept through."""

import re
import socket
import time
import unittest

from harness import OriginAndProxy, Frontcache, Origin, Reader, request, render


class Cache(OriginAndProxy):
    # grace and stale_if_error off: Django's own behaviour, an expired page is simply gone.
    SECTIONS = {"cache": {"max_object_size": "64KiB", "grace": "0s", "stale_if_error": "0s",
                                                       "bypass_paths": ["/admin/"],
                                                       "bypass_cookies": ["sessionid"]}}

    def req(self, path, headers="", method="GET", host="site.test"):
        resp, r = request(self.fc, "%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (method, path, host, headers),
                          head_request=(method == "HEAD"))
        r.sock.close()
        return resp

    def origin_hits(self, path):
        return sum(1 for m, t, h, b in self.origin.requests if t == path)

    # --- the worked examples ----------------------------------------------------------------

    def test_plain_page_stored_600s_then_hit_with_age(self):
        p = "/r/plain"
        first = self.req(p)
        self.assertEqual(first.header("X-Cache"), "MISS")
        self.assertEqual(first.header("Cache-Control"), "max-age=600")
        self.assertIsNotNone(first.header("Expires"))
        self.fc.advance(5)
        second = self.req(p)
        self.assertEqual(second.header("X-Cache"), "HIT")
        self.assertEqual(second.header("Age"), "5")
        self.assertEqual(second.body, first.body)
        self.assertEqual(second.header("Cache-Control"), "max-age=600")
        self.assertEqual(second.header("Cache-Status"), "frontcache; hit; ttl=595")  # RFC 9211
        self.assertEqual(self.origin_hits(p), 1)
        self.fc.advance(600)  # expired: fetched again
        third = self.req(p)
        self.assertEqual(third.header("X-Cache"), "MISS")
        self.assertEqual(self.origin_hits(p), 2)

    def test_long_lifetimes_are_stored_up_to_max_ttl(self):
        # Issue #23: WhiteNoise's hashed static files say ten years. Django stores them (its
        # memcached backend turns a long timeout into a date); frontcache keeps them fresh for
        # cache.max_ttl (a year by default) and tells the client what the app said.
        p = "/r/static;cc=public%2C%20max-age=315360000%2C%20immutable"
        first = self.req(p)
        self.assertEqual(first.header("X-Cache"), "MISS")
        self.assertIn("max-age=315360000", first.header("Cache-Control"))
        second = self.req(p)
        self.assertEqual(second.header("X-Cache"), "HIT")
        ttl = int(re.search(r"ttl=(\d+)", second.header("Cache-Status")).group(1))
        self.assertGreater(ttl, 365 * 86400 - 10)  # a year (cache.max_ttl), less the seconds
        self.assertLessEqual(ttl, 365 * 86400)     # the test took
        self.assertIn("max-age=315360000", second.header("Cache-Control"))
        self.fc.advance(365 * 86400 - 10)
        self.assertEqual(self.req(p).header("X-Cache"), "HIT")
        self.fc.advance(20)  # past cache.max_ttl
        self.assertEqual(self.req(p).header("X-Cache"), "MISS")
        self.assertEqual(self.origin_hits(p), 2)

    def test_query_string_bypass(self):
        p = "/r/q?q=1"
        for _ in range(2):
            self.assertEqual(self.req(p).header("X-Cache"), "BYPASS")
        self.assertEqual(self.origin_hits(p), 2)

    def test_max_age_zero_not_stored(self):
        p = "/r/cc=max-age=0"
        self.assertEqual(self.req(p).header("X-Cache"), "MISS")
        self.assertEqual(self.req(p).header("X-Cache"), "MISS")
        self.assertEqual(self.origin_hits(p), 2)

    def test_private_not_stored(self):
        p = "/r/me;cc=private"
        first = self.req(p)
        self.assertEqual(first.header("X-Cache"), "MISS")
        self.assertIn("detail=private", first.header("Cache-Status"))
        self.assertEqual(first.header("Cache-Control"), "private")  # not patched
        self.assertEqual(self.req(p).header("X-Cache"), "MISS")
        self.assertEqual(self.origin_hits(p), 2)

    def test_vary_cookie(self):
        p = "/r/v;vary=Cookie"
        a1 = self.req(p, "Cookie: a=1\r\n")
        a2 = self.req(p, "Cookie: a=2\r\n")
        a1_again = self.req(p, "Cookie: a=1\r\n")
        self.assertEqual(a1.header("X-Cache"), "MISS")
        self.assertEqual(a2.header("X-Cache"), "MISS")
        self.assertEqual(a1_again.header("X-Cache"), "HIT")
        self.assertEqual(render(a1_again), render(a1))
        self.assertNotEqual(render(a2), render(a1))
        # Absent and empty are different entries (the "-," marker).
        none = self.req(p)
        empty = self.req(p, "Cookie: \r\n")
        self.assertEqual((none.header("X-Cache"), empty.header("X-Cache")), ("MISS", "MISS"))

    def test_post_passed_through(self):
        for _ in range(2):
            resp, r = request(self.fc, "POST /r/form HTTP/1.1\r\nHost: site.test\r\n"
                                       "Content-Length: 3\r\n\r\na=1")
            r.sock.close()
            self.assertEqual(resp.header("X-Cache"), "BYPASS")
        self.assertEqual(self.origin_hits("/r/form"), 2)

    def test_head_after_get_is_a_hit_without_body(self):
        p = "/r/headtest;size=500"
        self.req(p)
        head = self.req(p, method="HEAD")
        self.assertEqual(head.header("X-Cache"), "HIT")
        self.assertEqual(head.header("Content-Length"), "500")
        self.assertEqual(head.body, b"")
        self.assertEqual(self.origin_hits(p), 1)

    def test_head_alone_is_stored_under_head(self):
        p = "/r/headonly"
        self.assertEqual(self.req(p, method="HEAD").header("X-Cache"), "MISS")
        self.assertEqual(self.req(p, method="HEAD").header("X-Cache"), "HIT")
        self.assertEqual(self.req(p).header("X-Cache"), "MISS")  # GET never reads the HEAD entry

    def test_404_not_stored(self):
        p = "/r/missing;status=404"
        self.assertEqual(self.req(p).status, 404)
        self.assertEqual(self.req(p).header("X-Cache"), "MISS")
        self.assertEqual(self.origin_hits(p), 2)

    def test_max_age_30_public(self):
        p = "/r/pub;cc=max-age=30%2C%20public"
        first = self.req(p)
        self.assertEqual(first.header("Cache-Control"), "max-age=30, public")
        self.fc.advance(29)
        self.assertEqual(self.req(p).header("X-Cache"), "HIT")
        self.fc.advance(1)
        self.assertEqual(self.req(p).header("X-Cache"), "MISS")

    def test_if_none_match_304(self):
        p = '/r/etagged;etag="v1"'
        self.req(p)
        resp = self.req(p, 'If-None-Match: "v1"\r\n')
        self.assertEqual(resp.status, 304)
        self.assertEqual(resp.body, b"")
        self.assertEqual(resp.header("ETag"), '"v1"')
        self.assertEqual(resp.header("X-Cache"), "HIT")
        self.assertEqual(self.req(p, 'If-None-Match: W/"v1", "v2"\r\n').status, 304)
        self.assertEqual(self.req(p, 'If-None-Match: "other"\r\n').status, 200)

    def test_if_modified_since_304(self):
        p = "/r/lm;lm=Sun%2C%2006%20Nov%201994%2008:49:37%20GMT"
        self.req(p)
        self.assertEqual(self.req(p, "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n").status, 304)
        self.assertEqual(self.req(p, "If-Modified-Since: Sat, 05 Nov 1994 08:49:37 GMT\r\n").status, 200)

    # --- stricter rules and what is never stored ----------------------------------------------

    def test_set_cookie_never_stored(self):
        p = "/r/sc;cookie=sid=abc"
        self.req(p)
        resp = self.req(p)
        self.assertEqual(resp.header("X-Cache"), "MISS")
        self.assertIn("detail=set-cookie", resp.header("Cache-Status"))

    def test_no_store_and_no_cache_without_a_validator(self):
        for p in ("/r/ns;cc=no-store", "/r/nc;cc=no-cache", '/r/nse;cc=no-store;etag="x"'):
            self.req(p)
            self.assertEqual(self.req(p).header("X-Cache"), "MISS", p)
        self.assertIn("detail=no-cache", self.req("/r/nc;cc=no-cache").header("Cache-Status"))

    def test_no_cache_with_an_etag_is_stored_and_revalidated_before_every_reuse(self):
        # Spec rule 6: stored, never fresh; each reuse asks the origin first (a 304: the body
        # is not sent again).
        p = '/r/ncv;cc=no-cache;etag="n1"'
        first = self.req(p)
        self.assertEqual(first.header("X-Cache"), "MISS")
        self.assertEqual(first.header("Cache-Control"), "no-cache, max-age=600")
        for i in (1, 2, 3):
            again = self.req(p)
            self.assertEqual(again.header("X-Cache"), "REVALIDATED")
            self.assertEqual(again.body, first.body)
            self.assertEqual(self.origin.count(p, "If-None-Match"), i)
        self.assertEqual(self.origin.count(p), 4)

    def test_no_cache_with_last_modified_revalidates_and_a_200_replaces_it(self):
        p = "/r/nclm;cc=no-cache;lm=Sun%2C%2006%20Nov%201994%2008:49:37%20GMT"
        first = self.req(p)
        # The origin ignores If-Modified-Since and renders again: the new page replaces the old.
        second = self.req(p)
        self.assertEqual(self.origin.count(p, "If-Modified-Since"), 1)
        self.assertEqual(second.header("X-Cache"), "MISS")
        self.assertEqual(render(second), render(first) + 1)
        third = self.req(p)
        self.assertEqual(self.origin.count(p, "If-Modified-Since"), 2)
        self.assertEqual(render(third), render(second) + 1)

    def test_authorization_needs_public(self):
        self.req("/r/auth", "Authorization: Basic eDp5\r\n")
        self.assertEqual(self.req("/r/auth", "Authorization: Basic eDp5\r\n").header("X-Cache"), "MISS")
        p = "/r/authpub;cc=public"
        self.req(p, "Authorization: Basic eDp5\r\n")
        self.assertEqual(self.req(p, "Authorization: Basic eDp5\r\n").header("X-Cache"), "HIT")

    def test_vary_star_never_stored(self):
        p = "/r/star;vary=*"
        self.req(p)
        self.assertEqual(self.req(p).header("X-Cache"), "MISS")

    def test_s_maxage_wins(self):
        p = "/r/smax;cc=max-age=1000%2C%20s-maxage=10"
        first = self.req(p)
        self.assertEqual(first.header("Cache-Control"), "max-age=10, s-maxage=10")
        self.fc.advance(9)
        self.assertEqual(self.req(p).header("X-Cache"), "HIT")
        self.fc.advance(1)
        self.assertEqual(self.req(p).header("X-Cache"), "MISS")

    def test_too_big_streamed_not_stored(self):
        p = "/r/big;size=100000"  # over max_object_size (64 KiB)
        first = self.req(p)
        self.assertEqual(len(first.body), 100000)
        self.assertEqual(self.req(p).header("X-Cache"), "MISS")
        pc = "/r/bigc;size=100000;chunked"
        self.assertEqual(len(self.req(pc).body), 100000)
        self.assertEqual(self.req(pc).header("X-Cache"), "MISS")

    def test_chunked_response_is_stored_with_length(self):
        p = "/r/chunky;size=5000;chunked"
        first = self.req(p)
        second = self.req(p)
        self.assertEqual(second.header("X-Cache"), "HIT")
        self.assertEqual(second.header("Content-Length"), "5000")
        self.assertEqual(second.body, first.body)

    def test_truncated_never_stored(self):
        s = self.fc.connect()
        s.sendall(b"GET /reset-mid-body HTTP/1.1\r\nHost: site.test\r\n\r\n")
        with self.assertRaises((EOFError, ConnectionResetError)):
            Reader(s).response()
        s.close()
        resp, r = request(self.fc, "GET /status?code=200 HTTP/1.1\r\nHost: site.test\r\n\r\n")
        r.sock.close()
        before = self.origin_hits("/reset-mid-body")
        s = self.fc.connect()
        s.sendall(b"GET /reset-mid-body HTTP/1.1\r\nHost: site.test\r\n\r\n")
        with self.assertRaises((EOFError, ConnectionResetError)):
            Reader(s).response()
        s.close()
        self.assertEqual(self.origin_hits("/reset-mid-body"), before + 1)

    def test_client_leaving_mid_transfer_does_not_stop_storing(self):
        p = "/r/abandon;size=60000"
        s = self.fc.connect()
        s.sendall(("GET %s HTTP/1.1\r\nHost: site.test\r\n\r\n" % p).encode())
        s.recv(100)  # the first bytes, then go away
        s.close()
        time.sleep(0.3)
        self.assertEqual(self.req(p).header("X-Cache"), "HIT")
        self.assertEqual(self.origin_hits(p), 1)

    def test_client_leaving_before_the_headers(self):
        # Storable: the fetch goes on without the client and the page is stored.
        p = "/r/early;delay=300"
        s = self.fc.connect()
        s.sendall(("GET %s HTTP/1.1\r\nHost: site.test\r\n\r\n" % p).encode())
        time.sleep(0.05)
        s.close()
        time.sleep(0.5)
        self.assertEqual(self.req(p).header("X-Cache"), "HIT")
        self.assertEqual(self.origin_hits(p), 1)
        # Not storable: the fetch is dropped when the head shows it, nothing is stored.
        q = "/r/early2;delay=300;cc=private"
        s = self.fc.connect()
        s.sendall(("GET %s HTTP/1.1\r\nHost: site.test\r\n\r\n" % q).encode())
        time.sleep(0.05)
        s.close()
        time.sleep(0.5)
        self.assertEqual(self.req(q).header("X-Cache"), "MISS")
        self.assertEqual(self.origin_hits(q), 2)

    def test_bypass_rules(self):
        for path, headers in (("/admin/r/x", ""), ("/r/anon", "Cookie: sessionid=abc\r\n")):
            self.req(path, headers)
            resp = self.req(path, headers)
            self.assertEqual(resp.header("X-Cache"), "BYPASS", path)
        # Without the session cookie the same page is cached.
        self.req("/r/anon", "Cookie: theme=dark\r\n")
        self.assertEqual(self.req("/r/anon", "Cookie: theme=dark\r\n").header("X-Cache"), "HIT")

    def test_hosts_are_separate_entries(self):
        p = "/r/hosted"
        a = self.req(p, host="a.test")
        b = self.req(p, host="b.test")
        self.assertEqual((a.header("X-Cache"), b.header("X-Cache")), ("MISS", "MISS"))
        self.assertEqual(self.req(p, host="a.test").header("X-Cache"), "HIT")

    def test_keepalive_and_pipelined_hits(self):
        p = "/r/pipe"
        self.req(p)
        s = self.fc.connect()
        s.sendall(("GET %s HTTP/1.1\r\nHost: site.test\r\n\r\n" % p).encode() * 5)
        r = Reader(s)
        for _ in range(5):
            self.assertEqual(r.response().header("X-Cache"), "HIT")
        s.close()


class CacheConfigVariants(unittest.TestCase):
    def test_query_strings_key_mode_and_prefix_and_status_header(self):
        origin = Origin()
        fc = Frontcache(origin.url, {"cache": {"query_strings": "key", "key_prefix": "site1",
                                               "status_header": "X-Frontcache",
                                               "seconds": 60}})
        try:
            def get(path):
                resp, r = request(fc, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n" % path)
                r.sock.close()
                return resp
            a = get("/r/x?page=1")
            b = get("/r/x?page=2")
            self.assertEqual(a.header("X-Frontcache"), "MISS")
            self.assertIsNone(a.header("X-Cache"))
            self.assertEqual(a.header("Cache-Control"), "max-age=60")
            self.assertEqual(b.header("X-Frontcache"), "MISS")
            self.assertEqual(get("/r/x?page=1").header("X-Frontcache"), "HIT")
        finally:
            self.assertEqual(fc.stop(), 0)
            origin.close()


class DetachedFetchShutdown(unittest.TestCase):
    def test_sigterm_does_not_wait_for_a_fetch_without_client(self):
        import signal
        origin = Origin()
        fc = Frontcache(origin.url, {"server": {"drain_timeout": "10s"},
                                     "upstream": {"read_timeout": "30s"}})
        try:
            s = fc.connect()
            s.sendall(b"GET /r/slowpage;delay=4000 HTTP/1.1\r\nHost: h\r\n\r\n")
            time.sleep(0.2)
            # Reset, not a half-close (after a FIN frontcache would still answer, and a drain
            # rightly waits for that): the fetch goes on without its client, the page being
            # cacheable.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
            time.sleep(0.2)
            start = time.monotonic()
            fc.proc.send_signal(signal.SIGTERM)
            self.assertEqual(fc.proc.wait(10), 0)
            self.assertLess(time.monotonic() - start, 2.0)
        finally:
            fc.stop()
            origin.close()


class Counters(unittest.TestCase):
    def test_counters_in_memcached_stats(self):
        from test_memcached_port import talk
        origin = Origin()
        fc = Frontcache(origin.url, {"memcached": {"listen": "127.0.0.1:0"}})
        try:
            for p in ("/r/c1", "/r/c1", "/r/c1", "/r/c2;cc=private", "/r/c3?q=1",
                      "/r/c4;status=404"):
                resp, r = request(fc, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n" % p)
                r.sock.close()
            stats = talk(fc.extra_ports["memcached"], [b"stats\r\n"]).decode()
            got = dict(re.findall(r"STAT (http_\w+) (\d+)", stats))
            self.assertEqual(got["http_hits"], "2")
            self.assertEqual(got["http_misses"], "3")
            self.assertEqual(got["http_stored"], "1")
            self.assertEqual(got["http_bypass_query"], "1")
            self.assertEqual(got["http_not_stored_private"], "1")
            self.assertEqual(got["http_not_stored_status"], "1")
            self.assertGreater(int(got["http_bytes_from_cache"]), 0)
            # Operators purge a page through the memcached port: the next request misses.
            self.assertEqual(talk(fc.extra_ports["memcached"], [b"flush_all\r\n"]), b"OK\r\n")
            resp, r = request(fc, "GET /r/c1 HTTP/1.1\r\nHost: h\r\n\r\n")
            r.sock.close()
            self.assertEqual(resp.header("X-Cache"), "MISS")
        finally:
            self.assertEqual(fc.stop(), 0)
            origin.close()


class HitPathAllocations(unittest.TestCase):
    """Serving a hit allocates nothing: frontcache runs with a malloc counter preloaded."""

    def test_no_malloc_per_hit(self):
        import os
        import signal
        counter = os.environ.get("MALLOC_COUNTER")
        if not counter:
            self.skipTest("no malloc counter in this build (sanitizer preset)")
        origin = Origin()
        fc = Frontcache(origin.url, wrapper=["env", "LD_PRELOAD=" + counter])
        try:
            s = fc.connect()
            r = Reader(s)
            req = b"GET /r/alloc;size=2000;vary=Accept-Encoding HTTP/1.1\r\nHost: h\r\n" \
                  b"Accept-Encoding: gzip\r\nIf-None-Match: \"nope\"\r\n\r\n"
            # A page held in several codings: the br copy is chosen per request (#13).
            coded = b"GET /r/alloc2;type=text/html;size=2000 HTTP/1.1\r\nHost: h\r\n" \
                    b"Accept-Encoding: gzip, deflate, br, zstd\r\n\r\n"

            def hits(n):
                for i in range(n):
                    s.sendall(coded if i % 2 else req)
                    resp = r.response()
                    if i % 2 and i > 2:
                        self.assertEqual(resp.header("Content-Encoding"), "br")

            def mallocs():
                before = fc.log().count("MALLOCS")
                fc.proc.send_signal(signal.SIGUSR2)
                for _ in range(100):
                    log = fc.log()
                    if log.count("MALLOCS") > before:
                        return int(re.findall(r"MALLOCS (\d+)", log)[-1])
                    time.sleep(0.02)
                self.fail("no MALLOCS line")

            hits(200)  # miss, then warm every reused buffer
            before = mallocs()
            hits(2000)
            after = mallocs()
            s.close()
            self.assertLessEqual(after - before, 5, "%d allocations for 2000 hits" % (after - before))
        finally:
            self.assertEqual(fc.stop(), 0)
            origin.close()


class AccessLogTest(unittest.TestCase):
    def test_one_line_per_request_with_cache_status_and_times(self):
        import os
        import tempfile
        origin = Origin()
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "access.log")
            fc = Frontcache(origin.url, {"log": {"access_log": path}})
            try:
                for p in ("/r/logged", "/r/logged", "/r/x?q=1"):
                    resp, r = request(fc, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n" % p)
                    r.sock.close()
            finally:
                self.assertEqual(fc.stop(), 0)  # the buffer is flushed at shutdown
                origin.close()
            with open(path) as f:
                lines = f.read().splitlines()
        self.assertEqual(len(lines), 3, lines)
        self.assertRegex(lines[0], r'^\S+Z 127\.0\.0\.1 "GET /r/logged HTTP/1\.1" 200 \d+ MISS '
                                   r'upstream=[\d.]+ms server=%s total=[\d.]+ms id=[0-9a-f]{24}$'
                         % re.escape(origin.url))
        self.assertRegex(lines[1], r'"GET /r/logged HTTP/1\.1" 200 \d+ HIT upstream=- server=- total=')
        self.assertRegex(lines[2], r'"GET /r/x\?q=1 HTTP/1\.1" 200 \d+ BYPASS upstream=[\d.]+ms '
                                   r'server=%s ' % re.escape(origin.url))


if __name__ == "__main__":
    unittest.main()
