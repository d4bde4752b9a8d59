"""Shared pieces for the integration tests: start the real frontcache binary on loopback,
a scriptable test origin, and a small raw HTTP/1.1 client. Python stdlib only.

Everything binds port 0 and reads the real port back; every process started here is stopped
by its own PID."""

import gzip
import json
import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

BIN = os.environ.get("FRONTCACHE_BIN", "")


def links(library, binary=None):
    """True when `binary` (BIN unless given) links a library whose file name holds `library`."""
    try:
        out = subprocess.run(["ldd", binary or BIN], capture_output=True, text=True).stdout
        return library in out
    except OSError:
        return False


def asan_build():
    """True when BIN was built with AddressSanitizer (the asan preset)."""
    return links("libasan")


def rss_kib(pid):
    """Resident memory of a process, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def toml_value(v):
    """A TOML value for a config: JSON's scalars and arrays are TOML too; dicts become inline
    tables ({ key = value, ... })."""
    if isinstance(v, dict):
        return "{ %s }" % ", ".join("%s = %s" % (json.dumps(k), toml_value(x))
                                    for k, x in v.items())
    if isinstance(v, list):
        return "[%s]" % ", ".join(toml_value(x) for x in v)
    return json.dumps(v)


def write_config(path, cfg):
    """Writes a frontcache config file from {section: {key: value}}; a section given as a list
    of tables is an array of tables ([[rules]])."""
    with open(path, "w") as f:
        for sec, kv in cfg.items():
            if isinstance(kv, list):
                for table in kv:
                    f.write("[[%s]]\n" % sec)
                    for k, v in table.items():
                        f.write("%s = %s\n" % (k, toml_value(v)))
                continue
            f.write("[%s]\n" % sec)
            for k, v in kv.items():
                f.write("%s = %s\n" % (k, toml_value(v)))


def render(resp):
    """Which render of an Origin /r/ page a response carries ("render N" in its body)."""
    m = re.search(rb"render (\d+)", resp.body)
    return int(m.group(1)) if m else None


def wait_for(cond, timeout=10):
    """Polls `cond` every 20 ms until it is true (True) or `timeout` seconds pass (False)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def free_port_closed():
    """A loopback port that nothing listens on (bound, read, closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Frontcache:
    """Runs frontcache with a config built from `sections` ({section: {key: value}})."""

    def __init__(self, upstream_url, sections=None, workers=1, listen=None, wrapper=None,
                 env=None):
        """`upstream_url` None: the [upstream] section in `sections` names the servers. `env`:
        extra environment variables for the process."""
        self.tmp = tempfile.TemporaryDirectory(prefix="fc-it-")
        # The cache's clock, moved by advance() instead of sleeping (FRONTCACHE_TEST_CLOCK).
        self.clock_path = os.path.join(self.tmp.name, "clock")
        with open(self.clock_path, "wb") as f:
            f.write(struct.pack("<q", 0))
        self.clock_offset = 0
        cfg = {
            "server": {"listen": listen or "127.0.0.1:0", "workers": workers},
            "upstream": {"url": upstream_url} if upstream_url else {},
            "log": {"level": "warn"},
        }
        for sec, kv in (sections or {}).items():
            if isinstance(kv, list):
                cfg[sec] = kv
            else:
                cfg.setdefault(sec, {}).update(kv)
        self.config_path = os.path.join(self.tmp.name, "frontcache.toml")
        write_config(self.config_path, cfg)
        self.stderr_path = os.path.join(self.tmp.name, "stderr.log")
        self.stderr = open(self.stderr_path, "w")
        env = dict(os.environ, FRONTCACHE_TEST_CLOCK=self.clock_path, **(env or {}))
        self.proc = subprocess.Popen((wrapper or []) + [BIN, "-c", self.config_path],
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env)
        line = self.proc.stdout.readline()
        m = re.match(r"frontcache listening on (\S+):(\d+)", line)
        if not m:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("frontcache did not start: %r\n%s" % (line, self.log()))
        self.host = m.group(1).strip("[]")
        self.port = int(m.group(2))
        # Further listeners announce themselves as "frontcache listening on NAME ADDR:PORT".
        self.extra_ports = {}
        expected = (len(listen) if isinstance(listen, list) else 1) - 1 + (
            1 if cfg.get("memcached", {}).get("listen") else 0) + (
            1 if cfg.get("admin", {}).get("listen") else 0)
        for _ in range(expected):
            more = re.match(r"frontcache listening on (?:(\w+) )?\S+:(\d+)",
                            self.proc.stdout.readline())
            if more and more.group(1):
                self.extra_ports[more.group(1)] = int(more.group(2))

    def advance(self, seconds):
        """Moves the cache's clock forward (expiry, Age, Expires) without sleeping."""
        self.clock_offset += seconds
        with open(self.clock_path, "r+b") as f:
            f.write(struct.pack("<q", self.clock_offset))

    def log(self):
        self.stderr.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def stop(self, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()
        self.tmp.cleanup()
        return self.proc.returncode

    def connect(self, timeout=10):
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect((self.host, self.port))
        return s


class OriginAndProxy(unittest.TestCase):
    """A test class sharing one origin (make_origin(): an Origin unless overridden) and one
    Frontcache in front of it (config: SECTIONS)."""

    SECTIONS = None

    @classmethod
    def make_origin(cls):
        return Origin()

    @classmethod
    def setUpClass(cls):
        cls.origin = cls.make_origin()
        cls.fc = Frontcache(cls.origin.url, cls.SECTIONS)

    @classmethod
    def tearDownClass(cls):
        rc = cls.fc.stop()
        cls.origin.close()
        assert rc == 0, "frontcache exited with %s" % rc


# --- a raw HTTP/1.1 client ----------------------------------------------------------------

class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body
        self.raw_head = raw_head

    def header(self, name):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return "<Response %d %r %d bytes>" % (self.status, self.headers, len(self.body))


class Reader:
    """Reads HTTP responses off a socket, keeping what is left over."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _more(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def _until(self, sep):
        while sep not in self.buf:
            self._more()
        i = self.buf.index(sep)
        out, self.buf = self.buf[:i], self.buf[i + len(sep):]
        return out

    def _exact(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self, head_request=False, sink=None):
        while True:
            raw = self._until(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            status = int(parts[1])
            headers = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:]]
            if 100 <= status < 200:
                continue
            break
        resp = Response(status, parts[2] if len(parts) > 2 else "", headers, b"", raw)
        if head_request or status in (204, 304):
            return resp
        te = resp.header("transfer-encoding")
        cl = resp.header("content-length")
        chunks = []
        total = 0

        def take(data):
            nonlocal total
            total += len(data)
            if sink:
                sink(data)
            else:
                chunks.append(data)

        if te and "chunked" in te.lower():
            while True:
                size = int(self._until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    while self._until(b"\r\n"):
                        pass
                    break
                while size > 0:
                    if not self.buf:
                        self._more()
                    piece = self.buf[:size]
                    self.buf = self.buf[len(piece):]
                    size -= len(piece)
                    take(piece)
                self._exact(2)
        elif cl is not None:
            left = int(cl)
            while left > 0:
                if not self.buf:
                    self._more()
                piece = self.buf[:left]
                self.buf = self.buf[len(piece):]
                left -= len(piece)
                take(piece)
        else:
            try:
                while True:
                    if self.buf:
                        take(self.buf)
                        self.buf = b""
                    self._more()
            except EOFError:
                pass
        resp.body = b"".join(chunks)
        resp.length = total
        return resp

    def closed(self, timeout=5):
        """True if the peer closes (EOF or reset) within `timeout` with nothing more to read."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def request(fc, raw, head_request=False):
    """Sends raw bytes on a new connection and returns (response, reader)."""
    s = fc.connect()
    s.sendall(raw if isinstance(raw, bytes) else raw.encode("latin-1"))
    r = Reader(s)
    return r.response(head_request), r


def admin_request(port, method, target, body=b"", host=None):
    """One request to frontcache's admin port (Host: the admin address unless `host`)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
               % (method, target, host or "127.0.0.1:%d" % port, len(body))).encode() + body)
    try:
        return Reader(s).response()
    finally:
        s.close()


def admin_stats(fc):
    """GET /stats of `fc`'s admin port, parsed."""
    return json.loads(admin_request(fc.extra_ports["admin"], "GET", "/stats").body)


def get_once(fc, path, headers=""):
    """GET `path` (Host: site.test, extra `headers` lines) on a new connection closed after the
    answer."""
    s = fc.connect(timeout=20)
    s.sendall(("GET %s HTTP/1.1\r\nHost: site.test\r\n%sConnection: close\r\n\r\n"
               % (path, headers)).encode())
    try:
        return Reader(s).response()
    finally:
        s.close()


def get(fc, path, headers=""):
    resp, r = request(fc, "GET %s HTTP/1.1\r\nHost: test\r\n%s\r\n" % (path, headers))
    r.sock.close()
    return resp


# --- a raw TCP server ---------------------------------------------------------------------

class RawServer:
    """A raw TCP server on 127.0.0.1:`port` (0: a free port; SO_REUSEADDR, so a port just
    given up binds again), or on the Unix socket `unix_path`. A daemon thread accepts; each
    connection is handed to `serve(sock, number)` on a daemon thread of its own (`number`: 1 for
    the first connection, in the order accepted) and closed when `serve` returns.
    `accepted(sock, number)`, when given, runs on the accepting thread first, before the next
    connection is accepted. close() stops accepting and closes the listener and every
    connection still open. Connections are served from the moment it is made: an owner makes
    it last, once what `serve` uses is in place."""

    def __init__(self, serve, port=0, unix_path=None, backlog=128, accepted=None,
                 host="127.0.0.1"):
        self.serve, self.on_accept = serve, accepted
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
            self.url = "unix:" + unix_path
        else:
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((host, port))
            self.port = self.sock.getsockname()[1]
            self.address = "%s:%d" % (host, self.port)
            self.url = "http://" + self.address
        self.sock.listen(backlog)
        self.lock = threading.Lock()
        self.accepted = 0  # connections accepted so far
        self.open = set()  # accepted connections whose `serve` has not returned
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                number = self.accepted
                self.open.add(c)
            if self.on_accept:
                self.on_accept(c, number)
            threading.Thread(target=self._run, args=(c, number), daemon=True).start()

    def _run(self, c, number):
        try:
            self.serve(c, number)
        finally:
            with self.lock:
                self.open.discard(c)
            close_quietly(c)

    def close(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        with self.lock:
            for c in self.open:
                close_quietly(c)


def close_quietly(sock):
    try:
        sock.close()
    except OSError:
        pass


# --- a scriptable origin ------------------------------------------------------------------

class Origin:
    """A threaded HTTP/1.1 origin on loopback whose behaviour is chosen by the request path:

    /echo           200, JSON of method, target, headers and body
    /hello          200 "hello" with Content-Length
    /chunked?n=K    K chunks of "chunk-i;" with Transfer-Encoding: chunked
    /close-delim    body delimited by closing the connection (no length)
    /big?size=N     N bytes with Content-Length, written in 64 KiB pieces
    /slow?ms=T      waits T ms, then "slow"
    /hang           reads the request, never answers
    /reset-mid-body sends a head promising 100000 bytes, 10 of them, then a TCP reset
    /garbage        answers with bytes that are not HTTP
    /poison         answers "ok" keep-alive, then closes the connection without answering
                    the next request that arrives on it (a stale keep-alive connection)
    /status?code=C  answers status C
    /r/SPEC         a response described by SPEC, ';'-separated: status=N, cc=VALUE (Cache-Control),
                    vary=VALUE, cookie=VALUE (Set-Cookie), etag=VALUE, lm=VALUE (Last-Modified),
                    size=N (body bytes), chunked, delay=MS (before answering); the body names
                    the render number, so a test
                    can tell a fresh render from a cached copy. With etag=V, a request
                    carrying If-None-Match: V is answered 304 (counted in not_modified)
    Files (Origin.files = {path: bytes}) are served as they are (200, application/xml).
    Faults (Origin.faults = {path: FAULT}) replace the answer for a path: "500", "503",
    "hang", "slow:MS" (then the normal answer), "reset" (head + part of the body, then a
    reset), "garbage" (bytes that are not HTTP), "drop" (close without answering).
    """

    def __init__(self, unix_path=None, port=0, host="127.0.0.1"):
        """`host`: another loopback address (127.0.0.2...) for tests of moving upstreams."""
        self.requests = []
        self.faults = {}
        self.files = {}
        # Scripted answers: path (without query) -> a function (method, target, headers) ->
        # (status, [(name, value)], body bytes). Content-Length is added unless the function
        # gives one (or the status has no body).
        self.scripts = {}
        self.not_modified = 0
        self.inflight = 0
        self.max_inflight = 0  # most requests the origin was working on at once
        self.working = set()   # connections whose request is being worked on
        self.lock = threading.Lock()
        self.server = RawServer(self._serve, port=port, unix_path=unix_path, backlog=1024,
                                host=host)
        self.url = self.server.url
        if not unix_path:
            self.port = self.server.port

    @property
    def connections(self):
        """Connections accepted so far."""
        return self.server.accepted

    def close(self):
        self.server.close()

    def _serve(self, c, _):
        buf = b""
        poisoned = False
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ")
                headers = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:]]
                hmap = {}
                for n, v in headers:
                    hmap.setdefault(n.lower(), v)
                body = b""
                if "chunked" in hmap.get("transfer-encoding", ""):
                    while True:
                        while b"\r\n" not in buf:
                            buf += c.recv(65536)
                        line, buf = buf.split(b"\r\n", 1)
                        size = int(line.split(b";")[0], 16)
                        while len(buf) < size + 2:
                            buf += c.recv(65536)
                        body += buf[:size]
                        buf = buf[size + 2:]
                        if size == 0:
                            break
                elif "content-length" in hmap:
                    n = int(hmap["content-length"])
                    while len(buf) < n:
                        d = c.recv(65536)
                        if not d:
                            return
                        buf += d
                    body, buf = buf[:n], buf[n:]
                if poisoned:
                    return
                with self.lock:
                    self.requests.append((method, target, headers, body))
                poisoned = target.startswith("/poison")
                with self.lock:
                    self.inflight += 1
                    self.max_inflight = max(self.max_inflight, self.inflight)
                    self.working.add(c)
                try:
                    if not self._respond(c, method, target, headers, body):
                        return
                finally:
                    self._done_working(c)
        except (OSError, ValueError):
            pass

    def _done_working(self, c):
        """The work on `c`'s request ends when its answer starts going out: the proxy cannot have
        the answer (and send another request in its place) before that."""
        with self.lock:
            if c in self.working:
                self.working.discard(c)
                self.inflight -= 1

    def _send(self, c, status, body, extra=""):
        self._done_working(c)
        c.sendall(("HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n" % (status, len(body), extra))
                  .encode() + body)

    def count(self, path, header=None):
        """Requests received for `path` (only those carrying `header`, when given)."""
        with self.lock:
            return sum(1 for m, t, h, b in self.requests
                       if t == path and (header is None or any(n.lower() == header.lower() for n, v in h)))

    def _fault(self, c, fault):
        if fault in ("500", "503"):
            self._send(c, int(fault), b"origin error %s" % fault.encode())
            return True
        if fault == "hang":
            time.sleep(3600)
        if fault.startswith("slow:"):
            time.sleep(int(fault[5:]) / 1000)
            return None
        if fault == "reset":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789")
            time.sleep(0.1)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            return False
        if fault == "garbage":
            c.sendall(b"this is not http\r\n\r\n")
            return False
        if fault == "drop":
            return False
        return None

    def _respond(self, c, method, target, headers, body):
        path, _, query = target.partition("?")
        fault = self.faults.get(path)
        if fault:
            r = self._fault(c, fault)
            if r is not None:
                return r
        q = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        if path in self.scripts:
            status, fields, out = self.scripts[path](method, target, headers)
            head = "HTTP/1.1 %d X\r\n" % status
            head += "".join("%s: %s\r\n" % (n, v) for n, v in fields)
            if status not in (204, 304) and not any(n.lower() == "content-length" for n, _ in fields):
                head += "Content-Length: %d\r\n" % len(out)
            self._done_working(c)
            c.sendall((head + "\r\n").encode() + (b"" if method == "HEAD" or status in (204, 304)
                                                   else out))
        elif path in self.files:
            self._send(c, 200, self.files[path], "Content-Type: application/xml\r\n")
        elif path == "/echo":
            data = json.dumps({"method": method, "target": target, "headers": headers,
                               "body": body.decode("latin-1")}).encode()
            self._send(c, 200, data, "Content-Type: application/json\r\n")
        elif path == "/hello":
            self._send(c, 200, b"hello", "Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n")
        elif path == "/chunked":
            n = int(q.get("n", "3"))
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(n):
                piece = ("chunk-%d;" % i).encode()
                c.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            c.sendall(b"0\r\n\r\n")
        elif path == "/close-delim":
            c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
            return False
        elif path == "/big":
            size = int(q["size"])
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
            block = b"x" * 65536
            left = size
            while left > 0:
                n = min(left, len(block))
                c.sendall(block[:n])
                left -= n
        elif path == "/slow":
            time.sleep(int(q.get("ms", "500")) / 1000)
            self._send(c, 200, b"slow")
        elif path == "/hang":
            self._fault(c, "hang")
        elif path == "/reset-mid-body":
            return self._fault(c, "reset")
        elif path == "/garbage":
            return self._fault(c, "garbage")
        elif path == "/poison":
            self._send(c, 200, b"ok")
        elif path.startswith("/r/"):
            with self.lock:
                self.renders = getattr(self, "renders", 0) + 1
                n = self.renders
            opts = {}
            for item in path[3:].split(";"):
                k, _, v = item.partition("=")
                opts[k] = v.replace("%20", " ").replace("%2C", ",")
            status = int(opts.get("status", "200"))
            if "delay" in opts:
                time.sleep(int(opts["delay"]) / 1000)
            inm = [v for n, v in headers if n.lower() == "if-none-match"]
            if "etag" in opts and inm and inm[0] == opts["etag"]:
                with self.lock:
                    self.not_modified += 1
                    self.renders -= 1  # nothing rendered
                extra = "ETag: %s\r\n" % opts["etag"]
                if "cc" in opts:
                    extra += "Cache-Control: %s\r\n" % opts["cc"]
                c.sendall(("HTTP/1.1 304 Not Modified\r\n%s\r\n" % extra).encode())
                return True
            body = ("render %d\n" % n).encode()
            if "showcookie" in opts:  # the page shows who asked (a signed-in page)
                body += ("cookie=%s\n" % ",".join(v for n_, v in headers
                                                    if n_.lower() == "cookie")).encode()
            if "size" in opts:
                body = body + b"b" * max(0, int(opts["size"]) - len(body))
            extra = ""
            for key, name in (("cc", "Cache-Control"), ("vary", "Vary"), ("cookie", "Set-Cookie"),
                              ("etag", "ETag"), ("lm", "Last-Modified"), ("type", "Content-Type")):
                if key in opts:
                    extra += "%s: %s\r\n" % (name, opts[key])
            # ce=gzip: gzipped when the request accepts gzip (Django's GZipMiddleware);
            # ce=always: gzipped whatever was asked; ce=<other>: that Content-Encoding, body as is.
            if "ce" in opts:
                ae = ",".join(v for n, v in headers if n.lower() == "accept-encoding")
                if opts["ce"] == "always" or (opts["ce"] == "gzip" and "gzip" in ae):
                    body = gzip.compress(body)
                    extra += "Content-Encoding: gzip\r\n"
                elif opts["ce"] not in ("gzip", "always"):
                    extra += "Content-Encoding: %s\r\n" % opts["ce"]
            if "chunked" in opts:
                c.sendall(("HTTP/1.1 %d X\r\nTransfer-Encoding: chunked\r\n%s\r\n" % (status, extra)).encode())
                for i in range(0, len(body), 1000):
                    piece = body[i:i + 1000]
                    c.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                c.sendall(b"0\r\n\r\n")
            elif method == "HEAD":
                c.sendall(("HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n" % (status, len(body), extra)).encode())
            else:
                self._send(c, status, body, extra)
        elif path == "/status":
            self._send(c, int(q.get("code", "200")), b"status")
        else:
            self._send(c, 404, b"not found")
        return True
