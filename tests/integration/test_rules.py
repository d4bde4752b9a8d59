"""[[rules]] (issue #24): the operator's rules per route, one test per action, in both cache
modes; `frontcache explain` agrees with what the server did; bad rules are refused with
FILE:LINE:COL and a bad reload keeps the rules in force."""

import json
import os
import re
import signal
import subprocess
import time
import unittest

from harness import BIN, Frontcache, Origin, get, request, wait_for, write_config

RULES = [
    {"name": "robots", "path": "/robots.txt",
     "respond": {"status": 200, "body": "User-agent: *\nDisallow:\n",
                 "content_type": "text/plain"}},
    {"name": "maintenance", "header_equals": {"X-Maintenance": "on"},
     "respond": {"status": 503, "body": "back soon\n"}},
    {"name": "private", "path_prefix": "/r/private", "cache": "bypass"},
    {"name": "static", "path_prefix": "/r/static", "extension": ["css", "js"],
     "ttl": "1h", "ttl_mode": "override", "strip_cookies": True, "strip_set_cookie": True,
     "response_set": {"X-Static": "yes"}, "response_remove": ["X-Powered-By"]},
    {"name": "floor", "path": "/r/floor*", "ttl": "120s", "ttl_mode": "floor"},
    {"name": "stale", "path_prefix": "/r/stale", "grace": "1h", "stale_if_error": "1d"},
    {"name": "host", "host": "*.example.org", "path_prefix": "/r/host", "cache": "bypass"},
    {"name": "deny", "path": "/echo", "query_param": "id", "cache": "cache", "ttl": "60s",
     "query_deny": ["sort", "debug_*"]},
    {"name": "ceiling", "path": "/r/ceiling*", "ttl": "5s", "ttl_mode": "ceiling"},
    {"name": "errors", "path_prefix": "/status", "cache": "cache",
     "status_ttl": {"404": "30s", "5xx": "0s"}},
    {"name": "tagged", "path": "/echo*", "cookie": ["beta"], "continue": True,
     "key_cookies": ["beta"], "request_set": {"X-Beta": "1"}},
    {"name": "api", "path_prefix": "/echo", "method": ["GET"], "header": ["X-Api"],
     "cache": "bypass"},
    {"name": "search", "path": "/echo*", "query_param": ["q"], "cache": "cache",
     "query_allow": ["q", "page"], "query_sort": True, "ttl": "60s",
     "key_headers": ["X-Country"], "request_set": {"X-From-Rule": "search"},
     "request_remove": ["X-Secret"]},
]


class RulesBase:
    MODE = "django"

    def setUp(self):
        self.origin = Origin()
        self.addCleanup(self.origin.close)
        # The origin's scripted answers: /r/static/... sends a cookie and X-Powered-By.
        self.origin.scripts["/r/static/app.css"] = lambda m, t, h: (
            200, [("Set-Cookie", "track=1"), ("X-Powered-By", "php"),
                  ("Cache-Control", "max-age=60")], b"body{}" + str(len(self.origin.requests)).encode())
        self.fc = Frontcache(self.origin.url, {"cache": {"mode": self.MODE, "grace": "0s",
                                                         "cache_status_key": True},
                                               "rules": RULES})
        self.addCleanup(self.fc.stop)

    def origin_count(self, prefix):
        return len([r for r in self.origin.requests if r[1].startswith(prefix)])

    def explain(self, url, *args):
        out = subprocess.run([BIN, "explain", "-c", self.fc.config_path, url, *args],
                             capture_output=True, text=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def test_respond_answers_without_the_application(self):
        r = get(self.fc, "/robots.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"User-agent: *\nDisallow:\n")
        self.assertEqual(r.header("Content-Type"), "text/plain")
        self.assertIn("detail=rule:robots", r.header("Cache-Status"))
        m = get(self.fc, "/hello", "X-Maintenance: on\r\n")
        self.assertEqual(m.status, 503)
        self.assertEqual(m.body, b"back soon\n")
        # HEAD: the head only, and the connection goes on.
        head, rd = request(self.fc, "HEAD /robots.txt HTTP/1.1\r\nHost: t\r\n\r\n",
                           head_request=True)
        self.assertEqual(head.status, 200)
        rd.sock.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(rd.response().status, 200)
        rd.sock.close()
        self.assertEqual(self.origin_count("/robots.txt") + self.origin_count("/hello"), 0)
        self.assertIn("answer: 200 from rule robots", self.explain("http://t/robots.txt"))

    def test_bypass_holds_for_encoded_paths_too(self):
        for path in ("/r/private;cc=max-age=300", "/r/%70rivate;cc=max-age=300"):
            for _ in range(2):
                r = get(self.fc, path)
                self.assertEqual(r.header("X-Cache"), "BYPASS", path)
                self.assertIn("detail=rule:private", r.header("Cache-Status"))
            self.assertIn("decision: bypass (rule), rule private", self.explain("http://t" + path))
        self.assertEqual(self.origin.renders, 4)

    def test_static_override_strips_cookies_both_ways_and_edits_fields(self):
        first = get(self.fc, "/r/static/app.css", "Cookie: sessionid=abc\r\n")
        self.assertEqual(first.header("X-Cache"), "MISS")
        self.assertIsNone(first.header("Set-Cookie"))
        self.assertIsNone(first.header("X-Powered-By"))
        self.assertEqual(first.header("X-Static"), "yes")
        sent = [h for r in self.origin.requests if r[1] == "/r/static/app.css" for h in r[2]]
        self.assertFalse([v for n, v in sent if n.lower() == "cookie"], sent)
        # max-age=60, but the rule keeps it an hour: still a HIT after 30 minutes.
        self.fc.advance(1800)
        again = get(self.fc, "/r/static/app.css", "Cookie: sessionid=other\r\n")
        self.assertEqual(again.header("X-Cache"), "HIT")
        self.assertEqual(again.header("X-Static"), "yes")
        self.assertEqual(self.origin_count("/r/static/app.css"), 1)
        self.fc.advance(1900)
        self.assertEqual(get(self.fc, "/r/static/app.css").header("X-Cache"), "MISS")
        out = self.explain("http://t/r/static/app.css", "--status", "200", "-R",
                           "Cache-Control: max-age=60", "-R", "Set-Cookie: a=1")
        self.assertIn("stored, fresh for 3600 s", out)
        self.assertIn("[decided by rule static]", out)

    def test_floor_and_ceiling(self):
        self.assertEqual(get(self.fc, "/r/floor;cc=max-age=10").header("X-Cache"), "MISS")
        self.fc.advance(60)  # past the app's 10 s, within the floor's 120 s
        self.assertEqual(get(self.fc, "/r/floor;cc=max-age=10").header("X-Cache"), "HIT")
        self.assertEqual(get(self.fc, "/r/ceiling;cc=max-age=300").header("X-Cache"), "MISS")
        self.fc.advance(10)  # past the ceiling's 5 s
        self.assertEqual(get(self.fc, "/r/ceiling;cc=max-age=300").header("X-Cache"), "MISS")
        self.assertEqual(self.origin.renders, 3)
        self.assertIn("fresh for 120 s", self.explain(
            "http://t/r/floor;cc=max-age=10", "--status", "200", "-R", "Cache-Control: max-age=10"))

    def test_grace_and_stale_if_error(self):
        first = get(self.fc, "/r/stale;cc=max-age=10")
        self.fc.advance(60)  # past its 10 s; cache.grace is 0 here, the rule's is an hour
        stale = get(self.fc, "/r/stale;cc=max-age=10")
        self.assertEqual(stale.header("X-Cache"), "STALE")
        self.assertEqual(stale.body, first.body)
        wait_for(lambda: self.origin.renders == 2)  # one background refresh
        self.fc.advance(7200)  # past the grace: the app fails, the copy stands in (a day)
        self.origin.faults["/r/stale;cc=max-age=10"] = "500"
        saved = get(self.fc, "/r/stale;cc=max-age=10")
        self.assertEqual(saved.status, 200)
        self.assertTrue(saved.body.startswith(b"render 2"), saved.body)

    def test_host_and_query_deny(self):
        self.assertEqual(get(self.fc, "/r/host;cc=max-age=60").header("X-Cache"), "MISS")
        resp, rd = request(self.fc, "GET /r/host;cc=max-age=60 HTTP/1.1\r\n"
                                    "Host: Shop.Example.org.\r\n\r\n")
        rd.sock.close()
        self.assertEqual(resp.header("X-Cache"), "BYPASS")
        a = get(self.fc, "/echo?id=1&sort=asc&debug_x=1")
        self.assertEqual(json.loads(a.body)["target"], "/echo?id=1")
        self.assertEqual(get(self.fc, "/echo?sort=desc&id=1").header("X-Cache"), "HIT")
        self.assertEqual(get(self.fc, "/echo?id=2").header("X-Cache"), "MISS")

    def test_status_ttl_stores_a_404_and_never_a_5xx(self):
        self.assertEqual(get(self.fc, "/status?code=404").status, 404)
        hit = get(self.fc, "/status?code=404")
        self.assertEqual((hit.status, hit.header("X-Cache")), (404, "HIT"))
        self.fc.advance(31)
        self.assertEqual(get(self.fc, "/status?code=404").header("X-Cache"), "MISS")
        for _ in range(2):
            self.assertEqual(get(self.fc, "/status?code=503").header("X-Cache"), "MISS")
        self.assertEqual(self.origin_count("/status?code=404"), 2)
        self.assertEqual(self.origin_count("/status?code=503"), 2)
        self.assertIn("response 404: stored, fresh for 30 s",
                      self.explain("http://t/status?code=404", "--status", "404"))
        self.assertIn("response 503: not stored",
                      self.explain("http://t/status?code=503", "--status", "503", "-R",
                                   "Cache-Control: max-age=600"))

    def test_search_query_edits_key_header_and_request_fields(self):
        a = get(self.fc, "/echo?utm_source=x&q=shoes&junk=1&page=2", "X-Secret: s\r\n")
        self.assertEqual(a.header("X-Cache"), "MISS")
        seen = json.loads(a.body)
        self.assertEqual(seen["target"], "/echo?page=2&q=shoes")  # allowed, sorted
        names = {n.lower(): v for n, v in seen["headers"]}
        self.assertEqual(names.get("x-from-rule"), "search")
        self.assertNotIn("x-secret", names)
        # Another spelling of the same query is the same page; another q is not.
        self.assertEqual(get(self.fc, "/echo?q=shoes&page=2&junk=2").header("X-Cache"), "HIT")
        self.assertEqual(get(self.fc, "/echo?q=hats").header("X-Cache"), "MISS")
        # key_headers: one page per country.
        self.assertEqual(get(self.fc, "/echo?q=shoes&page=2", "X-Country: DE\r\n")
                         .header("X-Cache"), "MISS")
        self.assertEqual(get(self.fc, "/echo?q=shoes&page=2", "X-Country: DE\r\n")
                         .header("X-Cache"), "HIT")
        self.assertEqual(get(self.fc, "/echo?q=shoes&page=2", "X-Country: FR\r\n")
                         .header("X-Cache"), "MISS")
        self.assertEqual(self.origin_count("/echo"), 4)
        out = self.explain("http://t/echo?junk=1&q=shoes&page=2")
        self.assertIn("forwarded as: GET /echo?page=2&q=shoes", out)
        # Django's rules pass a query string: the rule is what caches it there.
        self.assertIn("decision: look up, store on a miss" +
                      (" (rule search)" if self.MODE == "django" else "\n"), out)

    def test_continue_adds_a_cookie_to_the_key(self):
        # "tagged" continues; then "api" (only with X-Api) or "search" decides.
        r1 = get(self.fc, "/echo?q=a", "Cookie: beta=1; other=x\r\n")
        r2 = get(self.fc, "/echo?q=a", "Cookie: beta=1; other=y\r\n")
        r3 = get(self.fc, "/echo?q=a", "Cookie: beta=2\r\n")
        self.assertEqual([r.header("X-Cache") for r in (r1, r2, r3)], ["MISS", "HIT", "MISS"])
        seen = {n.lower(): v for n, v in json.loads(r1.body)["headers"]}
        self.assertEqual(seen.get("x-beta"), "1")
        self.assertEqual(get(self.fc, "/echo?q=a", "Cookie: beta=1\r\nX-Api: 1\r\n")
                         .header("X-Cache"), "BYPASS")
        out = self.explain("http://t/echo?q=a", "-H", "Cookie: beta=1")
        self.assertIn("search", out)
        self.assertIn("tagged", out)

    def test_explain_agrees_with_the_server(self):
        # (path, request fields, the fields the origin answers with)
        cc60 = ["Cache-Control: max-age=60"]
        cases = [("/r/plain;cc=max-age=60", [], cc60), ("/r/private;cc=max-age=60", [], cc60),
                 ("/echo?q=z", [], []), ("/echo?x=1", [], []), ("/echo?q=z", ["X-Api: 1"], []),
                 ("/r/static/app.css", [], cc60 + ["Set-Cookie: track=1"]),
                 ("/echo?page=3&q=z&utm_source=x", ["X-Country: NL"], []),
                 ("/echo?q=y", ["Cookie: beta=7"], []),
                 ("/r/floor;cc=max-age=10", [], ["Cache-Control: max-age=10"]), ("/hello", [], [])]
        for path, fields, answer in cases:
            extra = "".join(f + "\r\n" for f in fields)
            served = get(self.fc, path, extra)
            args = ["--status", "200"]
            for f in fields:
                args += ["-H", f]
            for f in answer:
                args += ["-R", f]
            said = self.explain("http://test" + path, *args)
            bypass = "decision: bypass" in said
            self.assertEqual(bypass, served.header("X-Cache") == "BYPASS", (path, fields, said))
            if bypass:
                continue
            again = get(self.fc, path, extra)
            stored = "response 200: stored" in said
            self.assertEqual(again.header("X-Cache"), "HIT" if stored else "MISS", (path, said))
            if stored:  # the key the server stored under (Cache-Status key=) is explain's
                key = re.search(r'key="([^"]*)"', again.header("Cache-Status")).group(1)
                self.assertIn("page key (a response without Vary): %s\n" % key, said, path)


class RulesDjango(RulesBase, unittest.TestCase):
    MODE = "django"

    def test_defaults_keep_djangos_behaviour(self):
        # No rule matches: a query string bypasses, as Django's per-site cache does.
        self.assertEqual(get(self.fc, "/echo?x=1").header("X-Cache"), "BYPASS")
        self.assertEqual(get(self.fc, "/r/plain;cc=max-age=60").header("X-Cache"), "MISS")
        self.assertEqual(get(self.fc, "/r/plain;cc=max-age=60").header("X-Cache"), "HIT")


class RulesHttp(RulesBase, unittest.TestCase):
    MODE = "http"


class RulesConfig(unittest.TestCase):
    def check(self, text):
        path = os.path.join(self.tmp, "bad.toml")
        with open(path, "w") as f:
            f.write(text)
        return subprocess.run([BIN, "--check-config", path], capture_output=True, text=True,
                              timeout=20)

    def setUp(self):
        import tempfile
        self.tmpdir = tempfile.TemporaryDirectory()
        self.tmp = self.tmpdir.name
        self.addCleanup(self.tmpdir.cleanup)

    def test_errors_name_file_line_column_and_key(self):
        out = self.check('[[rules]]\nname = "a"\npath = "/x"\n\n[[rules]]\nname = "b"\n'
                         'ttl_mode = "sometimes"\n')
        self.assertEqual(out.returncode, 1)
        self.assertRegex(out.stderr, r"bad\.toml:7:12: rules\[1\]\.ttl_mode: ")
        out = self.check('[[rules]]\nname = "a"\nresponse_set = { "X-A" = "x\\r\\nEvil: 1" }\n')
        self.assertRegex(out.stderr, r"bad\.toml:3:\d+: rules\[0\]\.response_set\.X-A: ")
        out = self.check('[[rules]]\nname = "a"\nstatus_ttl = { 206 = "1m" }\n')
        self.assertRegex(out.stderr, r"rules\[0\]\.status_ttl\.206: ")
        out = self.check('[[rules]]\nname = "a"\n[[rules]]\nname = "a"\n')
        self.assertIn("names an earlier rule", out.stderr)
        out = self.check('[[rules]]\npath = "/x"\n')
        self.assertIn("rules[0].name", out.stderr)
        out = self.check('[[rules]]\nname = "a"\nbogus = 1\n')
        self.assertRegex(out.stderr, r"bad\.toml:3:\d+: rules\[0\]\.bogus: unknown key")

    def test_reload_applies_new_rules_and_a_bad_one_keeps_the_old(self):
        origin = Origin()
        self.addCleanup(origin.close)
        fc = Frontcache(origin.url, {"rules": [{"name": "one", "path": "/hello",
                                               "cache": "bypass"}]})
        self.addCleanup(fc.stop)
        self.assertEqual(get(fc, "/hello").header("X-Cache"), "BYPASS")
        with open(fc.config_path) as f:
            cfg = f.read()
        with open(fc.config_path, "w") as f:
            f.write(cfg.replace('cache = "bypass"', 'cache = "sometimes"'))
        fc.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "rules[0].cache" in fc.log())
        self.assertEqual(get(fc, "/hello").header("X-Cache"), "BYPASS")  # the old rules
        with open(fc.config_path, "w") as f:
            f.write(cfg.replace('path = "/hello"', 'path = "/nothing"'))
        fc.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while get(fc, "/hello").header("X-Cache") == "BYPASS" and time.time() < deadline:
            time.sleep(0.1)
        self.assertNotEqual(get(fc, "/hello").header("X-Cache"), "BYPASS")


if __name__ == "__main__":
    unittest.main()


def prefixed(origin, prefix):
    return len([r for r in origin.requests if r[1].startswith(prefix)])


class RulesUpstreamGroups(unittest.TestCase):
    """[[upstream.groups]]: a rule sends a route to another set of servers."""

    def setUp(self):
        self.app = Origin()
        self.api = [Origin(), Origin()]
        for o in [self.app] + self.api:
            self.addCleanup(o.close)
        self.fc = Frontcache(None, {
            "upstream": {"url": self.app.url,
                         "groups": [{"name": "api", "servers": [o.url for o in self.api]}]},
            "rules": [{"name": "api", "path_prefix": "/api/", "upstream": "api"},
                      {"name": "api-cached", "path_prefix": "/r/api", "upstream": "api"}]})
        self.addCleanup(self.fc.stop)

    def test_a_route_goes_to_its_group_only(self):
        for i in range(6):
            self.assertEqual(get(self.fc, "/api/x?n=%d" % i).status, 404)
            self.assertEqual(get(self.fc, "/hello").status, 200)
        self.assertEqual(prefixed(self.app, "/api/x"), 0)
        self.assertEqual([prefixed(o, "/api/x") for o in self.api], [3, 3])  # balanced in it
        self.assertEqual(sum(prefixed(o, "/hello") for o in self.api), 0)
        # Stored pages come from the group too; a hit asks nobody.
        self.assertEqual(get(self.fc, "/r/api;cc=max-age=60").header("X-Cache"), "MISS")
        self.assertEqual(get(self.fc, "/r/api;cc=max-age=60").header("X-Cache"), "HIT")
        self.assertEqual(sum(o.renders for o in self.api if hasattr(o, "renders")), 1)
        self.assertFalse(hasattr(self.app, "renders"))

    def test_a_group_that_is_down_is_not_replaced_by_another(self):
        for o in self.api:
            o.close()
        self.assertEqual(get(self.fc, "/api/x").status, 502)
        self.assertEqual(get(self.fc, "/hello").status, 200)
        self.assertEqual(prefixed(self.app, "/api/x"), 0)

    def test_config_names_the_group(self):
        path = os.path.join(self.fc.tmp.name, "bad.toml")
        write_config(path, {"upstream": {"url": self.app.url},
                            "rules": [{"name": "x", "path": "/x", "upstream": "nope"}]})
        out = subprocess.run([BIN, "--check-config", path], capture_output=True, text=True,
                             timeout=20)
        self.assertEqual(out.returncode, 1)
        self.assertRegex(out.stderr, r"bad\.toml:\d+:\d+: rules\[0\]\.upstream: \"nope\" names no")


class RulesUpstreamGroupsReload(unittest.TestCase):
    def test_sighup_adds_a_group_and_its_route(self):
        app, api = Origin(), Origin()
        for o in (app, api):
            self.addCleanup(o.close)
        fc = Frontcache(app.url, {})
        self.addCleanup(fc.stop)
        self.assertEqual(get(fc, "/api/x").status, 404)
        self.assertEqual(prefixed(app, "/api/x"), 1)
        with open(fc.config_path) as f:
            cfg = f.read()
        with open(fc.config_path, "w") as f:
            f.write(cfg + '\n[[upstream.groups]]\nname = "api"\nurl = "%s"\n\n'
                          '[[rules]]\nname = "api"\npath_prefix = "/api/"\nupstream = "api"\n'
                    % api.url)
        fc.proc.send_signal(signal.SIGHUP)
        # The new server is checked (a connect) before it takes requests.
        self.assertTrue(wait_for(lambda: get(fc, "/api/y").status == 404 and
                                 prefixed(api, "/api/") > 0, timeout=10))
        before = prefixed(app, "/api/")
        for _ in range(5):
            self.assertEqual(get(fc, "/api/z").status, 404)
        self.assertEqual(prefixed(app, "/api/"), before)
        self.assertEqual(get(fc, "/hello").status, 200)
        self.assertEqual(prefixed(api, "/hello"), 0)


class RulesNeverPoison(unittest.TestCase):
    """A rule that decides from a request field the key does not hold (here X-Internal, sent by
    anyone) changes what the app is sent: that page is stored apart from everyone else's."""

    def test_an_unkeyed_field_that_changes_the_request_splits_the_key(self):
        origin = Origin()
        self.addCleanup(origin.close)
        fc = Frontcache(origin.url, {"rules": [
            {"name": "internal", "header_equals": {"X-Internal": "1"},
             "request_set": {"X-Show-Drafts": "1"}, "continue": True}]})
        self.addCleanup(fc.stop)
        inside = get(fc, "/echo", "X-Internal: 1\r\n")
        self.assertIn("x-show-drafts", {n.lower() for n, _ in json.loads(inside.body)["headers"]})
        self.assertEqual(get(fc, "/echo", "X-Internal: 1\r\n").header("X-Cache"), "HIT")
        outside = get(fc, "/echo")
        self.assertEqual(outside.header("X-Cache"), "MISS")
        self.assertNotIn("x-show-drafts",
                         {n.lower() for n, _ in json.loads(outside.body)["headers"]})
