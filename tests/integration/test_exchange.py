"""The exchange as a sequence of named steps (docs/architecture.md): every change of step is
logged at debug level and checked against the table; a client that leaves mid-fetch is freed at
once while its fetch finishes alone and stores the page; both ways of purging count
purged_total."""

import socket
import struct
import time
import unittest

from harness import Frontcache, Origin, admin_request, admin_stats, get_once, request, wait_for


def steps(log):
    """The 'A -> B' step changes in a debug log, in order."""
    out = []
    for line in log.splitlines():
        if "client " in line and " -> " in line:
            out.append(line.split(": ", 2)[-1].strip())
    return out


class StepsLogged(unittest.TestCase):
    def setUp(self):
        self.origin = Origin()
        self.fc = Frontcache(self.origin.url, {"log": {"level": "debug"},
                                               "cache": {"grace": "0s", "stale_if_error": "300s"}})

    def tearDown(self):
        self.fc.stop()
        self.origin.close()

    def exchange(self, path):
        """GET `path` on a connection of its own; returns the response and the steps its
        exchange took (logged once the connection has closed)."""
        n = len(steps(self.fc.log()))
        r = get_once(self.fc, path)
        wait_for(lambda: "idle -> closed" in steps(self.fc.log())[n:], timeout=5)
        return r, steps(self.fc.log())[n:]

    def test_miss_then_hit(self):
        r, taken = self.exchange("/r/a;cc=max-age=60")
        self.assertEqual(r.header("X-Cache"), "MISS")
        self.assertEqual(taken, ["idle -> begin", "begin -> lookup", "lookup -> queued",
                                 "queued -> fetch", "fetch -> stream", "stream -> done",
                                 "done -> idle", "idle -> closed"])
        r, taken = self.exchange("/r/a;cc=max-age=60")
        self.assertEqual(r.header("X-Cache"), "HIT")
        self.assertEqual(taken, ["idle -> begin", "begin -> lookup", "lookup -> deliver",
                                 "deliver -> done", "done -> idle", "idle -> closed"])
        self.assertNotIn("not in the table", self.fc.log())

    def test_bypass_goes_straight_to_the_upstream(self):
        n = len(steps(self.fc.log()))
        s = self.fc.connect()
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
        s.recv(65536)
        s.close()
        wait_for(lambda: "idle -> closed" in steps(self.fc.log())[n:], timeout=5)
        self.assertEqual(steps(self.fc.log())[n:][:5],
                         ["idle -> begin", "begin -> queued", "queued -> fetch", "fetch -> stream",
                          "stream -> done"])

    def test_refetch_behind_a_stale_copy_is_held_then_answered_from_the_stored_page(self):
        validated = '/r/h1;cc=max-age=10;etag="e1"'
        plain = "/r/h2;cc=max-age=10"
        self.exchange(validated)
        self.exchange(plain)
        self.fc.advance(20)  # expired, no grace; stale-if-error (300 s) keeps the copies
        # No validator: refetched, held until stored (the stale copy could still stand in),
        # then answered from the page just stored.
        r, taken = self.exchange(plain)
        self.assertEqual(r.header("X-Cache"), "MISS")
        self.assertIn(b"render", r.body)
        self.assertEqual(taken[:7], ["idle -> begin", "begin -> lookup", "lookup -> queued",
                                     "queued -> fetch", "fetch -> hold", "hold -> deliver",
                                     "deliver -> done"])
        # With a validator: revalidated, and the 304 answered from the renewed copy.
        r, taken = self.exchange(validated)
        self.assertEqual(r.header("X-Cache"), "REVALIDATED")
        self.assertEqual(taken[:6], ["idle -> begin", "begin -> lookup", "lookup -> queued",
                                     "queued -> revalidate", "revalidate -> deliver",
                                     "deliver -> done"])


class ClientLeaves(unittest.TestCase):
    def test_client_gone_mid_fetch_is_freed_and_the_fetch_still_stores(self):
        origin = Origin()
        fc = Frontcache(origin.url, {"admin": {"listen": "127.0.0.1:0"}})
        try:
            path = "/r/left;cc=max-age=60;delay=6000"
            s = fc.connect()
            s.sendall(("GET %s HTTP/1.1\r\nHost: site.test\r\n\r\n" % path).encode())
            wait_for(lambda: admin_stats(fc)["upstream_fetches"] == 1, timeout=5)
            # A reset (not a half-close, which would still be answered): the client is gone.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            t0 = time.monotonic()
            # The connection is freed at once; the fetch goes on alone (it stores the page).
            # (The admin request itself is not a client connection of the HTTP port.)
            wait_for(lambda: admin_stats(fc)["client_connections"] == 0, timeout=2)
            self.assertLess(time.monotonic() - t0, 2.0)
            self.assertEqual(admin_stats(fc)["upstream_fetches"], 1)
            wait_for(lambda: admin_stats(fc)["upstream_fetches"] == 0, timeout=15)
            self.assertEqual(admin_stats(fc)["stores_total"], 1)
            r = get_once(fc, path)
            self.assertEqual(r.header("X-Cache"), "HIT")
            self.assertEqual(r.body, b"render 1\n")
            self.assertEqual(origin.count("/r/left;cc=max-age=60;delay=6000"), 1)
        finally:
            fc.stop()
            origin.close()


class PurgeCounted(unittest.TestCase):
    def test_admin_and_public_purges_both_count(self):
        origin = Origin()
        fc = Frontcache(origin.url, {"admin": {"listen": "127.0.0.1:0",
                                               "allow_purge_from": ["127.0.0.1"]}})
        try:
            for p in ("/r/p1", "/r/p2"):
                get_once(fc, p)
            resp = admin_request(fc.extra_ports["admin"], "PURGE", "/r/p1")
            self.assertEqual(resp.body, b'{"purged": 1}\n')
            self.assertEqual(admin_stats(fc)["purged_total"], 1)
            resp, r = request(fc, "PURGE /r/p2 HTTP/1.1\r\nHost: site.test\r\n\r\n")
            r.sock.close()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.body, b'{"purged": 1}\n')
            self.assertEqual(admin_stats(fc)["purged_total"], 2)
            # An absolute-form target names the host to purge.
            get_once(fc, "/r/p3")
            resp, r = request(fc, "PURGE http://site.test/r/p3 HTTP/1.1\r\nHost: other\r\n\r\n")
            r.sock.close()
            self.assertEqual(resp.body, b'{"purged": 1}\n')
        finally:
            fc.stop()
            origin.close()


if __name__ == "__main__":
    unittest.main()
