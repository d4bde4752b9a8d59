"""Cache groups end to end (issue #24, RFC 9875): a real Django site (Debian's python3-django under
gunicorn) whose article pages declare groups with frontcache_django (contrib/django), three
frontcache instances that forward purges to each other (admin.peers) in front of it, sharing a
memcached cluster (cache.shared_servers).

The site (tests/django_site, FCSITE_DB set) serves
  /articles/            groups "index" and "article:ID" for each article it shows
  /articles/ID          "article:ID"
  /articles/tag/T       "tag:T" and "article:ID" for each article it shows
and POST /articles/ID/edit saves an article; frontcache_django's model signal then purges the
article's groups, before and after the save, through the admin port of ONE instance (the only
URL in FRONTCACHE_ADMIN_URLS), which forwards the purge to the others and deletes the pages from
the cluster.

Saving article 1 (tags python,django -> python,web) must purge exactly its page, the index and
the tag pages python, django (it was there) and web (it is there now) — on all three instances
and in the cluster — and nothing else: the other articles and tags stay HITs with the copies
rendered before."""

import json
import os
import socket
import subprocess
import tempfile
import unittest
import urllib.parse

from harness import Frontcache, Reader, free_port_closed, get_once, wait_for
from test_django_passthrough import SITE, Gunicorn
from test_memcached_port import RealMemcached
from test_peers import TOKEN, admin, stats
from test_shared import mc_get

CONTRIB = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                        "contrib", "django"))

PURGED = ["/articles/", "/articles/1", "/articles/tag/python", "/articles/tag/django",
          "/articles/tag/web"]
KEPT = ["/articles/2", "/articles/3", "/articles/4", "/articles/tag/rust", "/articles/tag/go"]

# What each page declares (read from the app directly, before frontcache is involved).
DECLARED = {
    "/articles/": ["index", "article:1", "article:2", "article:3", "article:4"],
    "/articles/1": ["article:1"],
    "/articles/tag/python": ["tag:python", "article:1", "article:2"],
    "/articles/tag/django": ["tag:django", "article:1"],
    "/articles/tag/web": ["tag:web"],
    "/articles/2": ["article:2"],
    "/articles/3": ["article:3"],
    "/articles/4": ["article:4"],
    "/articles/tag/rust": ["tag:rust", "article:3", "article:4"],
    "/articles/tag/go": ["tag:go", "article:4"],
}


def direct(port, method, path, body=""):
    """One request straight to the app (or to a frontcache public port)."""
    s = socket.create_connection(("127.0.0.1", port), 20)
    head = "%s %s HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n" % (method, path)
    if method == "POST":
        head += ("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n"
                 % len(body))
    s.sendall((head + "\r\n" + body).encode())
    try:
        return Reader(s).response()
    finally:
        s.close()


def variants(fc_admin_port, path):
    """The stored variants of `path` in one instance's own store (its admin /variants)."""
    r = admin(fc_admin_port, "GET", "/variants?path=" + urllib.parse.quote(path, safe="/"))
    assert r.status == 200, (r.status, r.body)
    return json.loads(r.body)


class DjangoGroupsAcrossAFleet(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="fc-groups-")
        self.addCleanup(self.tmp.cleanup)
        env = {"FCSITE_DB": os.path.join(self.tmp.name, "site.sqlite3"),
               "PYTHONPATH": os.pathsep.join([SITE, CONTRIB])}
        seeded = subprocess.run(["/usr/bin/python3", "-m", "django", "seed_articles"], cwd=SITE,
                                env=dict(os.environ, DJANGO_SETTINGS_MODULE="fcsite.settings",
                                         PYTHONDONTWRITEBYTECODE="1", **env),
                                capture_output=True, text=True, timeout=120)
        self.assertEqual(seeded.returncode, 0, seeded.stderr)
        self.mc = RealMemcached()
        self.addCleanup(self.mc.stop)
        self.admin_ports = [free_port_closed() for _ in range(3)]
        # Only the first instance's admin port is given to the app.
        self.app = Gunicorn(workers=1, env=dict(
            env, FCSITE_FRONTCACHE_ADMIN="http://127.0.0.1:%d" % self.admin_ports[0],
            FCSITE_FRONTCACHE_TOKEN=TOKEN))
        self.addCleanup(self.app.stop)
        self.fleet = []
        for port in self.admin_ports:
            sections = {"admin": {"listen": "127.0.0.1:%d" % port, "token": TOKEN,
                                  "peers": ["127.0.0.1:%d" % p for p in self.admin_ports
                                            if p != port]},
                        "cache": {"shared_servers": ["127.0.0.1:%d" % self.mc.port]}}
            fc = Frontcache(self.app.url, sections)
            self.addCleanup(fc.stop)
            self.fleet.append(fc)

    def stored_here(self, i, path):
        return variants(self.admin_ports[i], path)["variants"]

    def shared_stores(self):
        """Pages the first instance has written to the cluster (counted once both of a page's
        keys are there)."""
        return stats(self.admin_ports[0])["shared_stores_total"]

    def test_saving_an_article_purges_exactly_its_pages_everywhere(self):
        # The app declares what the test expects (no frontcache in between).
        for path, groups in DECLARED.items():
            got = direct(self.app.port, "GET", path)
            self.assertEqual(got.status, 200, path)
            self.assertEqual(got.header("Cache-Groups"),
                             ", ".join('"%s"' % g for g in groups), path)

        # Warm every page: a MISS on the first instance, then a HIT there; the others are
        # served from the cluster once it holds the page (and keep a copy of their own).
        pages = PURGED + KEPT
        bodies, keys = {}, {}
        for path in pages:
            before = self.shared_stores()
            first = get_once(self.fleet[0], path)
            self.assertEqual((first.status, first.header("X-Cache")), (200, "MISS"), path)
            self.assertTrue(wait_for(lambda: self.shared_stores() == before + 1),
                            "%s never reached the cluster" % path)
            stored = variants(self.admin_ports[0], path)
            self.assertEqual(stored["variants"], 1, (path, stored))
            keys[path] = stored["stored"][0]["key"]
            self.assertIsNotNone(mc_get(self.mc.port, keys[path]), path)
            bodies[path] = first.body
            for fc in self.fleet:
                again = get_once(fc, path)
                self.assertEqual(again.header("X-Cache"), "HIT", path)
                self.assertEqual(again.body, first.body, path)
            for i in range(3):
                self.assertEqual(self.stored_here(i, path), 1, (i, path))

        # Save article 1 through the app, by way of the third instance: the model signal
        # purges through the first instance's admin port only.
        saved = direct(self.fleet[2].port, "POST", "/articles/1/edit",
                       "title=Edited&tags=python%2Cweb")
        self.assertEqual(saved.status, 200, saved.body)
        self.assertEqual(json.loads(saved.body)["saved"], 1)

        # Gone from every instance's own store (the peers get it forwarded) and from the
        # cluster.
        for i in range(3):
            for path in PURGED:
                self.assertTrue(wait_for(lambda: self.stored_here(i, path) == 0),
                                "instance %d still holds %s" % (i, path))
        for path in PURGED:
            self.assertTrue(wait_for(lambda: mc_get(self.mc.port, keys[path]) is None),
                            "the cluster still holds %s" % path)
        # Nothing else: every other page is still stored everywhere and in the cluster.
        for path in KEPT:
            for i in range(3):
                self.assertEqual(self.stored_here(i, path), 1, (i, path))
            self.assertIsNotNone(mc_get(self.mc.port, keys[path]), path)

        # The purged pages: a MISS with a new render showing the change; once the cluster has
        # the new copy the others serve it, never the purged one.
        for path in PURGED:
            before = self.shared_stores()
            fresh = get_once(self.fleet[0], path)
            self.assertEqual((fresh.status, fresh.header("X-Cache")), (200, "MISS"), path)
            self.assertNotEqual(fresh.body, bodies[path], path)
            self.assertTrue(wait_for(lambda: self.shared_stores() == before + 1), path)
            for fc in self.fleet[1:]:
                other = get_once(fc, path)
                self.assertEqual(other.header("X-Cache"), "HIT", path)
                self.assertEqual(other.body, fresh.body, path)
        self.assertIn(b"<h1>Edited</h1>", get_once(self.fleet[1], "/articles/1").body)
        self.assertNotIn(b"Edited", get_once(self.fleet[2], "/articles/tag/django").body)
        self.assertIn(b"Edited", get_once(self.fleet[0], "/articles/tag/web").body)
        self.assertIn(b"Edited", get_once(self.fleet[1], "/articles/").body)
        # The others: HITs on every instance with the copies rendered before the save.
        for path in KEPT:
            for fc in self.fleet:
                kept = get_once(fc, path)
                self.assertEqual(kept.header("X-Cache"), "HIT", path)
                self.assertEqual(kept.body, bodies[path], path)


if __name__ == "__main__":
    unittest.main()
