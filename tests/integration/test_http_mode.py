"""cache.mode = "http" (issue #14): frontcache as a shared cache per RFC 9111, checked against the
table of cases in rfc9111_cases.py, grouped by RFC section (see that file for the syntax)."""

import time
import unittest

from harness import Frontcache, Origin
from rfc9111_cases import CASES, CaseRunner, FETCHED, CACHED, G


class HttpMode(unittest.TestCase):
    SECTIONS = {"cache": {"mode": "http"}}

    @classmethod
    def setUpClass(cls):
        cls.origin = Origin()
        cls.fc = Frontcache(cls.origin.url, cls.SECTIONS)
        cls.runner = CaseRunner(cls.fc.host, cls.fc.port, cls.origin, cls.fc.advance,
                                lambda: time.time() + cls.fc.clock_offset)

    @classmethod
    def tearDownClass(cls):
        cls.fc.stop()
        cls.origin.close()

    def test_cases(self):
        failures = []
        by_section = {}
        for i, c in enumerate(CASES):
            by_section.setdefault(c["sec"], [0, 0])
            by_section[c["sec"]][1] += 1
            try:
                self.runner.run(i, c)
                by_section[c["sec"]][0] += 1
            except AssertionError as e:
                failures.append(str(e))
        print("\n%d cases: " % len(CASES) + ", ".join(
            "§%s %d/%d" % (s, p, t) for s, (p, t) in sorted(by_section.items())))
        self.assertGreaterEqual(len(CASES), 200)
        self.assertEqual(failures, [])


class LongLifetimes(HttpMode):
    """Lifetimes past memcached's 30-day relative limit (issue #23): a year or ten (WhiteNoise's
    hashed static files, `immutable`) are stored, kept fresh for cache.max_ttl at most. Before,
    such a lifetime reached the store as a memcached exptime, read as a date in 1970-80: never
    stored."""

    SECTIONS = {"cache": {"mode": "http", "max_ttl": "400d"}}
    YEAR = 365 * 86400

    def test_cases(self):
        y = self.YEAR
        cases = [
            ("ten years, immutable: stored, fresh until cache.max_ttl",
             [(200, [("Cache-Control", "public, max-age=315360000, immutable")])],
             [("GET", {}, FETCHED), ("+", 300 * 86400), ("GET", {}, CACHED),
              ("+", 100 * 86400), ("GET", {}, FETCHED)]),
            ("an Expires a year away: stored",
             [(200, [("Date", "{now}"), ("Expires", "{now+%d}" % y)])],
             [("GET", {}, FETCHED), ("+", 200 * 86400), ("GET", {}, CACHED)]),
            ("s-maxage of 31 days: stored past the 30-day line",
             [(200, [("Cache-Control", "s-maxage=2678400")])],
             [("GET", {}, FETCHED), ("+", 2678400 - 60), ("GET", {}, CACHED),
              ("+", 120), ("GET", {}, FETCHED)]),
        ]
        for k, (name, resp, steps) in enumerate(cases):
            with self.subTest(name):
                self.runner.run(1000 + k, dict(sec="4.2.1", name=name, resp=resp, steps=steps,
                                               fc_only=True))


class ClientNoCacheIgnored(HttpMode):
    """cache.honor_client_no_cache = false: reload buttons cannot empty the cache."""
    SECTIONS = {"cache": {"mode": "http", "honor_client_no_cache": False}}

    def test_cases(self):
        c = dict(sec="5.2.1.4", name="no-cache ignored", resp=[(200, [("Cache-Control", "max-age=60")])],
                 steps=[(G, {}, FETCHED), (G, {"Cache-Control": "no-cache"}, CACHED),
                        (G, {"Pragma": "no-cache"}, CACHED), ("+", 1),
                        (G, {"Cache-Control": "max-age=0"}, CACHED)])
        self.runner.run(9999, c)


class CacheStatusKey(HttpMode):
    """cache.cache_status_key = true: Cache-Status names the key (RFC 9211 §2.7)."""
    SECTIONS = {"cache": {"mode": "http", "cache_status_key": True}}

    def test_cases(self):
        has_key = lambda v: v and 'key="views.decorators.cache.cache_' in v  # noqa: E731
        c = dict(sec="RFC9211", name="key", resp=[(200, [("Cache-Control", "max-age=60")])],
                 steps=[(G, {}, dict(hit=False, h={"Cache-Status": has_key})),
                        (G, {}, dict(hit=True, h={"Cache-Status": has_key}))])
        self.runner.run(9999, c)


class EverythingElseWorks(unittest.TestCase):
    """Coalescing, purge and the memcached port work in http mode as in django mode."""

    def setUp(self):
        self.origin = Origin()
        self.fc = Frontcache(self.origin.url, {"cache": {"mode": "http"},
                                               "admin": {"listen": "127.0.0.1:0"}})

    def tearDown(self):
        self.fc.stop()
        self.origin.close()

    def test_coalescing_and_purge(self):
        import json
        import threading
        from harness import admin_request, get_once

        def slow(method, target, headers):
            time.sleep(0.3)
            return 200, [("Cache-Control", "max-age=600")], b"slow page"
        self.origin.scripts["/slow"] = slow
        results = []
        threads = [threading.Thread(target=lambda: results.append(get_once(self.fc, "/slow")))
                   for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len([r for r in results if r.body == b"slow page"]), 10)
        self.assertEqual(self.origin.count("/slow"), 1)  # one fetch for ten clients
        self.assertEqual(get_once(self.fc, "/slow").header("X-Cache"), "HIT")
        out = admin_request(self.fc.extra_ports["admin"], "PURGE", "/slow")
        self.assertEqual(json.loads(out.body), {"purged": 1})
        self.assertEqual(get_once(self.fc, "/slow").header("X-Cache"), "MISS")


class OriginGone(unittest.TestCase):
    """The origin stops answering: a stale copy stands in only where the response allows it."""

    def test_must_revalidate_gives_an_error_not_the_stale_copy(self):
        from harness import get_once
        origin = Origin()
        fc = Frontcache(origin.url, {"cache": {"mode": "http"}})
        try:
            origin.scripts["/strict"] = lambda m, t, h: (
                200, [("Cache-Control", "max-age=10, must-revalidate")], b"strict")
            origin.scripts["/lenient"] = lambda m, t, h: (
                200, [("Cache-Control", "max-age=10")], b"lenient")
            for p in ("/strict", "/lenient"):
                self.assertEqual(get_once(fc, p).status, 200)
            origin.close()  # refused from now on
            fc.advance(20)
            strict = get_once(fc, "/strict")
            self.assertEqual(strict.status, 502)  # RFC 9111 §5.2.2.2: never the stale copy
            lenient = get_once(fc, "/lenient")
            self.assertEqual((lenient.status, lenient.body), (200, b"lenient"))
            self.assertEqual(lenient.header("X-Cache"), "STALE")  # §4.2.4, stale-if-error
        finally:
            fc.stop()


if __name__ == "__main__":
    unittest.main()
