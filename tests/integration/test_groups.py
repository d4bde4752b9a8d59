"""Cache groups (issue #24, RFC 9875): responses name their groups in Cache-Groups or in the
aliases CDNs made popular (Surrogate-Key, Cache-Tag, xkey; removed before the response leaves);
POST /purge?group=G on the admin port, a public PURGE carrying Cache-Group-Invalidation, and
Cache-Group-Invalidation on an answer to an unsafe method purge the group's pages on one host
(or every host from the admin port), hard or soft; GET /groups lists them. Purges by group reach
admin.peers and the shared memcached cluster as path purges do, and survive a warm restart from
a snapshot (the index is rebuilt from the restored pages). Real processes on loopback."""

import json
import os
import signal
import socket
import tempfile
import time
import unittest
import urllib.parse

from harness import Frontcache, Origin, Reader, admin_request, free_port_closed, wait_for
from test_memcached_port import RealMemcached
from test_peers import mc_stats
from test_shared import mc_get

FIELDS = {"cg": "Cache-Groups", "sk": "Surrogate-Key", "ct": "Cache-Tag", "xk": "xkey",
          "cgi": "Cache-Group-Invalidation"}


# A grace window in both modes (http mode has none without stale-while-revalidate).
SWR = "max-age=600, stale-while-revalidate=60"


def group_origin():
    """An origin whose /g answers carry the fields its query names (cg=, sk=, ct=, xk=, cgi=;
    percent-encoded; or a request's X-Cgi as Cache-Group-Invalidation), cacheable for 10 minutes unless cc= says otherwise, status= for another
    status; each answer's body counts the renders."""
    origin = Origin()
    renders = [0]

    def answer(method, target, headers):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
        renders[0] += 1
        fields = [("Cache-Control", q.get("cc", ["max-age=600"])[0])]
        for short, name in FIELDS.items():
            for v in q.get(short, []):
                fields.append((name, v))
        for n, v in headers:  # a long list comes in a request field (a target is limited)
            if n.lower() == "x-cgi":
                fields.append(("Cache-Group-Invalidation", v))
        status = int(q.get("status", ["200"])[0])
        return status, fields, ("%s render %d" % (method, renders[0])).encode()
    origin.scripts["/g"] = answer
    return origin


def page(groups=None, sk=None, ct=None, xk=None, name="p", cc=None):
    """The target of a /g page with these fields."""
    q = [("n", name)]
    if groups is not None:
        q.append(("cg", groups))
    for short, v in (("sk", sk), ("ct", ct), ("xk", xk), ("cc", cc)):
        if v is not None:
            q.append((short, v))
    return "/g?" + urllib.parse.urlencode(q)


def send(fc, method, target, host="site.test", extra=""):
    s = fc.connect(timeout=20)
    s.sendall(("%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n"
               % (method, target, host, extra)).encode())
    try:
        return Reader(s).response()
    finally:
        s.close()


def status_of(fc, target, host="site.test"):
    return send(fc, "GET", target, host).header("X-Cache")


def admin(fc, method, target, body=b""):
    return admin_request(fc.extra_ports["admin"], method, target, body)


def purge_groups(fc, *groups, extra=""):
    q = "&".join("group=" + urllib.parse.quote(g, safe="") for g in groups)
    resp = admin(fc, "POST", "/purge?" + q + extra)
    assert resp.status == 200, resp
    return json.loads(resp.body)


def stats(fc):
    return json.loads(admin(fc, "GET", "/stats").body)


class Groups(unittest.TestCase):
    MODE = "django"

    def setUp(self):
        self.origin = group_origin()
        self.fc = Frontcache(self.origin.url, {
            "cache": {"mode": self.MODE, "query_strings": "key"},
            "admin": {"listen": "127.0.0.1:0", "allow_purge_from": ["127.0.0.1"]}}, workers=2)

    def tearDown(self):
        self.assertEqual(self.fc.stop(), 0)
        self.origin.close()

    def store(self, *targets, host="site.test"):
        for t in targets:
            self.assertEqual(status_of(self.fc, t, host), "MISS", t)
            self.assertEqual(status_of(self.fc, t, host), "HIT", t)

    def test_a_group_purge_removes_exactly_its_pages(self):
        a = page('"news"', name="a")
        b = page('"news", "sport"', name="b")
        c = page('"sport"', name="c")
        near = [page('"newsx"', name="d"), page('"News"', name="e"), page('"new"', name="f"),
                page('"news "', name="g")]
        self.store(a, b, c, *near)
        self.assertEqual(purge_groups(self.fc, "news"), {"purged": 2})
        self.assertEqual(status_of(self.fc, a), "MISS")
        self.assertEqual(status_of(self.fc, b), "MISS")
        for t in [c] + near:  # "news" never purges "newsx", "News", "new" or "news "
            self.assertEqual(status_of(self.fc, t), "HIT", t)
        self.assertEqual(purge_groups(self.fc, "sport", "News"), {"purged": 3})  # b is back
        self.assertEqual(purge_groups(self.fc, "nothing"), {"purged": 0})
        s = stats(self.fc)
        self.assertEqual(s["group_purges_total"], 3)
        self.assertEqual(s["group_purged_pages_total"], 5)
        self.assertEqual(s["purged_total"], 5)

    def test_aliases_are_read_and_stripped(self):
        targets = {"sk": page(sk="tag-a  shared", name="sk"), "ct": page(ct="tag-b, shared",
                                                                          name="ct"),
                   "xk": page(xk="tag-c shared", name="xk"),
                   "cg": page('"tag-d", "shared"', name="cg")}
        for t in targets.values():
            for _ in range(2):
                r = send(self.fc, "GET", t)
                self.assertEqual(r.status, 200)
                for alias in ("Surrogate-Key", "Cache-Tag", "xkey"):
                    self.assertIsNone(r.header(alias), (t, r.headers))
        self.assertEqual(send(self.fc, "GET", targets["cg"]).header("Cache-Groups"),
                         '"tag-d", "shared"')  # the standard field is kept
        for group, key in (("tag-a", "sk"), ("tag-b", "ct"), ("tag-c", "xk")):
            self.assertEqual(purge_groups(self.fc, group), {"purged": 1}, group)
            self.assertEqual(status_of(self.fc, targets[key]), "MISS")
        self.assertEqual(purge_groups(self.fc, "shared"), {"purged": 4})

    def test_soft_purge_by_group(self):
        a = page('"soft"', name="a", cc=SWR)
        b = page('"soft"', name="b", cc="max-age=600, must-revalidate")
        self.store(a, b)
        self.assertEqual(purge_groups(self.fc, "soft", extra="&soft=1"),
                         {"purged": 2, "expired": 1})
        self.assertEqual(status_of(self.fc, a), "STALE")  # while one fetch renews it
        self.assertEqual(status_of(self.fc, b), "MISS")  # no grace: removed
        self.assertTrue(wait_for(lambda: status_of(self.fc, a) == "HIT", timeout=5))
        # The renewed page is in the group again.
        self.assertEqual(purge_groups(self.fc, "soft"), {"purged": 2})

    def test_groups_belong_to_the_host(self):
        t = page('"shared-name"')
        self.store(t, host="a.test")
        self.store(t, host="b.test")
        self.assertEqual(purge_groups(self.fc, "shared-name", extra="&host=a.test"),
                         {"purged": 1})
        self.assertEqual(status_of(self.fc, t, "a.test"), "MISS")
        self.assertEqual(status_of(self.fc, t, "b.test"), "HIT")
        self.assertEqual(purge_groups(self.fc, "shared-name"), {"purged": 2})  # every host

    def test_cache_group_invalidation_on_an_unsafe_method(self):
        a, b = page('"articles"', name="a"), page('"articles"', name="b")
        self.store(a, b)
        inv = "/g?" + urllib.parse.urlencode({"cgi": '"articles"'})
        # A safe method's answer invalidates nothing (RFC 9875 §3), nor an error.
        self.assertEqual(send(self.fc, "GET", inv + "&n=get").status, 200)
        self.assertEqual(send(self.fc, "POST", inv + "&status=500").status, 500)
        self.assertEqual(status_of(self.fc, a), "HIT")
        # Another host's POST leaves this host's pages alone.
        self.assertEqual(send(self.fc, "POST", inv, host="other.test").status, 200)
        self.assertEqual(status_of(self.fc, a), "HIT")
        self.assertEqual(send(self.fc, "POST", inv).status, 200)
        self.assertEqual(status_of(self.fc, a), "MISS")
        self.assertEqual(status_of(self.fc, b), "MISS")
        self.assertEqual(send(self.fc, "DELETE", inv).status, 200)
        self.assertEqual(status_of(self.fc, a), "MISS")
        # Every invalidating answer purged (the other host's found nothing).
        self.assertEqual(stats(self.fc)["group_purges_total"], 3)

    def test_public_purge_with_the_header(self):
        a, b = page('"pub"', name="a", cc=SWR), page('"pub"', name="b", cc=SWR)
        self.store(a, b)
        self.store(a, host="elsewhere.test")
        r = send(self.fc, "PURGE", "/", extra='Cache-Group-Invalidation: "pub"\r\n')
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body), {"purged": 2})
        self.assertEqual(status_of(self.fc, a), "MISS")
        self.assertEqual(status_of(self.fc, a, "elsewhere.test"), "HIT")  # the Host's only
        r = send(self.fc, "PURGE", "/", extra='Cache-Group-Invalidation: "pub"\r\nSoft-Purge: 1\r\n')
        self.assertEqual(json.loads(r.body), {"purged": 1, "expired": 1})  # a, stored again
        r = send(self.fc, "PURGE", "/", extra="Cache-Group-Invalidation: pub, (\r\n")
        self.assertEqual(r.status, 400)

    def test_groups_listing(self):
        a, b = page('"list"', name="a"), page('"list", "other"', name="b")
        self.store(a, b)
        listing = json.loads(admin(self.fc, "GET", "/groups?group=list").body)
        g = listing["groups"][0]
        self.assertEqual(g["group"], "list")
        self.assertEqual(g["pages"], 2)
        uris = sorted(u["uri"] for u in g["uris"])
        self.assertEqual(uris, sorted("http://site.test" + t for t in (a, b)))
        for u in g["uris"]:
            self.assertEqual(u["variants"], 1)
            self.assertEqual(len(u["keys"]), 1)
        top = json.loads(admin(self.fc, "GET", "/groups").body)
        self.assertEqual(top["groups"], 2)
        self.assertEqual(top["entries"], 3)
        self.assertEqual(top["top"][0], {"group": "list", "host": "site.test", "pages": 2})
        self.assertEqual(json.loads(admin(self.fc, "GET", "/groups?group=list&host=x.test").body)
                         ["groups"][0]["pages"], 0)
        metrics = admin(self.fc, "GET", "/metrics").body.decode()
        self.assertIn("frontcache_cache_groups 2\n", metrics)

    def test_hostile_fields_are_bounded_and_counted(self):
        many = ", ".join('"g%d"' % i for i in range(200))
        long_one = '"%s", "ok-long"' % ("x" * 300)
        self.store(page(many, name="many"), page(long_one, name="long"),
                   page('"a", (', name="bad"))
        s = stats(self.fc)
        self.assertEqual(s["group_fields_ignored_total_too_many"], 72)
        self.assertEqual(s["group_fields_ignored_total_too_long"], 1)
        self.assertEqual(s["group_fields_ignored_total_invalid"], 1)
        self.assertEqual(purge_groups(self.fc, "g127"), {"purged": 1})
        self.assertEqual(purge_groups(self.fc, "g128"), {"purged": 0})
        self.assertEqual(purge_groups(self.fc, "ok-long"), {"purged": 1})
        self.assertEqual(purge_groups(self.fc, "a"), {"purged": 0})  # the invalid field: none

    def test_flush_empties_the_index(self):
        self.store(page('"f"', name="a"))
        self.assertEqual(admin(self.fc, "POST", "/flush").status, 200)
        self.assertEqual(json.loads(admin(self.fc, "GET", "/groups").body)["groups"], 0)
        self.store(page('"f"', name="a"))
        self.assertEqual(purge_groups(self.fc, "f"), {"purged": 1})


class GroupsHttpMode(Groups):
    MODE = "http"


class ForwardedAliases(unittest.TestCase):
    def test_aliases_kept_when_asked_not_read_when_not_listed_and_public_purge_refused(self):
        origin = group_origin()
        fc = Frontcache(origin.url, {
            "cache": {"query_strings": "key", "forward_group_aliases": True,
                      "group_fields": ["Cache-Groups", "Surrogate-Key"]},
            "admin": {"listen": "127.0.0.1:0"}})
        try:
            t = page(sk="k1", ct="k2", name="fw")
            for _ in range(2):
                r = send(fc, "GET", t)
                self.assertEqual(r.header("Surrogate-Key"), "k1")
                self.assertEqual(r.header("Cache-Tag"), "k2")
            self.assertEqual(purge_groups(fc, "k2"), {"purged": 0})  # Cache-Tag not listed
            # No admin.allow_purge_from here: a public PURGE is refused, nothing purged.
            r = send(fc, "PURGE", "/", extra='Cache-Group-Invalidation: "k1"\r\n')
            self.assertEqual(r.status, 405)
            self.assertEqual(status_of(fc, t), "HIT")
            self.assertEqual(purge_groups(fc, "k1"), {"purged": 1})
        finally:
            fc.stop()
            origin.close()


class GroupsInAFleet(unittest.TestCase):
    """Three instances listing each other, on one real memcached as the shared cluster."""

    def test_peers_and_the_shared_cluster(self):
        mc = RealMemcached()
        origin = group_origin()
        ports = [free_port_closed() for _ in range(3)]
        fleet = []
        try:
            for port in ports:
                fleet.append(Frontcache(origin.url, {
                    "cache": {"query_strings": "key",
                              "shared_servers": ["127.0.0.1:%d" % mc.port]},
                    "admin": {"listen": "127.0.0.1:%d" % port, "allow_purge_from": ["127.0.0.1"],
                              "peers": ["127.0.0.1:%d" % p for p in ports if p != port]},
                    "log": {"level": "info"}}))
            a, b = page('"fleet"', name="a", cc=SWR), page('"fleet"', name="b", cc=SWR)
            for fc in fleet:
                for t in (a, b):
                    send(fc, "GET", t)
            for fc in fleet:
                for t in (a, b):
                    self.assertEqual(status_of(fc, t), "HIT")
            old_body = send(fleet[1], "GET", a).body
            listing = json.loads(admin(fleet[0], "GET", "/groups?group=fleet").body)
            keys = [k for u in listing["groups"][0]["uris"] for k in u["keys"]]
            self.assertEqual(len(keys), 2)
            self.assertTrue(wait_for(lambda: all(mc_get(mc.port, k) for k in keys), timeout=5))
            self.assertTrue(wait_for(lambda: int(mc_stats(mc.port)["cmd_set"]) >= 4, timeout=5))
            time.sleep(0.3)  # the stores run off the loops, after the answers
            before = mc_stats(mc.port)
            self.assertEqual(purge_groups(fleet[0], "fleet"), {"purged": 2})
            for fc in fleet[1:]:
                self.assertTrue(wait_for(lambda: stats(fc)["group_purged_pages_total"] == 2,
                                         timeout=5))
                self.assertIn("(forwarded by a peer)", fc.log())
            self.assertTrue(wait_for(lambda: not any(mc_get(mc.port, k) for k in keys),
                                     timeout=5))
            time.sleep(0.5)  # a peer deleting the keys again would show by now
            after = mc_stats(mc.port)
            deletes = sum(int(after[k]) - int(before[k]) for k in ("delete_hits", "delete_misses"))
            # The two pages and their header keys, deleted by the first instance only: the
            # forwarded purge named them.
            self.assertEqual(deletes, 4)
            # No instance answers the purged render again (the first refetches; the others may
            # find its new copy in the cluster).
            for fc in fleet:
                self.assertNotEqual(send(fc, "GET", a).body, old_body)
            # A public PURGE with the header, soft, from the last instance.
            self.assertTrue(wait_for(lambda: all(mc_get(mc.port, k) for k in keys[:1]), timeout=5))
            for fc in fleet:
                send(fc, "GET", b)
            r = send(fleet[2], "PURGE", "/", extra='Cache-Group-Invalidation: "fleet"\r\n'
                                                   'Soft-Purge: 1\r\n')
            self.assertEqual(json.loads(r.body)["purged"], 2)
            for fc in fleet[:2]:
                self.assertTrue(wait_for(lambda: stats(fc)["soft_purged_total"] == 2, timeout=5))
        finally:
            for fc in fleet:
                fc.stop()
            origin.close()
            mc.stop()


class LongGroupListsReachPeers(unittest.TestCase):
    def test_a_purge_of_many_long_groups_is_forwarded_in_pieces(self):
        origin = group_origin()
        ports = [free_port_closed() for _ in range(2)]
        fleet = []
        try:
            for port in ports:
                fleet.append(Frontcache(origin.url, {
                    "server": {"max_header_size": "64KiB"},
                    "cache": {"query_strings": "key"},
                    "admin": {"listen": "127.0.0.1:%d" % port,
                              "peers": ["127.0.0.1:%d" % p for p in ports if p != port]}}))
            groups = ["g%02d-" % i + "x" * 246 for i in range(30)]  # 7.5 KB of query
            last = page('"%s"' % groups[-1], name="last")
            first = page('"%s"' % groups[0], name="first")
            for t in (first, last):
                send(fleet[1], "GET", t)
                self.assertEqual(status_of(fleet[1], t), "HIT")
            self.assertEqual(purge_groups(fleet[0], *groups), {"purged": 0})
            # More than the admin port reads in one target: sent as two messages, both applied.
            self.assertTrue(wait_for(lambda: stats(fleet[1])["group_purges_total"] == 2,
                                     timeout=5))
            self.assertEqual(stats(fleet[1])["group_purged_pages_total"], 2)
            self.assertEqual(status_of(fleet[1], first), "MISS")
            self.assertEqual(status_of(fleet[1], last), "MISS")
            # The application's own list can be longer than any one admin request: 100 groups,
            # 25 KB, in a Cache-Group-Invalidation relayed by the first instance.
            many = ["h%03d-" % i + "y" * 245 for i in range(100)]
            tail = page('"%s"' % many[-1], name="tail")
            send(fleet[1], "GET", tail)
            self.assertEqual(status_of(fleet[1], tail), "HIT")
            cgi = ", ".join('"%s"' % g for g in many)
            self.assertEqual(send(fleet[0], "POST", "/g?n=inv", extra="X-Cgi: %s\r\n" % cgi)
                             .status, 200)
            self.assertTrue(wait_for(lambda: status_of(fleet[1], tail) == "MISS", timeout=5))
            self.assertNotIn("not forwarded", fleet[0].log())
        finally:
            for fc in fleet:
                fc.stop()
            origin.close()


class GroupsAfterAWarmRestart(unittest.TestCase):
    def test_the_index_is_rebuilt_from_the_snapshot(self):
        tmp = tempfile.TemporaryDirectory(prefix="fc-groups-")
        snap = os.path.join(tmp.name, "store.snap")
        origin = group_origin()
        sections = {"cache": {"query_strings": "key", "snapshot": snap,
                              "snapshot_interval": "0s"},
                    "admin": {"listen": "127.0.0.1:0"}, "log": {"level": "info"}}
        fc = Frontcache(origin.url, sections)
        try:
            targets = [page('"restart", "n%d"' % i, name=str(i)) for i in range(20)]
            for t in targets:
                send(fc, "GET", t)
            fc.proc.send_signal(signal.SIGTERM)
            fc.proc.wait(30)
            self.assertEqual(fc.stop(), 0)
            fc = Frontcache(origin.url, sections)
            self.assertRegex(fc.log(), r"snapshot: restored 40 items")
            self.assertEqual(json.loads(admin(fc, "GET", "/groups").body)["groups"], 21)
            self.assertEqual(status_of(fc, targets[3]), "HIT")
            self.assertEqual(purge_groups(fc, "n3"), {"purged": 1})
            self.assertEqual(purge_groups(fc, "restart"), {"purged": 19})
            for t in targets:
                self.assertEqual(status_of(fc, t), "MISS")
        finally:
            fc.stop()
            origin.close()
            tmp.cleanup()


if __name__ == "__main__":
    unittest.main()


class HostileHostsInAFleet(unittest.TestCase):
    """A client's Host travels to the peers as a value, never as more of the query; a purge of
    every host stays one on each peer, whatever name the admin port is reached by."""

    def test_a_host_with_ampersands_purges_no_other_group_on_the_peers(self):
        origin = group_origin()
        ports = [free_port_closed() for _ in range(2)]
        fleet = []
        try:
            for port in ports:
                fleet.append(Frontcache(origin.url, {
                    "cache": {"query_strings": "key"},
                    "admin": {"listen": "127.0.0.1:%d" % port,
                              "peers": ["127.0.0.1:%d" % p for p in ports if p != port]}}))
            home = page('"home"', name="home")
            send(fleet[1], "GET", home)
            self.assertEqual(status_of(fleet[1], home), "HIT")
            # The app invalidates its own group "x" for a Host the client made up.
            resp = send(fleet[0], "POST", "/g?n=inv&cgi=%22x%22", host="&group=home")
            self.assertEqual(resp.status, 200)
            self.assertTrue(wait_for(lambda: stats(fleet[1])["group_purges_total"] >= 1,
                                     timeout=5))
            self.assertEqual(status_of(fleet[1], home), "HIT")
            # An every-host purge sent to the admin port by another name than it was bound to.
            with socket.create_connection(("127.0.0.1", ports[0])) as s:
                s.sendall(("POST /purge?group=home HTTP/1.1\r\nHost: localhost:%d\r\n"
                           "Content-Length: 0\r\nConnection: close\r\n\r\n" % ports[0]).encode())
                self.assertIn(b'"purged": 0', s.recv(4096))  # none here; one on the peer
            self.assertTrue(wait_for(lambda: status_of(fleet[1], home) == "MISS", timeout=5))
        finally:
            for fc in fleet:
                fc.stop()
            origin.close()


class PagesOnlyTheClusterHolds(unittest.TestCase):
    """A page stored in the shared cluster by one instance and held by no other: a purge by its
    group on another instance keeps that instance from taking the cluster's copy afterwards."""

    def test_a_purged_group_is_not_taken_from_the_cluster(self):
        mc = RealMemcached()
        self.addCleanup(mc.stop)
        origin = group_origin()
        self.addCleanup(origin.close)
        fleet = [Frontcache(origin.url, {
            "cache": {"query_strings": "key", "shared_servers": ["127.0.0.1:%d" % mc.port]},
            "admin": {"listen": "127.0.0.1:0"}}) for _ in range(2)]
        for fc in fleet:
            self.addCleanup(fc.stop)
        t = page('"article:1"', name="one")
        other = page('"article:2"', name="two")
        first = send(fleet[0], "GET", t)
        send(fleet[0], "GET", other)
        fleet[1].advance(2)  # the purge comes a while after the page was stored
        self.assertEqual(purge_groups(fleet[1], "article:1"), {"purged": 0})  # none here
        again = send(fleet[1], "GET", t)
        self.assertEqual(again.header("X-Cache"), "MISS")
        self.assertNotEqual(again.body, first.body)  # a new render, not the cluster's old copy
        # Another group's page is still taken from the cluster.
        self.assertEqual(send(fleet[1], "GET", other).header("X-Cache"), "HIT")
