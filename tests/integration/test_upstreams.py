"""Several upstream servers (upstream.servers): round-robin and least-connections, passive health
(a server failing max_fails exchanges in a row is left out, tried once after fail_timeout, the
wait doubling while it keeps failing), connect failures retried on another server so the client
never sees them, and active health checks. Real origins on loopback; a server "goes down" by
closing its listener and "comes back" by listening on the same port again.

Back-off and health intervals are real timers (the cache's test clock moves only cache time), so
they are set to a few hundred milliseconds and waited for by polling, never by fixed sleeps."""

import os
import re
import signal
import tempfile
import socket
import threading
import time
import unittest

from harness import Frontcache, Origin, Reader, free_port_closed, wait_for, get_once as get, admin_request


def metrics(fc):
    """{(name, server): value} for the per-server families of GET /metrics."""
    body = admin_request(fc.extra_ports["admin"], "GET", "/metrics").body.decode()
    out = {}
    for m in re.finditer(r'^frontcache_(upstream_server_\w+)\{server="([^"]+)"\} (\S+)$', body,
                         re.M):
        out[(m.group(1), m.group(2))] = float(m.group(3))
    return out


def uncached(i):
    # A query string bypasses the cache (cache.query_strings = "bypass"): every request goes
    # upstream.
    return "/hello?i=%d" % i


def served(origin, path="/hello"):
    with origin.lock:
        return sum(1 for m, t, h, b in origin.requests if t.split("?")[0] == path)


class Servers(unittest.TestCase):
    """Frontcache in front of `origins` (and `dead`: ports nothing listens on)."""

    def start(self, origins, dead=(), workers=1, **upstream):
        urls = [o.url for o in origins] + ["http://127.0.0.1:%d" % p for p in dead]
        section = {"servers": urls}
        section.update(upstream)
        self.fc = Frontcache(None, {"upstream": section, "admin": {"listen": "127.0.0.1:0"},
                                    "cache": {"stale_if_error": "0s", "grace": "0s"}},
                             workers=workers)
        self.addCleanup(self.fc.stop)
        for o in origins:
            self.addCleanup(o.close)


class Balancing(Servers):
    def test_round_robin_takes_turns(self):
        a, b, c = Origin(), Origin(), Origin()
        self.start([a, b, c], balance="round_robin")
        for i in range(30):
            self.assertEqual(get(self.fc, uncached(i)).status, 200)
        self.assertEqual([served(a), served(b), served(c)], [10, 10, 10])
        m = metrics(self.fc)
        for o in (a, b, c):
            self.assertEqual(m[("upstream_server_requests_total", o.url)], 10)
            self.assertEqual(m[("upstream_server_up", o.url)], 1)

    def run_clients(self, threads, per_thread, path):
        results = []

        def client(t):
            for i in range(per_thread):
                results.append(get(self.fc, "%s?t=%d&i=%d" % (path, t, i)).status)

        ts = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return results

    def test_least_connections_keeps_away_from_the_busy_server(self):
        # Server a takes 300 ms per request, b answers at once. Three clients send ten requests
        # each, one after another. Round-robin gives a exactly half of them (15, the next test);
        # least-connections sends a request to a only while a has no more exchanges in flight
        # than b (ties are broken in turn): 6 or 7 of the 30 here.
        slow, fast = Origin(), Origin()
        slow.faults = {"/hello": "slow:300"}
        self.start([slow, fast], balance="least_connections")
        statuses = self.run_clients(3, 10, "/hello")
        self.assertEqual(statuses, [200] * 30)
        self.assertLessEqual(served(slow), 9, (served(slow), served(fast)))
        self.assertEqual(served(slow) + served(fast), 30)

    def test_round_robin_for_comparison_gives_the_busy_server_half(self):
        slow, fast = Origin(), Origin()
        slow.faults = {"/hello": "slow:100"}
        self.start([slow, fast], balance="round_robin")
        self.assertEqual(self.run_clients(3, 10, "/hello"), [200] * 30)
        self.assertEqual(served(slow), 15)

    def test_weights_and_a_backup(self):
        a, b, spare = Origin(), Origin(), Origin()
        for o in (a, b, spare):
            self.addCleanup(o.close)
        fc = Frontcache(None, {"upstream": {"servers": [
            {"url": a.url, "weight": 3}, b.url, {"url": spare.url, "backup": True}],
            "max_fails": 1}})
        self.addCleanup(fc.stop)
        for i in range(40):
            self.assertEqual(get(fc, uncached(i)).status, 200)
        self.assertEqual([served(a), served(b), served(spare)], [30, 10, 0])
        # Both primaries gone: the backup answers, and no client notices.
        a.close()
        b.close()
        for i in range(10):
            self.assertEqual(get(fc, uncached(100 + i)).status, 200)
        self.assertEqual(served(spare), 10)

    def test_the_access_log_names_the_server(self):
        a, b = Origin(), Origin()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "access.log")
            fc = Frontcache(None, {"upstream": {"servers": [a.url, b.url]},
                                   "log": {"access_log": path}})
            try:
                for i in range(4):
                    self.assertEqual(get(fc, uncached(i)).status, 200)
            finally:
                self.assertEqual(fc.stop(), 0)
            with open(path) as f:
                servers = [re.search(r" server=(\S+) ", line).group(1) for line in f]
        self.assertEqual(len(servers), 4)
        self.assertEqual(servers[0:2], servers[2:4])
        self.assertEqual(sorted(servers[0:2]), sorted([a.url, b.url]))

    def test_a_host_name_becomes_one_server_per_address(self):
        # "localhost" is 127.0.0.1 here, and ::1 too where /etc/hosts says so: one server each
        # (the origin listens on 127.0.0.1 only, so a ::1 server refuses and is left out).
        a = Origin()
        url = "http://localhost:%d" % a.port
        self.start([], dead=[], servers=[url])
        addresses = {ai[4][0] for ai in socket.getaddrinfo("localhost", a.port,
                                                           type=socket.SOCK_STREAM)}
        for i in range(6):
            self.assertEqual(get(self.fc, uncached(i)).status, 200)
        self.assertEqual(served(a), 6)
        up = {k[1] for k in metrics(self.fc) if k[0] == "upstream_server_up"}
        if len(addresses) == 1:
            self.assertEqual(up, {url})
        else:
            self.assertEqual(up, {"%s (%s)" % (url, addr) for addr in addresses})
        a.close()

    def test_across_workers(self):
        a, b = Origin(), Origin()
        self.start([a, b], workers=2)
        for i in range(40):
            self.assertEqual(get(self.fc, uncached(i)).status, 200)
        # One shared rotation for both workers: an even split whichever worker accepted.
        self.assertEqual([served(a), served(b)], [20, 20])


class PassiveHealth(Servers):
    def test_a_down_server_costs_clients_nothing_and_is_left_out(self):
        a = Origin()
        dead = free_port_closed()
        dead_url = "http://127.0.0.1:%d" % dead
        self.start([a], dead=[dead], max_fails=2, fail_timeout="60s")
        # Every request is answered: a refused connect is tried on the other server.
        for i in range(20):
            self.assertEqual(get(self.fc, uncached(i)).status, 200)
        self.assertEqual(served(a), 20)
        m = metrics(self.fc)
        self.assertEqual(m[("upstream_server_up", dead_url)], 0)
        self.assertEqual(m[("upstream_server_up", a.url)], 1)
        # Two refused connects marked it down; after that nobody tried it.
        self.assertEqual(m[("upstream_server_failures_total", dead_url)], 2)
        self.assertEqual(m[("upstream_server_marked_down_total", dead_url)], 1)
        self.assertIn("marked down after 2 failures in a row", self.fc.log())

    def test_back_off_then_one_trial_then_back_in_rotation(self):
        a = Origin()
        port = free_port_closed()
        b_url = "http://127.0.0.1:%d" % port
        self.start([a], dead=[port], max_fails=1, fail_timeout="300ms")
        self.assertEqual(get(self.fc, uncached(0)).status, 200)  # marks b down (retried on a)
        self.assertEqual(get(self.fc, uncached(1)).status, 200)
        # While b stays down its trials fail and the wait doubles: 600 ms, then 1200 ms.
        i = 2

        def keep_asking(pattern):
            nonlocal i
            while pattern not in self.fc.log():
                self.assertEqual(get(self.fc, uncached(i)).status, 200)
                i += 1
                time.sleep(0.02)
                if i > 2000:
                    return False
            return True

        self.assertTrue(keep_asking("next try in 600 ms"), self.fc.log())
        self.assertTrue(keep_asking("next try in 1200 ms"), self.fc.log())
        self.assertEqual(served(a), i)  # no client saw the failed trials
        # b comes back on the same port: the next trial succeeds and b rejoins the rotation.
        b = Origin(port=port)
        self.addCleanup(b.close)
        self.assertTrue(wait_for(lambda: get(self.fc, uncached(10000)).status == 200 and
                                 served(b) > 0, timeout=10))
        self.assertTrue(wait_for(lambda: "answers again" in self.fc.log()))
        before_a, before_b = served(a), served(b)
        for k in range(20):
            self.assertEqual(get(self.fc, uncached(20000 + k)).status, 200)
        self.assertEqual((served(a) - before_a, served(b) - before_b), (10, 10))
        self.assertEqual(metrics(self.fc)[("upstream_server_up", b_url)], 1)

    def test_a_dropped_request_is_retried_on_the_other_server_when_idempotent(self):
        # a reads each request and closes the connection without a byte (a server dying under
        # its requests). GETs are sent again to b; a POST is not (it may have had an effect).
        a, b = Origin(), Origin()
        a.faults = {"/hello": "drop", "/echo": "drop"}
        self.start([a, b], max_fails=1000)
        for i in range(10):
            self.assertEqual(get(self.fc, uncached(i)).status, 200)
        self.assertEqual(served(b), 10)
        self.assertGreaterEqual(served(a), 4)  # every other first pick, at least
        posts = []
        for i in range(4):
            s = self.fc.connect()
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                      b"Connection: close\r\n\r\nhi")
            posts.append(Reader(s).response().status)
            s.close()
        self.assertEqual(sorted(posts), [200, 200, 502, 502])

    def test_read_timeouts_count_too(self):
        hung, ok = Origin(), Origin()
        hung.faults = {"/hello": "hang"}
        self.start([hung, ok], max_fails=2, fail_timeout="60s", read_timeout="300ms")
        statuses = [get(self.fc, uncached(i)).status for i in range(20)]
        # The two exchanges the hung server swallowed are answered 504 (the request reached the
        # application, so it is not sent again); after them it is left out.
        self.assertEqual(statuses.count(504), 2, statuses)
        self.assertEqual(statuses.count(200), 18)
        self.assertEqual(metrics(self.fc)[("upstream_server_up", hung.url)], 0)

    def test_every_server_down_gives_a_quick_502(self):
        p1, p2 = free_port_closed(), free_port_closed()
        self.start([], dead=[p1, p2], max_fails=1, fail_timeout="60s")
        first = get(self.fc, uncached(0))
        self.assertEqual(first.status, 502)  # both refused
        t0 = time.monotonic()
        second = get(self.fc, uncached(1))
        self.assertEqual(second.status, 502)
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertIn("no upstream server is available", self.fc.log())


class Reload(Servers):
    def sighup(self, edit):
        with open(self.fc.config_path) as f:
            cfg = f.read()
        with open(self.fc.config_path, "w") as f:
            f.write(edit(cfg))
        self.fc.proc.send_signal(signal.SIGHUP)

    def test_sighup_changes_the_rules_and_the_server_list(self):
        a = Origin()
        dead = free_port_closed()
        dead_url = "http://127.0.0.1:%d" % dead
        self.start([a], dead=[dead], max_fails=0)
        for i in range(6):
            self.assertEqual(get(self.fc, uncached(i)).status, 200)
        m = metrics(self.fc)
        self.assertEqual(m[("upstream_server_failures_total", dead_url)], 3)
        self.assertEqual(m[("upstream_server_up", dead_url)], 1)  # max_fails = 0: never out
        other = Origin()
        self.addCleanup(other.close)
        self.sighup(lambda cfg: cfg.replace("max_fails = 0", "max_fails = 1")
                    .replace('"%s"]' % dead_url, '"%s"]' % other.url))
        # The new server is checked (a connect), then takes its turns; the removed one is gone
        # (retired while another serves, no connection left to drain).
        statuses = []

        def swapped():
            statuses.append(get(self.fc, uncached(100 + len(statuses))).status)
            m = metrics(self.fc)
            return served(other) > 0 and ("upstream_server_up", dead_url) not in m

        self.assertTrue(wait_for(swapped, timeout=10), self.fc.log())
        self.assertEqual(set(statuses), {200})
        self.assertEqual(metrics(self.fc)[("upstream_server_up", other.url)], 1)

    def test_sighup_swapping_every_server_under_load_fails_no_request(self):
        # [a] becomes [b] while clients keep asking; a is shut down once b serves. The old list
        # serves until b has passed its check, so there is never a moment with no server.
        a, b = Origin(), Origin()
        self.addCleanup(b.close)
        self.start([a], max_fails=1, fail_timeout="60s")
        statuses, stop = [], threading.Event()

        def client(n):
            i = 0
            while not stop.is_set():
                statuses.append(get(self.fc, uncached(10000 * n + i)).status)
                i += 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.3)
            self.sighup(lambda cfg: cfg.replace('"%s"' % a.url, '"%s"' % b.url))
            self.assertTrue(wait_for(lambda: served(b) > 20, timeout=10), self.fc.log())
            a.close()  # the old server goes away for good
            before = len(statuses)
            self.assertTrue(wait_for(lambda: len(statuses) > before + 100, timeout=10))
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertGreater(len(statuses), 200)
        self.assertEqual(set(statuses), {200}, [s for s in statuses if s != 200][:5])


class ActiveHealth(Servers):
    def test_failing_check_takes_a_server_out_before_any_request_fails(self):
        a, b = Origin(), Origin()
        a.faults = {"/hello": "503"}  # a's health URL answers 503; /echo still works on it
        self.start([a, b], health_check="/hello", health_interval="100ms", max_fails=2)
        self.assertTrue(wait_for(lambda: metrics(self.fc)[("upstream_server_up", a.url)] == 0))
        self.assertIn("health check failed 2 time(s) in a row (status 503)", self.fc.log())
        for i in range(10):
            self.assertEqual(get(self.fc, "/echo?i=%d" % i).status, 200)
        self.assertEqual(served(a, "/echo"), 0)
        self.assertEqual(served(b, "/echo"), 10)
        # The check says who we are and which server it asks.
        with b.lock:
            checks = [h for m, t, h, _ in b.requests if t == "/hello"]
        self.assertGreater(len(checks), 0)
        self.assertIn(("Host", "127.0.0.1:%d" % b.port), checks[0])
        self.assertIn(("User-Agent", "frontcache-health-check"), checks[0])
        # Healthy again: back within an interval or two.

        a.faults = {}
        self.assertTrue(wait_for(lambda: metrics(self.fc)[("upstream_server_up", a.url)] == 1))
        for i in range(10):
            get(self.fc, "/echo?j=%d" % i)
        self.assertEqual(served(a, "/echo"), 5)

    def test_the_check_host_can_be_set(self):
        a, b = Origin(), Origin()
        self.start([a, b], health_check="/hello", health_interval="100ms",
                   health_check_host="www.example.com")
        self.assertTrue(wait_for(lambda: served(a) > 0 and served(b) > 0))
        with a.lock:
            self.assertIn(("Host", "www.example.com"), a.requests[0][2])

    def test_a_hung_check_times_out(self):
        a, b = Origin(), Origin()
        a.faults = {"/hello": "hang"}
        self.start([a, b], health_check="/hello", health_interval="100ms",
                   health_timeout="200ms", max_fails=1)
        self.assertTrue(wait_for(lambda: metrics(self.fc)[("upstream_server_up", a.url)] == 0))
        self.assertIn("no answer within health_timeout", self.fc.log())

    def test_a_restarted_server_returns_on_its_check_without_waiting_for_back_off(self):
        a = Origin()
        port = free_port_closed()
        self.start([a], dead=[port], max_fails=1, fail_timeout="600s", health_check="/hello",
                   health_interval="100ms")
        url = "http://127.0.0.1:%d" % port
        self.assertTrue(wait_for(lambda: metrics(self.fc)[("upstream_server_up", url)] == 0))
        b = Origin(port=port)
        self.addCleanup(b.close)
        self.assertTrue(wait_for(lambda: metrics(self.fc)[("upstream_server_up", url)] == 1))
        for i in range(10):
            self.assertEqual(get(self.fc, uncached(i)).status, 200)
        with b.lock:
            proxied = sum(1 for m, t, h, _ in b.requests if t.startswith("/hello?"))
        self.assertEqual(proxied, 5)

    def test_one_server_failing_its_check_answers_502_at_once_or_stale(self):
        a = Origin()
        self.fc = Frontcache(None, {"upstream": {"servers": [a.url], "health_check": "/status",
                                                 "health_interval": "100ms", "max_fails": 1},
                                    "admin": {"listen": "127.0.0.1:0"},
                                    "cache": {"grace": "0s", "stale_if_error": "600s"}})
        self.addCleanup(self.fc.stop)
        self.addCleanup(a.close)
        page = "/r/p;cc=max-age=10"
        self.assertEqual(get(self.fc, page).header("X-Cache"), "MISS")
        a.faults = {"/status": "500"}
        self.assertTrue(wait_for(lambda: metrics(self.fc)[("upstream_server_up", a.url)] == 0))
        before = len(a.requests)
        self.assertEqual(get(self.fc, "/echo").status, 502)
        self.fc.advance(30)  # the page expired; the app is marked sick: the stale copy answers
        stale = get(self.fc, page)
        self.assertEqual((stale.status, stale.header("X-Cache")), (200, "STALE"))
        with a.lock:
            self.assertEqual([t for m, t, h, _ in a.requests[before:] if t != "/status"], [])


if __name__ == "__main__":
    unittest.main()
