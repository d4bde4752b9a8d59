"""Framing differential: no request can desync the upstream pool or reach the origin other than
as it was accepted.

Seeded streams of valid and malformed requests (framing_gen.py) go through one frontcache to a
recording origin that parses every upstream connection with h11 (an independent strict HTTP/1.1
parser) and with a stricter walker of its own. For each request the generator says what RFC 9112
/ RFC 9110 expect of a proxy: forwarded (then the origin must see the same method, origin-form
target, end-to-end fields and body, and the client must get the origin's answer to that very
request, in order), refused (a 4xx/5xx from frontcache, the connection closed, nothing
forwarded), or either. Every upstream connection must parse as a sequence of complete requests,
each one accepted from a client exactly once.

  FC_DIFF_SEED=<s>   the seed (default 1); FC_DIFF_CASES=<n> how many cases (streams)
  FC_DIFF_ONLY=<i>   only case i, alone on its connection (to reproduce a failure)

A failure report names the seed, the case, the request's oddity and the bytes sent."""

import os
import re
import socket
import sys
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

import h11

import framing_gen as G
from harness import Frontcache, RawServer, asan_build

ASAN = asan_build()
SEED = os.environ.get("FC_DIFF_SEED", "1")
CASES = int(os.environ.get("FC_DIFF_CASES", "800" if ASAN else "2500"))
ONLY = os.environ.get("FC_DIFF_ONLY")
CASES_PER_CONNECTION = 3
CLIENTS = 4
# frontcache's header/body timeouts: a request it wrongly waits on costs this much.
FC_TIMEOUT_S = 3
READ_TIMEOUT_S = FC_TIMEOUT_S + (20 if ASAN else 7)
CLOSE_WAIT_S = 6 if ASAN else 3

SECTIONS = {
    "server": {"header_timeout": "%ds" % FC_TIMEOUT_S, "body_timeout": "%ds" % FC_TIMEOUT_S,
               "idle_timeout": "60s", "drain_timeout": "2s"},
    # Every request goes upstream as it came: nothing looked up, nothing normalised.
    "cache": {"bypass_paths": ["/"], "ignore_query_params": [], "ignore_cookies": [],
              "compress": []},
    "log": {"level": "error"},
}


# --- the recording origin -----------------------------------------------------------------------

class Record:
    def __init__(self, conn, method, target, headers, body, trailers):
        self.conn, self.method, self.target = conn, method, target
        self.headers, self.body, self.trailers = headers, body, trailers


def id_of(target, headers):
    m = re.match(rb"^/d/([0-9a-z-]+)", target)
    if m:
        return m.group(1)
    for n, v in headers:
        if n == b"x-case-id":
            return bytes(v)
    return b"?"


class RecordingOrigin:
    """Answers every request 200 with its id (X-Case-Id and the body) after h11 parsed it; keeps
    what each upstream connection carried and every parse error."""

    def __init__(self):
        self.lock = threading.Lock()
        self.heads = {}    # id -> [connection number] for every request head h11 parsed
        self.records = {}  # id -> [Record] for every complete request
        self.errors = []   # (connection, kind, message, bytes around it, last id)
        self.live = {}     # connection -> (h11.Connection, raw bytearray)
        self.order = {}    # connection -> [id of each request head, in order]
        self.server = RawServer(self._serve, backlog=512)
        self.url = self.server.url

    def close(self):
        self.server.close()

    def _error(self, no, kind, msg, raw, pos, last):
        # The request being parsed when it failed: the first request line after `pos`.
        m = re.match(rb"^[^ \r\n]* (?:http://[^/ ]*)?/d/([0-9a-z-]+)", bytes(raw[pos:pos + 300]))
        at = m.group(1) if m else last
        with self.lock:
            ids = self.order.get(no, [])
            if at in ids:
                before = ids[ids.index(at) - 1] if ids.index(at) > 0 else None
            else:
                before = last if last != b"?" else None
            self.errors.append((no, kind, msg, bytes(raw[max(0, pos - 200):pos + 400]), at,
                                before))

    def before(self, no, rid):
        """The request forwarded just before `rid` on upstream connection `no`."""
        with self.lock:
            ids = self.order.get(no, [])
            if rid in ids and ids.index(rid) > 0:
                return ids[ids.index(rid) - 1]
        return None

    def _serve(self, c, no):
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=256 * 1024)
        raw = bytearray()
        walked = 0      # the strict walker's offset into raw
        last = b"?"     # the id of the last request head parsed here
        req, body = None, []
        with self.lock:
            self.live[no] = (conn, raw)
        try:
            while True:
                try:
                    ev = conn.next_event()
                except h11.RemoteProtocolError as e:
                    self._error(no, "h11", str(e), raw, walked, last)
                    return
                if ev is h11.NEED_DATA:
                    try:
                        data = c.recv(65536)
                    except OSError:
                        data = b""
                    raw += data
                    conn.receive_data(data)
                    continue
                if isinstance(ev, h11.ConnectionClosed):
                    return
                if isinstance(ev, h11.Request):
                    req, body = ev, []
                    last = id_of(bytes(ev.target), ev.headers)
                    with self.lock:
                        self.heads.setdefault(last, []).append(no)
                        self.order.setdefault(no, []).append(last)
                elif isinstance(ev, h11.Data):
                    body.append(bytes(ev.data))
                elif isinstance(ev, h11.EndOfMessage):
                    try:
                        walked = G.walk_message(raw, walked)
                    except G.StrictError as e:
                        self._error(no, "strict", str(e), raw, walked, last)
                        return
                    rec = Record(no, bytes(req.method), bytes(req.target),
                                 [(bytes(n), bytes(v)) for n, v in req.headers], b"".join(body),
                                 list(ev.headers))
                    with self.lock:
                        self.records.setdefault(last, []).append(rec)
                    out = b"case " + last + b"\n"
                    data = conn.send(h11.Response(status_code=200, headers=[
                        ("Content-Length", str(len(out))), ("X-Case-Id", last),
                        ("Cache-Control", "no-store")]))
                    if req.method != b"HEAD":
                        data += conn.send(h11.Data(data=out))
                    data += conn.send(h11.EndOfMessage())
                    c.sendall(data)
                    try:
                        conn.start_next_cycle()
                    except h11.LocalProtocolError:
                        return
        except OSError:
            pass
        finally:
            with self.lock:
                self.live.pop(no, None)

    def pending(self):
        """Connections holding the start of a request that never completed: (connection, id of
        the last request head there, the last bytes)."""
        out = []
        with self.lock:
            for no, (conn, raw) in self.live.items():
                data, _ = conn.trailing_data
                if conn.their_state not in (h11.IDLE, h11.DONE) or data:
                    ids = self.order.get(no) or [b"?"]
                    out.append((no, ids[-1], bytes(raw[-300:])))
        return out


# --- a client that reads answers strictly in order ----------------------------------------------

class Answer:
    def __init__(self, interim, status, headers, body):
        self.interim, self.status, self.headers, self.body = interim, status, headers, body

    def header(self, name):
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return None


class Client:
    def __init__(self, fc):
        self.sock = fc.connect(timeout=READ_TIMEOUT_S)
        self.buf = b""

    def _more(self):
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            raise EOFError
        self.buf += data

    def _line_block(self):
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return head

    def _exact(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def answer(self, head_request):
        interim = []
        while True:
            lines = self._line_block().split(b"\r\n")
            status = int(lines[0].split(b" ")[1])
            headers = []
            for line in lines[1:]:
                n, _, v = line.partition(b":")
                headers.append((n.strip().lower(), v.strip()))
            if 100 <= status < 200:
                interim.append(status)
                continue
            break
        a = Answer(interim, status, headers, b"")
        if head_request or status in (204, 304):
            return a
        te, cl = a.header(b"transfer-encoding"), a.header(b"content-length")
        if te and b"chunked" in te.lower():
            parts = []
            while True:
                while b"\r\n" not in self.buf:
                    self._more()
                line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while self._line_block_trailer():
                        pass
                    break
                parts.append(self._exact(size))
                self._exact(2)
            a.body = b"".join(parts)
        elif cl is not None:
            a.body = self._exact(int(cl))
        else:
            try:
                while True:
                    self._more()
            except EOFError:
                a.body, self.buf = self.buf, b""
        return a

    def _line_block_trailer(self):
        while b"\r\n" not in self.buf:
            self._more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def closed(self, timeout):
        """True if the peer closes within `timeout` (anything more it sends is kept)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(READ_TIMEOUT_S)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --- one run: streams sent, answers and forwards checked ----------------------------------------

def show(b, limit=600):
    s = repr(bytes(b))
    return s if len(s) <= limit else s[:limit] + "...(%d bytes)" % len(b)


class Run:
    def __init__(self, fc, origin, seed, rerun=None):
        self.fc, self.origin, self.seed = fc, origin, seed
        # How to run one case again, from its case number.
        self.rerun = rerun or (lambda case: "FC_DIFF_SEED=%s FC_DIFF_ONLY=%s" % (seed, case))
        self.lock = threading.Lock()
        self.failures = []
        self.accepted = set()
        self.unknown = set()   # fate unknown after an earlier failure on their connection
        self.where = {}        # id -> (case, request, stream bytes)
        self.requests = 0
        self.errors_from = len(origin.errors)

    def fail(self, kind, case, r, detail, stream, after=None):
        """`after`: the request forwarded just before on the same upstream connection."""
        if after is not None:
            detail += " [upstream: after %s]" % after.decode("latin-1")
        with self.lock:
            self.failures.append({"kind": kind, "case": case, "label": r.label() if r else "?",
                                  "id": r.id if r else b"?", "detail": detail,
                                  "request": r.raw() if r else b"", "stream": stream,
                                  "after": after})

    def give_up(self, reqs, i):
        """The requests from reqs[i] on can no longer be judged."""
        with self.lock:
            for r in reqs[i:]:
                self.unknown.add(r.id)
                self.unknown.add(r.id + b"x")

    def job(self, cases):
        conn = None
        try:
            for case, reqs in cases:
                if conn is None:
                    try:
                        conn = Client(self.fc)
                    except OSError as e:
                        self.fail("cannot connect", case, reqs[0], str(e), b"")
                        continue
                if not self.case(conn, case, reqs):
                    conn.close()
                    conn = None
        finally:
            if conn:
                conn.close()

    def case(self, conn, case, reqs):
        """Sends one stream; True when the connection is still usable afterwards."""
        stream = b"".join(r.raw() for r in reqs)
        with self.lock:
            self.requests += len(reqs)
            for r in reqs:
                self.where[r.id] = (case, r, stream)
        try:
            conn.sock.sendall(stream)
            if reqs[-1].incomplete:
                conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # closed early after a refusal: the answer is still there to read
        for i, r in enumerate(reqs):
            head = r.method == b"HEAD"
            try:
                a = conn.answer(head)
            except socket.timeout:
                self.fail("no answer within %ds" % READ_TIMEOUT_S, case, r,
                          "expected %s %s" % (r.verdict, sorted(r.statuses)), stream)
                self.give_up(reqs, i)
                return False
            except (EOFError, ValueError, IndexError) as e:
                if r.incomplete and r.verdict != G.ACCEPT and isinstance(e, EOFError):
                    return False  # an unfinished request at EOF may be dropped silently
                self.fail("closed without an answer" if isinstance(e, EOFError)
                          else "unreadable answer", case, r,
                          "expected %s %s; got %s" % (r.verdict, sorted(r.statuses),
                                                      show(conn.buf, 200)), stream)
                return False
            rid = a.header(b"x-case-id")
            if rid is not None:
                if not self.forwarded(conn, case, reqs, i, r, a, rid, stream):
                    return False
                if r.close_after:
                    if not conn.closed(CLOSE_WAIT_S):
                        self.fail("connection left open after a closing request", case, r,
                                  "", stream)
                        self.give_up(reqs, i + 1)
                    return False
                continue
            # frontcache's own answer: a refusal
            if r.verdict == G.ACCEPT or a.status < 400:
                self.fail("refused, expected it forwarded" if a.status >= 400 else
                          "answered %d by the proxy itself" % a.status, case, r,
                          "status %d: %s" % (a.status, show(a.body, 200)), stream)
            elif a.status not in r.statuses:
                self.fail("refused with another status", case, r,
                          "got %d, expected one of %s" % (a.status, sorted(r.statuses)),
                          stream)
            if a.status in (500, 502, 503, 504):
                # An upstream failure, not a refusal of the request: the connection may stay.
                self.give_up(reqs, i + 1)
                return False
            if not conn.closed(CLOSE_WAIT_S):
                self.fail("connection left open after a refusal", case, r,
                          "status %d" % a.status, stream)
                self.give_up(reqs, i + 1)
            return False
        return True

    def forwarded(self, conn, case, reqs, i, r, a, rid, stream):
        """The origin answered: check it was this request, as it should have been forwarded."""
        if rid != r.id:
            with self.origin.lock:
                other = self.origin.records.get(rid, [])
            self.fail("answer to another request", case, r,
                      "got the answer for %s" % rid.decode("latin-1"), stream,
                      self.origin.before(other[0].conn, rid) if other else None)
            self.give_up(reqs, i)
            return False
        if r.verdict == G.REFUSE:
            self.fail("forwarded, expected a refusal", case, r,
                      "expected one of %s" % sorted(r.statuses), stream)
            self.give_up(reqs, i)
            return False
        if r.method != b"HEAD" and a.body != b"case " + r.id + b"\n":
            self.fail("answer body differs", case, r, show(a.body, 200), stream)
        with self.origin.lock:  # the origin records a request before it answers it
            recs = list(self.origin.records.get(r.id, []))
        with self.lock:
            self.accepted.add(r.id)
        if len(recs) != 1:
            self.fail("forwarded %d times" % len(recs), case, r, "", stream)
            if not recs:
                return True
        rec = recs[0]
        after = self.origin.before(rec.conn, r.id)
        if rec.method != r.method:
            self.fail("forwarded method differs", case, r,
                      "%r, expected %r" % (rec.method, r.method), stream, after)
        if rec.target != r.fwd_target:
            self.fail("forwarded target differs", case, r,
                      "%s, expected %s" % (show(rec.target, 120), show(r.fwd_target, 120)),
                      stream, after)
        hosts = [v for n, v in rec.headers if n == b"host"]
        want = r.expected_host()
        if want is not None and hosts != [want]:
            self.fail("forwarded Host differs", case, r,
                      "%r, expected %r" % (hosts, want), stream, after)
        got, exp = G.origin_fields(rec.headers), r.expected_fields()
        if got != exp:
            diff = []
            for k in sorted(set(got) | set(exp)):
                if got.get(k) != exp.get(k):
                    diff.append("%s: got %s want %s" % (k.decode("latin-1"),
                                                       show(got.get(k, b"-"), 80),
                                                       show(exp.get(k, b"-"), 80)))
            self.fail("forwarded fields differ", case, r, "; ".join(diff), stream, after)
        if rec.body != r.body:
            self.fail("forwarded body differs", case, r, "%s, expected %s" % (
                show(rec.body, 150), show(r.body, 150)), stream, after)
        if rec.trailers:
            self.fail("trailers forwarded", case, r, repr(rec.trailers), stream, after)
        expect = any(f.name.lower() == b"expect" and f.value.lower() == b"100-continue"
                     for f in r.fields) and r.version == b"HTTP/1.1"
        if a.interim and (a.interim != [100] or not expect):
            self.fail("unexpected 1xx before the answer", case, r,
                      "%r (request %s)" % (a.interim, r.version.decode()), stream)
        return True

    def finish(self, pattern, settle=0.3):
        """What reached the origin, against what was accepted (ids matching `pattern`), once
        whatever was still on its way had `settle` seconds to arrive."""
        time.sleep(settle)
        with self.origin.lock:
            heads = dict(self.origin.heads)
            errors = self.origin.errors[self.errors_from:]
        for rid, conns in heads.items():
            if not re.match(pattern, rid) or rid in self.unknown:
                continue
            base = rid[:-1] if rid.endswith(b"x") else rid
            case, r, stream = self.where.get(base, ("?", None, b""))
            if rid not in self.accepted:
                self.fail("reached the origin, never accepted (smuggled?)", case, r,
                          "id %s on upstream connection(s) %s" % (rid.decode(), conns), stream,
                          self.origin.before(conns[0], rid))
            elif len(conns) > 1:
                self.fail("reached the origin %d times" % len(conns), case, r, "", stream)
        for no, kind, msg, excerpt, at, before in errors:
            if not re.match(pattern, at) and at != b"?":
                continue
            case, r, stream = self.where.get(at, ("?", None, b""))
            self.fail("upstream stream not clean (%s)" % kind, case, r,
                      "%s; upstream bytes: %s" % (msg, show(excerpt, 500)), stream, before)
        for no, last, tail in self.origin.pending():
            if not re.match(pattern, last) and last != b"?":
                continue
            case, r, stream = self.where.get(last, ("?", None, b""))
            self.fail("unfinished request left on an upstream connection", case, r,
                      "upstream connection %d ends with %s" % (no, show(tail, 300)), stream)
        if self.fc.proc.poll() is not None:
            self.fail("frontcache exited (%s)" % self.fc.proc.returncode, "?", None,
                      self.fc.log()[-2000:], b"")

    DESYNC_KINDS = ("forwarded, expected a refusal", "upstream stream not clean",
                    "forwarded method differs", "forwarded target differs",
                    "forwarded body differs", "answer to another request", "reached the origin")

    def secondary(self, f, desynced):
        """A failure that follows, on the same upstream connection, a request that desynced it
        (or one that was never accepted): a consequence, not a cause."""
        a = f.get("after")
        return a is not None and (a in desynced or a in self.unknown or
                                  a.rstrip(b"x") not in self.accepted)

    def report(self, title):
        desynced = {f["id"] for f in self.failures if f["kind"].startswith(self.DESYNC_KINDS)}
        primary, downstream = {}, {}
        for f in self.failures:
            into = downstream if self.secondary(f, desynced) else primary
            into.setdefault((f["kind"], f["label"]), []).append(f)
        lines = ["%s: seed %s, %d failures: %d groups, and %d failures downstream of an "
                 "upstream connection an earlier request desynchronised" % (
                     title, self.seed, len(self.failures), len(primary),
                     sum(len(v) for v in downstream.values()))]
        for (kind, label), fs in sorted(primary.items(), key=lambda kv: -len(kv[1])):
            small = min(fs, key=lambda f: (len(f["stream"]) or 1 << 30, len(f["request"])))
            lines.append("\n[%d] %s -- %s" % (len(fs), kind, label))
            lines.append("    case %s (%s), request %s: %s" % (
                small["case"], self.rerun(small["case"]), small["id"].decode("latin-1"),
                small["detail"]))
            lines.append("    request: %s" % show(small["request"], 700))
            if small["stream"] and small["stream"] != small["request"]:
                lines.append("    stream:  %s" % show(small["stream"], 1200))
        if downstream:
            lines.append("\ndownstream of a desynchronised upstream connection:")
            for (kind, label), fs in sorted(downstream.items(), key=lambda kv: -len(kv[1])):
                lines.append("  [%d] %s -- %s (e.g. case %s: %s)" % (
                    len(fs), kind, label, fs[0]["case"], fs[0]["detail"][:200]))
        return "\n".join(lines)


def frontcache_and_origin():
    origin = RecordingOrigin()
    return origin, Frontcache(origin.url, SECTIONS)


class FramingDifferential(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.origin, cls.fc = frontcache_and_origin()

    @classmethod
    def tearDownClass(cls):
        rc = cls.fc.stop()
        cls.origin.close()
        assert rc == 0, "frontcache exited with %s" % rc

    def test_random_streams(self):
        start = time.monotonic()
        if ONLY is not None:
            indices = [int(ONLY)]
        else:
            indices = list(range(CASES))
        cases = [(i, G.gen_case(SEED, i)) for i in indices]
        jobs = [cases[k:k + CASES_PER_CONNECTION] if ONLY is None else cases[k:k + 1]
                for k in range(0, len(cases), CASES_PER_CONNECTION if ONLY is None else 1)]
        run = Run(self.fc, self.origin, SEED)
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(run.job, jobs))
        run.finish(rb"^\d+-\d+x?$")
        verdicts = {}
        for _, reqs in cases:
            for r in reqs:
                verdicts[r.verdict] = verdicts.get(r.verdict, 0) + 1
        print("\nframing differential: seed %s, %d cases, %d requests (%s), %d forwarded, "
              "%.1fs" % (SEED, len(cases), run.requests,
                         ", ".join("%d %s" % (n, v) for v, n in sorted(verdicts.items())),
                         len(run.accepted), time.monotonic() - start), file=sys.stderr)
        if run.failures:
            self.fail(run.report("framing differential"))


# --- the fixed table: the regressions that matter most, one test each ---------------------------

FIXED = [
    # Content-Length (RFC 9112 §6.3, §8.6): unsigned decimal, checked for overflow.
    "cl-zero-padded", "cl-plus", "cl-negative", "cl-list-equal", "cl-list-diff", "cl-dup-equal",
    "cl-dup-diff", "cl-2^63", "cl-2^64-1", "cl-2^64", "cl-2^64+5", "cl-over-max-body",
    # chunked (RFC 9112 §7.1)
    "ch-hex-styles", "ch-ext", "ch-ext-multi", "ch-ext-bws", "ch-ext-no-name", "ch-size-huge",
    "ch-size-2^64+5", "ch-size-overflow", "ch-size-bare-lf", "ch-data-xx", "ch-data-lf", "ch-data-no-crlf",
    "ch-trailers", "ch-no-final-crlf", "ch-trailer-no-colon",
    # Transfer-Encoding (RFC 9112 §6.1)
    "te-Chunked", "te-gzip-chunked", "te-chunked-gzip", "te-identity", "te-two-fields", "te+cl",
    "cl+te", "te-http1.0", "te-xchunked",
    # Expect (RFC 9110 §10.1.1)
    "expect-100", "expect-100-http1.0",
    # request line (RFC 9112 §3)
    "rl-two-sp-1", "rl-tab-in-target", "rl-8bit-target", "rl-lower-method", "rl-http1.0",
    "rl-http2.0", "rl-no-version", "rl-path-verbatim", "abs-form", "abs-userinfo",
    # Host (RFC 9112 §3.2, RFC 9110 §7.2)
    "host-missing", "host-dup-diff", "host-slash", "host-space", "host-userinfo", "host-ipv6",
    # fields (RFC 9112 §5, RFC 9110 §5.5, §7.6.1)
    "hdr-underscore", "hdr-conn-named", "hdr-conn-host", "hdr-obs-fold", "hdr-obs-fold-te",
    "hdr-ws-colon", "hdr-nul", "hdr-bare-cr", "hdr-bare-cr-field", "hdr-ctl-value",
]


class FramingTable(unittest.TestCase):
    """Each oddity of FIXED, followed on the same connection by two plain requests that must be
    answered (when it is accepted) or never forwarded (when it is refused)."""

    # A fresh frontcache and origin for each: an upstream connection one case leaves
    # desynchronised must not fail the next case.
    def setUp(self):
        self.origin, self.fc = frontcache_and_origin()

    def tearDown(self):
        rc = self.fc.stop()
        self.origin.close()
        self.assertEqual(rc, 0, "frontcache exited with %s" % rc)

    def check(self, n, name, alone=False):
        prefix = "t%d" % n
        r = G.build(name, prefix + "-0", last=alone)
        reqs = [r] if alone else [r, G.clean(prefix + "-1"), G.clean(prefix + "-2", b"POST")]
        run = Run(self.fc, self.origin, "fixed", lambda case: "this test")
        run.job([(name, reqs)])
        run.finish(rb"^%s-\d+x?$" % prefix.encode(), settle=0.1)
        if run.failures:
            self.fail(run.report(name))

    def test_chunked_missing_final_crlf_at_eof(self):
        self.check(1000, "ch-no-final-crlf", alone=True)


def _fixed_test(n, name):
    def test(self):
        self.check(n, name)
    test.__doc__ = "%s (FIXED[%d])" % (name, n)
    return test


for _n, _name in enumerate(FIXED):
    setattr(FramingTable, "test_%02d_%s" % (_n, re.sub(r"[^0-9a-zA-Z]+", "_", _name)),
            _fixed_test(_n, _name))


if __name__ == "__main__":
    unittest.main()
