"""A production-shaped Django site serving its static files with WhiteNoise (python3-whitenoise)
behind frontcache (issue #23): collectstatic's hashed files come with `max-age=315360000,
immutable` and gzip/brotli variants. Each file must reach the app once, then be a HIT for every
client, whatever it accepts — before, a lifetime past 30 days reached the store as a memcached
date in 1970-80 and nothing was stored, so every stylesheet and script went to the app."""

import brotli
import gzip
import json
import os
import re
import subprocess
import tempfile
import unittest

from harness import Frontcache, request, wait_for
from test_django_passthrough import SITE, Gunicorn


def decoded(resp):
    coding = (resp.header("Content-Encoding") or "identity").lower()
    if coding == "br":
        return brotli.decompress(resp.body)
    if coding == "gzip":
        return gzip.decompress(resp.body)
    assert coding == "identity", coding
    return resp.body


class StaticFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = os.path.join(cls.tmp.name, "static")
        env = dict(os.environ, FCSITE_STATIC_ROOT=cls.root, DJANGO_SETTINGS_MODULE="fcsite.settings",
                   PYTHONDONTWRITEBYTECODE="1")
        subprocess.run(["/usr/bin/python3", "-m", "django", "collectstatic", "--noinput"],
                       cwd=SITE, env=env, check=True, capture_output=True, timeout=120)
        with open(os.path.join(cls.root, "staticfiles.json")) as f:
            cls.manifest = json.load(f)["paths"]
        cls.access_log = os.path.join(cls.tmp.name, "access.log")
        cls.app = Gunicorn(workers=1, env={"FCSITE_STATIC_ROOT": cls.root},
                           access_log=cls.access_log)
        cls.fc = Frontcache(cls.app.url, {})

    @classmethod
    def tearDownClass(cls):
        rc = cls.fc.stop()
        cls.app.stop()
        cls.tmp.cleanup()
        assert rc == 0, rc

    def get(self, path, accept_encoding=None):
        ae = "Accept-Encoding: %s\r\n" % accept_encoding if accept_encoding is not None else ""
        resp, r = request(self.fc, "GET %s HTTP/1.1\r\nHost: site.test\r\n%s\r\n" % (path, ae))
        r.sock.close()
        return resp

    def app_requests_settled(self, path, expected):
        """How many requests for `path` reached the app, once gunicorn has written the line of
        the last one (it logs after sending the response, so a moment after frontcache has it)."""
        wait_for(lambda: self.app_requests(path) >= expected, timeout=5)
        return self.app_requests(path)

    def app_requests(self, path):
        with open(self.access_log) as f:
            return sum(1 for line in f if '"GET %s HTTP' % path in line)

    def original(self, name):
        with open(os.path.join(SITE, "fcsite", "static", name), "rb") as f:
            return f.read()

    def test_hashed_files_reach_the_app_once_then_hit_for_every_client(self):
        self.assertEqual(len(self.manifest), 3)
        for name, hashed in sorted(self.manifest.items()):
            path = "/static/" + hashed
            with self.subTest(path):
                first = self.get(path, "gzip, deflate, br")  # a browser
                self.assertEqual(first.status, 200)
                self.assertEqual(first.header("X-Cache"), "MISS")
                self.assertIn("immutable", first.header("Cache-Control"))
                self.assertIn("max-age=315360000", first.header("Cache-Control"))
                self.assertEqual(decoded(first), self.original(name))
                for ae in ("gzip, deflate, br", "br", "gzip", "identity", None):
                    again = self.get(path, ae)
                    self.assertEqual(again.header("X-Cache"), "HIT", ae)
                    self.assertEqual(decoded(again), self.original(name), ae)
                    # Kept fresh for cache.max_ttl (a year); the client is told the app's ten.
                    ttl = int(re.search(r"ttl=(\d+)", again.header("Cache-Status")).group(1))
                    self.assertGreater(ttl, 365 * 86400 - 10)  # seconds pass as the test runs
                    self.assertLessEqual(ttl, 365 * 86400)
                    self.assertIn("max-age=315360000", again.header("Cache-Control"))
                self.assertEqual(self.app_requests_settled(path, 1), 1)

    def test_unhashed_names_keep_whitenoise_s_short_lifetime(self):
        path = "/static/site/app.css"
        first = self.get(path, "gzip")
        self.assertEqual(first.header("X-Cache"), "MISS")
        self.assertIn("max-age=60", first.header("Cache-Control"))
        self.assertEqual(self.get(path, "gzip").header("X-Cache"), "HIT")
        self.fc.advance(60 + 60 + 1)  # past its TTL and cache.grace: asked again, with its
        # validators (WhiteNoise sends ETag and Last-Modified), and renewed by the app's 304
        self.assertEqual(self.get(path, "gzip").header("X-Cache"), "REVALIDATED")
        self.assertEqual(self.app_requests_settled(path, 2), 2)


if __name__ == "__main__":
    unittest.main()
