"""Stale serving: grace (and stale-while-revalidate) answers at once from an expired copy while
exactly one background fetch refreshes it; revalidation with the stored validators renews the
page from a 304 without the body; stale-if-error answers from the expired copy when the origin
fails, for every kind of failure, and nothing truncated is ever stored. Time is moved with
Frontcache.advance(), never slept through."""

import socket
import time
import unittest

from harness import Frontcache, Origin, Reader, free_port_closed, wait_for, get_once as get, render
from test_coalescing import admin_stats, burst


class Grace(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.origin = Origin()
        cls.fc = Frontcache(cls.origin.url, {"cache": {"grace": "60s", "stale_if_error": "0s"},
                                             "admin": {"listen": "127.0.0.1:0"}})

    @classmethod
    def tearDownClass(cls):
        cls.fc.stop()
        cls.origin.close()

    def test_expired_page_served_stale_at_once_while_one_background_fetch_refreshes(self):
        p = "/r/g;cc=max-age=10;delay=800"
        first = get(self.fc, p)
        self.assertEqual(first.header("X-Cache"), "MISS")
        self.fc.advance(15)  # expired 5 s ago, within the 60 s grace
        t0 = time.monotonic()
        resps = burst(self.fc, p, 20)
        elapsed = time.monotonic() - t0
        self.assertEqual({r.header("X-Cache") for r in resps}, {"STALE"})
        self.assertEqual({render(r) for r in resps}, {render(first)})
        self.assertIn("detail=stale-while-revalidate", resps[0].header("Cache-Status"))
        self.assertLess(elapsed, 0.75)  # nobody waited for the 800 ms origin
        # Exactly one refresh reached the origin; once it is stored, hits are fresh.
        self.assertTrue(wait_for(lambda: get(self.fc, p).header("X-Cache") == "HIT"))
        self.assertEqual(self.origin.count(p), 2)
        fresh = get(self.fc, p)
        self.assertEqual(render(fresh), render(first) + 1)
        self.assertIn(fresh.header("Age"), ("0", "1"))  # just stored (a second may tick)

    def test_beyond_grace_is_a_miss(self):
        p = "/r/g2;cc=max-age=10"
        get(self.fc, p)
        self.fc.advance(71)
        self.assertEqual(get(self.fc, p).header("X-Cache"), "MISS")
        self.assertEqual(self.origin.count(p), 2)

    def test_stale_while_revalidate_from_the_response_overrides_grace(self):
        p = "/r/swr;cc=max-age=10,%20stale-while-revalidate=5"
        get(self.fc, p)
        self.fc.advance(13)
        self.assertEqual(get(self.fc, p).header("X-Cache"), "STALE")
        self.assertTrue(wait_for(lambda: get(self.fc, p).header("X-Cache") == "HIT"))
        self.assertEqual(self.origin.count(p), 2)
        self.fc.advance(16)  # the refreshed copy expired 6 s ago: beyond its 5 s window
        self.assertEqual(get(self.fc, p).header("X-Cache"), "MISS")

    def test_must_revalidate_is_never_served_stale(self):
        p = "/r/mr;cc=max-age=10,%20must-revalidate"
        get(self.fc, p)
        self.fc.advance(11)
        self.assertEqual(get(self.fc, p).header("X-Cache"), "MISS")

    def test_no_cache_page_is_never_served_stale(self):
        # Grace does not apply: every reuse of a no-cache page is revalidated in the foreground.
        p = '/r/ncg;cc=no-cache;etag="g1"'
        get(self.fc, p)
        self.fc.advance(1)
        resp = get(self.fc, p)
        self.assertEqual(resp.header("X-Cache"), "REVALIDATED")
        self.assertEqual(self.origin.count(p, "If-None-Match"), 1)

    def test_background_refresh_revalidates_with_the_etag_and_a_304_renews_the_page(self):
        p = '/r/etag;etag="v1";cc=max-age=10'
        first = get(self.fc, p)
        before = admin_stats(self.fc)
        self.fc.advance(12)
        stale = get(self.fc, p)
        self.assertEqual(stale.header("X-Cache"), "STALE")
        self.assertTrue(wait_for(lambda: self.origin.count(p, "If-None-Match") == 1))
        self.assertTrue(wait_for(lambda: get(self.fc, p).header("X-Cache") == "HIT"))
        renewed = get(self.fc, p)
        self.assertEqual(renewed.body, first.body)  # the body was not sent again
        self.assertEqual(renewed.header("ETag"), '"v1"')
        # Renewed just now (the clock is the wall clock moved forward): 0, or 1 when a second
        # ticked between the renewal and this request — never the 12 s of the stale copy.
        self.assertIn(renewed.header("Age"), ("0", "1"))
        # The renewed copy has a new lifetime: Expires moved forward with it.
        self.assertNotEqual(renewed.header("Expires"), first.header("Expires"))
        after = admin_stats(self.fc)
        self.assertEqual(after["revalidated_total"] - before["revalidated_total"], 1)
        # A background renewal answered no request: requests_total{cache="revalidated"} is
        # unchanged (the client got STALE).
        self.assertEqual(after["requests_total_revalidated"], before["requests_total_revalidated"])

    def test_shutdown_abandons_a_hanging_background_refresh_cleanly(self):
        origin = Origin()
        fc = Frontcache(origin.url, {"cache": {"grace": "60s"},
                                     "server": {"drain_timeout": "1s"},
                                     "upstream": {"read_timeout": "60s"}})
        p = "/r/hangs;cc=max-age=10"
        get(fc, p)
        origin.faults["/r/hangs;cc=max-age=10"] = "hang"
        fc.advance(12)
        self.assertEqual(get(fc, p).header("X-Cache"), "STALE")
        self.assertTrue(wait_for(lambda: origin.count(p) == 2))
        t0 = time.monotonic()
        rc = fc.stop()
        self.assertEqual(rc, 0)
        self.assertLess(time.monotonic() - t0, 8)
        origin.close()


class StaleIfError(unittest.TestCase):
    """grace 0: an expired page is fetched in the foreground, and the failure decides."""

    @classmethod
    def setUpClass(cls):
        cls.origin = Origin()
        cls.fc = Frontcache(cls.origin.url, {"cache": {"grace": "0s", "stale_if_error": "300s"},
                                             "upstream": {"read_timeout": "500ms"},
                                             "admin": {"listen": "127.0.0.1:0"}})

    @classmethod
    def tearDownClass(cls):
        cls.fc.stop()
        cls.origin.close()

    # fault -> the answer without a stale copy
    FAULTS = {"500": 500, "503": 503, "hang": 504, "garbage": 502, "reset": None}

    def check_fault(self, fault):
        p = "/r/sie-%s;cc=max-age=10" % fault
        first = get(self.fc, p)
        self.assertEqual(first.header("X-Cache"), "MISS")
        self.origin.faults[p.split("?")[0]] = fault
        self.fc.advance(20)
        # With a stale copy: the copy, marked STALE, instead of the error.
        resp = get(self.fc, p)
        self.assertEqual(resp.status, 200, fault)
        self.assertEqual(resp.header("X-Cache"), "STALE", fault)
        self.assertIn("detail=stale-if-error", resp.header("Cache-Status"))
        self.assertEqual(resp.body, first.body)
        # Nothing was stored over it: the next request fails over to the same copy again.
        again = get(self.fc, p)
        self.assertEqual((again.header("X-Cache"), again.body), ("STALE", first.body))
        # Without a stale copy: the error itself (a reset mid-body cuts the client off).
        q = "/r/nostale-%s;cc=max-age=10" % fault
        self.origin.faults[q] = fault
        want = self.FAULTS[fault]
        if want is None:
            s = self.fc.connect()
            s.sendall(("GET %s HTTP/1.1\r\nHost: site.test\r\n\r\n" % q).encode())
            with self.assertRaises((EOFError, ConnectionResetError)):
                Reader(s).response()
            s.close()
        else:
            self.assertEqual(get(self.fc, q).status, want, fault)
        # ... and nothing truncated or failed was stored: healed, the origin is asked again.
        del self.origin.faults[q]
        healed = get(self.fc, q)
        self.assertEqual((healed.status, healed.header("X-Cache")), (200, "MISS"), fault)
        self.assertIsNotNone(render(healed))
        del self.origin.faults[p.split("?")[0]]

    def test_500(self):
        self.check_fault("500")

    def test_503(self):
        self.check_fault("503")

    def test_hang_times_out(self):
        self.check_fault("hang")

    def test_garbage(self):
        self.check_fault("garbage")

    def test_reset_mid_body(self):
        self.check_fault("reset")

    def test_beyond_stale_if_error_the_error_is_passed_on(self):
        p = "/r/old;cc=max-age=10"
        get(self.fc, p)
        self.origin.faults[p] = "500"
        self.fc.advance(400)
        self.assertEqual(get(self.fc, p).status, 500)
        del self.origin.faults[p]

    def test_stale_if_error_from_the_response_overrides_the_config(self):
        p = "/r/sie2;cc=max-age=10,%20stale-if-error=30"
        get(self.fc, p)
        self.origin.faults[p] = "503"
        self.fc.advance(25)  # 15 s stale: within the response's 30 s
        self.assertEqual(get(self.fc, p).header("X-Cache"), "STALE")
        self.fc.advance(20)  # 35 s stale: within the config's 300 s, beyond the response's 30
        self.assertEqual(get(self.fc, p).status, 503)
        del self.origin.faults[p]

    def test_a_successful_refetch_behind_a_stale_copy_is_a_miss_not_stale(self):
        # The answer is held until stored (the stale copy could stand in); once stored it is the
        # new page, labelled MISS (it was labelled STALE before this was fixed).
        p = "/r/refetch;cc=max-age=10"
        first = get(self.fc, p)
        self.fc.advance(20)
        again = get(self.fc, p)
        self.assertEqual(again.header("X-Cache"), "MISS")
        # RFC 9211: forwarded because the stored copy was stale; the 200 was stored.
        self.assertEqual(again.header("Cache-Status"), "frontcache; fwd=stale; fwd-status=200; stored")
        self.assertEqual(render(again), render(first) + 1)

    def test_no_cache_page_does_not_replace_an_error(self):
        # RFC 9111 §5.2.2.4: without a successful validation it must not be used.
        p = '/r/nce;cc=no-cache;etag="e1"'
        get(self.fc, p)
        self.origin.faults[p] = "503"
        self.assertEqual(get(self.fc, p).status, 503)
        del self.origin.faults[p]
        self.assertEqual(get(self.fc, p).header("X-Cache"), "REVALIDATED")

    def test_foreground_revalidation_304(self):
        p = '/r/fg;etag="e7";cc=max-age=10'
        first = get(self.fc, p)
        self.fc.advance(20)
        before = admin_stats(self.fc)
        resp = get(self.fc, p)
        after = admin_stats(self.fc)
        self.assertEqual(after["requests_total_revalidated"] - before["requests_total_revalidated"],
                         1)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.header("X-Cache"), "REVALIDATED")
        self.assertEqual(resp.header("Cache-Status"),
                         "frontcache; fwd=stale; fwd-status=304; ttl=10; detail=revalidated")
        self.assertEqual(resp.body, first.body)
        self.assertEqual(self.origin.count(p, "If-None-Match"), 1)
        self.assertEqual(get(self.fc, p).header("X-Cache"), "HIT")

    def test_client_validators_are_passed_through_not_replaced(self):
        p = '/r/cv;etag="c1";cc=max-age=10'
        get(self.fc, p)
        self.fc.advance(20)
        resp = get(self.fc, p, 'If-None-Match: "c1"\r\n')
        self.assertEqual(resp.status, 304)  # the origin's own 304, for the client's copy


class OriginDown(unittest.TestCase):
    def test_refused_connections_are_answered_from_the_stale_copy(self):
        origin = Origin()
        port = origin.port
        fc = Frontcache(origin.url, {"cache": {"grace": "0s"}})
        try:
            p = "/r/down;cc=max-age=10"
            first = get(fc, p)
            origin.close()  # nothing listens any more: connections are refused
            fc.advance(20)
            resp = get(fc, p)
            self.assertEqual((resp.status, resp.header("X-Cache")), (200, "STALE"))
            self.assertEqual(resp.body, first.body)
            self.assertEqual(get(fc, "/r/never-stored").status, 502)
        finally:
            fc.stop()


if __name__ == "__main__":
    unittest.main()
