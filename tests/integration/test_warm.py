"""`frontcache warm` (issue #15): URLs from a sitemap index (followed, gzip included), a file or
stdin are requested through a running frontcache at --rate with at most --concurrency
connections; the summary counts what was stored, already fresh, not storable (with frontcache's
reason) and errors by kind; the pages are then hits."""

import gzip
import os
import re
import subprocess
import tempfile
import time
import unittest

from harness import BIN, Frontcache, Origin, free_port_closed, get_once

SLOW = 150  # ms the origin takes per page


def urlset(locs):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n%s</urlset>\n'
            % "".join("  <url><loc>%s</loc></url>\n" % l for l in locs)).encode()


def summary(out):
    """{"stored": N, ...} from warm's summary lines."""
    found = {}
    for key in ("stored", "already fresh", "stale, refreshing", "revalidated", "not storable",
                "errors"):
        m = re.search(r"^  %s +(\d+)" % re.escape(key), out, re.M)
        found[key] = int(m.group(1)) if m else None
    return found


class Warm(unittest.TestCase):
    def setUp(self):
        self.origin = Origin()
        self.fc = Frontcache(self.origin.url)
        self.dir = tempfile.TemporaryDirectory(prefix="fc-warm-")
        self.target = "127.0.0.1:%d" % self.fc.port

    def tearDown(self):
        self.fc.stop()
        self.origin.close()
        self.dir.cleanup()

    def warm(self, *args, stdin=None):
        return subprocess.run([BIN, "warm", "--target", self.target] + list(args), input=stdin,
                              capture_output=True, text=True, timeout=120)

    def test_a_sitemap_index_with_a_slow_origin(self):
        pages = ["http://site.test/r/page-%d;delay=%d" % (i, SLOW) for i in range(30)]
        self.origin.files["/sitemap-1.xml"] = urlset(pages[:15] + [
            "http://site.test/r/private;cookie=sessionid=x"])
        self.origin.files["/sitemap-2.xml.gz"] = gzip.compress(urlset(pages[15:] + [
            "http://site.test/status?code=500"]))
        self.origin.files["/sitemap.xml"] = (
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            '<sitemap><loc>%s/sitemap-1.xml</loc></sitemap>'
            '<sitemap><loc>%s/sitemap-2.xml.gz</loc></sitemap></sitemapindex>'
            % (self.origin.url, self.origin.url)).encode()
        t0 = time.monotonic()
        r = self.warm("--rate", "40", "--concurrency", "3", self.origin.url + "/sitemap.xml")
        elapsed = time.monotonic() - t0
        self.assertEqual(r.returncode, 1, r.stderr)  # one error: the 500
        self.assertIn("warmed 32 request(s) for 32 URL(s) from 1 source(s) (3 sitemap(s))",
                      r.stdout)
        s = summary(r.stdout)
        self.assertEqual(s["stored"], 30, r.stdout)
        self.assertEqual(s["not storable"], 1, r.stdout)
        self.assertRegex(r.stdout, r"not storable +1 +\(set-cookie: 1\)")
        self.assertRegex(r.stdout, r"errors +1 +\(HTTP 500: 1\)")
        # --rate 40: 32 requests take at least 31/40 s; --concurrency 3: never more at the origin.
        self.assertGreaterEqual(elapsed, 31 / 40)
        self.assertLessEqual(self.origin.max_inflight, 3)
        for p in pages:
            path = p[len("http://site.test"):]
            self.assertEqual(get_once(self.fc, path).header("X-Cache"), "HIT", path)
        again = self.warm("--rate", "0", "--concurrency", "8", self.origin.url + "/sitemap.xml")
        self.assertEqual(summary(again.stdout)["already fresh"], 30, again.stdout)
        self.assertEqual(summary(again.stdout)["stored"], 0)

    def test_paths_from_stdin_and_a_file_with_encodings(self):
        listing = os.path.join(self.dir.name, "urls.txt")
        with open(listing, "w") as f:
            f.write("# a comment\n/r/f1\n\nhttp://site.test/r/f2\nmailto:x@y\n")
        # One connection: each URL's gzip request goes first (no coalescing race to decide which
        # request reaches the origin).
        r = self.warm("--host", "site.test", "--encodings", "gzip, identity", "--rate", "0",
                      "--concurrency", "1", "-", listing, stdin="/r/s1\n/r/s2\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("warmed 8 request(s) for 4 URL(s) from 2 source(s)", r.stdout)
        self.assertIn("skipped \"mailto:x@y\"", r.stderr)
        self.assertEqual(self.origin.count("/r/s1", "Accept-Encoding"), 1)
        # Without Vary: Accept-Encoding the page is one entry: the second request is a hit.
        s = summary(r.stdout)
        self.assertEqual(s["stored"] + s["already fresh"], 8, r.stdout)
        self.assertEqual(get_once(self.fc, "/r/f1").header("X-Cache"), "HIT")

    def test_stored_behind_a_vary_miss_or_a_stale_copy_counts_stored(self):
        # A miss frontcache stores says `stored` whatever its fwd reason. warm used to match
        # "fwd=uri-miss" in Cache-Status, so these two were counted "not storable" (#22).
        varied = "/r/varied;cc=max-age=600;vary=Accept-Language"
        stale = "/r/stale;cc=max-age=10"
        get_once(self.fc, varied, "Accept-Language: fr\r\n")  # the Vary list is known now
        get_once(self.fc, stale)
        self.fc.advance(100)  # stale: beyond the 60 s grace, within the 300 s stale-if-error
        r = self.warm("--host", "site.test", "--rate", "0", "-", stdin=varied + "\n" + stale + "\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        s = summary(r.stdout)
        self.assertEqual(s["stored"], 2, r.stdout)  # fwd=vary-miss; stored and fwd=stale; stored
        self.assertEqual(s["not storable"], 0, r.stdout)
        for p in (varied, stale):
            self.assertEqual(get_once(self.fc, p).header("X-Cache"), "HIT", p)

    def test_nothing_to_warm_or_nobody_to_warm(self):
        r = self.warm(os.path.join(self.dir.name, "missing.txt"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing.txt: No such file or directory", r.stderr)
        self.origin.files["/bad.xml"] = b"<html>not a sitemap</html>"
        r = self.warm(self.origin.url + "/bad.xml")
        self.assertEqual(r.returncode, 2)
        self.assertIn("root element is <html>", r.stderr)
        self.target = "127.0.0.1:%d" % free_port_closed()
        r = self.warm("-", stdin="/r/x\n")
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot reach frontcache", r.stderr)


if __name__ == "__main__":
    unittest.main()
