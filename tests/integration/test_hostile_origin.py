"""A hostile origin behind frontcache: a table of upstream responses that are malformed,
ambiguous or merely unusual (interim 1xx, trailers, framing conflicts, cut bodies), each checked
for three things:

  - what the client gets: the status and body, read with a strict reader (the first byte on the
    connection starts a status line, every line is well-formed, the framing is exact and
    nothing follows the response), complete, or cut with the connection closed;
  - what is stored: the same URL asked again must be a HIT for a good storable row and must
    reach the origin for any bad one (a malformed response is never stored);
  - whether the upstream connection went back to the pool: the origin numbers its connections,
    so the next request after a good keep-alive response arrives on the same one, and after a
    bad one on a new one, the old one closed by frontcache with nothing more sent on it.

RawOrigin writes the exact bytes a row gives for the first request of its path (a well-formed
storable 200 for every later request) and keeps the connection open for more requests unless
the row closes it. The table runs once per cache mode (django, the default, and http), one test
per row; about 10 s in all on a dev build."""

import re
import socket
import threading
import time
import unittest

from harness import OriginAndProxy, RawServer, asan_build

SLOW = asan_build()
T = 30 if SLOW else 5  # seconds to wait for anything that should happen
QUIET = 0.3 if SLOW else 0.1  # how long to watch a connection for bytes that must not come


# --- the origin ------------------------------------------------------------------------------

class Step:
    """What the origin does for one request: writes `pieces` (bytes; a float sleeps that many
    seconds), then `after`: "keep" (read the next request on the connection) or "close".
    `early`: answer as soon as the head arrived, before reading the request body."""

    def __init__(self, pieces, after="keep", early=False):
        self.pieces, self.after, self.early = pieces, after, early


class OriginConn:
    """One upstream connection as the origin saw it."""

    def __init__(self, cid, sock):
        self.id, self.sock = cid, sock
        self.targets = []  # request targets received on it, in order
        self.peer_closed = False  # frontcache closed it (EOF or reset while reading)
        self.done = threading.Event()


def fresh(target, n):
    """The origin's good answer to request `n` (0-based) for `target`: storable in both modes."""
    body = ("fresh %s %d" % (target, n)).encode()
    return (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nCache-Control: max-age=60\r\n\r\n%s"
            % (len(body), body))


class RawOrigin:
    def __init__(self):
        self.lock = threading.Lock()
        self.conns = []  # OriginConn of each connection, by id (its number from 0)
        self.scripts = {}  # target -> Step for its first request
        self.seen = {}  # target -> [connection id of each request for it]
        self.methods = {}  # target -> [method of each request for it]
        self.server = RawServer(self._serve, backlog=64, accepted=self._accepted)
        self.url = self.server.url

    def close(self):
        self.server.close()

    def _accepted(self, s, number):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            self.conns.append(OriginConn(number - 1, s))

    @staticmethod
    def _read_body(s, buf, length):
        while len(buf) < length:
            d = s.recv(65536)
            if not d:
                return None
            buf += d
        return buf[length:]

    def _serve(self, s, number):
        conn, buf = self.conn(number - 1), b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = s.recv(65536)
                    if not d:
                        conn.peer_closed = True
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, target = lines[0].split(" ")[:2]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                with self.lock:
                    ids = self.seen.setdefault(target, [])
                    step = self.scripts.get(target) if not ids else None
                    ids.append(conn.id)
                    self.methods.setdefault(target, []).append(method)
                    conn.targets.append(target)
                step = step or Step([fresh(target, len(ids) - 1)])
                if not step.early:
                    buf = self._read_body(s, buf, length)
                    if buf is None:
                        conn.peer_closed = True
                        return
                for p in step.pieces:
                    if isinstance(p, float):
                        time.sleep(p)
                    else:
                        s.sendall(p)
                if step.after == "close":
                    return
                if step.early:
                    buf = self._read_body(s, buf, length)
                    if buf is None:
                        conn.peer_closed = True
                        return
        except OSError:
            conn.peer_closed = True
        finally:
            try:
                s.close()
            except OSError:
                pass
            conn.done.set()

    def requests(self, target):
        with self.lock:
            return list(self.seen.get(target, []))

    def conn(self, cid):
        with self.lock:
            return self.conns[cid]

    def drain(self):
        """Ends every connection still open (frontcache sees its idle pool connections closed
        and closes them): the next row starts with an empty pool. True when all ended."""
        with self.lock:
            live = [c for c in self.conns if not c.done.is_set()]
        for c in live:
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        return all(c.done.wait(T) for c in live)


# --- a strict client-side reader -----------------------------------------------------------

TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-5][0-9][0-9]) ([\t\x20-\x7e\x80-\xff]*)\Z")
FIELD_LINE = re.compile(rb"(" + TOKEN + rb"):[ \t]*((?:[\x21-\x7e\x80-\xff]"
                        rb"(?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?)[ \t]*\Z")
CHUNK_SIZE = re.compile(rb"([0-9a-fA-F]{1,16})(?:[ \t]*;[^\r\n]*)?\Z")


class Cut(Exception):
    """The connection ended before the response did."""


class Reply:
    def __init__(self):
        self.interim = []  # [(status, {lowercase name: [values]})] before the final head
        self.status = None
        self.reason = b""
        self.fields = {}
        self.body = b""
        self.complete = False  # the whole response, exactly framed, arrived
        self.closed = False  # the connection ended (during or after the response)
        self.raw = b""  # every byte read from the connection

    def field(self, name):
        v = self.fields.get(name.lower())
        return v[0] if v else None

    def __repr__(self):
        return "<Reply %s %s complete=%s closed=%s interim=%s raw=%r>" % (
            self.status, self.reason, self.complete, self.closed,
            [s for s, _ in self.interim], self.raw[:300])


class StrictReader:
    def __init__(self, sock):
        self.sock, self.buf, self.raw, self.eof = sock, b"", b"", False
        sock.settimeout(T)

    def _fill(self):
        if self.eof:
            return False
        try:
            d = self.sock.recv(65536)
        except ConnectionResetError:
            d = b""
        except socket.timeout:
            raise AssertionError("no answer within %ss; read so far %r" % (T, self.raw[:300]))
        if not d:
            self.eof = True
            return False
        self.buf += d
        self.raw += d
        return True

    def _line(self):
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise Cut()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise Cut()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _head(self):
        line = self._line()
        m = STATUS_LINE.match(line)
        if not m:
            raise AssertionError("not a status line: %r (read %r)" % (line, self.raw[:300]))
        fields = {}
        while True:
            line = self._line()
            if not line:
                return int(m.group(1)), m.group(2), fields
            f = FIELD_LINE.match(line)
            if not f:
                raise AssertionError("malformed field line %r (read %r)" % (line, self.raw[:300]))
            fields.setdefault(f.group(1).decode().lower(), []).append(f.group(2).decode("latin-1"))

    def response(self, head_request=False):
        """One response, interim ones included. A response cut short comes back with complete
        False; anything malformed fails the test."""
        r = Reply()
        try:
            while True:
                status, reason, fields = self._head()
                if 100 <= status < 200 and status != 101:
                    r.interim.append((status, fields))
                    continue
                break
            r.status, r.reason, r.fields = status, reason, fields
            te, cl = fields.get("transfer-encoding"), fields.get("content-length")
            if head_request or status in (204, 304) or status < 200:
                pass
            elif te:
                assert cl is None, "Transfer-Encoding and Content-Length: %r" % r
                assert te == ["chunked"], "Transfer-Encoding %r" % te
                while True:
                    line = self._line()
                    m = CHUNK_SIZE.match(line)
                    assert m, "bad chunk size line %r in %r" % (line, r)
                    size = int(m.group(1), 16)
                    if size == 0:
                        while self._line():
                            pass  # trailer fields; the forbidden-bytes check covers them
                        break
                    r.body += self._exact(size)
                    assert self._exact(2) == b"\r\n", "chunk data not ended by CRLF: %r" % r
            elif cl:
                assert len(cl) == 1 and cl[0].isdigit(), "Content-Length %r" % cl
                r.body = self._exact(int(cl[0]))
            else:
                while self._fill():
                    pass
                r.body, self.buf = self.buf, b""
            r.complete = True
        except Cut:
            r.closed = True
        r.raw = self.raw
        return r

    def quiet(self, r):
        """Watches the connection after a complete response: nothing more may arrive (an EOF
        may). Sets r.closed."""
        if r.closed or self.eof:
            r.closed = True
            return
        assert self.buf == b"", "bytes after the response: %r" % self.buf
        self.sock.settimeout(QUIET)
        try:
            d = self.sock.recv(65536)
            if d:
                r.raw += d
                raise AssertionError("bytes after the response: %r" % d)
            r.closed = True
        except ConnectionResetError:
            r.closed = True
        except socket.timeout:
            pass

    def wait_closed(self):
        """True when the peer ends the connection within T (bytes that come first are kept)."""
        if self.eof:
            return True
        self.sock.settimeout(T)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return True
                self.raw += d
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


# --- the table -------------------------------------------------------------------------------

def ok(body, extra=b"", status=b"200 OK", version=b"HTTP/1.1"):
    """A well-formed storable response with Content-Length."""
    return (b"%s %s\r\nContent-Length: %d\r\nCache-Control: max-age=60\r\n%s\r\n%s"
            % (version, status, len(body), extra, body))


def chunked_head(extra=b""):
    return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nCache-Control: max-age=60\r\n%s\r\n"
            % extra)


class Row:
    """One row. `expect`: "ok" (a complete response with `status` and `body`, `interim` the
    interim statuses the client sees), "502" (frontcache's complete 502), "502|ok" (either of
    those), "cut" (the head of a 200, then the response cut short and the client connection
    closed) or "502|cut" (either, as the head went out before the fault was read or not). A
    row that ends in a 502 or a cut is never stored nor reused, whatever it says. `stored`:
    True (a HIT next time), False (never stored), None (either). `reuse`: True (the upstream
    connection serves the next request), False (it is closed), None (either). `forbid`: bytes
    no client may ever see in this row (with INJECTED, evil and smuggled, always). `client`:
    "1.1" or "1.0" (a GET), "head" (a HEAD), "early-post" (a POST whose second half is sent
    after the answer). `pieces`, `after`, `early`: the Step."""

    def __init__(self, name, pieces, expect, stored, reuse, after="keep", body=b"", status=200,
                 interim=(), forbid=(), client="1.1", early=False):
        self.name, self.pieces, self.expect = name, pieces, expect
        self.stored, self.reuse, self.after = stored, reuse, after
        self.body, self.status, self.interim = body, status, list(interim)
        self.forbid = list(forbid) + [b"INJECTED", b"evil", b"smuggled"]
        self.client, self.early = client, early


def dribble(data):
    """`data` a byte at a time, with a pause every few bytes so that reads split it anywhere."""
    out = []
    for i in range(len(data)):
        out.append(data[i:i + 1])
        if i % 7 == 6:
            out.append(0.002)
    return out


FINAL = ok(b"final")
LINK = b"Link: </style.css>; rel=preload; as=style\r\n"

ROWS = [
    # RFC 9110 §15.2: a 1xx ends with its header section and has no content, whatever its
    # Content-Length says; the bytes after its head are the next response (here: not HTTP).
    Row("interim_100_with_content_length",
        [b"HTTP/1.1 100 Continue\r\nContent-Length: 10\r\n\r\nINJECTED!!" + FINAL],
        "502|ok", stored=None, reuse=None, body=b"final"),
    # RFC 9110 §15.2 and RFC 8297 §2: a 103 has no content either; it may be passed on, its
    # "body" never.
    Row("interim_103_with_content_length",
        [b"HTTP/1.1 103 Early Hints\r\n" + LINK + b"Content-Length: 10\r\n\r\nINJECTED!!" + FINAL],
        "502|ok", stored=None, reuse=None, body=b"final"),
    # RFC 9110 §15.2: the bytes a 1xx's Content-Length claims are the final response itself;
    # the response after them is extra and reaches no client (the connection is not reused).
    Row("interim_content_length_covers_a_response",
        [b"HTTP/1.1 102 Processing\r\nContent-Length: %d\r\n\r\n" % len(ok(b"first")) +
         ok(b"first") + ok(b"smuggled")],
        "ok", stored=None, reuse=False, body=b"first"),
    # RFC 9110 §15.2.1: 100 Continue is consumed by frontcache, never forwarded.
    Row("continue_then_200", [b"HTTP/1.1 100 Continue\r\n\r\n" + FINAL],
        "ok", stored=True, reuse=True, body=b"final"),
    # RFC 9110 §15.2 (102 from RFC 2518 §10.1): an unknown 1xx is consumed like 100.
    Row("processing_then_200", [b"HTTP/1.1 102 Processing\r\n\r\n", 0.05, FINAL],
        "ok", stored=True, reuse=True, body=b"final"),
    # RFC 8297 §2: a 103 with its Link fields goes to an HTTP/1.1 client before the final head.
    Row("early_hints_then_200", [b"HTTP/1.1 103 Early Hints\r\n" + LINK + b"\r\n", 0.05, FINAL],
        "ok", stored=True, reuse=True, body=b"final", interim=[103]),
    # A 103 loses the cache-group aliases as the final head does (they name the origin's
    # purge groups, not hints for a browser).
    Row("early_hints_without_group_aliases",
        [b"HTTP/1.1 103 Early Hints\r\n" + LINK +
         b"xkey: leakedgroup\r\nSurrogate-Key: leakedgroup\r\nCache-Tag: leakedgroup\r\n\r\n",
         0.05, FINAL],
        "ok", stored=True, reuse=True, body=b"final", interim=[103], forbid=[b"leakedgroup"]),
    # RFC 9110 §15.2: no 1xx to an HTTP/1.0 client.
    Row("early_hints_to_http10_client",
        [b"HTTP/1.1 103 Early Hints\r\n" + LINK + b"\r\n", 0.05, FINAL],
        "ok", stored=True, reuse=True, body=b"final", client="1.0"),
    # RFC 9110 §15.2: several interim responses may precede the final one (16: frontcache's limit).
    Row("sixteen_interims", [b"HTTP/1.1 102 Processing\r\n\r\n" * 16 + FINAL],
        "ok", stored=True, reuse=True, body=b"final"),
    # RFC 9110 §15.2: beyond frontcache's limit of 16 interim responses: refused.
    Row("seventeen_interims", [b"HTTP/1.1 102 Processing\r\n\r\n" * 17 + FINAL],
        "502", stored=False, reuse=False),
    # RFC 9110 §15.2.2: 101 only answers a request with Upgrade, which frontcache never sends.
    Row("switching_protocols_to_get",
        [b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
         b"INJECTED"], "502", stored=False, reuse=False),
    # RFC 9110 §15: a status code is 100-599.
    Row("status_099", [ok(b"INJECTED", status=b"099 Low")], "502", stored=False, reuse=False),
    # RFC 9110 §15: a status code is 100-599.
    Row("status_600", [ok(b"INJECTED", status=b"600 High")], "502", stored=False, reuse=False),
    # RFC 9110 §15: a status code is 100-599.
    Row("status_999", [ok(b"INJECTED", status=b"999 High")], "502", stored=False, reuse=False),
    # RFC 9110 §15: a status code is 100-599.
    Row("status_000", [ok(b"INJECTED", status=b"000 Zero")], "502", stored=False, reuse=False),
    # RFC 9112 §6.1: a transfer coding frontcache does not decode (gzip under chunked).
    Row("te_gzip_chunked",
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nCache-Control: max-age=60\r\n\r\n"
         b"8\r\nINJECTED\r\n0\r\n\r\n"], "502", stored=False, reuse=False),
    # RFC 9112 §6.3 rule 4: chunked not last (the body would run until close): refused.
    Row("te_chunked_gzip",
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\nCache-Control: max-age=60\r\n\r\n"
         b"8\r\nINJECTED\r\n0\r\n\r\n"], "502", stored=False, reuse=False),
    # RFC 9112 §6.1: chunked applied more than once (two fields are one list).
    Row("te_chunked_twice",
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
         b"Cache-Control: max-age=60\r\n\r\n8\r\nINJECTED\r\n0\r\n\r\n"],
        "502", stored=False, reuse=False),
    # RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing.
    # RFC 9112 §6.1 / §7: "chunked," is chunked alone (an empty list member); llhttp reads it as
    # another coding and would take the framing for a body read until close.
    Row("te_chunked_trailing_comma",
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\nCache-Control: max-age=60\r\n\r\n"
         b"5\r\nfinal\r\n0\r\n\r\n"], "ok", stored=True, reuse=None, body=b"final"),
    # RFC 9110 §15.2: a 1xx says nothing of the connection's fate; the final response follows.
    Row("interim_100_connection_close",
        [b"HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\n"
         b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nCache-Control: max-age=60\r\n\r\nfinal"],
        "ok", stored=True, reuse=None, body=b"final"),
    Row("te_chunked_in_http10",
        [b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nCache-Control: max-age=60\r\n\r\n"
         b"8\r\nINJECTED\r\n0\r\n\r\n"], "502", stored=False, reuse=False, after="close"),
    # RFC 9110 §8.6: a length no signed 64-bit count holds (2^63).
    Row("content_length_2_63",
        [b"HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\nINJECTED"],
        "502", stored=False, reuse=False),
    # RFC 9110 §8.6: a length that overflows 64 bits (2^64).
    Row("content_length_2_64",
        [b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\nINJECTED"],
        "502", stored=False, reuse=False),
    # RFC 9112 §6.3 rule 5: differing Content-Length fields are unrecoverable.
    Row("content_length_conflict",
        [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 8\r\n"
         b"Cache-Control: max-age=60\r\n\r\nINJECTED"], "502", stored=False, reuse=False),
    # RFC 9112 §7.1: chunk data ends with CRLF; XX is not CRLF.
    Row("chunk_data_then_xx", [chunked_head() + b"5\r\nhelloXX0\r\n\r\n"],
        "502|cut", stored=False, reuse=False),
    # RFC 9112 §7.1: the same, after the client head and the first chunk have gone out.
    Row("chunk_data_then_xx_later", [chunked_head() + b"5\r\nhello\r\n", 0.1,
                                     b"5\r\nworldXX0\r\n\r\n"],
        "502|cut", stored=False, reuse=False),
    # RFC 9112 §7.1 (and §2.2: frontcache takes no bare LF): chunk data then a bare LF.
    Row("chunk_data_then_bare_lf", [chunked_head() + b"5\r\nhello\n0\r\n\r\n"],
        "502|cut", stored=False, reuse=False),
    # RFC 9112 §7.1: the last chunk's line then a bare LF instead of the final CRLF.
    Row("last_chunk_then_bare_lf", [chunked_head() + b"5\r\nhello\r\n0\r\n\n"],
        "502|cut", stored=False, reuse=False),
    # RFC 9112 §7.1.1: chunk extensions are allowed and ignored.
    Row("chunk_extensions",
        [chunked_head() + b"5;name=value;q=\"x\"\r\nhello\r\n0;last\r\n\r\n"],
        "ok", stored=True, reuse=True, body=b"hello"),
    # RFC 9110 §6.5.1 and RFC 9112 §7.1.2: trailer fields are dropped, never merged into the
    # head forwarded or stored.
    Row("trailer_set_cookie",
        [chunked_head(b"Trailer: Set-Cookie\r\n") + b"5\r\nhello\r\n0\r\nSet-Cookie: sid=evil\r\n"
         b"X-Evil: evil\r\n\r\n"], "ok", stored=True, reuse=True, body=b"hello"),
    # RFC 9112 §6.3 rule 6: the body ends after Content-Length bytes; what follows is not a
    # response to anything and the connection is not reused.
    Row("body_longer_than_content_length",
        [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nCache-Control: max-age=60\r\n\r\nhello"
         b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nCache-Control: max-age=60\r\n\r\nsmuggled"],
        "ok", stored=None, reuse=False, body=b"hello"),
    # RFC 9112 §8: a message cut short is incomplete: not stored, the client connection closed.
    Row("cut_in_body", [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nCache-Control: max-age=60"
                        b"\r\n\r\n0123456789"], "cut", stored=False, reuse=False, after="close"),
    # RFC 9112 §8: the same in a chunked body.
    Row("cut_in_chunked_body", [chunked_head() + b"a\r\n01234"], "cut", stored=False,
        reuse=False, after="close"),
    # RFC 9112 §9.3 and §9.6: the origin answers before the request body arrived: the request
    # on that connection is unfinished, so the connection is not reused.
    Row("answer_before_request_body",
        [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly"],
        "ok", stored=False, reuse=False, body=b"early", client="early-post", early=True),
    # RFC 9112 §4: reason-phrase = *( HTAB / SP / VCHAR / obs-text ): no control characters.
    Row("reason_control_character", [ok(b"INJECTED", status=b"200 O\x01K")],
        "502", stored=False, reuse=False),
    # RFC 9112 §4: DEL is a control character too.
    Row("reason_del", [ok(b"INJECTED", status=b"200 O\x7fK")], "502", stored=False, reuse=False),
    # RFC 9112 §5.2: a proxy rejects obs-fold in a response with 502 (or unfolds it).
    Row("obs_fold", [ok(b"INJECTED", extra=b"X-Folded: a\r\n b\r\n")], "502", stored=False,
        reuse=False),
    # RFC 9112 §5.1: no white space between a field name and the colon.
    Row("space_before_colon", [ok(b"INJECTED", extra=b"X-Spaced : b\r\n")], "502",
        stored=False, reuse=False),
    # RFC 9112 §2.3: frontcache speaks HTTP/1.x upstream; a 2.0 status line is not one.
    Row("http2_status_line", [ok(b"INJECTED", version=b"HTTP/2.0")], "502", stored=False,
        reuse=False),
    # RFC 9112 §6.3 rule 3: Transfer-Encoding and Content-Length together "ought to be handled
    # as an error": frontcache refuses it (forwarding it chunked alone would be allowed too).
    Row("te_and_content_length",
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n"
         b"Cache-Control: max-age=60\r\n\r\n5\r\nhello\r\n0\r\n\r\n"],
        "502", stored=False, reuse=False),
    # RFC 9112 §7.1: a chunk size beyond 64 bits.
    Row("chunk_size_overflow", [chunked_head() + b"10000000000000005\r\nhello\r\n0\r\n\r\n"],
        "502|cut", stored=False, reuse=False),
    # RFC 9112 §7.1: chunk-size is 1*HEXDIG: no "0x".
    Row("chunk_size_0x", [chunked_head() + b"0x5\r\nhello\r\n0\r\n\r\n"], "502|cut", stored=False,
        reuse=False),
    # RFC 9112 §7.1.2: a malformed trailer field (obs-fold) fails the message.
    Row("trailer_obs_fold", [chunked_head() + b"5\r\nhello\r\n0\r\nX-T: a\r\n evil\r\n\r\n"],
        "502|cut", stored=False, reuse=False),
    # RFC 9110 §8.6: Content-Length = 1*DIGIT, no sign.
    Row("content_length_plus", [b"HTTP/1.1 200 OK\r\nContent-Length: +8\r\n\r\nINJECTED"], "502",
        stored=False, reuse=False),
    # RFC 9110 §5.5: NUL is not allowed in a field value.
    Row("nul_in_field_value", [ok(b"INJECTED", extra=b"X-Nul: a\x00b\r\n")], "502", stored=False,
        reuse=False),
    # RFC 9112 §2.2: a recipient MAY take a bare LF as a line end; frontcache refuses it.
    Row("bare_lf_head",
        [b"HTTP/1.1 200 OK\nContent-Length: 5\nCache-Control: max-age=60\n\nhello"],
        "502", stored=False, reuse=False),
    # RFC 9112 §4: a status line without a reason phrase (the SP before it omitted).
    Row("no_reason_phrase", [ok(b"plain", status=b"200")], "ok", stored=True, reuse=True,
        body=b"plain"),
    # RFC 9112 §6.3 rule 1 and RFC 9110 §15.3.5: a 204 ends at its head; the bytes after it
    # are extra and the connection is not reused.
    Row("no_content_with_body",
        [b"HTTP/1.1 204 No Content\r\nContent-Length: 8\r\n\r\nsmuggled"],
        "ok", stored=None, reuse=False, status=204),
    # RFC 9112 §6.3 rule 1: a response to HEAD ends at its head; a body after it is extra (when
    # frontcache sent HEAD upstream; a GET in its place may read it).
    Row("head_answered_with_body", [ok(b"body of a head")], "ok", stored=None, reuse=None,
        client="head"),
    # RFC 9112 §5 and §7.1: the same response written a byte at a time (interim responses,
    # chunk extensions, a trailer), split everywhere.
    Row("dribbled", dribble(b"HTTP/1.1 103 Early Hints\r\n" + LINK + b"\r\n"
                            b"HTTP/1.1 100 Continue\r\n\r\n" + chunked_head() +
                            b"3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-T: evil\r\n\r\n"),
        "ok", stored=True, reuse=True, body=b"abcde", interim=[103]),
    # RFC 9110 §8.6 and RFC 9112 §6.1: framing fields in a 103 are meaningless (no content);
    # the interim response passed on carries none (checked for every row), the next response
    # is read from the byte after its head.
    Row("early_hints_with_framing_fields",
        [b"HTTP/1.1 103 Early Hints\r\n" + LINK + b"Transfer-Encoding: chunked\r\n\r\n" + FINAL],
        "ok", stored=True, reuse=True, body=b"final", interim=[103]),
    # RFC 8297 §2: several 103s are passed on in order.
    Row("two_early_hints",
        [b"HTTP/1.1 103 Early Hints\r\n" + LINK + b"\r\n" + b"HTTP/1.1 103 Early Hints\r\n" +
         LINK + b"\r\n" + FINAL], "ok", stored=True, reuse=True, body=b"final", interim=[103, 103]),
    # RFC 9112 §6.3 rule 7 and §7.1: a chunked body to an HTTP/1.0 client (re-framed, no
    # trailer).
    Row("chunked_to_http10_client",
        [chunked_head() + b"5\r\nhello\r\n0\r\nSet-Cookie: sid=evil\r\n\r\n"],
        "ok", stored=True, reuse=True, body=b"hello", client="1.0"),
    # RFC 9112 §9.3: an HTTP/1.0 response without keep-alive ends the connection.
    Row("http10_response", [ok(b"ten", version=b"HTTP/1.0")], "ok", stored=True, reuse=False,
        body=b"ten"),
    # RFC 9112 §9.6: Connection: close ends the connection after this response.
    Row("connection_close", [ok(b"bye", extra=b"Connection: close\r\n")], "ok", stored=True,
        reuse=False, body=b"bye"),
    # RFC 9112 §6.3 rule 8: no length: the body runs until the origin closes.
    Row("close_delimited",
        [b"HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nConnection: close\r\n\r\nuntil close"],
        "ok", stored=None, reuse=False, body=b"until close", after="close"),
]


class HostileOrigin(OriginAndProxy):
    """The table against one frontcache (SECTIONS) in front of one RawOrigin."""

    @classmethod
    def make_origin(cls):
        return RawOrigin()

    def setUp(self):
        self.assertTrue(self.origin.drain(), "frontcache kept an upstream connection open")

    def ask(self, raw, head_request=False, quiet=False):
        """Sends `raw` on a new connection and reads the answer; `quiet`: then watches the
        connection for bytes that must not follow."""
        s = self.fc.connect(timeout=T)
        try:
            s.sendall(raw)
            r = StrictReader(s)
            reply = r.response(head_request)
            if quiet:
                r.quiet(reply)
            else:
                assert r.buf == b"", "bytes after the response: %r" % r.buf
            return reply
        finally:
            s.close()

    def get(self, path, version="1.1"):
        return self.ask(("GET %s HTTP/%s\r\nHost: site.test\r\n\r\n" % (path, version)).encode())

    def first(self, row, path):
        """The row's request. An early-post sends half its body, reads the answer, then the
        rest."""
        if row.client != "early-post":
            return self.ask(("%s %s HTTP/%s\r\nHost: site.test\r\n\r\n"
                             % ("HEAD" if row.client == "head" else "GET", path,
                                "1.0" if row.client == "1.0" else "1.1")).encode(),
                            head_request=row.client == "head", quiet=True)
        s = self.fc.connect(timeout=T)
        try:
            s.sendall(b"POST %s HTTP/1.1\r\nHost: site.test\r\nContent-Length: 20\r\n\r\n0123456789"
                      % path.encode())
            r = StrictReader(s)
            reply = r.response()
            try:
                s.sendall(b"abcdefghij")
            except OSError:
                pass
            r.quiet(reply)
            return reply
        finally:
            s.close()

    def run_row(self, row):
        path = "/%s" % row.name
        self.origin.scripts[path] = Step(row.pieces, row.after, row.early)
        seen = []  # every reply of the row, for the forbidden-bytes check

        # 1. What the client gets.
        r1 = self.first(row, path)
        seen.append(r1)
        ids = self.origin.requests(path)
        self.assertEqual(len(ids), 1, "the origin got %d requests for %s" % (len(ids), path))
        expect = row.expect
        if expect == "502|ok":
            expect = "502" if r1.status == 502 else "ok"
        if expect == "502|cut":
            # The head may or may not have gone out: a 502, or the response cut and closed.
            expect = "502" if r1.complete else "cut"
        if expect == "cut":
            self.assertFalse(r1.complete, "a response that failed upstream: %r" % r1)
            self.assertEqual(r1.status, 200, r1)
            self.assertTrue(r1.closed, r1)
        if expect == "502":
            self.assertTrue(r1.complete, r1)
            self.assertEqual(r1.status, 502, r1)
        elif expect == "ok":
            self.assertTrue(r1.complete, r1)
            self.assertEqual((r1.status, r1.body), (row.status, row.body), r1)
            self.assertEqual([s for s, _ in r1.interim], row.interim, r1)
            for status, fields in r1.interim:
                if status == 103:
                    self.assertIn("rel=preload", fields.get("link", [""])[0], r1)
        for status, fields in r1.interim:
            # RFC 9110 §8.6, RFC 9112 §6.1: no Content-Length or Transfer-Encoding in a 1xx.
            self.assertNotIn("content-length", fields, r1)
            self.assertNotIn("transfer-encoding", fields, r1)
        failed = expect != "ok"

        # 2. What is stored: the same URL again.
        r2 = self.get(path)
        seen.append(r2)
        self.assertTrue(r2.complete, r2)
        stored = row.stored if not failed else False
        if stored is True:
            self.assertEqual(r2.field("x-cache"), "HIT", r2)
            self.assertTrue((r2.field("cache-status") or "").startswith("frontcache; hit"), r2)
            self.assertEqual((r2.status, r2.body), (r1.status, r1.body), r2)
            self.assertEqual(len(self.origin.requests(path)), 1)
        elif stored is False:
            self.assertNotEqual(r2.field("x-cache"), "HIT", r2)
            self.assertEqual(r2.status, 200, r2)
            self.assertEqual(r2.body, ("fresh %s 1" % path).encode(), r2)
            self.assertEqual(len(self.origin.requests(path)), 2)

        # 3. Whether the upstream connection was reused: a request for another URL.
        nxt = path + "/next"
        r3 = self.get(nxt)
        seen.append(r3)
        self.assertTrue(r3.complete, r3)
        self.assertEqual((r3.status, r3.body), (200, ("fresh %s 0" % nxt).encode()), r3)
        c1 = self.origin.conn(ids[0])
        c3 = self.origin.requests(nxt)[0]
        reuse = row.reuse if not failed else False
        if row.client == "head" and self.origin.methods[path][0] == "HEAD":
            reuse = False  # the body after the head is extra
        if reuse is True:
            self.assertEqual(c3, c1.id, "a good keep-alive response: the connection is reused")
        elif reuse is False:
            self.assertNotEqual(c3, c1.id, "the connection that served %s was reused" % path)
            if row.after == "keep":
                self.assertTrue(c1.done.wait(T), "frontcache did not close the connection")
                self.assertTrue(c1.peer_closed)
            self.assertEqual(c1.targets, [path], "requests after %s on its connection" % path)

        for r in seen:
            for bad in row.forbid:
                self.assertNotIn(bad, r.raw, "%r reached a client: %r" % (bad, r))


def add_rows(cls):
    for row in ROWS:
        setattr(cls, "test_" + row.name, lambda self, row=row: self.run_row(row))
    return cls


@add_rows
class DjangoMode(HostileOrigin):
    SECTIONS = None  # the default config


@add_rows
class HttpMode(HostileOrigin):
    SECTIONS = {"cache": {"mode": "http"}}


if __name__ == "__main__":
    unittest.main()
