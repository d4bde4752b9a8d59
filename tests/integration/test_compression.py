"""Compression of stored copies (issue #13): one stored copy per page whatever the client's
Accept-Encoding; the codings frontcache makes once per copy (br, gzip, zstd) and the identity form
of a page the app compressed; each client gets the best coding it accepts, decoded and compared
here; what must not be transformed is not; large bodies are compressed off the loop."""

import gzip
import json
import re
import threading
import unittest

import brotli
import zstandard

from harness import Frontcache, Origin, admin_request, get_once, request, wait_for
from test_browsers import Browsers

CHROME = "Accept-Encoding: gzip, deflate, br, zstd\r\n"
SAFARI = "Accept-Encoding: gzip, deflate, br\r\n"
GOOGLEBOT = "Accept-Encoding: gzip\r\n"
CURL = ""


def decoded(resp):
    ce = (resp.header("Content-Encoding") or "identity").lower()
    if ce == "br":
        return brotli.decompress(resp.body)
    if ce == "gzip":
        return gzip.decompress(resp.body)
    if ce == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(resp.body)
    assert ce == "identity", ce
    return resp.body


def metric(fc, name, labels=""):
    text = admin_request(fc.extra_ports["admin"], "GET", "/metrics").body.decode()
    m = re.search(r"^frontcache_%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else None


def varies_on_accept_encoding(resp):
    return any(n.lower() == "vary" and "accept-encoding" in v.lower() for n, v in resp.headers)


class Compression(Browsers):
    SECTIONS = {"admin": {"listen": "127.0.0.1:0"}}

    def test_every_browser_gets_its_best_coding_from_one_stored_copy(self):
        p = '/r/page;type=text/html;size=6000;vary=Accept-Encoding;etag="e1"'
        first = get_once(self.fc, p, CHROME)
        self.assertEqual(first.header("X-Cache"), "MISS")
        self.assertIsNone(first.header("Content-Encoding"))  # the origin's answer, streamed
        page = first.body
        expect = {CHROME: "br", SAFARI: "br", GOOGLEBOT: "gzip", CURL: None,
                  "Accept-Encoding: identity\r\n": None, "Accept-Encoding: zstd\r\n": None,
                  "Accept-Encoding: br;q=0.5, gzip\r\n": "gzip",
                  "Accept-Encoding: *\r\n": "br", "Accept-Encoding: x-gzip\r\n": "gzip"}
        for ae, coding in expect.items():
            r = get_once(self.fc, p, ae)
            self.assertEqual(r.status, 200, ae)
            self.assertEqual(r.header("X-Cache"), "HIT", ae)
            self.assertEqual(r.header("Content-Encoding"), coding, ae)
            self.assertEqual(decoded(r), page, ae)
            self.assertEqual(int(r.header("Content-Length")), len(r.body), ae)
            self.assertTrue(varies_on_accept_encoding(r), ae)
            # A transformed body's ETag is weak (RFC 9110 §8.8.1); the origin's stays strong.
            self.assertEqual(r.header("ETag"), 'W/"e1"' if coding else '"e1"', ae)
        self.assertEqual(self.origin.count(p), 1)
        self.assertLess(len(get_once(self.fc, p, CHROME).body), len(page) // 5)
        self.assertGreater(metric(self.fc, "compression_saved_bytes_total"), 0)
        self.assertGreaterEqual(metric(self.fc, "coded_answers_total", '{coding="br"}'), 3)
        self.assertEqual(metric(self.fc, "codings_made_total", '{coding="br"}'), 1)
        self.assertEqual(metric(self.fc, "codings_made_total", '{coding="gzip"}'), 1)

    def test_conditionals_ranges_and_head_use_the_chosen_representation(self):
        p = '/r/cond;type=text/css;size=3000;etag="c1"'
        full = get_once(self.fc, p, GOOGLEBOT).body  # MISS: the origin's identity body
        # Weak comparison (If-None-Match): the gzip copy's W/"c1" matches.
        r = get_once(self.fc, p, GOOGLEBOT + 'If-None-Match: W/"c1"\r\n')
        self.assertEqual(r.status, 304)
        self.assertEqual(r.header("ETag"), 'W/"c1"')
        # A range of the gzip representation: the bytes of the coded body.
        gz = get_once(self.fc, p, GOOGLEBOT)
        self.assertEqual(gz.header("Content-Encoding"), "gzip")
        part = get_once(self.fc, p, GOOGLEBOT + "Range: bytes=0-9\r\n")
        self.assertEqual(part.status, 206)
        self.assertEqual(part.header("Content-Encoding"), "gzip")
        self.assertEqual(part.body, gz.body[:10])
        self.assertEqual(part.header("Content-Range"), "bytes 0-9/%d" % len(gz.body))
        # If-Range needs a strong match: the weak ETag of a coded copy gives the whole page.
        whole = get_once(self.fc, p, GOOGLEBOT + 'Range: bytes=0-9\r\nIf-Range: W/"c1"\r\n')
        self.assertEqual(whole.status, 200)
        # HEAD: the br head, no body.
        resp, rd = request(self.fc, "HEAD %s HTTP/1.1\r\nHost: site.test\r\n%s\r\n" % (p, CHROME),
                           head_request=True)
        rd.sock.close()
        self.assertEqual(resp.header("Content-Encoding"), "br")
        self.assertEqual(resp.body, b"")
        br = get_once(self.fc, p, CHROME)
        self.assertEqual(int(resp.header("Content-Length")), len(br.body))
        self.assertEqual(brotli.decompress(br.body), full)

    def test_what_must_not_be_compressed_is_not(self):
        cases = {
            "small": "/r/small;type=text/html;size=100",             # under compress_min_size
            "png": "/r/png;type=image/png;size=5000",                # not a compressible type
            "untyped": "/r/untyped;size=5000",                       # no Content-Type
            "no-transform": "/r/nt;type=text/html;size=5000;cc=max-age=600, no-transform",
        }
        for name, p in cases.items():
            p = p.replace(" ", "%20")
            first = get_once(self.fc, p, CHROME)
            r = get_once(self.fc, p, CHROME)
            self.assertEqual(r.header("X-Cache"), "HIT", name)
            self.assertIsNone(r.header("Content-Encoding"), name)
            self.assertEqual(r.body, first.body, name)

    def test_a_page_the_app_gzipped_reaches_every_client_in_a_coding_it_accepts(self):
        # Chrome fills it: the app gzips; curl then gets the identity form, from the same copy.
        p = "/r/appgz;type=text/html;size=4000;vary=Accept-Encoding;ce=gzip"
        first = get_once(self.fc, p, CHROME)
        self.assertEqual(first.header("Content-Encoding"), "gzip")
        page = gzip.decompress(first.body)
        curl = get_once(self.fc, p, CURL)
        self.assertEqual(curl.header("X-Cache"), "HIT")
        self.assertIsNone(curl.header("Content-Encoding"))
        self.assertEqual(curl.body, page)
        self.assertEqual(curl.header("Content-Length"), str(len(page)))
        chrome = get_once(self.fc, p, CHROME)  # gzip as the app made it (never re-compressed)
        self.assertEqual(chrome.header("Content-Encoding"), "gzip")
        self.assertEqual(gzip.decompress(chrome.body), page)
        self.assertEqual(self.origin.count(p), 1)
        # curl fills it: the app does not compress; Chrome then gets br made here.
        q = "/r/appgz2;type=text/html;size=4000;vary=Accept-Encoding;ce=gzip"
        self.assertIsNone(get_once(self.fc, q, CURL).header("Content-Encoding"))
        br = get_once(self.fc, q, CHROME)
        self.assertEqual(br.header("X-Cache"), "HIT")
        self.assertEqual(br.header("Content-Encoding"), "br")
        self.assertEqual(self.origin.count(q), 1)
        # An app that gzips whatever was asked, without Vary: curl still gets identity.
        a = "/r/always;type=text/html;size=4000;ce=always"
        get_once(self.fc, a, CHROME)
        plain = get_once(self.fc, a, CURL)
        self.assertEqual(plain.header("X-Cache"), "HIT")
        self.assertIsNone(plain.header("Content-Encoding"))
        self.assertTrue(plain.body.startswith(b"render "))
        self.assertEqual(len(plain.body), 4000)

    def test_a_coding_that_cannot_be_undone_is_not_shared_across_encodings(self):
        # Varies on Accept-Encoding in a coding frontcache cannot decode: never stored (curl would
        # otherwise get bytes it cannot read).
        p = "/r/custom;type=text/html;size=2000;vary=Accept-Encoding;ce=x-custom"
        for _ in range(3):
            r = get_once(self.fc, p, "Accept-Encoding: x-custom\r\n")
            self.assertEqual(r.header("X-Cache"), "MISS")
            self.assertEqual(r.header("Content-Encoding"), "x-custom")
        self.assertEqual(self.origin.count(p), 3)
        self.assertEqual(metric(self.fc, "not_stored_total", '{reason="coding"}'), 3)
        # A body that says gzip but is not: its identity form cannot be made, so not stored.
        g = "/r/badgz;type=text/html;size=2000;vary=Accept-Encoding;ce=x-gzip"
        for _ in range(2):
            self.assertEqual(get_once(self.fc, g, CHROME).header("X-Cache"), "MISS")
        self.assertEqual(metric(self.fc, "not_stored_total", '{reason="coding"}'), 5)
        # Without Vary the app sends it to everyone: stored and sent as stored.
        q = "/r/custom2;type=text/html;size=2000;ce=x-custom"
        get_once(self.fc, q, CHROME)
        r = get_once(self.fc, q, CURL)
        self.assertEqual(r.header("X-Cache"), "HIT")
        self.assertEqual(r.header("Content-Encoding"), "x-custom")

    def test_large_pages_are_compressed_off_the_loop_and_waiters_get_the_codings(self):
        p = "/r/large;type=application/json;size=300000;delay=300"
        results = [None] * 8

        def one(i):
            results[i] = get_once(self.fc, p, CHROME if i % 2 else GOOGLEBOT)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(self.origin.count(p), 1)  # coalesced
        page = decoded(results[0])
        self.assertEqual(len(page), 300000)
        for r in results:
            self.assertEqual(r.status, 200)
            self.assertEqual(decoded(r), page)
        self.assertTrue(wait_for(lambda: metric(self.fc, "codings_offloaded_total") == 1))
        r = get_once(self.fc, p, CHROME)
        self.assertEqual(r.header("X-Cache"), "HIT")
        self.assertEqual(r.header("Content-Encoding"), "br")
        self.assertEqual(decoded(r), page)
        # /variants lists the codings held.
        v = json.loads(admin_request(self.fc.extra_ports["admin"], "GET",
                                     "/variants?path=" + p.replace(";", "%3B")).body)
        self.assertEqual(v["variants"], 1)
        codings = v["stored"][0]["codings"]
        self.assertEqual(set(codings), {"identity", "br", "gzip"})
        self.assertEqual(codings["identity"], 300000)


class ChosenCodings(unittest.TestCase):
    def run_with(self, compress, ae, want):
        origin = Origin()
        fc = Frontcache(origin.url, {"cache": {"compress": compress}})
        try:
            p = "/r/cfg;type=text/plain;size=5000"
            get_once(fc, p, ae)
            r = get_once(fc, p, ae)
            self.assertEqual(r.header("X-Cache"), "HIT")
            self.assertEqual(r.header("Content-Encoding"), want)
            self.assertEqual(len(decoded(r)), 5000)
        finally:
            fc.stop()
            origin.close()

    def test_zstd_when_configured(self):
        self.run_with(["zstd", "gzip"], CHROME, "zstd")

    def test_off(self):
        self.run_with([], CHROME, None)

    def test_order_breaks_ties(self):
        # Equal q: the smaller body; gzip alone when br is not made.
        self.run_with(["gzip"], CHROME, "gzip")


if __name__ == "__main__":
    unittest.main()
