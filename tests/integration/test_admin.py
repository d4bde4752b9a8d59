"""The admin port (/metrics, /stats, PURGE, POST /purge, POST /flush), PURGE on the public port,
purging through the memcached port, and SIGHUP reload with a good and a broken config while load
runs (zero failed requests)."""

import hashlib
import json
import os
import re
import signal
import subprocess
import threading
import time
import unittest

from harness import Frontcache, Origin, Reader, wait_for, admin_request as http


def get(fc, path, host="site.test", headers=""):
    s = fc.connect()
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n" % (path, host, headers)).encode())
    try:
        return Reader(s).response()
    finally:
        s.close()


def page_key(uri, method="GET", prefix="", vary_values=""):
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()
    return "views.decorators.cache.cache_page.%s.%s.%s.%s" % (prefix, method, md5(uri), md5(vary_values))


class Admin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.origin = Origin()
        cls.fc = Frontcache(cls.origin.url, {"admin": {"listen": "127.0.0.1:0"},
                                             "memcached": {"listen": "127.0.0.1:0"}})
        cls.admin = cls.fc.extra_ports["admin"]

    @classmethod
    def tearDownClass(cls):
        cls.fc.stop()
        cls.origin.close()

    def test_metrics_in_prometheus_text_format(self):
        get(self.fc, "/r/m1")
        get(self.fc, "/r/m1")
        resp = http(self.admin, "GET", "/metrics")
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.header("Content-Type").startswith("text/plain; version=0.0.4"))
        text = resp.body.decode()
        samples = {}
        for line in text.splitlines():
            if line.startswith("#"):
                self.assertRegex(line, r"^# (HELP|TYPE) frontcache_\w+ ")
                continue
            m = re.match(r'^(frontcache_\w+)(\{[a-z_]+="[^"]*"\})? (\S+)$', line)
            self.assertIsNotNone(m, line)
            samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
        self.assertGreaterEqual(samples['frontcache_requests_total{cache="hit"}'], 1)
        self.assertGreaterEqual(samples['frontcache_requests_total{cache="miss"}'], 1)
        self.assertGreaterEqual(samples["frontcache_stores_total"], 1)
        self.assertGreater(samples["frontcache_store_bytes"], 0)
        self.assertEqual(samples['frontcache_upstream_response_seconds_bucket{le="+Inf"}'],
                         samples["frontcache_upstream_response_seconds_count"])
        for name in ("coalesced_waits_total", "stale_served_total{reason=\"grace\"}",
                     "store_evictions_total", "upstream_errors_total{status=\"504\"}"):
            self.assertIn("frontcache_" + name, samples)

    def test_stats_json(self):
        get(self.fc, "/r/s1")
        stats = json.loads(http(self.admin, "GET", "/stats").body)
        self.assertGreaterEqual(stats["requests_total_miss"], 1)
        self.assertIn("store_items", stats)

    def test_purge_removes_every_variant_and_host(self):
        p = "/r/pv;vary=Accept-Language"
        for host in ("a.test", "b.test"):
            for lang in ("en", "fr"):
                get(self.fc, p, host, "Accept-Language: %s\r\n" % lang)
                self.assertEqual(get(self.fc, p, host, "Accept-Language: %s\r\n" % lang).header("X-Cache"), "HIT")
        resp = http(self.admin, "PURGE", p)
        self.assertEqual(resp.status, 200)
        self.assertEqual(json.loads(resp.body), {"purged": 4})
        for host in ("a.test", "b.test"):
            self.assertEqual(get(self.fc, p, host, "Accept-Language: en\r\n").header("X-Cache"), "MISS")

    def test_purge_narrowed_by_host(self):
        p = "/r/ph"
        for host in ("a.test", "b.test"):
            get(self.fc, p, host)
        self.assertEqual(json.loads(http(self.admin, "PURGE", p + "?host=a.test").body), {"purged": 1})
        self.assertEqual(get(self.fc, p, "a.test").header("X-Cache"), "MISS")
        self.assertEqual(get(self.fc, p, "b.test").header("X-Cache"), "HIT")
        # A Host header other than the admin address narrows too.
        get(self.fc, p, "a.test")
        self.assertEqual(json.loads(http(self.admin, "PURGE", p, host="b.test").body), {"purged": 1})
        self.assertEqual(get(self.fc, p, "a.test").header("X-Cache"), "HIT")
        self.assertEqual(get(self.fc, p, "b.test").header("X-Cache"), "MISS")

    def test_purge_a_prefix(self):
        for p in ("/r/pre;a", "/r/pre;b", "/r/other"):
            get(self.fc, p)
        resp = http(self.admin, "PURGE", "/r/pre*")
        self.assertEqual(json.loads(resp.body), {"purged": 2})
        for p in ("/r/pre;a", "/r/pre;b"):
            self.assertEqual(get(self.fc, p).header("X-Cache"), "MISS", p)
        self.assertEqual(get(self.fc, "/r/other").header("X-Cache"), "HIT")
        # Narrowed by host, and in a POST list.
        get(self.fc, "/r/pre;a", "b.test")
        resp = http(self.admin, "PURGE", "/r/pre*?host=b.test")
        self.assertEqual(json.loads(resp.body), {"purged": 1})
        self.assertEqual(get(self.fc, "/r/pre;a").header("X-Cache"), "HIT")
        resp = http(self.admin, "POST", "/purge", json.dumps(["/r/pre*"]).encode())
        self.assertEqual(json.loads(resp.body), {"purged": 2})

    def test_post_purge_with_a_list_of_paths(self):
        for p in ("/r/l1", "/r/l2", "/r/l3"):
            get(self.fc, p)
        resp = http(self.admin, "POST", "/purge", json.dumps(["/r/l1", "/r/l2"]).encode())
        self.assertEqual(json.loads(resp.body), {"purged": 2})
        resp = http(self.admin, "POST", "/purge", b"/r/l3\n")
        self.assertEqual(json.loads(resp.body), {"purged": 1})
        self.assertEqual(get(self.fc, "/r/l1").header("X-Cache"), "MISS")
        self.assertEqual(http(self.admin, "POST", "/purge", b"[1, 2]").status, 400)
        self.assertEqual(http(self.admin, "POST", "/purge", b"no-slash").status, 400)

    def test_flush(self):
        get(self.fc, "/r/f1")
        self.assertEqual(http(self.admin, "POST", "/flush").status, 200)
        self.assertEqual(get(self.fc, "/r/f1").header("X-Cache"), "MISS")

    def test_unknown_endpoint(self):
        self.assertEqual(http(self.admin, "GET", "/nope").status, 404)
        self.assertEqual(http(self.admin, "GET", "/health").body, b"ok\n")

    def test_purge_on_the_public_port_is_refused(self):
        get(self.fc, "/r/pub")
        resp = http(self.fc.port, "PURGE", "/r/pub")
        self.assertEqual(resp.status, 405)
        self.assertEqual(get(self.fc, "/r/pub").header("X-Cache"), "HIT")

    def test_memcrm_of_the_page_key_makes_the_next_request_miss(self):
        p = "/r/mc"
        get(self.fc, p)
        self.assertEqual(get(self.fc, p).header("X-Cache"), "HIT")
        key = page_key("http://site.test" + p)
        subprocess.run(["memcrm", "--servers=127.0.0.1:%d" % self.fc.extra_ports["memcached"], key],
                       check=True, timeout=30)
        self.assertEqual(get(self.fc, p).header("X-Cache"), "MISS")


class PublicPurgeAllowed(unittest.TestCase):
    def test_purge_from_an_allowed_address(self):
        origin = Origin()
        fc = Frontcache(origin.url, {"admin": {"allow_purge_from": ["127.0.0.1"]}})
        try:
            get(fc, "/r/ok", "x.test")
            get(fc, "/r/ok", "y.test")
            resp = http(fc.port, "PURGE", "/r/ok", host="x.test")
            self.assertEqual(resp.status, 200)
            self.assertEqual(json.loads(resp.body), {"purged": 1})  # only the Host it was sent to
            self.assertEqual(get(fc, "/r/ok", "x.test").header("X-Cache"), "MISS")
            self.assertEqual(get(fc, "/r/ok", "y.test").header("X-Cache"), "HIT")
        finally:
            fc.stop()
            origin.close()


class Reload(unittest.TestCase):
    def load(self, fc, stop, results):
        while not stop.is_set():
            try:
                r = get(fc, "/r/load%d" % (len(results) % 20))
                results.append(r.status)
            except Exception as e:  # noqa: BLE001 - any failure counts
                results.append(repr(e))

    def test_reload_good_then_broken_config_under_load(self):
        origin = Origin()
        fc = Frontcache(origin.url, {"cache": {"status_header": "X-Cache"}}, workers=2)
        stop = threading.Event()
        results = []
        threads = [threading.Thread(target=self.load, args=(fc, stop, results)) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.3)
            with open(fc.config_path) as f:
                cfg = f.read()
            # A good config: the status header is renamed; the store is kept (still a HIT).
            get(fc, "/r/kept")
            with open(fc.config_path, "w") as f:
                f.write(cfg.replace('status_header = "X-Cache"', 'status_header = "X-Frontcache"'))
            fc.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: get(fc, "/r/kept").header("X-Frontcache") == "HIT"))
            # A broken config: an error naming file, line and key; the running config stays.
            with open(fc.config_path, "w") as f:
                f.write(cfg.replace('status_header = "X-Cache"', 'status_header = "X-Cache"\nseconds = -5'))
            fc.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: "reload failed" in fc.log()))
            self.assertRegex(fc.log(), re.escape(fc.config_path) + r":\d+:\d+: cache.seconds: ")
            self.assertEqual(get(fc, "/r/kept").header("X-Frontcache"), "HIT")
            time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join()
            rc = fc.stop()
            origin.close()
        self.assertGreater(len(results), 50)
        self.assertEqual([r for r in results if r != 200], [])
        self.assertEqual(rc, 0)



if __name__ == "__main__":
    unittest.main()
