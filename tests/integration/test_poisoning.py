"""A poisoning table: for every request field and target form, two requests that differ only in
it, sent in both orders to one fresh URL. Whenever the second one is a HIT, the page it gets must
be the page the application would have written for the second request itself; otherwise a
stranger's request decided what another visitor sees.

The application here is an echo origin modelled on a WSGI one (Django under gunicorn): what it
writes depends only on the method, the path and query (an empty query is no query), the Host, the
scheme it was told (X-Forwarded-Proto), and the fields its Vary names, read as WSGI reads them
(`Accept_Language` and `Accept-Language` are the same META name; repeated fields joined with
','). Each path says what it varies on: /v/<Field,Field>/<n>. Its page is that view of the
request, so "the page it would have written" is its answer to the same request on a fresh URL.

Outcomes per pair: keyed apart (the second misses), not forwarded (both get the same page because
the application never saw the difference), not stored, or refused (400) — never a HIT on another
request's page. Run in django mode, http mode, and with server.underscores_in_headers on."""

import http.server
import itertools
import json
import socketserver
import threading
import unittest

from harness import Frontcache, Reader

HOST = "x.test"


class EchoHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wsgi = True  # field names as WSGI reads them ('_' is '-'), else exactly

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.answer(body=True)

    def do_HEAD(self):
        self.answer(body=False)

    def answer(self, body):
        parts = self.path.split("?", 1)
        target = parts[0] if len(parts) == 1 or parts[1] == "" else self.path
        vary = []
        if target.startswith("/v/"):
            vary = [v for v in target.split("/")[2].split(",") if v and v != "none"]
        if self.wsgi:
            meta = lambda name: name.upper().replace("-", "_")
        else:
            meta = lambda name: name.upper()

        def field(name):  # as the application reads it: WSGI joins what maps to one META name
            values = [val for (n, val) in self.headers.items() if meta(n) == meta(name)]
            return ",".join(values) if values else None

        varied = {v: field(v) for v in vary}
        # What frameworks read besides the request itself, without saying Vary (Django's
        # USE_X_FORWARDED_HOST, Symfony's X-Forwarded-Prefix and X-Original-URL, Rails'
        # X-HTTP-Method-Override): the page is built from them.
        page = {
            "method": field("X-HTTP-Method-Override") or
                      ("GET" if self.command == "HEAD" else self.command),
            "target": field("X-Original-URL") or target,
            "host": field("X-Forwarded-Host") or field("Host"),
            "prefix": field("X-Forwarded-Prefix"),
            "proto": field("X-Forwarded-Proto"),
            "varied": varied,
        }
        data = json.dumps(page, sort_keys=True).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "max-age=300")
        if vary:
            self.send_header("Vary", ", ".join(vary))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)


class EchoOrigin(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def request(method, target, fields):
    head = "%s %s HTTP/1.1\r\n" % (method, target)
    for name, value in fields:
        head += "%s: %s\r\n" % (name, value)
    return (head + "\r\n").encode("latin-1")


# The table: (name, vary, base, variant). A request is (method, target template, fields); "{p}"
# in the target is the fresh path. Each pair is sent in both orders on one fresh path.
def get(target="{p}", *fields, host=HOST):
    return ("GET", target, ([("Host", host)] if host else []) + list(fields))


CASES = [
    # Fields named in Connection are removed before forwarding, so they cannot key the page:
    # the same request with and without the Connection field must get the same page.
    ("connection names a varied field", "Accept-Language",
     get("{p}", ("Accept-Language", "fr")),
     get("{p}", ("Accept-Language", "fr"), ("Connection", "Accept-Language"))),
    ("connection names Cookie", "Cookie",
     get("{p}", ("Cookie", "lang=fr")),
     get("{p}", ("Cookie", "lang=fr"), ("Connection", "Cookie"))),
    ("connection names Authorization", "Authorization",
     get("{p}", ("Authorization", "Basic dTpw")),
     get("{p}", ("Authorization", "Basic dTpw"), ("Connection", "Authorization"))),
    ("connection names Host", "none", get("{p}"), get("{p}", ("Connection", "Host"))),
    ("connection lists several, in two fields", "Accept-Language,Cookie",
     get("{p}", ("Accept-Language", "fr"), ("Cookie", "a=1")),
     get("{p}", ("Accept-Language", "fr"), ("Cookie", "a=1"), ("Connection", "keep-alive"),
         ("Connection", "Cookie, Accept-Language"))),
    # Underscores: a WSGI application reads Accept_Language as Accept-Language, a strict one
    # does not; either way the key must follow what the application was sent.
    ("underscore spelling of a varied field", "Accept-Language",
     get("{p}", ("Accept-Language", "fr")), get("{p}", ("Accept_Language", "fr"))),
    ("underscore spelling, nothing else", "Accept-Language",
     get("{p}"), get("{p}", ("Accept_Language", "fr"))),
    ("underscore beside the real field", "Accept-Language",
     get("{p}", ("Accept-Language", "en")),
     get("{p}", ("Accept-Language", "en"), ("Accept_Language", "fr"))),
    ("case of a field name", "Accept-Language",
     get("{p}", ("Accept-Language", "fr")), get("{p}", ("accept-LANGUAGE", "fr"))),
    ("a varied field sent twice", "Accept-Language",
     get("{p}", ("Accept-Language", "en")),
     get("{p}", ("Accept-Language", "en"), ("Accept-Language", "fr"))),
    ("values that run together", "Accept-Language,Cookie",
     get("{p}", ("Accept-Language", "fr")),
     get("{p}", ("Accept-Language", "fr-"), ("Cookie", ","))),
    ("white space around a varied value", "Accept-Language",
     get("{p}", ("Accept-Language", "fr")), get("{p}", ("Accept-Language", "fr \t"))),
    # Host and the target's authority.
    ("Host with a path", "none", get("/static{p}"), get("/evil", host=HOST + "/static{p}?")),
    ("Host with a query", "none", get("{p}"), get("/evil", host=HOST + "{p}?")),
    ("Host with userinfo", "none", get("{p}"), get("{p}", host="evil@" + HOST)),
    ("Host with a space", "none", get("{p}"), get("{p}", host=HOST + " evil")),
    ("Host with a port", "none", get("{p}"), get("{p}", host=HOST + ":8080")),
    ("Host in another case", "none", get("{p}"), get("{p}", host="X.Test")),
    ("absolute-form names another host", "none",
     get("{p}"), ("GET", "http://other.test{p}", [("Host", HOST)])),
    ("absolute-form names our host", "none",
     get("{p}"), ("GET", "http://" + HOST + "{p}", [("Host", "other.test")])),
    ("absolute-form https from an untrusted client", "none",
     get("{p}"), ("GET", "https://" + HOST + "{p}", [("Host", HOST)])),
    ("X-Forwarded-Proto from an untrusted client", "none",
     get("{p}"), get("{p}", ("X-Forwarded-Proto", "https"))),
    ("Forwarded proto from an untrusted client", "none",
     get("{p}"), get("{p}", ("Forwarded", "proto=https"))),
    ("X-Forwarded-Host from an untrusted client, varied on", "X-Forwarded-Host",
     get("{p}"), get("{p}", ("X-Forwarded-Host", "evil.test"))),
    ("X-Forwarded-For, varied on", "X-Forwarded-For",
     get("{p}"), get("{p}", ("X-Forwarded-For", "203.0.113.9"))),
    ("two X-Forwarded-For fields, varied on", "X-Forwarded-For",
     get("{p}", ("X-Forwarded-For", "203.0.113.9, 198.51.100.1")),
     get("{p}", ("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-For", "198.51.100.1"))),
    ("Proxy-Authorization, varied on", "Proxy-Authorization",
     get("{p}"), get("{p}", ("Proxy-Authorization", "Basic x"))),
    ("Expect, varied on", "Expect", get("{p}"), get("{p}", ("Expect", "100-continue"))),
    ("TE and Keep-Alive, varied on", "TE,Keep-Alive",
     get("{p}"), get("{p}", ("TE", "trailers"), ("Keep-Alive", "timeout=5"))),
    # Target forms.
    ("empty query", "none", get("{p}"), get("{p}?")),
    ("a query", "none", get("{p}"), get("{p}?a=1")),
    ("a fragment", "none", get("{p}"), get("{p}#x")),
    ("a percent-encoded path", "none", get("{p}"), get("{p}%2F..")),
    ("double slash", "none", get("{p}"), get("/{p}")),
    ("two spaces before the target", "none", get("{p}"), ("GET", " {p}", [("Host", HOST)])),
    ("a tab in the target", "none", get("{p}"), get("{p}\tx")),
    ("a byte >= 0x80 in the target", "none", get("{p}"), get("{p}\xe9")),
    ("HEAD beside GET", "none", get("{p}"), ("HEAD", "{p}", [("Host", HOST)])),
    # What frameworks read without a Vary: removed from strangers, keyed from a trusted proxy.
    ("X-Forwarded-Host", "none", get("{p}"), get("{p}", ("X-Forwarded-Host", "evil.test"))),
    ("X-Forwarded-Prefix", "none", get("{p}"), get("{p}", ("X-Forwarded-Prefix", "/evil"))),
    ("X-Original-URL", "none", get("{p}"), get("{p}", ("X-Original-URL", "/admin"))),
    ("X-HTTP-Method-Override", "none", get("{p}"),
     get("{p}", ("X-HTTP-Method-Override", "POST"))),
    ("X-Forwarded-Proto https", "none", get("{p}"), get("{p}", ("X-Forwarded-Proto", "https"))),
    ("Forwarded proto=https", "none", get("{p}"), get("{p}", ("Forwarded", "proto=https"))),
    ("an empty first X-Forwarded-Proto element", "none", get("{p}"),
     get("{p}", ("X-Forwarded-Proto", ", https"))),
    ("X_Forwarded_Proto and X_Forwarded_Host", "none", get("{p}"),
     get("{p}", ("X_Forwarded_Proto", "https"), ("X_Forwarded_Host", "evil.test"))),
    # A varied field that WSGI does not file under HTTP_*.
    ("Content-Type, varied on", "Content-Type", get("{p}"),
     get("{p}", ("Content-Type", "application/json"))),
    # With equal weights the first language is the one preferred.
    ("the order of languages", "Accept-Language", get("{p}", ("Accept-Language", "en, fr")),
     get("{p}", ("Accept-Language", "fr, en"))),
]


class Poisoning:
    """Mixed into a TestCase with SECTIONS (frontcache config)."""

    SECTIONS = {}
    WSGI = True

    @classmethod
    def setUpClass(cls):
        handler = type("Handler", (EchoHandler,), {"wsgi": cls.WSGI})
        cls.origin = EchoOrigin(("127.0.0.1", 0), handler)
        threading.Thread(target=cls.origin.serve_forever, daemon=True).start()
        cls.fc = Frontcache("http://127.0.0.1:%d" % cls.origin.server_address[1], cls.SECTIONS)
        cls.counter = itertools.count()

    @classmethod
    def tearDownClass(cls):
        cls.fc.stop()
        cls.origin.shutdown()
        cls.origin.server_close()

    def fresh(self, vary):
        return "/v/%s/%d" % (vary, next(self.counter))

    def send(self, req, path):
        method, target, fields = req
        fields = [(n, v.replace("{p}", path)) for n, v in fields]
        s = self.fc.connect()
        try:
            s.sendall(request(method, target.replace("{p}", path), fields))
            return Reader(s).response(head_request=(method == "HEAD"))
        finally:
            s.close()

    def page(self, resp, path):
        return json.loads(resp.body.decode().replace(path, "{p}")) if resp.body else None

    def check(self, name, vary, first, second):
        path = self.fresh(vary)
        r1 = self.send(first, path)
        if r1.status >= 400:
            self.assertEqual(r1.status, 400, name)
            return "refused"
        r2 = self.send(second, path)
        if r2.status >= 400:
            self.assertEqual(r2.status, 400, name)
            return "refused"
        if not (r2.header("X-Cache") or "").startswith("HIT"):
            return "apart"
        # A HIT: it must be what the application writes for this very request.
        own_path = self.fresh(vary)
        own = self.send(second, own_path)
        self.assertFalse((own.header("X-Cache") or "").startswith("HIT"), name)
        if second[0] == "HEAD":  # a HEAD's page has no body: compare the GET it stands for
            own = self.send(("GET",) + tuple(second[1:]), own_path)
            r2 = self.send(("GET",) + tuple(second[1:]), path)
        self.assertEqual(self.page(r2, path), self.page(own, own_path),
                         "%s: a HIT served another request's page" % name)
        return "same page"

    def test_table(self):
        outcomes = {}
        for name, vary, base, variant in CASES:
            with self.subTest(case=name):
                outcomes[name] = (self.check(name, vary, base, variant),
                                  self.check(name, vary, variant, base))
        # The cases that must be refused outright, whatever the mode.
        for name in ("connection names Host", "Host with a path", "Host with a query",
                     "Host with userinfo", "Host with a space", "two spaces before the target",
                     "a tab in the target", "a byte >= 0x80 in the target"):
            self.assertIn("refused", outcomes.get(name, ()), name)


class DjangoMode(Poisoning, unittest.TestCase):
    """Django's rules in front of a WSGI application."""
    SECTIONS = {}


class HttpMode(Poisoning, unittest.TestCase):
    """RFC 9111's rules in front of an application that reads field names exactly."""
    SECTIONS = {"cache": {"mode": "http"}}
    WSGI = False


class BehindATrustedProxy(Poisoning, unittest.TestCase):
    """The client's connection comes through a proxy frontcache trusts (nginx, which passes the
    client's fields on): what a framework reads without a Vary must key the page."""
    SECTIONS = {"server": {"trusted_proxies": ["127.0.0.1"]}}


class BehindATrustedProxyHttpMode(Poisoning, unittest.TestCase):
    SECTIONS = {"server": {"trusted_proxies": ["127.0.0.1"]}, "cache": {"mode": "http"}}
    WSGI = False


class UnderscoresKeptWsgi(Poisoning, unittest.TestCase):
    """server.underscores_in_headers: forwarded, keyed as a WSGI application reads them."""
    SECTIONS = {"server": {"underscores_in_headers": True}}


class UnderscoresKeptExact(Poisoning, unittest.TestCase):
    """... and in http mode, keyed exactly, in front of an application that reads them so."""
    SECTIONS = {"server": {"underscores_in_headers": True}, "cache": {"mode": "http"}}
    WSGI = False


if __name__ == "__main__":
    unittest.main()
