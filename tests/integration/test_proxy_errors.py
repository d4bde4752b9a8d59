"""Every error the proxy must answer: limits, timeouts, upstream failures, shutdown, start-up."""

import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (OriginAndProxy, BIN, Frontcache, Origin, Reader, admin_request,
                     free_port_closed, get, request)


class Limits(OriginAndProxy):
    SECTIONS = {
            "server": {"max_header_size": "4KiB", "max_uri_size": "1KiB", "max_body": "1KiB",
                       "header_timeout": "1s", "body_timeout": "1s", "idle_timeout": "2s"}}

    def expect(self, raw, status):
        resp, r = request(self.fc, raw)
        self.assertEqual(resp.status, status, resp)
        self.assertEqual(resp.header("Connection"), "close")
        self.assertTrue(r.closed(), "connection left open after %d" % status)
        return resp

    def test_431_header_block(self):
        self.expect("GET / HTTP/1.1\r\nHost: t\r\nX: %s\r\n\r\n" % ("a" * 5000), 431)

    def test_414_uri(self):
        self.expect("GET /%s HTTP/1.1\r\nHost: t\r\n\r\n" % ("a" * 2000), 414)

    def test_413_content_length(self):
        self.expect("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n", 413)

    def test_413_chunked(self):
        self.expect("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "400\r\n%s\r\n400\r\n%s\r\n0\r\n\r\n" % ("a" * 1024, "b" * 1024), 413)

    def test_408_slow_headers(self):
        s = self.fc.connect()
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")  # never finishes the head
        start = time.monotonic()
        resp = Reader(s).response()
        self.assertEqual(resp.status, 408)
        self.assertLess(time.monotonic() - start, 5)
        s.close()

    def test_408_slowloris_keeps_trickling(self):
        s = self.fc.connect()
        start = time.monotonic()
        s.sendall(b"GET / HTTP/1.1\r\n")
        try:
            for i in range(30):  # one header line every 100 ms does not reset the head clock
                s.sendall(b"X-%d: a\r\n" % i)
                time.sleep(0.1)
        except OSError:
            pass
        resp = Reader(s).response()
        self.assertEqual(resp.status, 408)
        self.assertLess(time.monotonic() - start, 3.5)
        s.close()

    def test_408_stalled_body(self):
        s = self.fc.connect()
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\npartial")
        resp = Reader(s).response()
        self.assertEqual(resp.status, 408)
        s.close()

    def test_idle_keepalive_closed(self):
        s = self.fc.connect()
        r = Reader(s)
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(r.response().status, 200)
        start = time.monotonic()
        self.assertTrue(r.closed(timeout=6))
        self.assertGreater(time.monotonic() - start, 1.5)

    def test_400_malformed(self):
        for raw in ("GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n",
                    "NOT HTTP AT ALL\r\n\r\n",
                    "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n",
                    "GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n"):
            with self.subTest(raw=raw):
                self.expect(raw, 400)

    def test_417_unknown_expectation(self):
        self.expect("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
                    "Expect: something-else\r\n\r\nx", 417)


class UnacceptingListener:
    """A listener that never accepts, its backlog full: further SYNs are dropped on loopback, so
    a connect to its port times out. A context manager giving the port."""

    def __enter__(self):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(0)
        port = self.ls.getsockname()[1]
        self.fillers = []
        for _ in range(4):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(("127.0.0.1", port))
            self.fillers.append(f)
        time.sleep(0.2)
        return port

    def __exit__(self, *exc):
        for f in self.fillers:
            f.close()
        self.ls.close()


class UpstreamFailures(unittest.TestCase):
    def test_502_connection_refused(self):
        fc = Frontcache("http://127.0.0.1:%d" % free_port_closed())
        try:
            resp = get(fc, "/")
            self.assertEqual(resp.status, 502)
            self.assertIn(b"refused", resp.body)
        finally:
            self.assertEqual(fc.stop(), 0)

    def test_errors_to_head_have_no_body_and_keep_the_connection(self):
        # A HEAD's 502 says the length a GET's would have, and sends no body: the next response
        # on the connection is read where it starts (before, the body was sent and read as the
        # start of the next response).
        fc = Frontcache("http://127.0.0.1:%d" % free_port_closed())
        try:
            s = fc.connect()
            s.sendall(b"HEAD /x HTTP/1.1\r\nHost: t\r\n\r\nGET /y HTTP/1.1\r\nHost: t\r\n\r\n")
            r = Reader(s)
            head = r.response(head_request=True)
            self.assertEqual(head.status, 502)
            self.assertGreater(int(head.header("Content-Length")), 0)
            get_after = r.response()
            self.assertEqual(get_after.status, 502)
            self.assertIn(b"refused", get_after.body)
            s.close()
        finally:
            self.assertEqual(fc.stop(), 0)

    def test_504_connect_timeout(self):
        with UnacceptingListener() as port:
            fc = Frontcache("http://127.0.0.1:%d" % port,
                            {"upstream": {"connect_timeout": "500ms"}})
            try:
                start = time.monotonic()
                resp = get(fc, "/")
                self.assertEqual(resp.status, 504)
                self.assertLess(time.monotonic() - start, 4)
            finally:
                self.assertEqual(fc.stop(), 0)

    def test_upstream_behaviours(self):
        origin = Origin()
        fc = Frontcache(origin.url, {"upstream": {"read_timeout": "1s"}})
        try:
            with self.subTest("hang -> 504"):
                start = time.monotonic()
                self.assertEqual(get(fc, "/hang").status, 504)
                self.assertLess(time.monotonic() - start, 4)
            with self.subTest("garbage -> 502"):
                self.assertEqual(get(fc, "/garbage").status, 502)
            with self.subTest("reset mid-body -> truncated, connection cut"):
                s = fc.connect()
                s.sendall(b"GET /reset-mid-body HTTP/1.1\r\nHost: t\r\n\r\n")
                r = Reader(s)
                with self.assertRaises((EOFError, ConnectionResetError)):
                    r.response()
                s.close()
            with self.subTest("still healthy afterwards"):
                self.assertEqual(get(fc, "/hello").body, b"hello")
        finally:
            self.assertEqual(fc.stop(), 0)
            origin.close()

    def test_upstream_goes_down_then_up(self):
        origin = Origin()
        port = origin.port
        # Pass-through only: a cached /hello would (rightly) still be served with the origin down.
        fc = Frontcache(origin.url, {"cache": {"bypass_paths": ["/"]}})
        try:
            self.assertEqual(get(fc, "/hello").status, 200)
            origin.close()
            time.sleep(0.2)
            self.assertEqual(get(fc, "/hello").status, 502)
        finally:
            self.assertEqual(fc.stop(), 0)
        del port


class UnavailablePage(unittest.TestCase):
    """upstream.unavailable_page (issue #23): when the app cannot be reached and no stale copy
    exists, the operator's page with 503 and Retry-After instead of a bare 502; an app that is up
    but fails keeps its 502/504, and a stale copy still wins."""

    PAGE = b"<!doctype html><title>Back soon</title><h1>We are upgrading the site</h1>\n"

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.page = os.path.join(self.tmp.name, "maintenance.html")
        with open(self.page, "wb") as f:
            f.write(self.PAGE)

    def tearDown(self):
        self.tmp.cleanup()

    def sections(self, **upstream):
        return {"upstream": dict(unavailable_page=self.page, unavailable_retry_after="120s",
                                 **upstream)}

    def test_refused_everywhere_gets_the_page(self):
        fc = Frontcache("http://127.0.0.1:%d" % free_port_closed(), self.sections())
        try:
            resp = get(fc, "/any/page")
            self.assertEqual(resp.status, 503)
            self.assertEqual(resp.body, self.PAGE)
            self.assertEqual(resp.header("Retry-After"), "120")
            self.assertEqual(resp.header("Content-Type"), "text/html; charset=utf-8")
            head, r = request(fc, "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n", head_request=True)
            r.sock.close()
            self.assertEqual(head.status, 503)
            self.assertEqual(head.body, b"")
            self.assertEqual(head.header("Content-Length"), str(len(self.PAGE)))
        finally:
            self.assertEqual(fc.stop(), 0)

    def test_one_server_up_of_two_serves_and_a_connect_timeout_is_unreachable(self):
        origin = Origin()
        fc = Frontcache(None, self.sections(
            servers=["http://127.0.0.1:%d" % free_port_closed(), origin.url]))
        try:
            for _ in range(4):  # the refused server is skipped; the live one answers
                self.assertEqual(get(fc, "/hello").body, b"hello")
        finally:
            self.assertEqual(fc.stop(), 0)
            origin.close()
        sections = self.sections(connect_timeout="300ms")
        sections["admin"] = {"listen": "127.0.0.1:0"}
        with UnacceptingListener() as port:  # the connect times out
            fc = Frontcache("http://127.0.0.1:%d" % port, sections)
            try:
                resp = get(fc, "/")
                self.assertEqual(resp.status, 503)
                self.assertEqual(resp.body, self.PAGE)
                metrics = admin_request(fc.extra_ports["admin"], "GET", "/metrics").body
                self.assertIn(b"unavailable_pages_total 1\n", metrics)
            finally:
                self.assertEqual(fc.stop(), 0)

    def test_an_app_that_answers_badly_or_slowly_keeps_its_status(self):
        origin = Origin()
        fc = Frontcache(origin.url, self.sections(read_timeout="1s"))
        try:
            self.assertEqual(get(fc, "/garbage").status, 502)  # reached: not "unavailable"
            self.assertEqual(get(fc, "/hang").status, 504)
            self.assertEqual(get(fc, "/hello").body, b"hello")
        finally:
            self.assertEqual(fc.stop(), 0)
            origin.close()

    def test_a_stale_copy_wins_then_the_page_when_there_is_none(self):
        origin = Origin()
        fc = Frontcache(origin.url, self.sections())
        try:
            p = "/r/kept;cc=max-age=10"
            self.assertEqual(get(fc, p).header("X-Cache"), "MISS")
            origin.close()
            time.sleep(0.2)
            fc.advance(11 + 60)  # past its TTL and cache.grace, inside stale_if_error
            stale = get(fc, p)
            self.assertEqual(stale.status, 200)
            self.assertIn("STALE", stale.header("X-Cache"))
            self.assertEqual(get(fc, "/r/never-stored").status, 503)
        finally:
            self.assertEqual(fc.stop(), 0)

    def test_a_missing_file_is_a_config_error(self):
        path = os.path.join(self.tmp.name, "fc.toml")
        with open(path, "w") as f:
            f.write('[upstream]\nurl = "http://127.0.0.1:1"\nunavailable_page = "/nonexistent/x.html"\n')
        p = subprocess.run([BIN, "--check-config", path], capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(path + ":3:", p.stderr + p.stdout)
        self.assertIn("upstream.unavailable_page", p.stderr + p.stdout)


class UpstreamQueue(unittest.TestCase):
    def test_requests_queue_for_a_connection_then_503(self):
        origin = Origin()
        fc = Frontcache(origin.url, {"upstream": {"max_connections": 1, "max_queue": 1,
                                                  "queue_timeout": "500ms"}})
        try:
            busy = fc.connect()
            busy.sendall(b"GET /slow?ms=2000 HTTP/1.1\r\nHost: t\r\n\r\n")
            time.sleep(0.2)
            queued = fc.connect()
            queued.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            time.sleep(0.1)
            # The queue (1 place) is full now: the next request is refused at once.
            start = time.monotonic()
            resp = get(fc, "/hello")
            self.assertEqual(resp.status, 503)
            self.assertEqual(resp.header("Retry-After"), "1")
            self.assertLess(time.monotonic() - start, 0.4)
            # The queued one gives up after queue_timeout.
            resp = Reader(queued).response()
            self.assertEqual(resp.status, 503)
            self.assertEqual(Reader(busy).response().body, b"slow")
            # Once the connection is free, requests flow again.
            self.assertEqual(get(fc, "/hello").status, 200)
            busy.close()
            queued.close()
        finally:
            self.assertEqual(fc.stop(), 0)
            origin.close()

    def test_queued_request_gets_the_connection_when_it_frees(self):
        origin = Origin()
        fc = Frontcache(origin.url, {"upstream": {"max_connections": 1, "queue_timeout": "5s"}})
        try:
            busy = fc.connect()
            busy.sendall(b"GET /slow?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n")
            time.sleep(0.1)
            self.assertEqual(get(fc, "/hello").body, b"hello")
            self.assertEqual(Reader(busy).response().body, b"slow")
            busy.close()
            self.assertEqual(origin.connections, 1)
        finally:
            self.assertEqual(fc.stop(), 0)
            origin.close()


class Shutdown(unittest.TestCase):
    def test_sigterm_drains_in_flight_requests(self):
        origin = Origin()
        fc = Frontcache(origin.url, {"server": {"drain_timeout": "5s"}})
        result = {}

        def slow():
            try:
                result["resp"] = get(fc, "/slow?ms=1000")
            except Exception as e:  # noqa: BLE001 - reported below
                result["err"] = e

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.3)
        fc.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        # New connections are refused once the listener is closed.
        with self.assertRaises(OSError):
            fc.connect(timeout=1)
        t.join(10)
        self.assertIn("resp", result, result)
        self.assertEqual(result["resp"].status, 200)
        self.assertEqual(result["resp"].body, b"slow")
        self.assertEqual(fc.proc.wait(10), 0)
        fc.stop()
        origin.close()

    def test_drain_timeout_bounds_shutdown(self):
        origin = Origin()
        fc = Frontcache(origin.url, {"server": {"drain_timeout": "500ms"},
                                     "upstream": {"read_timeout": "60s"}})
        s = fc.connect()
        s.sendall(b"GET /hang HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.2)
        start = time.monotonic()
        fc.proc.send_signal(signal.SIGTERM)
        self.assertEqual(fc.proc.wait(10), 0)
        self.assertLess(time.monotonic() - start, 5)
        s.close()
        fc.stop()
        origin.close()

    def test_idle_keepalive_closed_on_sigterm(self):
        origin = Origin()
        fc = Frontcache(origin.url)
        s = fc.connect()
        r = Reader(s)
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(r.response().status, 200)
        fc.proc.send_signal(signal.SIGTERM)
        self.assertTrue(r.closed(5))
        self.assertEqual(fc.proc.wait(10), 0)
        fc.stop()
        origin.close()


class StartUp(unittest.TestCase):
    def run_fc(self, *args):
        return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=20)

    def test_port_in_use(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
            f.write('[server]\nlisten = "127.0.0.1:%d"\n' % port)
            f.flush()
            p = self.run_fc("-c", f.name)
        s.close()
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot listen on 127.0.0.1:%d" % port, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_unreadable_config(self):
        p = self.run_fc("-c", "/nonexistent/frontcache.toml")
        self.assertEqual(p.returncode, 1)
        self.assertIn("/nonexistent/frontcache.toml: cannot read config file", p.stderr)

    def test_check_config(self):
        with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
            f.write('[upstream]\nurl = "http://127.0.0.1:8000"\n')
            f.flush()
            p = self.run_fc("--check-config", f.name)
            self.assertEqual((p.returncode, p.stdout), (0, "ok\n"))
        with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
            f.write('[server]\nworkers = 1\nlisten = "127.0.0.1:99999"\n[cache]\nmemory = -1\n')
            f.flush()
            p = self.run_fc("--check-config", f.name)
            self.assertEqual(p.returncode, 1)
            self.assertIn("%s:3:10: server.listen: port 99999 out of range" % f.name, p.stderr)
            self.assertIn("%s:5:10: cache.memory: must not be negative" % f.name, p.stderr)

    def test_shipped_sample_config_is_valid(self):
        sample = os.path.join(os.path.dirname(__file__), "..", "..", "frontcache.toml")
        p = self.run_fc("--check-config", sample)
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "ok"), p.stderr)

    def test_version_and_help(self):
        self.assertIn("frontcache", self.run_fc("--version").stdout)
        self.assertIn("--check-config", self.run_fc("--help").stdout)


if __name__ == "__main__":
    unittest.main()
