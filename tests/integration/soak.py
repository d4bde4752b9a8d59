"""The fault soak: frontcache (built with ThreadSanitizer, the tsan preset) with two workers in
front of a test origin, while everything that crosses threads happens at once:

- steady clients over keep-alive: hits, misses, HEADs, ranges, conditional GETs, compressed
  hits, POSTs with a Content-Length body and chunked uploads;
- clients that reset (SO_LINGER 0) mid-head, mid-upload, mid-fetch and mid-response;
- the origin, a separate process, killed (SIGKILL) and started again on the same port;
- SIGHUP reloads every `reload_every` seconds with a config that alternates reloadable values
  (lock waiters, cache seconds, memory, compression, log level and format, upstream limits,
  admin.peers) — the main thread publishes, the workers switch on their own threads;
- admin-port prefix purges and soft purges, public PURGEs (forwarded to a peer stub), memcached
  `flush_all`, snapshot writes on the thread pool.

The load is bounded (a fixed number of client threads, no sleeps needed to stop) and ends by
itself after `seconds`. Then frontcache must still answer, drain on SIGTERM, and its stderr must
hold no `WARNING: ThreadSanitizer` report. Only the processes started here are stopped, by PID.

Used by test_tsan_soak.py (a short run under ctest, tsan preset only) and
benchmarks/fault_soak.py (the long run). Python stdlib only."""

import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import harness
from harness import Frontcache, Reader, wait_for

# Reports are collected, not fatal: the soak wants every race of the run, and reads them back
# from stderr. exitcode still makes a reported run exit non-zero. history_size=4 keeps enough of
# each thread's past that the "previous access" stack of a report is not "failed to restore".
TSAN_OPTIONS = "halt_on_error=0 exitcode=66 history_size=4 second_deadlock_stack=1"
REPORT_START = "WARNING: ThreadSanitizer"
REPORT_ERROR = "ERROR: ThreadSanitizer"
REPORT_RULE = "=" * 18

HOT_PAGES = ["/r/hot%d;cc=max-age=%d" % (i, 2 + i % 5) for i in range(12)] + [
    "/r/hotv;cc=max-age=3;vary=Accept-Language",
    "/r/hotz;cc=max-age=4;ce=gzip;size=6000;type=text/html",
    "/r/hotzbig;cc=max-age=3;size=120000;type=text/html",  # codings made on the thread pool
    "/r/hotc;cc=max-age=3;chunked;size=20000",
    "/r/hotbig;cc=max-age=5;size=300000",
    "/r/hote;cc=max-age=2;etag=e1",
    "/r/hotnc;cc=no-cache;etag=n1",
    "/r/private;cc=private",
]


def tsan_build(binary):
    """True when `binary` links ThreadSanitizer's runtime (the tsan preset)."""
    return harness.links("libtsan", binary)


def tsan_reports(text):
    """The ThreadSanitizer reports in a stderr log: each warning from its ruler line to the next
    one, and a fatal error (a SEGV caught by TSan) from its first line to "ABORTING"."""
    reports = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if REPORT_START in lines[i]:
            start = i - 1 if i > 0 and lines[i - 1].startswith(REPORT_RULE) else i
            end = i + 1
            while end < len(lines) and not lines[end].startswith(REPORT_RULE):
                end += 1
        elif REPORT_ERROR in lines[i]:
            start, end = i, i + 1
            while end < len(lines) and "ABORTING" not in lines[end]:
                end += 1
        else:
            i += 1
            continue
        reports.append("\n".join(lines[start:end + 1]))
        i = end + 1
    return reports


def report_summary(report):
    """One line per report: its SUMMARY line, else its first line."""
    for line in report.splitlines():
        if line.startswith("SUMMARY:"):
            return line
    return report.splitlines()[0] if report else ""


def reset(sock):
    """Closes `sock` with a TCP reset (SO_LINGER 0) instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class OriginProcess:
    """harness.Origin in a process of its own (this file run as `soak.py origin PORT`), so it can
    be killed with SIGKILL and started again on the same port."""

    def __init__(self):
        self.port = 0
        self.proc = None
        self.start()
        self.url = "http://127.0.0.1:%d" % self.port

    def start(self):
        for _ in range(50):  # the port may take a moment to become bindable again
            p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "origin",
                                  str(self.port)], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
            m = re.match(r"origin listening on (\d+)", p.stdout.readline())
            if m:
                self.proc, self.port = p, int(m.group(1))
                return
            p.wait()
            p.stdout.close()
            time.sleep(0.1)
        raise RuntimeError("the soak origin did not start on port %d" % self.port)

    def stop(self, kill=False):
        """Ends the origin: SIGKILL (`kill`, the fault) or SIGTERM (the end of the soak)."""
        if not self.proc:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc = None


def origin_main(port):
    origin = harness.Origin(port=port)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print("origin listening on %d" % origin.port, flush=True)
    while True:
        time.sleep(3600)


class PeerStub:
    """Stands in for another instance's admin port (admin.peers): answers every request 200 with
    {"purged": 0} and closes, and counts them."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received = 0
        self.server = harness.RawServer(self._serve, backlog=64)
        self.address = self.server.address

    def _serve(self, c, _):
        try:
            c.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                d = c.recv(65536)
                if not d:
                    break
                data += d
            with self.lock:
                self.received += 1
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\n"
                      b'{"purged": 0}')
        except OSError:
            pass

    def close(self):
        self.server.close()


class Counts:
    """Tallies shared by the soak's threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.values = {}

    def add(self, name, n=1):
        with self.lock:
            self.values[name] = self.values.get(name, 0) + n

    def get(self, name):
        with self.lock:
            return self.values.get(name, 0)

    def prefixed(self, prefix):
        """{name without `prefix`: count} for the names that start with it."""
        with self.lock:
            return {k[len(prefix):]: v for k, v in sorted(self.values.items())
                    if k.startswith(prefix)}


class Soak:
    """One soak run. `binary`: the frontcache to run (a tsan build, unless `require_tsan` is
    False); `seconds`: how long the faults and the load last; `reload_every`, `origin_every`:
    the periods of SIGHUP and of the origin's kill-and-restart; `clients`: steady keep-alive
    client threads; `log`: a function for progress lines."""

    def __init__(self, binary, seconds=300, reload_every=15.0, origin_every=10.0, clients=4,
                 resetters=2, seed=1, log=print, require_tsan=True):
        if require_tsan and not tsan_build(binary):
            raise RuntimeError("%s is not built with ThreadSanitizer (use the tsan preset)"
                               % binary)
        self.binary, self.seconds = binary, seconds
        self.reload_every, self.origin_every = reload_every, origin_every
        self.clients, self.resetters, self.seed, self.log = clients, resetters, seed, log
        self.counts = Counts()
        self.statuses = Counts()
        self.problems = []  # what went wrong apart from TSan reports
        self.stop = threading.Event()
        self.unique = 0
        self.unique_lock = threading.Lock()

    # --- configuration -------------------------------------------------------------------

    def sections(self, variant):
        """The config; `variant` 0 or 1 picks one of two values for every reloadable setting
        the soak changes. Settings fixed until a restart keep one value."""
        a = variant == 0
        return {
            "server": {"header_timeout": "2s", "idle_timeout": "10s", "body_timeout": "3s",
                       "drain_timeout": "3s"},
            "upstream": {"max_connections": 8 if a else 3, "connect_timeout": "500ms",
                         "read_timeout": "3s" if a else "2s",
                         "queue_timeout": "2s" if a else "1s",
                         "buffer_chunked_bodies": a},
            "cache": {"seconds": 30 if a else 60, "memory": "64MiB" if a else "8MiB",
                      "grace": "2s" if a else "5s", "stale_if_error": "30s",
                      "lock_timeout": "1s" if a else "300ms",
                      "lock_max_waiters": 10000 if a else 1,
                      "coalesce": True, "hit_for_miss": "5s" if a else "1s",
                      "compress": ["gzip"] if a else ["br", "gzip"],
                      "status_header": "X-Cache" if a else "X-Soak-Cache",
                      "snapshot": os.path.join(self.fc_tmp, "store.snapshot"),
                      "snapshot_interval": "3s"},
            "memcached": {"listen": "127.0.0.1:0"},
            "admin": {"listen": "127.0.0.1:0", "allow_purge_from": ["127.0.0.1"],
                      "peers": [] if a else [self.peer.address]},
            # info: reload() logs after publishing, the read of the old Config that raced
            # with a worker freeing it (at warn the line is not formatted at all).
            "log": {"level": "info" if a else "warn",
                    "access_log": os.path.join(self.fc_tmp, "access.log"),
                    "format": "text" if a else "json"},
        }

    def write_config(self, variant):
        harness.write_config(self.fc.config_path, self.full_config(variant))

    def full_config(self, variant):
        cfg = {"server": {"listen": "127.0.0.1:0", "workers": 2},
               "upstream": {"url": self.origin.url}}
        for sec, kv in self.sections(variant).items():
            cfg.setdefault(sec, {}).update(kv)
        return cfg

    # --- clients ---------------------------------------------------------------------------

    def next_unique(self):
        with self.unique_lock:
            self.unique += 1
            return self.unique

    def steady_client(self, seed):
        r = random.Random(seed)
        sock, reader = None, None
        while not self.stop.is_set():
            try:
                if sock is None:
                    sock = self.fc.connect(timeout=10)
                    reader = Reader(sock)
                kind, raw, head = self.steady_request(r)
                sock.sendall(raw)
                resp = reader.response(head_request=head)
                self.counts.add("requests")
                self.counts.add("req:" + kind)
                self.statuses.add(str(resp.status))
                if resp.header("connection") == "close":
                    sock.close()
                    sock = None
            except (OSError, EOFError, ValueError, IndexError):
                # The origin is down, a reload shrank a limit, a timeout: all expected here.
                self.counts.add("client_errors")
                if sock:
                    sock.close()
                sock = None
                time.sleep(0.01)
        if sock:
            sock.close()

    def steady_request(self, r):
        """(kind, raw request bytes, is HEAD) for one steady request."""
        x = r.random()
        page = r.choice(HOT_PAGES)
        extra = ""
        if x < 0.40:
            kind = "hit"
            extra = r.choice(["", "Accept-Language: fr\r\n", "Accept-Encoding: gzip, br\r\n"])
        elif x < 0.55:
            kind = "miss"
            page = "/r/u%d;cc=max-age=%d;size=%d;type=text/html" % (
                self.next_unique(), r.randint(1, 20), r.choice([100, 5000, 40000]))
        elif x < 0.62:
            kind = "head"
            raw = "HEAD %s HTTP/1.1\r\nHost: soak\r\n\r\n" % page
            return kind, raw.encode(), True
        elif x < 0.69:
            kind = "range"
            extra = "Range: bytes=%d-%d\r\n" % (r.randint(0, 50), r.randint(51, 4000))
        elif x < 0.74:
            kind = "conditional"
            extra = 'If-None-Match: e1\r\n'
            page = "/r/hote;cc=max-age=2;etag=e1"
        elif x < 0.86:
            kind = "post"
            body = b"p" * r.randint(0, 20000)
            return kind, (b"POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\n\r\n"
                          % len(body)) + body, False
        elif x < 0.94:
            kind = "chunked_upload"
            raw = b"POST /echo HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n"
            for _ in range(r.randint(1, 5)):
                n = r.randint(1, 3000)
                raw += b"%x\r\n%s\r\n" % (n, b"c" * n)
            return kind, raw + b"0\r\n\r\n", False
        else:
            kind = "public_purge"
            soft = "Soft-Purge: 1\r\n" if r.random() < 0.5 else ""
            raw = "PURGE /r/hot%d* HTTP/1.1\r\nHost: soak\r\n%s\r\n" % (r.randint(0, 11), soft)
            return kind, raw.encode(), False
        raw = "GET %s HTTP/1.1\r\nHost: soak\r\n%s\r\n" % (page, extra)
        return kind, raw.encode(), False

    def resetting_client(self, seed):
        """Opens a connection, goes part of the way through an exchange, then resets it."""
        r = random.Random(seed)
        while not self.stop.is_set():
            try:
                sock = self.fc.connect(timeout=5)
            except OSError:
                time.sleep(0.05)
                continue
            try:
                x = r.random()
                if x < 0.2:  # mid-head
                    sock.sendall(b"GET /r/hot1;cc=max-age=3 HTTP/1.1\r\nHost: so")
                    self.counts.add("reset:mid_head")
                elif x < 0.4:  # mid-upload, length-framed or chunked
                    if r.random() < 0.5:
                        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: soak\r\n"
                                     b"Content-Length: 100000\r\n\r\n" + b"b" * 3000)
                    else:
                        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: "
                                     b"chunked\r\n\r\n400\r\n" + b"c" * 1024 + b"\r\n")
                    time.sleep(r.choice([0, 0.005, 0.05]))
                    self.counts.add("reset:mid_upload")
                elif x < 0.6:  # mid-fetch: the origin is still working on it
                    sock.sendall(b"GET /r/slow%d;cc=max-age=3;delay=100 HTTP/1.1\r\nHost: soak"
                                 b"\r\n\r\n" % r.randint(0, 5))
                    time.sleep(r.choice([0.001, 0.03, 0.08]))
                    self.counts.add("reset:mid_fetch")
                else:  # mid-response: a big page, a few bytes read
                    page = r.choice(["/r/hotbig;cc=max-age=5;size=300000",
                                     "/r/u%d;cc=max-age=5;size=400000" % self.next_unique(),
                                     "/r/hotc;cc=max-age=3;chunked;size=20000"])
                    sock.sendall(("GET %s HTTP/1.1\r\nHost: soak\r\n\r\n" % page).encode())
                    sock.recv(r.choice([1, 100, 5000]))
                    self.counts.add("reset:mid_response")
            except OSError:
                pass
            reset(sock)

    # --- faults ----------------------------------------------------------------------------

    def every(self, period, action, first=None):
        """Runs `action` every `period` seconds until the soak stops."""
        if self.stop.wait(period if first is None else first):
            return
        while True:
            try:
                action()
            except (OSError, EOFError, ValueError) as e:
                self.counts.add("fault_errors")
                self.log("soak: %s failed: %s" % (action.__name__, e))
            if self.stop.wait(period):
                return

    def restart_origin(self):
        self.origin.stop(kill=True)
        self.counts.add("origin_kills")
        self.stop.wait(random.Random(self.counts.get("origin_kills")).uniform(0.3, 2.0))
        self.origin.start()

    def reload(self):
        self.variant ^= 1
        self.write_config(self.variant)
        self.fc.proc.send_signal(signal.SIGHUP)
        self.counts.add("reloads_sent")

    def admin_purges(self):
        port = self.fc.extra_ports["admin"]
        n = self.counts.get("admin_purges")
        self.counts.add("admin_purges")
        choice = n % 4
        if choice == 0:
            harness.admin_request(port, "PURGE", "/r/hot*")
        elif choice == 1:
            harness.admin_request(port, "PURGE", "/r/*?soft=1")
        elif choice == 2:
            body = json.dumps(["/r/hot1*", "/r/hotz*", "/r/u*"]).encode()
            harness.admin_request(port, "POST", "/purge?soft=1", body)
        else:  # the admin port's readers of what workers count, sample and store
            for target in ("/metrics", "/stats", "/top", "/variants?path=/r/hotv;cc=max-age=3;"
                           "vary=Accept-Language"):
                harness.admin_request(port, "GET", target)

    def memcached_flush(self):
        s = socket.create_connection(("127.0.0.1", self.fc.extra_ports["memcached"]), 5)
        try:
            s.sendall(b"set soak 0 0 5\r\nhello\r\nget soak\r\nstats\r\nflush_all\r\n")
            data = b""
            while not data.endswith(b"END\r\nOK\r\n"):
                d = s.recv(65536)
                if not d:
                    raise EOFError("memcached port closed the connection")
                data += d
            self.counts.add("flushes")
        finally:
            s.close()

    # --- the run ---------------------------------------------------------------------------

    def answers(self, timeout=20):
        """True when frontcache answers a fresh page 200 within `timeout` seconds."""
        def ok():
            try:
                s = self.fc.connect(timeout=5)
                try:
                    s.sendall(("GET /r/final%d;cc=max-age=60 HTTP/1.1\r\nHost: soak\r\n"
                               "Connection: close\r\n\r\n" % self.next_unique()).encode())
                    return Reader(s).response().status == 200
                finally:
                    s.close()
            except (OSError, EOFError, ValueError):
                return False
        return wait_for(ok, timeout)

    def metric(self, name):
        text = harness.admin_request(self.fc.extra_ports["admin"], "GET",
                                     "/metrics").body.decode()
        m = re.search(r"^frontcache_%s (\S+)$" % re.escape(name), text, re.M)
        return float(m.group(1)) if m else None

    def run(self):
        """Runs the soak; returns a dict of what happened (see `failed` for the verdict)."""
        harness.BIN = self.binary
        self.variant = 0
        self.origin, self.peer, self.fc = None, None, None
        self.fc_tmp = tempfile.mkdtemp(prefix="fc-soak-")
        started = time.monotonic()
        try:
            self.origin = OriginProcess()
            self.peer = PeerStub()
            env = {"TSAN_OPTIONS": (TSAN_OPTIONS + " " + os.environ.get("TSAN_OPTIONS", ""))
                   .strip()}
            self.fc = Frontcache(None, self.full_config(0), workers=2, env=env)
            self.log("soak: frontcache pid %d (2 workers) on :%d, origin pid %d on :%d, %d s"
                     % (self.fc.proc.pid, self.fc.port, self.origin.proc.pid, self.origin.port,
                        self.seconds))
            threads = [threading.Thread(target=self.steady_client, args=(self.seed * 100 + i,))
                       for i in range(self.clients)]
            threads += [threading.Thread(target=self.resetting_client,
                                         args=(self.seed * 100 + 50 + i,))
                        for i in range(self.resetters)]
            threads += [
                threading.Thread(target=self.every, args=(self.origin_every, self.restart_origin)),
                threading.Thread(target=self.every, args=(self.reload_every, self.reload)),
                threading.Thread(target=self.every, args=(1.0, self.admin_purges)),
                threading.Thread(target=self.every, args=(2.5, self.memcached_flush)),
            ]
            for t in threads:
                t.start()
            last = time.monotonic()
            while time.monotonic() - started < self.seconds and self.fc.proc.poll() is None:
                time.sleep(0.2)
                if time.monotonic() - last >= 10:
                    last = time.monotonic()
                    self.log("soak: %3.0f s  %d requests, %d resets, %d reloads, %d origin "
                             "kills, %d purges, %d flushes"
                             % (last - started, self.counts.get("requests"),
                                sum(self.counts.prefixed("reset:").values()),
                                self.counts.get("reloads_sent"),
                                self.counts.get("origin_kills"),
                                self.counts.get("admin_purges"), self.counts.get("flushes")))
            self.stop.set()
            for t in threads:
                t.join()
            return self.finish(started)
        finally:
            self.stop.set()
            if self.fc and self.fc.proc.poll() is None:
                self.fc.proc.kill()
                self.fc.proc.wait()
            if self.fc:
                self.fc.stop()
            if self.origin:
                self.origin.stop()
            if self.peer:
                self.peer.close()
            shutil.rmtree(self.fc_tmp, ignore_errors=True)

    def finish(self, started):
        result = {"seconds": round(time.monotonic() - started, 1)}
        if self.fc.proc.poll() is not None:
            self.problems.append("frontcache exited during the soak (status %s)"
                                 % self.fc.proc.returncode)
        else:
            if self.origin.proc is None:
                self.origin.start()
            if not self.answers():
                self.problems.append("frontcache did not answer a fresh page after the soak")
            reloads = self.metric('config_reloads_total{result="ok"}')
            if reloads is not None and reloads < self.counts.get("reloads_sent"):
                self.problems.append("%d reloads sent, %d applied"
                                     % (self.counts.get("reloads_sent"), reloads))
            result["reloads_applied"] = reloads
            self.fc.proc.send_signal(signal.SIGTERM)
            try:
                self.fc.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.problems.append("frontcache did not stop within 30 s of SIGTERM")
                self.fc.proc.kill()
                self.fc.proc.wait()
        rc = self.fc.proc.returncode
        log = self.fc.log()
        reports = tsan_reports(log)
        if rc != 0 and not reports:
            self.problems.append("frontcache exited with status %s; the end of its stderr:\n%s"
                                 % (rc, "\n".join(log.splitlines()[-40:])))
        result.update({
            "requests": self.counts.get("requests"),
            "by_kind": self.counts.prefixed("req:"),
            "statuses": self.statuses.prefixed(""),
            "resets": self.counts.prefixed("reset:"),
            "client_errors": self.counts.get("client_errors"),
            "reloads": self.counts.get("reloads_sent"),
            "origin_kills": self.counts.get("origin_kills"),
            "admin_purges": self.counts.get("admin_purges"),
            "flushes": self.counts.get("flushes"),
            "peer_forwards": self.peer.received,
            "exit_status": rc,
            "tsan_reports": reports,
            "problems": self.problems,
        })
        return result


def failed(result):
    """True when the run found a race or frontcache misbehaved."""
    return bool(result["tsan_reports"] or result["problems"])


def describe(result):
    """A human-readable account of a run, each TSan report in full."""
    lines = ["soak: %(requests)d requests in %(seconds).0f s; %(reloads)d reloads, "
             "%(origin_kills)d origin kills, %(admin_purges)d admin calls, %(flushes)d "
             "flush_all, %(peer_forwards)d purges forwarded to the peer" % result,
             "  by kind: %s" % result["by_kind"],
             "  statuses: %s" % result["statuses"],
             "  resets: %s; client errors (expected under faults): %d"
             % (result["resets"], result["client_errors"]),
             "  ThreadSanitizer reports: %d" % len(result["tsan_reports"])]
    for r in result["tsan_reports"]:
        lines.append(r)
    for r in result["tsan_reports"]:
        lines.append("  " + report_summary(r))
    for p in result["problems"]:
        lines.append("  problem: " + p)
    return "\n".join(lines)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "origin":
    origin_main(int(sys.argv[2]))
