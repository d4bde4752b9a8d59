"""Request coalescing: concurrent misses for one page cause one upstream request, in any worker;
waiters are woken when it completes; not-storable pages release them and are remembered
(hit-for-miss); waiters give up after cache.lock_timeout."""

import resource
import time
import unittest

from harness import Frontcache, Origin, Reader, wait_for, admin_stats


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def burst(fc, path, n, host="site.test"):
    """Sends `n` requests for `path` on `n` connections at once, then reads every answer."""
    socks = []
    for _ in range(n):
        s = fc.connect(timeout=30)
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host)).encode())
        socks.append(s)
    out = []
    for s in socks:
        try:
            out.append(Reader(s).response())
        finally:
            s.close()
    return out


class Coalescing(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fds = raise_fd_limit()
        cls.origin = Origin()
        cls.fc = Frontcache(cls.origin.url, {"cache": {"lock_timeout": "20s"},
                                             "admin": {"listen": "127.0.0.1:0"},
                                             "upstream": {"read_timeout": "30s"}}, workers=2)

    @classmethod
    def tearDownClass(cls):
        cls.fc.stop()
        cls.origin.close()

    def test_1000_concurrent_requests_for_a_cold_page_reach_the_origin_once(self):
        if self.fds < 2200:
            self.skipTest("needs 2200 descriptors, the limit is %d" % self.fds)
        p = "/r/cold;delay=1000"
        before = admin_stats(self.fc)
        resps = burst(self.fc, p, 1000)
        self.assertEqual(self.origin.count(p), 1)
        self.assertEqual([r.status for r in resps], [200] * 1000)
        self.assertEqual({r.body for r in resps}, {resps[0].body})
        statuses = {}
        for r in resps:
            statuses[r.header("X-Cache")] = statuses.get(r.header("X-Cache"), 0) + 1
        # One fetched it (MISS); the others waited and were answered from what it stored.
        self.assertEqual(statuses.get("MISS"), 1, statuses)
        self.assertEqual(statuses.get("HIT"), 999, statuses)
        after = admin_stats(self.fc)
        self.assertEqual(after["coalesced_waits_total"] - before["coalesced_waits_total"], 999)
        self.assertEqual(after["coalesced_wake_hits_total"] - before["coalesced_wake_hits_total"], 999)
        self.assertEqual(after["lock_timeouts_total"], before["lock_timeouts_total"])
        # Each woken answer is timed from the fill (coalesced_wake_seconds): all 999 counted.
        delta = lambda k: after[k] - before[k]
        self.assertEqual(delta("coalesced_wake_seconds_count"), 999)
        self.assertEqual(delta("coalesced_wake_seconds_bucket_pInf"), 999)
        within = {le: delta("coalesced_wake_seconds_bucket_" + le)
                  for le in ("0_001", "0_0025", "0_005", "0_01")}
        print("\n999 waiters answered after the fill: within 1 ms %d, 2.5 ms %d, 5 ms %d, "
              "10 ms %d; mean %.2f ms" % (within["0_001"], within["0_0025"], within["0_005"],
                                         within["0_01"],
                                         delta("coalesced_wake_seconds_sum") * 1000 / 999))

    def test_head_requests_wait_for_a_get_fetch_in_flight(self):
        p = "/r/headwait;delay=500"
        socks = []
        for i, method in enumerate(["GET"] + ["HEAD"] * 5):
            s = self.fc.connect(timeout=30)
            s.sendall(("%s %s HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n"
                       % (method, p)).encode())
            socks.append((method, s))
            if i == 0:  # the GET holds the key (the origin has it) before the HEADs arrive
                self.assertTrue(wait_for(lambda: self.origin.count(p) == 1))
        resps = []
        for method, s in socks:
            resps.append(Reader(s).response(head_request=method == "HEAD"))
            s.close()
        self.assertEqual(self.origin.count(p), 1)  # no HEAD reached the origin
        self.assertEqual([r.status for r in resps], [200] * 6)
        self.assertEqual([r.header("X-Cache") for r in resps], ["MISS"] + ["HIT"] * 5)
        # A HEAD with nobody fetching does not hold the key: a GET right behind it fetches too.
        q = "/r/headfirst;delay=300"
        head = self.fc.connect(timeout=30)
        head.sendall(("HEAD %s HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n"
                      % q).encode())
        self.assertTrue(wait_for(lambda: self.origin.count(q) == 1))  # the HEAD is fetching
        resp = burst(self.fc, q, 1)[0]
        self.assertEqual(resp.header("X-Cache"), "MISS")
        self.assertEqual(Reader(head).response(head_request=True).status, 200)
        head.close()
        self.assertEqual(self.origin.count(q), 2)

    def test_concurrent_reuses_of_a_no_cache_page_share_one_revalidation(self):
        # The waiters take the page the one revalidation renewed (collapsed forwarding) instead
        # of each revalidating after it.
        p = '/r/ncc;cc=no-cache;etag="c1";delay=300'
        self.assertEqual(burst(self.fc, p, 1)[0].header("X-Cache"), "MISS")
        resps = burst(self.fc, p, 20)
        self.assertEqual({r.status for r in resps}, {200})
        self.assertEqual({r.header("X-Cache") for r in resps}, {"REVALIDATED", "HIT"})
        self.assertEqual(self.origin.count(p, "If-None-Match"), 1)

    def test_variants_coalesce_per_variant_once_the_vary_list_is_known(self):
        p = "/r/var;vary=Accept-Language;delay=300"
        first = burst(self.fc, p, 1)[0]
        self.assertEqual(first.header("X-Cache"), "MISS")
        socks = []
        for i in range(40):
            s = self.fc.connect()
            lang = "fr" if i % 2 else "de"
            s.sendall(("GET %s HTTP/1.1\r\nHost: site.test\r\nAccept-Language: %s\r\n"
                       "Connection: close\r\n\r\n" % (p, lang)).encode())
            socks.append(s)
        resps = [Reader(s).response() for s in socks]
        for s in socks:
            s.close()
        self.assertEqual([r.status for r in resps], [200] * 40)
        # One fetch per new variant (fr, de) after the first (no Accept-Language).
        self.assertEqual(self.origin.count(p), 3)

    def test_not_storable_page_releases_waiters_then_is_not_serialised(self):
        p = "/r/private;cc=private;delay=500"
        before = admin_stats(self.fc)
        resps = burst(self.fc, p, 20)
        self.assertEqual([r.status for r in resps], [200] * 20)
        self.assertEqual(len({r.body for r in resps}), 20)  # each got its own render
        self.assertEqual(self.origin.count(p), 20)
        mid = admin_stats(self.fc)
        self.assertGreaterEqual(mid["coalesced_waits_total"] - before["coalesced_waits_total"], 15)
        self.assertEqual(mid["hit_for_miss_marks_total"] - before["hit_for_miss_marks_total"], 1)
        # Marked hit-for-miss: the next burst goes to the origin in parallel, nobody waits.
        t0 = time.monotonic()
        resps = burst(self.fc, p, 20)
        elapsed = time.monotonic() - t0
        after = admin_stats(self.fc)
        self.assertEqual([r.status for r in resps], [200] * 20)
        self.assertEqual(after["coalesced_waits_total"], mid["coalesced_waits_total"])
        self.assertEqual(self.origin.count(p), 40)
        self.assertLess(elapsed, 5)

    def test_error_from_the_origin_releases_waiters_to_fetch_for_themselves(self):
        p = "/r/err;status=503;delay=400"
        before = admin_stats(self.fc)
        resps = burst(self.fc, p, 10)
        self.assertEqual([r.status for r in resps], [503] * 10)
        self.assertEqual(self.origin.count(p), 10)
        # A 5xx is one failed attempt, not a property of the page: no hit-for-miss mark, so the
        # next burst is coalesced again (one request at a time reaches a failing origin).
        after = admin_stats(self.fc)
        self.assertEqual(after["hit_for_miss_marks_total"], before["hit_for_miss_marks_total"])
        self.assertGreaterEqual(after["coalesced_waits_total"] - before["coalesced_waits_total"], 5)


class LockTimeout(unittest.TestCase):
    def test_waiters_give_up_after_lock_timeout_and_fetch_themselves(self):
        origin = Origin()
        fc = Frontcache(origin.url, {"cache": {"lock_timeout": "200ms"},
                                     "admin": {"listen": "127.0.0.1:0"}})
        try:
            p = "/r/slowcold;delay=1500"
            t0 = time.monotonic()
            resps = burst(fc, p, 5)
            self.assertEqual([r.status for r in resps], [200] * 5)
            # Each waiter fetched on its own after 200 ms, instead of waiting 1.5 s.
            self.assertEqual(origin.count(p), 5)
            stats = admin_stats(fc)
            self.assertEqual(stats["lock_timeouts_total"], 4)
            self.assertLess(time.monotonic() - t0, 10)
        finally:
            fc.stop()
            origin.close()

    def test_coalescing_off(self):
        origin = Origin()
        fc = Frontcache(origin.url, {"cache": {"coalesce": False}})
        try:
            p = "/r/nocoal;delay=500"
            resps = burst(fc, p, 10)
            self.assertEqual([r.status for r in resps], [200] * 10)
            self.assertEqual(origin.count(p), 10)
        finally:
            fc.stop()
            origin.close()


class ProtectTheApp(unittest.TestCase):
    def test_max_connections_caps_concurrent_upstream_requests_across_workers(self):
        origin = Origin()
        fc = Frontcache(origin.url, {"upstream": {"max_connections": 3, "queue_timeout": "10s"}},
                        workers=2)
        try:
            # Query strings bypass the cache: every request goes upstream, none coalesce.
            socks = []
            for i in range(24):
                s = fc.connect(timeout=30)
                s.sendall(("GET /slow?ms=200&i=%d HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % i).encode())
                socks.append(s)
            resps = [Reader(s).response() for s in socks]
            for s in socks:
                s.close()
            self.assertEqual([r.status for r in resps], [200] * 24)
            self.assertEqual(origin.max_inflight, 3)
        finally:
            fc.stop()
            origin.close()

    def test_queue_timeout_answers_503_with_retry_after(self):
        origin = Origin()
        fc = Frontcache(origin.url, {"upstream": {"max_connections": 1, "queue_timeout": "200ms"}},
                        workers=2)
        try:
            socks = []
            for i in range(4):
                s = fc.connect(timeout=30)
                s.sendall(("GET /slow?ms=1500&i=%d HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % i).encode())
                socks.append(s)
            resps = [Reader(s).response() for s in socks]
            for s in socks:
                s.close()
            self.assertEqual(sorted(r.status for r in resps), [200, 503, 503, 503])
            self.assertTrue(all(r.header("Retry-After") for r in resps if r.status == 503))
            self.assertEqual(origin.max_inflight, 1)
        finally:
            fc.stop()
            origin.close()


if __name__ == "__main__":
    unittest.main()
