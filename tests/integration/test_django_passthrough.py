"""frontcache in front of a real Django site (Debian's python3-django under gunicorn): every
response through the proxy matches the one the site gives directly."""

import json
import os
import re
import signal
import subprocess
import unittest

from harness import Frontcache, Reader

SITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "django_site")


class Gunicorn:
    """The test site under gunicorn on a port it picks; `access_log`: a file for its access log
    (one line per request that reached the app)."""

    def __init__(self, workers=2, env=None, access_log="-"):
        e = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(env or {}))
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", "-m", "gunicorn", "--chdir", SITE, "-b", "127.0.0.1:0",
             "-w", str(workers), "--access-logfile", access_log, "fcsite.wsgi"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=e)
        for line in self.proc.stderr:
            m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        else:
            raise RuntimeError("gunicorn did not start")
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(15)
        self.proc.stderr.close()


def fetch(port, raw):
    import socket
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(raw.encode("latin-1") if isinstance(raw, str) else raw)
    resp = Reader(s).response()
    s.close()
    return resp


class DjangoPassThrough(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # One worker: the render counter is per process, so two workers can each say "render 2"
        # and make two renders look like one (seen as a flake under load).
        cls.app = Gunicorn(workers=1)
        # Pure pass-through here (every path bypassed); the cache rules are compared with
        # Django's own middleware in test_django_cache.
        cls.fc = Frontcache(cls.app.url, {"cache": {"bypass_paths": ["/"]}})

    @classmethod
    def tearDownClass(cls):
        assert cls.fc.stop() == 0
        cls.app.stop()

    def both(self, raw):
        return fetch(self.app.port, raw), fetch(self.fc.port, raw)

    def same(self, raw, headers=("Content-Type", "Location", "Content-Length")):
        direct, proxied = self.both(raw)
        self.assertEqual(direct.status, proxied.status, raw)
        for h in headers:
            self.assertEqual(direct.header(h), proxied.header(h), h)
        self.assertEqual(proxied.header("Via"), "1.1 frontcache")
        return direct, proxied

    def test_home_is_rendered_each_time(self):
        d, p = self.same("GET / HTTP/1.1\r\nHost: site.test\r\n\r\n")
        self.assertIn(b"<h1>home</h1>", p.body)
        r1 = re.search(rb"render (\d+)", p.body).group(1)
        p2 = fetch(self.fc.port, "GET / HTTP/1.1\r\nHost: site.test\r\n\r\n")
        self.assertNotEqual(r1, re.search(rb"render (\d+)", p2.body).group(1))  # nothing cached yet

    def test_post_form(self):
        body = "a=1&b=two"
        raw = ("POST /form HTTP/1.1\r\nHost: site.test\r\nContent-Type: "
               "application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        d, p = self.same(raw)
        got = json.loads(p.body)
        self.assertEqual((got["method"], got["fields"]), ("POST", {"a": "1", "b": "two"}))

    def test_redirect_404_query_big(self):
        self.same("GET /redirect HTTP/1.1\r\nHost: site.test\r\n\r\n")
        d, p = self.same("GET /nope HTTP/1.1\r\nHost: site.test\r\n\r\n")
        self.assertEqual(p.status, 404)
        d, p = self.same("GET /query?q=hello HTTP/1.1\r\nHost: site.test\r\n\r\n")
        self.assertIn(b"query:hello", p.body)
        d, p = self.same("GET /big HTTP/1.1\r\nHost: site.test\r\n\r\n")
        self.assertEqual(len(p.body), 512 * 1024)
        self.assertEqual(d.body, p.body)

    def test_django_sees_the_forwarded_host(self):
        # Host passes through unchanged, so Django builds absolute URLs for the public name.
        p = fetch(self.fc.port, "GET /redirect HTTP/1.1\r\nHost: public.example\r\n\r\n")
        self.assertEqual(p.status, 302)


if __name__ == "__main__":
    unittest.main()
