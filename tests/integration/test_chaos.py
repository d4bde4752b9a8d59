"""A bounded storm of everything at once against two workers (run under ASan by the asan preset,
where any memory error aborts the process): cacheable, private and failing pages, clients that
reset mid-response or mid-fetch, pipelined requests, HEADs, chunked uploads, public PURGEs,
revalidations and background refreshes driven by moving the cache clock, an https claim from a
trusted peer. Afterwards frontcache still answers, drains on SIGTERM and exits 0, and no
exchange took a step outside the table."""

import random
import socket
import struct
import threading
import time
import unittest

from harness import Frontcache, Origin, Reader

SECONDS = 8
THREADS = 6


class Chaos(unittest.TestCase):
    def test_storm(self):
        origin = Origin()
        origin.faults["/r/flaky;cc=max-age=5"] = "503"
        fc = Frontcache(origin.url, {
            "server": {"trusted_proxies": ["127.0.0.1"], "header_timeout": "2s"},
            "cache": {"grace": "2s", "stale_if_error": "30s", "lock_timeout": "1s"},
            "admin": {"allow_purge_from": ["127.0.0.1"]},
            "upstream": {"max_connections": 8, "read_timeout": "3s"},
            "log": {"level": "error"}}, workers=2)
        paths = ["/r/a;cc=max-age=5", "/r/b;cc=max-age=5;etag=\"e\"", "/r/c;cc=max-age=5;delay=50",
                 "/r/d;cc=max-age=5;vary=Accept-Language", "/r/e;cookie=x=1",
                 "/r/f;cc=no-cache;etag=\"n\"", "/r/g;cc=max-age=5;size=300000",
                 "/r/flaky;cc=max-age=5", "/r/h;cc=max-age=5;chunked;size=20000", "/echo"]
        stop = time.monotonic() + SECONDS
        errors = []
        done = [0]

        def one(r):
            s = socket.create_connection((fc.host, fc.port), 10)
            s.settimeout(10)
            p = r.choice(paths)
            extra = r.choice(["", "Accept-Language: fr\r\n", "X-Forwarded-Proto: https\r\n",
                              "If-None-Match: \"e\"\r\n"])
            kind = r.random()
            try:
                if kind < 0.45:  # plain, keep-alive, two in a row
                    rd = Reader(s)
                    for _ in range(2):
                        s.sendall(("GET %s HTTP/1.1\r\nHost: h\r\n%s\r\n" % (p, extra)).encode())
                        rd.response()
                elif kind < 0.6:  # pipelined, with a HEAD among them
                    s.sendall(("GET %s HTTP/1.1\r\nHost: h\r\n\r\nHEAD %s HTTP/1.1\r\nHost: h\r\n"
                               "\r\nGET %s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                               % (p, p, r.choice(paths))).encode())
                    rd = Reader(s)
                    rd.response()
                    rd.response(head_request=True)
                    rd.response()
                elif kind < 0.75:  # reset at a random moment of the exchange
                    s.sendall(("GET %s HTTP/1.1\r\nHost: h\r\n%s\r\n" % (p, extra)).encode())
                    time.sleep(r.choice([0, 0.001, 0.02, 0.06]))
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                elif kind < 0.85:  # a chunked upload, maybe abandoned half way
                    s.sendall(b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
                    for _ in range(r.randint(0, 4)):
                        s.sendall(b"400\r\n" + b"u" * 1024 + b"\r\n")
                    if r.random() < 0.7:
                        s.sendall(b"0\r\n\r\n")
                        Reader(s).response()
                    else:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                elif kind < 0.9:  # purge by prefix on the public port
                    s.sendall(b"PURGE /r/* HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                    Reader(s).response()
                else:  # a head that never finishes (header timeout) or garbage
                    s.sendall(r.choice([b"GET / HTTP/1.1\r\nHost:", b"\x00\x01garbage\r\n\r\n"]))
                    time.sleep(0.01)
            except (OSError, ValueError, AssertionError) as e:
                if not isinstance(e, (ConnectionResetError, BrokenPipeError, socket.timeout)):
                    errors.append(repr(e))
            finally:
                s.close()
            done[0] += 1

        def worker(seed):
            r = random.Random(seed)
            while time.monotonic() < stop:
                one(r)

        def clock():
            while time.monotonic() < stop:
                time.sleep(0.5)
                fc.advance(3)  # pages go stale, into grace, out of it: refreshes, revalidations

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
        threads.append(threading.Thread(target=clock))
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(SECONDS + 30)
            self.assertGreater(done[0], 100, fc.log()[-6000:])
            # Still answering, and answering correctly.
            self.assertIsNone(fc.proc.poll(), "frontcache died:\n" + fc.log()[-6000:])
            s = socket.create_connection((fc.host, fc.port), 10)
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            resp = Reader(s).response()
            s.close()
            self.assertEqual((resp.status, resp.body), (200, b"hello"))
            self.assertLessEqual(len(errors), done[0] // 20, errors[:5])
        finally:
            log = fc.log()
            rc = fc.stop(timeout=30)
            origin.close()
        self.assertEqual(rc, 0, "frontcache did not exit cleanly (a sanitizer report aborts it):\n"
                         + log[-6000:])
        self.assertNotIn("not in the table", log)


if __name__ == "__main__":
    unittest.main()
