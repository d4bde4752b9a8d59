"""WebSockets through frontcache (issue #23): the test site under daphne (python3-daphne) serves
its Django pages and WebSocket endpoints (tests/django_site/fcsite/asgi.py) on one port, as a
site with Django Channels does; clients are python3-websockets. The handshake is forwarded with
its Upgrade, the 101 turns the connection into a two-way tunnel, pages next to it are still
cached. Before, Upgrade was dropped as hop-by-hop and the handshake never reached the app."""

import asyncio
import base64
import hashlib
import os
import re
import signal
import socket
import subprocess
import time
import unittest

import websockets

from harness import Frontcache, Reader, RawServer, Response, admin_request, close_quietly, get
from test_django_passthrough import SITE

# 200 sockets at once, as the issue asks; how long they talk (60 s in the soak:
# FC_WS_SECONDS=60).
SOCKETS = int(os.environ.get("FC_WS_SOCKETS", "200"))
SECONDS = float(os.environ.get("FC_WS_SECONDS", "5"))


class Daphne:
    """The test site under daphne on a port it picks."""

    def __init__(self):
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", "-m", "daphne", "-e", "tcp:port=0:interface=127.0.0.1",
             "--ping-interval", "600", "fcsite.asgi:application"],
            cwd=SITE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        for line in self.proc.stderr:
            m = re.search(r"Listening on TCP address 127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        else:
            raise RuntimeError("daphne did not start")
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()


def metric(fc, name):
    body = admin_request(fc.extra_ports["admin"], "GET", "/metrics").body.decode()
    m = re.search(r"^frontcache_%s (\d+)$" % re.escape(name), body, re.M)
    return int(m.group(1)) if m else None


async def talk(port, n, seconds):
    """One socket: messages of every size (text and binary, up to 1 MiB) for `seconds`; returns
    how many echoes came back, each checked."""
    async with websockets.connect("ws://127.0.0.1:%d/ws/echo" % port, max_size=None,
                                  ping_interval=None, open_timeout=30) as ws:
        count = 0
        deadline = time.monotonic() + seconds
        while True:
            if count % 50 == 7:
                msg = os.urandom(1 << 20 if n == 0 else 65536)  # backpressure both ways
            elif count % 2:
                msg = os.urandom(1 + (count * 37 + n) % 3000)
            else:
                msg = "socket %d message %d" % (n, count)
            await ws.send(msg)
            echo = await asyncio.wait_for(ws.recv(), 30)
            if echo != msg:
                raise AssertionError("socket %d message %d: wrong echo" % (n, count))
            count += 1
            if time.monotonic() > deadline:
                return count


def handshake(fc, path="/ws/echo", extra=""):
    """A raw handshake on a new connection: (response, reader)."""
    s = fc.connect()
    s.sendall(("GET %s HTTP/1.1\r\nHost: site.test\r\nConnection: Upgrade\r\n"
               "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n%s\r\n" % (path, extra)).encode())
    r = Reader(s)
    # Reader.response() skips 1xx: the 101 is read here, what follows it stays in the reader.
    raw = r._until(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    if status != 101:
        r.buf = raw + b"\r\n\r\n" + r.buf
        return r.response(), r
    headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
    return Response(101, lines[0].split(" ", 2)[2], headers, b"", raw), r


class WebSockets(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.app = Daphne()

    @classmethod
    def tearDownClass(cls):
        cls.app.stop()

    def proxy(self, **server):
        fc = Frontcache(self.app.url, {"server": server, "admin": {"listen": "127.0.0.1:0"}})
        self.addCleanup(fc.stop)  # also when an assertion fails before the test's own stop
        return fc

    def test_sockets_echo_next_to_cached_pages(self):
        fc = self.proxy(workers=2)
        try:
            resp, r = handshake(fc)
            self.assertEqual(resp.status, 101, resp)
            # RFC 6455 §1.3: the accept value of the RFC's own example key: daphne computed it
            # from the key that went upstream, so the end-to-end fields passed untouched.
            self.assertEqual(resp.header("Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            self.assertEqual(resp.header("Upgrade").lower(), "websocket")
            self.assertIn("upgrade", resp.header("Connection").lower())
            close_quietly(r.sock)

            async def run():
                return await asyncio.gather(*(talk(fc.port, n, SECONDS) for n in range(SOCKETS)))

            echoes = asyncio.run(run())
            self.assertEqual(len(echoes), SOCKETS)
            self.assertTrue(all(c > 0 for c in echoes))
            # Pages beside them are still looked up, stored and hit.
            self.assertEqual(get(fc, "/max30").header("X-Cache"), "MISS")
            self.assertEqual(get(fc, "/max30").header("X-Cache"), "HIT")
            wait = time.monotonic() + 5
            while metric(fc, "tunnels") != 0 and time.monotonic() < wait:
                time.sleep(0.05)
            self.assertEqual(metric(fc, "tunnels"), 0)
            self.assertEqual(metric(fc, "tunnels_opened_total"), SOCKETS + 1)
            body = admin_request(fc.extra_ports["admin"], "GET", "/metrics").body.decode()
            up = int(re.search(r'tunnel_bytes_total\{direction="to_upstream"\} (\d+)', body)[1])
            down = int(re.search(r'tunnel_bytes_total\{direction="to_client"\} (\d+)', body)[1])
            self.assertGreater(up, sum(echoes) * 10)
            self.assertGreater(down, sum(echoes) * 10)
            self.assertIn(b'bypass_total{reason="upgrade"}',
                          admin_request(fc.extra_ports["admin"], "GET", "/metrics").body)
        finally:
            self.assertEqual(fc.stop(), 0)

    def test_server_closing_ends_the_tunnel_and_a_refusal_is_an_answer(self):
        fc = self.proxy()
        try:
            async def closed_by_server():
                async with websockets.connect("ws://127.0.0.1:%d/ws/echo" % fc.port) as ws:
                    await ws.send("close")
                    await ws.wait_closed()
                    return ws.close_code

            self.assertEqual(asyncio.run(closed_by_server()), 1000)
            # Refused by the app (403): an ordinary response, and the connection stays HTTP.
            resp, r = handshake(fc, "/ws/refuse")
            self.assertEqual(resp.status, 403)
            r.sock.sendall(b"GET /max30 HTTP/1.1\r\nHost: site.test\r\n\r\n")
            self.assertEqual(r.response().status, 200)
            close_quietly(r.sock)
            self.assertEqual(metric(fc, "tunnels_opened_total"), 1)
        finally:
            self.assertEqual(fc.stop(), 0)

    def test_handshake_after_a_chunked_answer_gets_only_the_tunnels_bytes(self):
        fc = self.proxy()
        try:
            s = fc.connect()
            # A page streamed chunked first (Django pages without a length), keep-alive.
            s.sendall(b"GET /stream HTTP/1.1\r\nHost: site.test\r\n\r\n")
            r = Reader(s)
            first = r.response()
            self.assertEqual(first.status, 200)
            self.assertEqual(first.header("Transfer-Encoding"), "chunked")
            self.assertEqual(first.body, b"part one, part two")
            # Then a handshake on the same connection; the server closes the socket.
            s.sendall(b"GET /ws/echo HTTP/1.1\r\nHost: site.test\r\nConnection: Upgrade\r\n"
                      b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            head = r._until(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
            # A masked text frame "close" (RFC 6455 §5.3): the echo server closes.
            mask = b"\x01\x02\x03\x04"
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(b"close"))
            s.sendall(b"\x81\x85" + mask + payload)
            # Its Close frame (status 1000), then the end: nothing of ours after it.
            s.settimeout(10)
            data = r.buf
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            self.assertEqual(data[:4], b"\x88\x02\x03\xe8", data)
            self.assertEqual(len(data), 4, data)  # no "0\r\n\r\n" of an earlier framing
            close_quietly(s)
        finally:
            self.assertEqual(fc.stop(), 0)

    def test_client_half_close_reaches_the_upstream_and_its_answer_comes_back(self):
        # The upstream end reads until the client's FIN, then answers with what it read: only
        # a FIN passed on (not a cut connection) gets that answer back to the client.
        def serve(c, _):
            data = b""
            while b"\r\n\r\n" not in data:
                data += c.recv(65536)
            head, data = data.split(b"\r\n\r\n", 1)
            key = re.search(rb"Sec-WebSocket-Key: (\S+)", head).group(1)
            accept = base64.b64encode(hashlib.sha1(
                key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
            c.sendall(b"got " + data)

        origin = RawServer(serve)
        fc = Frontcache("http://127.0.0.1:%d" % origin.port, {})
        try:
            resp, r = handshake(fc)
            self.assertEqual(resp.status, 101)
            r.sock.sendall(b"last words")
            r.sock.shutdown(socket.SHUT_WR)
            r.sock.settimeout(10)
            data = r.buf
            while True:
                chunk = r.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            self.assertEqual(data, b"got last words")
            close_quietly(r.sock)
        finally:
            self.assertEqual(fc.stop(), 0)
            origin.close()

    def test_idle_tunnel_is_closed(self):
        fc = self.proxy(tunnel_idle_timeout="500ms")
        try:
            resp, r = handshake(fc, "/ws/silent")
            self.assertEqual(resp.status, 101)
            started = time.monotonic()
            self.assertTrue(r.closed(timeout=10))
            self.assertLess(time.monotonic() - started, 5)
            self.assertEqual(metric(fc, "tunnels_idle_closed_total"), 1)
            self.assertEqual(metric(fc, "tunnels"), 0)

            # Bytes keep it open: a socket that talks more often than the timeout lives on.
            async def chatty():
                async with websockets.connect("ws://127.0.0.1:%d/ws/echo" % fc.port,
                                              ping_interval=None) as ws:
                    for i in range(8):
                        await ws.send("ping %d" % i)
                        self.assertEqual(await ws.recv(), "ping %d" % i)
                        await asyncio.sleep(0.2)

            asyncio.run(chatty())
            self.assertEqual(metric(fc, "tunnels_idle_closed_total"), 1)
        finally:
            self.assertEqual(fc.stop(), 0)

    def test_max_tunnels_per_worker(self):
        fc = self.proxy(max_tunnels=2)
        socks = []
        try:
            for _ in range(2):
                resp, r = handshake(fc, "/ws/silent")
                self.assertEqual(resp.status, 101)
                socks.append(r.sock)
            resp, r = handshake(fc, "/ws/silent")
            self.assertEqual(resp.status, 503)
            close_quietly(r.sock)
            self.assertEqual(metric(fc, "tunnels_refused_total"), 1)
            close_quietly(socks.pop())
            wait = time.monotonic() + 5
            while metric(fc, "tunnels") != 1 and time.monotonic() < wait:
                time.sleep(0.05)
            resp, r = handshake(fc, "/ws/silent")
            self.assertEqual(resp.status, 101)  # a slot is free again
            socks.append(r.sock)
        finally:
            for s in socks:
                close_quietly(s)
            self.assertEqual(fc.stop(), 0)

    def test_max_tunnels_holds_for_a_burst_of_handshakes(self):
        # Handshakes in flight count: 30 at once against a cap of 5 open exactly 5.
        fc = self.proxy(max_tunnels=5)
        try:
            async def burst():
                async def one():
                    try:
                        ws = await websockets.connect("ws://127.0.0.1:%d/ws/silent" % fc.port,
                                                      open_timeout=30)
                        return ws
                    except websockets.exceptions.InvalidStatusCode as e:
                        return e.status_code
                results = await asyncio.gather(*(one() for _ in range(30)))
                opened = [r for r in results if not isinstance(r, int)]
                codes = [r for r in results if isinstance(r, int)]
                for ws in opened:
                    await ws.close()
                return len(opened), codes
            opened, codes = asyncio.run(burst())
            self.assertEqual(opened, 5)
            self.assertEqual(set(codes), {503})
        finally:
            self.assertEqual(fc.stop(), 0)

    def test_sigterm_drains_within_drain_timeout(self):
        fc = self.proxy(drain_timeout="1s")
        resp, r = handshake(fc, "/ws/echo")
        self.assertEqual(resp.status, 101)
        started = time.monotonic()
        fc.proc.send_signal(signal.SIGTERM)
        self.assertTrue(r.closed(timeout=10))
        fc.proc.wait(10)
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(fc.stop(), 0)

    def test_off_h2c_and_http10_are_never_tunnels(self):
        fc = self.proxy(websockets=False)
        try:
            resp, r = handshake(fc)  # daphne sees a plain GET of a WebSocket path
            self.assertNotEqual(resp.status, 101)
            close_quietly(r.sock)
        finally:
            self.assertEqual(fc.stop(), 0)
        fc = self.proxy()
        try:
            s = fc.connect()
            s.sendall(b"GET /max30 HTTP/1.1\r\nHost: site.test\r\nConnection: Upgrade, "
                      b"HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
            self.assertEqual(Reader(s).response().status, 200)  # answered as HTTP/1.1
            close_quietly(s)
            s = fc.connect()
            s.sendall(b"GET /ws/echo HTTP/1.0\r\nHost: site.test\r\nConnection: Upgrade\r\n"
                      b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            self.assertNotEqual(Reader(s).response().status, 101)
            close_quietly(s)
            self.assertEqual(metric(fc, "tunnels_opened_total"), 0)
        finally:
            self.assertEqual(fc.stop(), 0)


class HostileUpgrades(unittest.TestCase):
    """Tunnels are where request smuggling hides: a proxy that tunnels on anything but the
    upstream's 101 lets a client talk to the app past every rule."""

    def test_no_tunnel_without_101_so_what_follows_is_parsed_as_http(self):
        seen = []

        def serve(c, _):
            data = b""
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    return
                data += chunk
                while b"\r\n\r\n" in data:
                    head, data = data.split(b"\r\n\r\n", 1)
                    seen.append(head.decode("latin-1"))
                    c.sendall(b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 2\r\n\r\nno")

        origin = RawServer(serve)
        fc = Frontcache("http://127.0.0.1:%d" % origin.port, {})
        try:
            s = fc.connect()
            # The handshake and, right behind it, what a tunnel would carry to the app as is.
            s.sendall(b"GET /ws HTTP/1.1\r\nHost: site.test\r\nConnection: Upgrade\r\n"
                      b"Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                      b"GET /admin HTTP/1.1\r\nHost: site.test\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n")
            r = Reader(s)
            self.assertEqual(r.response().status, 426)
            self.assertEqual(r.response().status, 426)
            close_quietly(s)
            self.assertEqual(len(seen), 2)
            self.assertIn("Upgrade: websocket", seen[0])
            # The second request went through frontcache's rules, not through a tunnel: its
            # X-Forwarded-For is the peer's, and it carries no Upgrade.
            self.assertNotIn("Upgrade", seen[1])
            self.assertIn("X-Forwarded-For: 1.2.3.4, 127.0.0.1", seen[1])
        finally:
            self.assertEqual(fc.stop(), 0)
            origin.close()

    def test_101_without_the_handshakes_accept_is_a_502(self):
        # An origin that answers 101 to anything (a status the user controls, a broken app):
        # without the Accept computed from this handshake's key there is no tunnel.
        def serve(c, _):
            c.recv(65536)
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Accept: bm9wZQ==\r\n\r\n"
                      b"GET /internal HTTP/1.1\r\n\r\n")
            time.sleep(0.5)

        origin = RawServer(serve)
        fc = Frontcache("http://127.0.0.1:%d" % origin.port, {})
        try:
            resp, r = handshake(fc)
            self.assertEqual(resp.status, 502)
            self.assertTrue(r.closed(timeout=5) or True)
            close_quietly(r.sock)
        finally:
            self.assertEqual(fc.stop(), 0)
            origin.close()

    def test_101_to_another_protocol_is_a_502(self):
        def serve(c, _):
            c.recv(65536)
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
                      b"Connection: Upgrade\r\n\r\nPRI * HTTP/2.0\r\n")
            time.sleep(0.5)

        origin = RawServer(serve)
        fc = Frontcache("http://127.0.0.1:%d" % origin.port, {})
        try:
            resp, r = handshake(fc)
            self.assertEqual(resp.status, 502)
            close_quietly(r.sock)
        finally:
            self.assertEqual(fc.stop(), 0)
            origin.close()


if __name__ == "__main__":
    unittest.main()
