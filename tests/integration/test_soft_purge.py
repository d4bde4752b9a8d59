"""Soft purge (issue #15, part): PURGE ?soft=1 on the admin port, POST /purge?soft=1, and a public
PURGE with Soft-Purge: 1 mark pages expired instead of removing them, so the next requests are
answered STALE while exactly one background fetch per page renews it; pages that may not be
served stale (must-revalidate, or no grace window) are removed as by a hard purge."""

import json
import threading
import unittest

from harness import Frontcache, Origin, admin_request, admin_stats, get_once, request, wait_for


class SoftPurge(unittest.TestCase):
    def setUp(self):
        self.origin = Origin()
        self.fc = Frontcache(self.origin.url, {"admin": {"listen": "127.0.0.1:0",
                                                         "allow_purge_from": ["127.0.0.1"]}},
                             workers=2)
        self.admin = self.fc.extra_ports["admin"]

    def tearDown(self):
        self.fc.stop()
        self.origin.close()

    def test_one_refresh_per_page_while_everyone_gets_the_stale_copy(self):
        path = "/r/soft;cc=max-age=600;delay=400"
        self.assertEqual(get_once(self.fc, path).header("X-Cache"), "MISS")
        first = get_once(self.fc, path)
        self.assertEqual(first.header("X-Cache"), "HIT")
        resp = admin_request(self.admin, "PURGE", path + "?soft=1")
        self.assertEqual(json.loads(resp.body), {"purged": 1, "expired": 1})
        answers = []

        def one():
            answers.append(get_once(self.fc, path))
        threads = [threading.Thread(target=one) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        self.assertEqual(len(answers), 20)
        for a in answers:  # nobody waited for the 400 ms origin, nobody got an error
            self.assertEqual(a.status, 200)
            self.assertEqual(a.header("X-Cache"), "STALE")
            self.assertEqual(a.body, first.body)
        wait_for(lambda: self.origin.count(path) == 2, timeout=5)
        wait_for(lambda: get_once(self.fc, path).header("X-Cache") == "HIT", timeout=5)
        self.assertNotEqual(get_once(self.fc, path).body, first.body)  # renewed
        self.assertEqual(self.origin.count(path), 2)  # exactly one background fetch
        stats = admin_stats(self.fc)
        self.assertEqual(stats["soft_purged_total"], 1)
        self.assertEqual(stats["refreshes_total"], 1)

    def test_pages_that_may_not_be_served_stale_are_removed(self):
        strict = "/r/strict;cc=max-age=600,must-revalidate"
        get_once(self.fc, strict)
        resp = admin_request(self.admin, "PURGE", strict + "?soft=1")
        self.assertEqual(json.loads(resp.body), {"purged": 1, "expired": 0})
        self.assertEqual(get_once(self.fc, strict).header("X-Cache"), "MISS")
        self.assertEqual(admin_stats(self.fc)["purged_total"], 1)

    def test_post_purge_and_the_public_port(self):
        a, b = "/r/sa;cc=max-age=600", "/r/sb;cc=max-age=600"
        for p in (a, b):
            get_once(self.fc, p)
        resp = admin_request(self.admin, "POST", "/purge?soft=1", json.dumps([a]).encode())
        self.assertEqual(json.loads(resp.body), {"purged": 1, "expired": 1})
        self.assertEqual(get_once(self.fc, a).header("X-Cache"), "STALE")
        resp, r = request(self.fc, "PURGE %s HTTP/1.1\r\nHost: site.test\r\nSoft-Purge: 1\r\n\r\n"
                          % b)
        r.sock.close()
        self.assertEqual(json.loads(resp.body), {"purged": 1, "expired": 1})
        self.assertEqual(get_once(self.fc, b).header("X-Cache"), "STALE")
        # Its background refresh has stored the new page (a purge does not stop a fetch in
        # flight: the page it stores would be there after the purge)...
        wait_for(lambda: self.origin.count(b) == 2, timeout=5)
        wait_for(lambda: get_once(self.fc, b).header("X-Cache") == "HIT", timeout=5)
        # ...and a hard purge still removes.
        self.assertEqual(json.loads(admin_request(self.admin, "PURGE", b).body), {"purged": 1})
        self.assertEqual(get_once(self.fc, b).header("X-Cache"), "MISS")


class NoGrace(unittest.TestCase):
    def test_without_a_grace_window_a_soft_purge_removes(self):
        origin = Origin()
        fc = Frontcache(origin.url, {"admin": {"listen": "127.0.0.1:0"},
                                     "cache": {"grace": "0s"}})
        try:
            get_once(fc, "/r/ng;cc=max-age=600")
            resp = admin_request(fc.extra_ports["admin"], "PURGE", "/r/ng;cc=max-age=600?soft=1")
            self.assertEqual(json.loads(resp.body), {"purged": 1, "expired": 0})
            self.assertEqual(get_once(fc, "/r/ng;cc=max-age=600").header("X-Cache"), "MISS")
        finally:
            fc.stop()
            origin.close()


if __name__ == "__main__":
    unittest.main()
