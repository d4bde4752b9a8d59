"""A memcached cluster shared by several frontcache instances (cache.shared_servers): a page one
instance stored is served by another without reaching the origin; pages are stored there in
frontcache's page format under Django's keys; purges remove them there too; and when the
cluster is down every instance goes on answering from its own store and the origin."""

import json
import re
import socket
import time
import unittest
import urllib.parse

from harness import Frontcache, Origin, Reader, wait_for, get_once as get, render, admin_request, admin_stats as stats
from test_django_cache import metadump
from test_memcached_port import RealMemcached


def mc_get(port, key):
    """The value memcached holds for `key`, or None."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"get %s\r\n" % key.encode())
    data = b""
    while not data.endswith(b"END\r\n"):
        data += s.recv(1 << 20)
    s.close()
    m = re.match(rb"VALUE \S+ \d+ (\d+)\r\n", data)
    return data[m.end():m.end() + int(m.group(1))] if m else None


class SharedCluster(unittest.TestCase):
    MODE = "django"

    @classmethod
    def setUpClass(cls):
        cls.mc = RealMemcached()
        cls.origin = Origin()
        sections = {"cache": {"shared_servers": ["127.0.0.1:%d" % cls.mc.port], "mode": cls.MODE},
                    "admin": {"listen": "127.0.0.1:0"},
                    "memcached": {"listen": "127.0.0.1:0"}}
        cls.a = Frontcache(cls.origin.url, sections)
        cls.b = Frontcache(cls.origin.url, sections, workers=2)

    @classmethod
    def tearDownClass(cls):
        for fc in (cls.a, cls.b):
            assert fc.stop() == 0
        cls.origin.close()
        cls.mc.stop()

    def wait_stored(self, fc, before):
        """True once `fc` has written one more page to the cluster than `before` (stores run
        off the loop, after the client's answer)."""
        return wait_for(lambda: stats(fc)["shared_stores_total"] > before)

    def cluster_pages(self, path):
        """Keys of the pages for `path` the cluster holds (in frontcache's page format)."""
        uri = ("http://site.test" + path).encode()
        keys = {urllib.parse.unquote(m) for m in re.findall(r"key=(\S+)", metadump(self.mc.port))}
        return [k for k in keys
                if (lambda v: v is not None and v.startswith(b"FCP3") and uri in v)(
                    mc_get(self.mc.port, k))]

    def test_a_page_stored_by_one_instance_is_served_by_another(self):
        p = "/r/shared1;cc=max-age=60"
        before = stats(self.a)["shared_stores_total"]
        first = get(self.a, p)
        self.assertEqual(first.header("X-Cache"), "MISS")
        self.assertTrue(self.wait_stored(self.a, before))
        before = stats(self.b)
        second = get(self.b, p)
        self.assertEqual(second.header("X-Cache"), "HIT")
        self.assertEqual(render(second), render(first))
        self.assertEqual(self.origin.count(p), 1)
        after = stats(self.b)
        self.assertEqual(after["shared_lookups_total_hit"] - before["shared_lookups_total_hit"], 1)
        # Now in b's own store: the next hit does not ask the cluster.
        self.assertEqual(get(self.b, p).header("X-Cache"), "HIT")
        self.assertEqual(stats(self.b)["shared_lookups_total_hit"], after["shared_lookups_total_hit"])

    def test_pages_are_stored_in_the_cluster_in_frontcache_format_under_the_same_keys(self):
        p = "/r/shared2;cc=max-age=60"
        before = stats(self.a)["shared_stores_total"]
        get(self.a, p)
        self.assertTrue(self.wait_stored(self.a, before))
        # The cluster holds the page under the key a stored it under in its own store (read
        # back through a's memcached port), byte for byte.
        keys = self.cluster_pages(p)
        self.assertEqual(len(keys), 1)
        self.assertEqual(mc_get(self.a.extra_ports["memcached"], keys[0]),
                         mc_get(self.mc.port, keys[0]))

    def test_a_purge_removes_the_page_from_the_cluster_too(self):
        p = "/r/shared3;cc=max-age=60"
        before = stats(self.a)["shared_stores_total"]
        get(self.a, p)
        self.assertTrue(self.wait_stored(self.a, before))
        keys = self.cluster_pages(p)
        self.assertEqual(len(keys), 1)
        self.assertEqual(json.loads(admin_request(self.a.extra_ports["admin"], "PURGE", p).body), {"purged": 1})
        self.assertTrue(wait_for(lambda: mc_get(self.mc.port, keys[0]) is None))
        # b never had it in its own store: with the cluster's copy gone it fetches.
        self.assertEqual(get(self.b, p).header("X-Cache"), "MISS")
        self.assertEqual(self.origin.count(p), 2)

    def test_not_storable_pages_are_not_shared(self):
        p = "/r/shared4;cc=private"
        get(self.a, p)
        self.assertEqual(get(self.b, p).header("X-Cache"), "MISS")
        self.assertEqual(self.origin.count(p), 2)
        # Marked hit-for-miss in b: the next requests do not ask the cluster.
        before = stats(self.b)
        for _ in range(3):
            self.assertEqual(get(self.b, p).header("X-Cache"), "MISS")
        after = stats(self.b)
        self.assertEqual(after["shared_lookups_total_miss"], before["shared_lookups_total_miss"])


class SharedClusterHttpMode(SharedCluster):
    """The same, with cache.mode = "http" (issue #14): the cluster, keys and page format are the
    same code in both modes (the pages here all say max-age)."""
    MODE = "http"


class FrontcacheAsTheCluster(unittest.TestCase):
    def test_a_frontcache_memcached_port_can_be_the_cluster(self):
        origin = Origin()
        hub = Frontcache(origin.url, {"memcached": {"listen": "127.0.0.1:0"}})
        sections = {"cache": {"shared_servers": ["127.0.0.1:%d" % hub.extra_ports["memcached"]]},
                    "admin": {"listen": "127.0.0.1:0"}}
        a, b = Frontcache(origin.url, sections), Frontcache(origin.url, sections)
        try:
            p = "/r/hub;cc=max-age=60"
            self.assertEqual(get(a, p).header("X-Cache"), "MISS")
            self.assertTrue(wait_for(lambda: stats(a)["shared_stores_total"] == 1))
            self.assertEqual(get(b, p).header("X-Cache"), "HIT")
            self.assertEqual(origin.count(p), 1)
        finally:
            for fc in (a, b, hub):
                self.assertEqual(fc.stop(), 0)
            origin.close()


class ClusterDown(unittest.TestCase):
    def test_instances_keep_answering_when_the_cluster_is_down(self):
        mc = RealMemcached()
        origin = Origin()
        fc = Frontcache(origin.url, {"cache": {"shared_servers": ["127.0.0.1:%d" % mc.port],
                                               "shared_timeout": "200ms"},
                                     "admin": {"listen": "127.0.0.1:0"}})
        try:
            self.assertEqual(get(fc, "/r/d1;cc=max-age=60").header("X-Cache"), "MISS")
            mc.stop()
            for i in range(10):
                resp = get(fc, "/r/down%d;cc=max-age=60" % i)
                self.assertEqual((resp.status, resp.header("X-Cache")), (200, "MISS"))
            self.assertEqual(get(fc, "/r/d1;cc=max-age=60").header("X-Cache"), "HIT")
            self.assertGreater(stats(fc)["shared_errors_total"], 0)
        finally:
            self.assertEqual(fc.stop(), 0)
            origin.close()
            mc.stop()


class ClusterHung(unittest.TestCase):
    def test_a_silent_cluster_costs_a_bounded_wait_and_clients_may_leave_meanwhile(self):
        # A "memcached" that accepts connections and never answers.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        origin = Origin()
        fc = Frontcache(origin.url, {"cache": {"shared_servers": ["127.0.0.1:%d"
                                                                  % silent.getsockname()[1]],
                                               "shared_timeout": "200ms"},
                                     "admin": {"listen": "127.0.0.1:0"}})
        try:
            # Clients that leave while their lookup waits on the cluster.
            for i in range(5):
                s = fc.connect()
                s.sendall(b"GET /r/gone%d HTTP/1.1\r\nHost: site.test\r\n\r\n" % i)
                s.close()
            t0 = time.monotonic()
            resp = get(fc, "/r/hung;cc=max-age=60")
            self.assertEqual((resp.status, resp.header("X-Cache")), (200, "MISS"))
            self.assertLess(time.monotonic() - t0, 5)
            self.assertTrue(wait_for(lambda: stats(fc)["shared_errors_total"] > 0))
            self.assertEqual(get(fc, "/r/hung;cc=max-age=60").header("X-Cache"), "HIT")
        finally:
            self.assertEqual(fc.stop(), 0)
            origin.close()
            silent.close()


if __name__ == "__main__":
    unittest.main()
