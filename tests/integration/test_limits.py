"""[limits] (issue #23): a budget per real client for the misses and bypasses that reach the
application. Over it: a stale copy when one exists, else 429 with Retry-After; hits never
count; crawlers get a stricter class by User-Agent; the allow-list is never limited; dry-run
only counts; limited clients show in GET /top, the metrics and the access log. The real client
is the one trusted proxies name, not the proxy in front."""

import json
import os
import re
import signal
import tempfile
import time
import unittest

from harness import Frontcache, Origin, admin_request, get, request, wait_for


def metric(fc, name, labels=""):
    body = admin_request(fc.extra_ports["admin"], "GET", "/metrics").body.decode()
    m = re.search(r"^frontcache_%s%s (\S+)$" % (name, re.escape("{%s}" % labels) if labels else ""),
                  body, re.M)
    return float(m.group(1)) if m else None


class Limits(unittest.TestCase):
    def start(self, stale_if_error="0s", **limits):
        self.origin = Origin()
        self.addCleanup(self.origin.close)
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.log_path = os.path.join(self.tmp.name, "access.log")
        section = {"rate": 1, "burst": 3}
        section.update(limits)
        self.fc = Frontcache(self.origin.url, {
            "limits": section,
            "server": {"trusted_proxies": ["127.0.0.1"]},
            "admin": {"listen": "127.0.0.1:0"},
            "cache": {"stale_if_error": stale_if_error, "grace": "0s"},
            "log": {"access_log": self.log_path, "format": "json"}})
        self.addCleanup(self.fc.stop)

    def access_log(self):
        self.fc.proc.send_signal(signal.SIGUSR1)  # flushes (and reopens) the access log
        time.sleep(0.3)
        with open(self.log_path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def test_misses_over_the_budget_get_429_and_hits_never_count(self):
        self.start()
        # A page cached first (one miss of the budget), then asked for again and again.
        page = "/r/cc=max-age=300"
        self.assertEqual(get(self.fc, page).status, 200)
        for _ in range(30):
            self.assertEqual(get(self.fc, page).header("X-Cache"), "HIT")
        # Distinct uncacheable URLs: the burst's remaining two, then 429.
        statuses = [get(self.fc, "/echo?n=%d" % i).status for i in range(6)]
        self.assertEqual(statuses, [200, 200, 429, 429, 429, 429])
        refused = get(self.fc, "/echo?again")
        self.assertEqual(refused.status, 429)
        self.assertEqual(refused.header("Retry-After"), "1")
        self.assertEqual(len([r for r in self.origin.requests if "/echo" in r[1]]), 2)
        # A HEAD over the budget: 429 without a body (the connection stays usable).
        head, r = request(self.fc, "HEAD /echo?head HTTP/1.1\r\nHost: test\r\n\r\n",
                          head_request=True)
        self.assertEqual(head.status, 429)
        r.sock.sendall(b"GET /r/cc=max-age=300 HTTP/1.1\r\nHost: test\r\n\r\n")
        self.assertEqual(r.response().header("X-Cache"), "HIT")
        r.sock.close()
        # Hits still flow while the client is over its budget.
        self.assertEqual(get(self.fc, page).header("X-Cache"), "HIT")
        # A second later, one more request is allowed (1 per second).
        time.sleep(1.1)
        self.assertEqual(get(self.fc, "/echo?later").status, 200)
        self.assertEqual(metric(self.fc, "limited_total", 'action="refused"'), 6)
        entries = self.access_log()
        limited = [e for e in entries if e.get("status") == 429]
        self.assertEqual(len(limited), 6)
        self.assertTrue(all(e.get("cache") == "LIMITED" for e in limited), limited[0])

    def test_over_the_budget_a_stale_copy_answers(self):
        self.start(burst=2, stale_if_error="1h")  # expired copies are kept an hour
        page = "/r/cc=max-age=1"
        self.assertEqual(get(self.fc, page).status, 200)  # stored
        self.fc.advance(5)  # expired, still in the store
        self.assertEqual(get(self.fc, "/echo?1").status, 200)  # the budget is spent
        resp = get(self.fc, page)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.header("X-Cache"), "STALE")
        self.assertIn("detail=over-budget", resp.header("Cache-Status"))
        self.assertEqual(metric(self.fc, "limited_total", 'action="stale"'), 1)
        self.assertEqual(metric(self.fc, "stale_served_total", 'reason="limit"'), 1)

    def test_real_clients_behind_a_proxy_crawler_class_allow_list_and_top(self):
        self.start(rate=100, burst=100, allow=["192.0.2.0/24"],
                   classes=[{"name": "crawlers", "user_agent": ["*bot*"], "rate": 1,
                             "burst": 2}])
        # Two clients behind the same trusted proxy: each its own budget.
        xff = "X-Forwarded-For: %s\r\nUser-Agent: ExampleBot/1.0\r\n"
        self.assertEqual(admin_request(self.fc.extra_ports["admin"], "GET", "/top").status, 200)
        a = [get(self.fc, "/echo?a%d" % i, xff % "203.0.113.1").status for i in range(4)]
        b = [get(self.fc, "/echo?b%d" % i, xff % "203.0.113.2").status for i in range(4)]
        self.assertEqual(a, [200, 200, 429, 429])
        self.assertEqual(b, [200, 200, 429, 429])
        # The same addresses as browsers are another class, with its own (larger) budget.
        browser = "X-Forwarded-For: 203.0.113.1\r\nUser-Agent: Mozilla/5.0\r\n"
        self.assertEqual({get(self.fc, "/echo?c%d" % i, browser).status for i in range(10)},
                         {200})
        # The allow-list is never limited, crawler or not.
        self.assertEqual({get(self.fc, "/echo?d%d" % i, xff % "192.0.2.9").status
                          for i in range(10)}, {200})
        # GET /top names the limited clients and their class (every request over counted).
        def top():
            body = admin_request(self.fc.extra_ports["admin"], "GET", "/top").body.decode()
            return [l for l in body.splitlines() if l.startswith("limited ")]
        get(self.fc, "/echo?e", xff % "203.0.113.1")
        self.assertTrue(wait_for(lambda: any("203.0.113.1 crawlers" in l for l in top()),
                                 timeout=5))

    def test_dry_run_only_counts(self):
        self.start(mode="dry_run")
        self.assertEqual({get(self.fc, "/echo?%d" % i).status for i in range(8)}, {200})
        self.assertEqual(metric(self.fc, "limited_total", 'action="dry_run"'), 5)
        self.assertEqual(metric(self.fc, "limited_total", 'action="refused"'), 0)

    def test_sighup_turns_limits_on(self):
        self.start(rate=0)  # off
        self.assertEqual({get(self.fc, "/echo?%d" % i).status for i in range(8)}, {200})
        with open(self.fc.config_path) as f:
            cfg = f.read()
        with open(self.fc.config_path, "w") as f:
            f.write(cfg.replace("rate = 0", "rate = 1"))
        self.fc.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: get(self.fc, "/echo?x%d" % time.monotonic_ns()).status
                                 == 429, timeout=5))


if __name__ == "__main__":
    unittest.main()
