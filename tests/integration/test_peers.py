"""Purges that reach the fleet (issue #15): admin.peers forwards every purge and flush accepted by
one instance to the others' admin ports (marked, so never forwarded again), a peer that is down
is retried, logged and counted without delaying the purge, admin.token protects the admin port
and the forwarding, and pages in the shared cluster are deleted there once, not once per
instance."""

import json
import os
import socket
import subprocess
import time
import unittest

from harness import (BIN, Frontcache, Origin, Reader, free_port_closed, get_once, request,
                     wait_for)
from test_memcached_port import RealMemcached

TOKEN = "fleet-secret-1"


def admin(port, method, target, body=b"", token=TOKEN):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    auth = "Authorization: Bearer %s\r\n" % token if token else ""
    s.sendall(("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sContent-Length: %d\r\n\r\n"
               % (method, target, port, auth, len(body))).encode() + body)
    try:
        return Reader(s).response()
    finally:
        s.close()


def stats(port):
    return json.loads(admin(port, "GET", "/stats").body)


def mc_stats(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"stats\r\n")
    data = b""
    while not data.endswith(b"END\r\n"):
        data += s.recv(65536)
    s.close()
    return {k: v for _, k, v in (line.split(" ", 2) for line in data.decode().splitlines()
                                 if line.startswith("STAT "))}


class Fleet(unittest.TestCase):
    """Three instances, each listing the other two (and the first one a fourth that is down)."""

    def start_fleet(self, extra_cache=None, dead_peer=False):
        self.origin = Origin()
        self.ports = [free_port_closed() for _ in range(3)]
        self.dead = free_port_closed()
        self.fleet = []
        for i, port in enumerate(self.ports):
            peers = ["127.0.0.1:%d" % p for p in self.ports if p != port]
            if dead_peer and i == 0:
                peers.append("127.0.0.1:%d" % self.dead)
            sections = {"admin": {"listen": "127.0.0.1:%d" % port, "peers": peers,
                                  "token": TOKEN, "allow_purge_from": ["127.0.0.1"]},
                        "log": {"level": "info"}}
            if extra_cache:
                sections["cache"] = extra_cache
            self.fleet.append(Frontcache(self.origin.url, sections))

    def tearDown(self):
        for fc in getattr(self, "fleet", []):
            fc.stop()
        self.origin.close()

    def store_everywhere(self, path):
        for fc in self.fleet:
            get_once(fc, path)
        for fc in self.fleet:
            self.assertEqual(get_once(fc, path).header("X-Cache"), "HIT")

    def test_a_purge_on_one_instance_reaches_the_others_once(self):
        self.start_fleet()
        path = "/r/fleet;cc=max-age=600"
        self.store_everywhere(path)
        resp = admin(self.ports[0], "PURGE", path)
        self.assertEqual(json.loads(resp.body), {"purged": 1})
        for port in self.ports[1:]:
            wait_for(lambda: stats(port)["purged_total"] == 1, timeout=5)
        for fc in self.fleet:
            self.assertEqual(get_once(fc, path).header("X-Cache"), "MISS")
        time.sleep(0.3)  # give a wrongly re-forwarded purge time to show up
        # The first instance forwarded to both (counted once each peer answered); the others
        # forwarded nothing back.
        self.assertTrue(wait_for(lambda: sum(
            v for k, v in stats(self.ports[0]).items()
            if k.startswith("peer_forwards_total") and k.endswith("ok")) == 2, timeout=5))
        self.assertEqual(stats(self.ports[0])["purged_total"], 1)
        for port in self.ports[1:]:
            s = stats(port)
            self.assertEqual(sum(v for k, v in s.items() if k.startswith("peer_forwards_total")),
                             0)
        self.assertIn("(forwarded by a peer)", self.fleet[1].log())

    def test_a_public_purge_is_forwarded_from_the_worker(self):
        self.start_fleet()
        path = "/r/public;cc=max-age=600"
        self.store_everywhere(path)
        resp, r = request(self.fleet[2], "PURGE %s HTTP/1.1\r\nHost: site.test\r\n"
                                         "Connection: close\r\n\r\n" % path)
        r.sock.close()
        self.assertEqual(json.loads(resp.body), {"purged": 1})
        for port in self.ports[:2]:  # narrowed to the Host it was sent with, as here
            wait_for(lambda: stats(port)["purged_total"] == 1, timeout=5)
        self.assertEqual(get_once(self.fleet[0], path).header("X-Cache"), "MISS")

    def test_soft_purges_and_flushes_are_forwarded_too(self):
        self.start_fleet()
        path = "/r/soft-fleet;cc=max-age=600"
        self.store_everywhere(path)
        resp = admin(self.ports[1], "PURGE", path + "?soft=1")
        self.assertEqual(json.loads(resp.body), {"purged": 1, "expired": 1})
        for port in (self.ports[0], self.ports[2]):
            wait_for(lambda: stats(port)["soft_purged_total"] == 1, timeout=5)
        self.assertEqual(get_once(self.fleet[2], path).header("X-Cache"), "STALE")
        self.store_everywhere("/r/flushed")
        admin(self.ports[2], "POST", "/flush")
        for fc in self.fleet[:2]:  # a HIT until the forwarded flush arrives, then one MISS
            self.assertTrue(wait_for(
                lambda: get_once(fc, "/r/flushed").header("X-Cache") == "MISS", timeout=5))

    def test_a_peer_that_is_down_is_retried_logged_and_counted_without_delaying_the_purge(self):
        self.start_fleet(dead_peer=True)
        path = "/r/down;cc=max-age=600"
        self.store_everywhere(path)
        t0 = time.monotonic()
        resp = admin(self.ports[0], "PURGE", path)
        self.assertLess(time.monotonic() - t0, 0.5)
        self.assertEqual(json.loads(resp.body), {"purged": 1})
        for port in self.ports[1:]:
            wait_for(lambda: stats(port)["purged_total"] == 1, timeout=5)
        dead = "127_0_0_1_%d__result__failed" % self.dead
        # Five attempts, 100+200+400+800 ms apart.
        wait_for(lambda: stats(self.ports[0])["peer_forwards_total_" + dead] == 1, timeout=10)
        self.assertRegex(self.fleet[0].log(),
                         r"admin.peers: 127.0.0.1:%d: purge of 1 path\(s\) not forwarded after 5 "
                         r"attempt\(s\): connect: connection refused" % self.dead)
        # The instance goes on serving and purging.
        self.assertEqual(get_once(self.fleet[0], path).header("X-Cache"), "MISS")

    def test_the_token_is_required_and_forwarded(self):
        self.start_fleet()
        port = self.ports[0]
        for token in (None, "wrong", TOKEN + "x"):
            resp = admin(port, "GET", "/metrics", token=token)
            self.assertEqual(resp.status, 401, token)
            self.assertIn("Bearer", resp.header("WWW-Authenticate"))
            self.assertEqual(admin(port, "PURGE", "/x", token=token).status, 401)
        self.assertEqual(admin(port, "GET", "/health", token=None).status, 200)
        self.assertEqual(admin(port, "GET", "/metrics").status, 200)
        # frontcache top sends it too (--token or FRONTCACHE_ADMIN_TOKEN).
        top = [BIN, "top", "--once", "--admin", "127.0.0.1:%d" % port]
        without = subprocess.run(top, capture_output=True, text=True, timeout=30,
                                 env={k: v for k, v in os.environ.items()
                                      if k != "FRONTCACHE_ADMIN_TOKEN"})
        self.assertNotEqual(without.returncode, 0)
        self.assertIn("wants a token", without.stderr)
        with_env = subprocess.run(top, capture_output=True, text=True, timeout=30,
                                  env=dict(os.environ, FRONTCACHE_ADMIN_TOKEN=TOKEN))
        self.assertEqual(with_env.returncode, 0, with_env.stderr)
        self.assertIn("frontcache top", with_env.stdout)
        # The forwarded purges were accepted by peers that want the token: counted "ok".
        self.store_everywhere("/r/tok")
        admin(port, "PURGE", "/r/tok")
        wait_for(lambda: stats(self.ports[2])["purged_total"] == 1, timeout=5)


class FleetWithWrongToken(unittest.TestCase):
    def test_a_peer_that_refuses_the_token_is_not_retried_forever(self):
        origin = Origin()
        port_b = free_port_closed()
        a = Frontcache(origin.url, {"admin": {"listen": "127.0.0.1:0",
                                              "peers": ["127.0.0.1:%d" % port_b],
                                              "token": "one"}, "log": {"level": "info"}})
        b = Frontcache(origin.url, {"admin": {"listen": "127.0.0.1:%d" % port_b,
                                              "token": "two"}})
        try:
            admin(a.extra_ports["admin"], "PURGE", "/x", token="one")
            wait_for(lambda: "status 401" in a.log(), timeout=5)
            self.assertRegex(a.log(), r"not forwarded after 1 attempt\(s\): status 401")
        finally:
            a.stop()
            b.stop()
            origin.close()


class FleetOnASharedCluster(unittest.TestCase):
    def test_shared_copies_are_deleted_once(self):
        mc = RealMemcached()
        try:
            self_ports = None
            t = Fleet()
            t.start_fleet(extra_cache={"shared_servers": ["127.0.0.1:%d" % mc.port]})
            self_ports = t.ports
            try:
                path = "/r/shared-fleet;cc=max-age=600"
                for fc in t.fleet:
                    get_once(fc, path)
                wait_for(lambda: mc_stats(mc.port)["cmd_set"] != "0", timeout=5)
                before = mc_stats(mc.port)
                admin(self_ports[0], "PURGE", path)
                for port in self_ports[1:]:
                    wait_for(lambda: stats(port)["purged_total"] == 1, timeout=5)
                time.sleep(0.5)  # the deletes run off the loops
                after = mc_stats(mc.port)
                deletes = (int(after["delete_hits"]) + int(after["delete_misses"]) -
                           int(before["delete_hits"]) - int(before["delete_misses"]))
                self.assertEqual(deletes, 2)  # the page and its header key, by the first only
                self.assertEqual(int(after["delete_hits"]) - int(before["delete_hits"]), 2)
                fresh = get_once(t.fleet[0], path)
                self.assertEqual(fresh.header("X-Cache"), "MISS")
                # The others' copies are gone too: they get the new render (through the cluster
                # once the first stored it), never the purged one.
                # Both its sets (the page, then its header key) must have reached the cluster.
                wait_for(lambda: int(mc_stats(mc.port)["cmd_set"]) >= int(after["cmd_set"]) + 2,
                         timeout=5)
                for fc in t.fleet[1:]:
                    self.assertEqual(get_once(fc, path).body, fresh.body)
            finally:
                for fc in t.fleet:
                    fc.stop()
                t.origin.close()
        finally:
            mc.stop()


if __name__ == "__main__":
    unittest.main()
