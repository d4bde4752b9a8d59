"""Real browsers (issue #13, part): campaign parameters and analytics cookies do not split a page.
A page that varies on Cookie is shared by visitors whose cookies differ only in analytics cookies
(and the application never sees those cookies), visitors with different sessions never share one,
and campaign links are cached as the page without their parameters."""

import unittest

from harness import Frontcache, Origin, get_once, request


def cookie_header(headers):
    vals = [v for n, v in headers if n.lower() == "cookie"]
    return "; ".join(vals) if vals else None


class Browsers(unittest.TestCase):
    SECTIONS = {}

    def setUp(self):
        self.origin = Origin()
        self.fc = Frontcache(self.origin.url, self.SECTIONS, workers=2)

    def tearDown(self):
        self.fc.stop()
        self.origin.close()

    def reached(self, path):
        """(target, Cookie) of each request for `path` that reached the origin."""
        return [(t, cookie_header(h)) for m, t, h, b in self.origin.requests
                if t.split("?")[0] == path]


class AnalyticsCookies(Browsers):
    def test_visitors_with_different_analytics_cookies_share_the_page(self):
        path = "/r/home;vary=Cookie;cc=max-age=600"
        first = get_once(self.fc, path, "Cookie: _ga=GA1.2.111.222; _gid=GA1.2.3\r\n")
        self.assertEqual(first.header("X-Cache"), "MISS")
        for ga in ("GA1.2.999.888", "GA1.1.5.6; _ga_ABC123=GS1.1.7; _hjSessionUser_9=x"):
            again = get_once(self.fc, path, "Cookie: _ga=%s\r\n" % ga)
            self.assertEqual(again.header("X-Cache"), "HIT", ga)
            self.assertEqual(again.body, first.body)
        # No cookie at all is the same page too: every cookie it had was ignorable.
        self.assertEqual(get_once(self.fc, path).header("X-Cache"), "HIT")
        # The application rendered it once, and never saw the analytics cookies.
        self.assertEqual(self.reached(path), [(path, None)])

    def test_sessions_are_never_merged(self):
        path = "/r/account;vary=Cookie;cc=max-age=600"
        alice = get_once(self.fc, path, "Cookie: _ga=1; sessionid=alice; csrftoken=a\r\n")
        bob = get_once(self.fc, path, "Cookie: _ga=1; sessionid=bob; csrftoken=b\r\n")
        self.assertEqual(bob.header("X-Cache"), "MISS")
        self.assertNotEqual(alice.body, bob.body)
        # Alice again, with other analytics cookies and her cookies in another order: her page.
        alice2 = get_once(self.fc, path, "Cookie: csrftoken=a; _gid=9; sessionid=alice\r\n")
        self.assertEqual(alice2.header("X-Cache"), "HIT")
        self.assertEqual(alice2.body, alice.body)
        # A session without the csrf cookie is another visitor state: not merged either.
        self.assertEqual(get_once(self.fc, path, "Cookie: sessionid=alice\r\n").header("X-Cache"),
                         "MISS")
        # What the application saw: the cookies that count, sorted, never the analytics ones.
        self.assertEqual(self.reached(path), [
            (path, "csrftoken=a; sessionid=alice"), (path, "csrftoken=b; sessionid=bob"),
            (path, "sessionid=alice")])

    def test_concurrent_sessions_and_encodings_never_cross(self):
        # 24 signed-in visitors in 3 browsers, all at once, twice, on a page that varies on
        # Cookie and Accept-Encoding and is compressed: each must get a page that shows their
        # own session, in a coding they accept — coalescing and the shared-across-encodings
        # entry must never merge sessions.
        import gzip
        import threading
        import brotli
        path = "/r/me;vary=Cookie,Accept-Encoding;type=text/html;size=3000;showcookie=1;delay=50"
        browsers = ["Accept-Encoding: gzip, deflate, br\r\n", "Accept-Encoding: gzip\r\n", ""]
        problems = []

        def visit(i, rnd):
            ae = browsers[i % 3]
            r = get_once(self.fc, path, ae + "Cookie: _ga=GA1.%d.%d; sessionid=user%d\r\n"
                         % (rnd, i, i))
            ce = r.header("Content-Encoding")
            body = (brotli.decompress(r.body) if ce == "br" else
                    gzip.decompress(r.body) if ce == "gzip" else r.body)
            if ce and ce not in ae:
                problems.append("user%d got %s for %r" % (i, ce, ae))
            if b"cookie=sessionid=user%d\n" % i not in body:
                problems.append("user%d got %r" % (i, body[:60]))

        for rnd in range(2):
            threads = [threading.Thread(target=visit, args=(i, rnd)) for i in range(24)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        self.assertEqual(problems, [])
        # One render per visitor (the second round hit), whatever their browser.
        self.assertEqual(len(self.reached(path.split("?")[0])), 24)

    def test_requests_that_are_not_looked_up_keep_every_cookie(self):
        self.origin.requests.clear()
        resp, r = request(self.fc, "POST /echo HTTP/1.1\r\nHost: site.test\r\n"
                                   "Cookie: _ga=1; sessionid=x\r\nContent-Length: 2\r\n"
                                   "Connection: close\r\n\r\nok")
        r.sock.close()
        self.assertEqual(resp.status, 200)
        self.assertEqual(cookie_header(self.origin.requests[-1][2]), "_ga=1; sessionid=x")


class CampaignLinks(Browsers):
    def test_campaign_links_are_the_page_without_their_parameters(self):
        path = "/r/landing;cc=max-age=600"
        first = get_once(self.fc, path + "?utm_source=newsletter&utm_campaign=spring")
        self.assertEqual(first.header("X-Cache"), "MISS")  # looked up: not a bypass
        for q in ("", "?gclid=abc", "?fbclid=x&utm_medium=email", "?_ga=2.1.1"):
            again = get_once(self.fc, path + q)
            self.assertEqual(again.header("X-Cache"), "HIT", q)
            self.assertEqual(again.body, first.body)
        self.assertEqual(self.reached(path), [(path, None)])  # sent without them
        # A real parameter is still a query (bypassed under query_strings = "bypass"), and keeps
        # its order with the campaign parameters taken out.
        other = get_once(self.fc, path + "?utm_source=x&page=2&gclid=y")
        self.assertEqual(other.header("X-Cache"), "BYPASS")
        self.assertEqual(self.reached(path)[-1], (path + "?page=2", None))


class KeyCookiesAllowList(Browsers):
    SECTIONS = {"cache": {"key_cookies": ["sessionid"], "ignore_query_params": []}}

    def test_only_the_named_cookies_count(self):
        path = "/r/shop;vary=Cookie;cc=max-age=600"
        first = get_once(self.fc, path, "Cookie: theme=dark; sessionid=s1\r\n")
        again = get_once(self.fc, path, "Cookie: sessionid=s1; theme=light; tracking=9\r\n")
        self.assertEqual(again.header("X-Cache"), "HIT")
        self.assertEqual(again.body, first.body)
        self.assertEqual(get_once(self.fc, path, "Cookie: sessionid=s2\r\n").header("X-Cache"),
                         "MISS")
        self.assertEqual(self.reached(path), [(path, "sessionid=s1"), (path, "sessionid=s2")])
        # ignore_query_params = []: every parameter is a parameter again.
        self.assertEqual(get_once(self.fc, "/r/x?utm_source=a").header("X-Cache"), "BYPASS")


if __name__ == "__main__":
    unittest.main()


class Variants(unittest.TestCase):
    """GET /variants on the admin port: the stored variants of a page and what separates them."""

    def test_the_variants_of_a_page_and_their_header_values(self):
        import json
        from harness import admin_request
        origin = Origin()
        fc = Frontcache(origin.url, {"admin": {"listen": "127.0.0.1:0"}})
        try:
            path = "/r/lang;vary=Accept-Language,Cookie;cc=max-age=600"
            for lang, cookie in (("fr", None), ("de", None), ("fr", "sessionid=alice; _ga=1")):
                extra = "Accept-Language: %s\r\n" % lang
                if cookie:
                    extra += "Cookie: %s\r\n" % cookie
                self.assertEqual(get_once(fc, path, extra).header("X-Cache"), "MISS")
            get_once(fc, "/r/other;vary=Accept-Language", "Accept-Language: fr\r\n")
            port = fc.extra_ports["admin"]
            enc = path.replace(";", "%3B").replace(",", "%2C").replace("=", "%3D")
            r = admin_request(port, "GET", "/variants?path=" + enc)
            self.assertEqual(r.status, 200)
            data = json.loads(r.body)
            self.assertEqual(data["path"], path)
            self.assertEqual(data["variants"], 3)
            seen = sorted((v["varies_on"]["HTTP_ACCEPT_LANGUAGE"], v["varies_on"]["HTTP_COOKIE"])
                          for v in data["stored"])
            self.assertEqual(seen[0], ("de", "(absent)"))
            self.assertEqual(seen[1], ("fr", "(absent)"))
            self.assertEqual(seen[2][0], "fr")
            self.assertRegex(seen[2][1], r"^sessionid=#[0-9a-f]{8}$")  # no value, no _ga
            for v in data["stored"]:
                self.assertEqual(v["uri"], "http://site.test" + path)
                self.assertTrue(v["fresh"])
                self.assertEqual(v["status"], 200)
            narrowed = json.loads(admin_request(port, "GET", "/variants?path=%s&host=other.test"
                                                % enc).body)
            self.assertEqual(narrowed["variants"], 0)
            self.assertEqual(admin_request(port, "GET", "/variants").status, 400)
        finally:
            fc.stop()
            origin.close()
