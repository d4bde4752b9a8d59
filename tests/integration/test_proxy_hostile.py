"""Hostile input over the wire: request smuggling shapes, header bombs, and 10,000 idle
connections held open while normal traffic is still answered."""

import os
import resource
import time
import unittest

from harness import OriginAndProxy, Frontcache, Origin, Reader, asan_build, get, request, rss_kib


class Smuggling(OriginAndProxy):
    def rejected(self, raw):
        before = len(self.origin.requests)
        resp, r = request(self.fc, raw)
        self.assertEqual(resp.status, 400, raw)
        self.assertTrue(r.closed(), "connection must close after 400")
        r.sock.close()
        # Nothing of it reached the origin.
        self.assertEqual(len(self.origin.requests), before)

    def test_cl_te(self):
        self.rejected("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nG")

    def test_te_cl(self):
        self.rejected("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                      "Content-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n")

    def test_te_obs_fold(self):
        self.rejected("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n"
                      " chunked\r\nContent-Length: 4\r\n\r\nabcd")

    def test_te_space_before_colon(self):
        self.rejected("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n"
                      "Content-Length: 4\r\n\r\nabcd")

    def test_duplicate_content_length(self):
        self.rejected("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                      "Content-Length: 40\r\n\r\nabcd")

    def test_bare_cr_ends_nothing(self):
        self.rejected("GET /echo HTTP/1.1\r\nHost: t\r\n\rGET /smuggled HTTP/1.1\r\n\r\n")

    def test_empty_header_name(self):
        self.rejected("GET /echo HTTP/1.1\r\nHost: t\r\n: x\r\n\r\n")

    def test_invalid_chunk_size(self):
        self.rejected("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "-1\r\nx\r\n0\r\n\r\n")

    def test_smuggled_request_after_valid_one_is_not_forwarded_as_one(self):
        # A pipelined second request is parsed as a request of its own, never glued into a body.
        s = self.fc.connect()
        s.sendall(b"GET /echo?a HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
                  b"GET /echo?b HTTP/1.1\r\nHost: t\r\n\r\n")
        r = Reader(s)
        self.assertIn(b"/echo?a", r.response().body)
        self.assertIn(b"/echo?b", r.response().body)
        s.close()


class HeaderBombs(unittest.TestCase):
    def test_many_headers_and_huge_values(self):
        origin = Origin()
        fc = Frontcache(origin.url)
        try:
            many = "".join("X-%d: v\r\n" % i for i in range(5000))
            resp, r = request(fc, "GET / HTTP/1.1\r\nHost: t\r\n%s\r\n" % many)
            self.assertEqual(resp.status, 431)
            r.sock.close()
            resp, r = request(fc, "GET / HTTP/1.1\r\nHost: t\r\nCookie: %s\r\n\r\n" % ("c" * 100000))
            self.assertEqual(resp.status, 431)
            r.sock.close()
            self.assertEqual(get(fc, "/hello").status, 200)
        finally:
            self.assertEqual(fc.stop(), 0)
            origin.close()


class IdleConnections(unittest.TestCase):
    COUNT = 10000

    def test_10k_idle_connections_do_not_block_traffic(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = self.COUNT + 200
        if hard < need:
            self.skipTest("open-file hard limit %d < %d" % (hard, need))
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
        origin = Origin()
        fc = Frontcache(origin.url, {"server": {"header_timeout": "120s", "idle_timeout": "120s"}})
        conns = []
        try:
            base = rss_kib(fc.proc.pid)
            for i in range(self.COUNT):
                conns.append(fc.connect())
                if i % 2000 == 1999:  # normal traffic keeps flowing while they pile up
                    self.assertEqual(get(fc, "/hello").body, b"hello")
            time.sleep(0.5)
            start = time.monotonic()
            for _ in range(50):
                self.assertEqual(get(fc, "/hello").body, b"hello")
            elapsed = time.monotonic() - start
            self.assertLess(elapsed, 10, "50 requests took %.1fs with 10k idle clients" % elapsed)
            per_conn = (rss_kib(fc.proc.pid) - base) * 1024 / self.COUNT
            print("\n10k idle connections: %.0f bytes of RSS each, 50 requests in %.3fs"
                  % (per_conn, elapsed))
            if not asan_build():
                self.assertLessEqual(per_conn, 4096)
            # The idle connections are still open and usable.
            conns[0].sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(Reader(conns[0]).response().body, b"hello")
        finally:
            for c in conns:
                c.close()
            self.assertEqual(fc.stop(), 0)
            origin.close()


class DescriptorExhaustion(unittest.TestCase):
    def test_out_of_descriptors_sheds_load_without_spinning(self):
        if asan_build():
            # ASan's runtime needs descriptors of its own at 64; it failed here under load.
            # The dev preset runs this test.
            self.skipTest("64 descriptors are too few for the ASan runtime")
        origin = Origin()
        # A hard limit of 64 descriptors: frontcache cannot raise it, and runs out quickly.
        fc = Frontcache(origin.url, {"server": {"header_timeout": "60s"}},
                        wrapper=["prlimit", "--nofile=64:64"])
        conns = []
        try:
            for _ in range(120):
                try:
                    conns.append(fc.connect(timeout=2))
                except OSError:
                    break
            time.sleep(0.3)
            before = cpu_seconds(fc.proc.pid)
            time.sleep(1.0)
            used = cpu_seconds(fc.proc.pid) - before
            self.assertLess(used, 0.3, "%.2fs of CPU in 1s while out of descriptors" % used)
            # The connections beyond the limit were shed: accepted and closed at once (libuv's
            # reserve-descriptor trick), so their clients see EOF instead of hanging.
            shed = 0
            for c in conns:
                c.setblocking(False)
                try:
                    if c.recv(1) == b"":
                        shed += 1
                except (BlockingIOError, ConnectionResetError):
                    pass
            self.assertGreater(shed, 0)
            self.assertLess(shed, len(conns))
            for c in conns:
                c.close()
            conns = []
            time.sleep(0.3)
            self.assertEqual(get(fc, "/hello").body, b"hello")
        finally:
            for c in conns:
                c.close()
            self.assertEqual(fc.stop(), 0)
            origin.close()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")



if __name__ == "__main__":
    unittest.main()
