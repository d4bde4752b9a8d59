"""frontcache in front of a real Django site vs Django's own per-site cache.

The same request sequence runs twice against the same site (Debian's python3-django under
gunicorn, one worker): once with Django's UpdateCacheMiddleware/FetchFromCacheMiddleware over a
real memcached (the set-up frontcache replaces), once with the middleware removed and frontcache
in front. For every request we compare whether the view ran (the site counts renders) and the
caching headers. Every difference must be one of the spec's deliberate "stricter" rules, listed
in EXPECTED_DIFFERENCES; then the keys Django wrote to memcached are looked up in frontcache's
own store through its memcached port: the same keys must be there."""

import hashlib
import re
import socket
import unittest
import urllib.parse

from harness import Frontcache, Reader
from test_django_passthrough import Gunicorn
from test_memcached_port import RealMemcached, talk

# (label, method, path, extra headers, body)
SCENARIO = [
    ("home 1", "GET", "/", "", ""),
    ("home 2", "GET", "/", "", ""),
    ("session x=1", "GET", "/session", "Cookie: x=1\r\n", ""),
    ("session x=2", "GET", "/session", "Cookie: x=2\r\n", ""),
    ("session x=1 again", "GET", "/session", "Cookie: x=1\r\n", ""),
    ("max30 1", "GET", "/max30", "", ""),
    ("max30 2", "GET", "/max30", "", ""),
    ("never 1", "GET", "/never", "", ""),
    ("never 2", "GET", "/never", "", ""),
    ("private 1", "GET", "/private", "", ""),
    ("private 2", "GET", "/private", "", ""),
    ("setcookie 1", "GET", "/setcookie", "", ""),
    ("setcookie 2", "GET", "/setcookie", "", ""),
    ("lang en", "GET", "/lang", "Accept-Language: en\r\n", ""),
    ("lang fr", "GET", "/lang", "Accept-Language: fr\r\n", ""),
    ("lang en again", "GET", "/lang", "Accept-Language: en\r\n", ""),
    ("form POST 1", "POST", "/form", "Content-Type: application/x-www-form-urlencoded\r\n", "a=1"),
    ("form POST 2", "POST", "/form", "Content-Type: application/x-www-form-urlencoded\r\n", "a=1"),
    ("redirect 1", "GET", "/redirect", "", ""),
    ("redirect 2", "GET", "/redirect", "", ""),
    ("query a 1", "GET", "/query?q=a", "", ""),
    ("query a 2", "GET", "/query?q=a", "", ""),
    ("query b", "GET", "/query?q=b", "", ""),
    ("404 1", "GET", "/gone", "", ""),
    ("404 2", "GET", "/gone", "", ""),
]

# Deliberate differences (shared/spec/django-cache-semantics.md, "stricter"), by request label.
EXPECTED_DIFFERENCES = {
    # Django stores a response that sets a cookie when it has no Vary: Cookie (and then serves
    # that cookie to everyone); frontcache never stores a Set-Cookie response by default, and so
    # does not patch its caching headers either.
    "setcookie 1": "stricter: Set-Cookie responses are never stored (headers not patched)",
    "setcookie 2": "stricter: Set-Cookie responses are never stored",
}


def frontcache_key(django_key, values):
    """The key frontcache stores for the page Django stored as `django_key`: the same but for
    the hash of the varied values. Django hashes their bare concatenation, which two headers can
    collide ("fr-" + "," is "fr" + absent); frontcache ends each one ("=" value LF). A page that
    varies on nothing keeps Django's key exactly. `values`: the single varied values the requests
    sent (each page here varies on one header)."""
    md5 = lambda b: hashlib.md5(b).hexdigest()
    head, _, values_hash = django_key.rpartition(".")
    if not django_key.startswith("views.decorators.cache.cache_page.") or values_hash == md5(b""):
        return django_key
    for v in values:
        if md5(v.encode()) == values_hash:
            return head + "." + md5(b"=" + v.encode() + b"\n")
    raise AssertionError("no request sent the varied value of %s" % django_key)


def sent_values(headers_list):
    """Every header value in the requests' extra headers ("Name: value\r\n..." strings)."""
    return {line.split(":", 1)[1].strip() for h in headers_list for line in h.split("\r\n")
            if ":" in line}


def send(port, method, path, headers, body):
    s = socket.create_connection(("127.0.0.1", port), 10)
    raw = "%s %s HTTP/1.1\r\nHost: site.test\r\n%s" % (method, path, headers)
    if body:
        raw += "Content-Length: %d\r\n" % len(body)
    s.sendall((raw + "\r\n" + body).encode())
    resp = Reader(s).response()
    s.close()
    return resp


def metadump(port):
    """Every key memcached holds ("lru_crawler metadump all", answered until END)."""
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(b"lru_crawler metadump all\r\n")
    out = b""
    while not out.endswith(b"END\r\n"):
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    return out.decode()


def renders(app_port):
    s = socket.create_connection(("127.0.0.1", app_port), 10)
    s.sendall(b"GET /renders HTTP/1.1\r\nHost: site.test\r\n\r\n")
    n = int(Reader(s).response().body)
    s.close()
    return n


def observe(app_port, front_port):
    """Runs SCENARIO against front_port; returns {label: (status, view ran?, caching headers)}."""
    seen = {}
    for label, method, path, headers, body in SCENARIO:
        before = renders(app_port)
        resp = send(front_port, method, path, headers, body)
        ran = renders(app_port) > before
        cc = resp.header("Cache-Control")
        vary = resp.header("Vary")
        seen[label] = (resp.status, ran, cc, resp.header("Expires") is not None,
                       vary.lower() if vary else None)
    return seen


class DjangoCacheComparison(unittest.TestCase):
    def test_same_pages_cached_same_headers_same_keys(self):
        # 1. Django's own cache middleware over memcached.
        mc = RealMemcached()
        django = Gunicorn(workers=1, env={"FCSITE_DJANGO_CACHE": "1",
                                          "FCSITE_MEMCACHED": "127.0.0.1:%d" % mc.port})
        try:
            reference = observe(django.port, django.port)
            dump = metadump(mc.port)
        finally:
            django.stop()
            mc.stop()
        django_keys = {urllib.parse.unquote(m) for m in re.findall(r"key=(\S+)", dump)}

        # 2. The bare site with frontcache in front (query strings keyed, as Django 3.2 does).
        app = Gunicorn(workers=1)
        fc = Frontcache(app.url, {"cache": {"query_strings": "key"},
                                  "memcached": {"listen": "127.0.0.1:0"}})
        try:
            ours = observe(app.port, fc.port)
            # 3. Every page key Django wrote (":1:" is its KEY_FUNCTION's prefix and version)
            # exists in frontcache's store — for a page that varies, with frontcache's hash of
            # the varied values (frontcache_key) — except the pages frontcache deliberately
            # does not store.
            mc_port = fc.extra_ports["memcached"]
            checked = 0
            for key in sorted(django_keys):
                raw = key.split(":", 2)[2] if key.startswith(":1:") else key
                if not raw.startswith("views.decorators.cache.cache_"):
                    continue
                raw = frontcache_key(raw, sent_values(h for _, _, _, h, _ in SCENARIO))
                found = talk(mc_port, [b"mg " + raw.encode() + b" s\r\n"]).startswith(b"HD")
                if not found:
                    self.assertTrue(self._is_setcookie_key(raw),
                                    "Django stored %s; frontcache has no such key" % raw)
                else:
                    checked += 1
            self.assertGreaterEqual(checked, 10)
        finally:
            self.assertEqual(fc.stop(), 0)
            app.stop()

        differences = {}
        for label, _, _, _, _ in SCENARIO:
            if reference[label] != ours[label]:
                differences[label] = (reference[label], ours[label])
        unexplained = {k: v for k, v in differences.items() if k not in EXPECTED_DIFFERENCES}
        self.assertEqual(unexplained, {}, "differences from Django's own middleware")
        for label in EXPECTED_DIFFERENCES:
            self.assertIn(label, differences, "an expected difference disappeared: " + label)
        # And the caching itself happened: the second plain request did not reach the view.
        self.assertFalse(ours["home 2"][1])
        self.assertTrue(ours["session x=2"][1])
        self.assertFalse(ours["session x=1 again"][1])

    @staticmethod
    def _is_setcookie_key(raw):
        # The only pages frontcache refuses that Django stores are the Set-Cookie ones: their
        # keys carry the md5 of http://site.test/setcookie.
        return hashlib.md5(b"http://site.test/setcookie").hexdigest() in raw


if __name__ == "__main__":
    unittest.main()
