"""purge_groups() against a real HTTP server on loopback standing in for frontcache's admin
port: exactly which requests are sent (path, query, token), to every URL listed, and what
happens when an instance is down, refuses or hangs."""

import time
import unittest

import support  # noqa: F401
from django.db import transaction
from django.test import override_settings

from frontcache_django.headers import clean
from frontcache_django import PurgeError, purge_groups
from frontcache_django import purge as purge_module
from support import AdminStub, LogCapture, SilentServer, closed_port_url


class Purge(unittest.TestCase):
    def setUp(self):
        self.stub = AdminStub()
        self.addCleanup(self.stub.close)
        purge_module._pending.map = {}

    def test_one_post_with_every_group_encoded(self):
        groups = ["article:42", "tag:c++", "a b&c=d%e/f?#", 'q"', "index"]
        with override_settings(FRONTCACHE_ADMIN_URLS=[self.stub.url], FRONTCACHE_ADMIN_TOKEN=""):
            results = purge_groups(groups)
        self.assertEqual(len(self.stub.requests), 1)
        req = self.stub.requests[0]
        self.assertEqual((req["method"], req["path"]), ("POST", "/purge"))
        self.assertEqual(req["groups"], groups)
        self.assertEqual(req["params"], {})
        self.assertEqual(req["query"], "group=article%3A42&group=tag%3Ac%2B%2B&group=a%20b%26c"
                                       "%3Dd%25e%2Ff%3F%23&group=q%22&group=index")
        self.assertIsNone(req["authorization"])
        self.assertEqual(req["body"], b"")
        self.assertEqual(len(results), 1)
        r = results[0]
        self.assertTrue(r.ok)
        self.assertEqual((r.status, r.purged, r.expired, r.error), (200, 5, None, None))
        self.assertEqual(r.groups, tuple(groups))

    def test_token_soft_and_host(self):
        with override_settings(FRONTCACHE_ADMIN_URLS=[self.stub.url + "/"],
                               FRONTCACHE_ADMIN_TOKEN="s3cret"):
            results = purge_groups("index", soft=True, host="www.example.com")
        req = self.stub.requests[0]
        self.assertEqual(req["path"], "/purge")
        self.assertEqual(req["groups"], ["index"])
        self.assertEqual(req["params"], {"soft": "1", "host": "www.example.com"})
        self.assertEqual(req["authorization"], "Bearer s3cret")
        self.assertEqual((results[0].purged, results[0].expired), (1, 1))

    def test_every_url_listed_is_called(self):
        other = AdminStub()
        self.addCleanup(other.close)
        with override_settings(FRONTCACHE_ADMIN_URLS=[self.stub.url, other.url],
                               FRONTCACHE_ADMIN_TOKEN="t"):
            results = purge_groups(["a", "b"])
        for s in (self.stub, other):
            self.assertEqual([(r["groups"], r["authorization"]) for r in s.requests],
                             [(["a", "b"], "Bearer t")])
        self.assertEqual(sorted(r.url.split("/purge")[0] for r in results),
                         sorted([self.stub.url, other.url]))

    def test_groups_are_purged_by_the_wire_names_pages_declare(self):
        with override_settings(FRONTCACHE_ADMIN_URLS=[self.stub.url]), LogCapture() as log:
            purge_groups(["ok", "caf\u00e9", "", "x" * 300, "ok"])
            self.assertEqual(purge_groups([]), [])
            self.assertEqual(purge_groups([""]), [])
        self.assertEqual([r["groups"] for r in self.stub.requests],
                         [clean(["ok", "caf\u00e9", "x" * 300])])
        self.assertEqual(self.stub.requests[0]["groups"][1], "caf%C3%A9")
        self.assertEqual(len(log.messages()), 2)  # the two empty names

    def test_no_urls_configured_sends_nothing(self):
        with override_settings(FRONTCACHE_ADMIN_URLS=[]):
            self.assertEqual(purge_groups(["a"]), [])
        self.assertEqual(self.stub.requests, [])

    def test_long_lists_are_split_into_several_calls(self):
        groups = ["g%03d:%s" % (i, "x" * 200) for i in range(128)]
        with override_settings(FRONTCACHE_ADMIN_URLS=[self.stub.url]):
            results = purge_groups(groups)
        self.assertGreater(len(self.stub.requests), 1)
        self.assertTrue(all(len(r["query"]) <= purge_module.MAX_QUERY
                            for r in self.stub.requests))
        self.assertEqual(sorted(self.stub.all_groups()), groups)
        self.assertTrue(all(r.ok for r in results))

    def test_a_down_admin_port_is_logged_and_returned_not_raised(self):
        down = closed_port_url()
        with override_settings(FRONTCACHE_ADMIN_URLS=[down, self.stub.url]), \
                LogCapture() as log:
            results = purge_groups(["article:1"])
        by_url = {r.url.split("/purge")[0]: r for r in results}
        self.assertFalse(by_url[down].ok)
        self.assertIsNone(by_url[down].status)
        self.assertIn("refused", by_url[down].error.lower())
        self.assertTrue(by_url[self.stub.url].ok)  # the others are still purged
        self.assertEqual(self.stub.all_groups(), ["article:1"])
        errors = log.messages()
        self.assertEqual(len(errors), 1)
        self.assertIn("failed", errors[0])
        self.assertIn(down, errors[0])

    def test_raise_errors_raises_after_calling_every_url(self):
        with override_settings(FRONTCACHE_ADMIN_URLS=[closed_port_url(), self.stub.url]):
            with self.assertRaises(PurgeError) as caught:
                purge_groups(["a"], raise_errors=True)
        self.assertEqual(len(caught.exception.results), 2)
        self.assertEqual(self.stub.all_groups(), ["a"])

    def test_a_refused_token_is_an_error(self):
        refusing = AdminStub(status=401)
        self.addCleanup(refusing.close)
        with override_settings(FRONTCACHE_ADMIN_URLS=[refusing.url],
                               FRONTCACHE_ADMIN_TOKEN="wrong"), LogCapture() as log:
            results = purge_groups(["a"])
        self.assertEqual((results[0].ok, results[0].status), (False, 401))
        self.assertIn("HTTP 401", results[0].error)
        self.assertIn("HTTP 401", log.messages()[0])
        self.assertNotIn("wrong", log.messages()[0])  # the token is never logged

    def test_a_hung_admin_port_costs_the_timeout_once(self):
        hung = [SilentServer() for _ in range(3)]
        for h in hung:
            self.addCleanup(h.close)
        with override_settings(FRONTCACHE_ADMIN_URLS=[h.url for h in hung] + [self.stub.url],
                               FRONTCACHE_TIMEOUT=0.5), LogCapture():
            t0 = time.monotonic()
            results = purge_groups(["a"])
            elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 0.45)
        self.assertLess(elapsed, 1.4)  # side by side: not 3 x 0.5 s
        self.assertEqual(sorted(r.ok for r in results), [False, False, False, True])
        self.assertTrue(all("timed out" in r.error for r in results if not r.ok),
                        [r.error for r in results])

    def test_the_default_timeout_is_two_seconds(self):
        hung = SilentServer()
        self.addCleanup(hung.close)
        with override_settings(FRONTCACHE_ADMIN_URLS=[hung.url]), LogCapture():
            t0 = time.monotonic()
            purge_groups(["a"])
            elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 1.9)
        self.assertLess(elapsed, 3.5)

    def test_proxies_in_the_environment_are_not_used(self):
        import os
        proxy = AdminStub()  # would record the request if it went through it
        self.addCleanup(proxy.close)
        old = {k: os.environ.get(k) for k in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY")}
        os.environ.update(http_proxy=proxy.url, HTTP_PROXY=proxy.url, no_proxy="", NO_PROXY="")
        try:
            with override_settings(FRONTCACHE_ADMIN_URLS=[self.stub.url]):
                purge_groups(["a"])
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.assertEqual(proxy.requests, [])
        self.assertEqual(self.stub.all_groups(), ["a"])


class OnCommit(unittest.TestCase):
    """Deferred to the commit of the transaction (the database is the in-memory SQLite one)."""

    def setUp(self):
        self.stub = AdminStub()
        self.addCleanup(self.stub.close)
        purge_module._pending.map = {}
        self.settings = override_settings(FRONTCACHE_ADMIN_URLS=[self.stub.url])
        self.settings.enable()
        self.addCleanup(self.settings.disable)

    def test_sent_at_commit_once_for_the_whole_transaction(self):
        with transaction.atomic():
            self.assertIsNone(purge_groups(["a", "b"], on_commit=True))
            purge_groups(["b", "c"], on_commit=True)
            purge_groups(["s"], soft=True, on_commit=True)
            self.assertEqual(self.stub.requests, [])
        got = sorted((r["groups"], r["params"].get("soft")) for r in self.stub.requests)
        self.assertEqual(got, [(["a", "b", "c"], None), (["s"], "1")])

    def test_at_once_outside_a_transaction(self):
        purge_groups(["now"], on_commit=True)
        self.assertEqual(self.stub.all_groups(), ["now"])

    def test_nothing_when_rolled_back(self):
        try:
            with transaction.atomic():
                purge_groups(["rolled-back"], on_commit=True)
                raise RuntimeError
        except RuntimeError:
            pass
        self.assertEqual(self.stub.requests, [])


if __name__ == "__main__":
    unittest.main()


class NoRedirects(unittest.TestCase):
    def test_a_redirect_is_an_error_and_the_token_goes_nowhere_else(self):
        import http.server
        import threading
        elsewhere = []

        class Redirecting(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                if self.path.startswith("/purge"):
                    self.send_response(303)  # urllib would follow it with a GET
                    self.send_header("Location", "http://127.0.0.1:%d/stolen" %
                                     self.server.server_address[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def do_GET(self):
                elsewhere.append(self.headers.get("Authorization"))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        url = "http://127.0.0.1:%d" % server.server_address[1]
        with override_settings(FRONTCACHE_ADMIN_URLS=[url], FRONTCACHE_ADMIN_TOKEN="secret"), \
                LogCapture():
            results = purge_groups(["a"])
        self.assertFalse(results[0].ok)
        self.assertEqual(elsewhere, [])
