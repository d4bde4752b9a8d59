"""Request streams for the framing differential (test_framing_differential.py): valid and
malformed HTTP/1.1 requests, each with the outcome RFC 9112 / RFC 9110 (and frontcache's own
documented limits) expect of a reverse proxy, plus a strict walker over what reached the origin.

A request is built from parts (method, target, version, field lines, body framing); every
"oddity" changes one part and says what a correct proxy must do with the result:

  ACCEPT  forward it: same method, origin-form target, end-to-end fields and decoded body;
  REFUSE  answer it itself with one of `statuses`, close the connection, forward nothing;
  EITHER  either of the above (the RFC allows both); when forwarded, with the meaning given.

Python stdlib only; deterministic for a given random.Random."""

import re

CRLF = b"\r\n"
ACCEPT, EITHER, REFUSE = "accept", "either", "refuse"
METHODS = [b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS"]
MAX_BODY = 100 * 1024 * 1024  # server.max_body's default
MAX_URI = 8 * 1024            # server.max_uri_size's default
MAX_HEADER = 16 * 1024        # server.max_header_size's default

# Fields a proxy owns or must not forward (RFC 9110 §7.6.1 hop-by-hop, framing it redoes,
# Expect it answers, its own Via / X-Forwarded-* / X-Request-Id / Forwarded). A client's copy is
# never compared with what the origin got.
PROXY_OWNED = {b"connection", b"keep-alive", b"te", b"trailer", b"transfer-encoding", b"upgrade",
               b"proxy-connection", b"proxy-authorization", b"proxy-authenticate",
               b"content-length", b"expect", b"via", b"x-forwarded-for", b"x-forwarded-proto",
               b"x-forwarded-host", b"forwarded", b"x-request-id", b"host"}
# What the proxy may add or rewrite on the way up: left out of the origin's side of the
# comparison (Host is checked on its own).
ORIGIN_IGNORED = {b"content-length", b"transfer-encoding", b"via", b"x-forwarded-for",
                  b"x-forwarded-proto", b"x-forwarded-host", b"forwarded", b"x-request-id",
                  b"connection", b"keep-alive", b"host"}

_NEVER = object()  # a field line that must never reach the origin as a field


class Field:
    def __init__(self, name, value, raw=None, fwd=None):
        self.name, self.value = name, value
        # The bytes sent, terminator included.
        self.raw = raw if raw is not None else name + b": " + value + CRLF
        # What the origin must see: (lower-case name, value); None: derived from name/value.
        self.fwd = fwd


class Req:
    """One request of a stream and what a correct proxy does with it."""

    def __init__(self, rid):
        self.id = rid.encode() if isinstance(rid, str) else rid
        self.method = b"GET"
        self.version = b"HTTP/1.1"
        self.path = b"/d/" + self.id
        self.target = self.path     # as sent
        self.fwd_target = self.path  # what the origin must see
        self.request_line = None     # replaces method SP target SP version when set
        self.prefix = b""            # bytes before the request line
        self.fields = []
        self.host_values = [b"site.test"]  # Host field lines (values), in order
        self.abs_authority = None    # absolute-form: the Host the origin must see
        self.body_raw = b""
        self.body = b""
        self.framing = None          # None, "cl", "chunked"
        self.verdict = ACCEPT
        self.statuses = set()
        self.labels = []
        self.close_after = False     # when forwarded, the connection closes after the answer
        self.incomplete = False      # the stream ends inside this request (then half-closed)
        self.finish_first = None     # a field line that must come before Host
        self.bad_host = None         # the label of an invalid or repeated Host

    # --- verdicts ---
    def refuse(self, label, statuses):
        self.labels.append(label)
        self.statuses |= set(statuses)
        self.verdict = REFUSE

    def either(self, label, statuses):
        self.labels.append(label)
        self.statuses |= set(statuses)
        if self.verdict == ACCEPT:
            self.verdict = EITHER

    def note(self, label):
        self.labels.append(label)

    def label(self):
        return "+".join(self.labels) or "clean"

    # --- parts ---
    def add(self, name, value, raw=None, fwd=None, at=None):
        f = Field(name, value, raw, fwd)
        if at is None:
            self.fields.append(f)
        else:
            self.fields.insert(at, f)
        return f

    def remove(self, lname):
        """Removes the well-formed `lname` fields (a malformed line another oddity put there
        stays)."""
        self.fields = [f for f in self.fields
                       if f.name.lower() != lname or f.raw != f.name + b": " + f.value + CRLF]

    def set_cl_body(self, body, value=None, count=1):
        self.remove(b"content-length")
        self.remove(b"transfer-encoding")
        self.framing = "cl"
        self.body_raw = self.body = body
        for _ in range(count):
            self.add(b"Content-Length", value if value is not None else b"%d" % len(body))

    def set_chunked_body(self, body, raw, te=b"chunked"):
        self.remove(b"content-length")
        self.remove(b"transfer-encoding")
        self.framing = "chunked"
        self.body, self.body_raw = body, raw
        self.add(b"Transfer-Encoding", te)

    def no_body(self):
        self.remove(b"content-length")
        self.remove(b"transfer-encoding")
        self.framing = None
        self.body = self.body_raw = b""

    def raw(self):
        line = self.request_line(self) if self.request_line else None
        if line is None:
            line = self.method + b" " + self.target + b" " + self.version
        return (self.prefix + line + CRLF + b"".join(f.raw for f in self.fields) + CRLF +
                self.body_raw)

    def expected_fields(self):
        """{lower-case name: value list joined by ", "} the origin must see, Host aside."""
        conn = set()
        for f in self.fields:
            if f.name.lower() == b"connection":
                conn |= {t.strip().lower() for t in f.value.split(b",") if t.strip()}
        out = {}
        for f in self.fields:
            fwd = f.fwd if f.fwd is not None else (f.name.lower(), f.value.strip(b" \t"))
            if fwd is _NEVER:
                continue
            name, value = fwd
            if name in PROXY_OWNED or name in conn or b"_" in name:
                continue
            out.setdefault(name, []).append(value)
        return {k: b", ".join(v) for k, v in out.items()}

    def expected_host(self):
        if self.abs_authority is not None:
            return self.abs_authority
        if self.host_values:
            return self.host_values[0].strip(b" \t")
        return None  # HTTP/1.0 without Host: the proxy picks one

    def finish(self):
        """Host lines go first (as browsers send them); called once the oddities are applied."""
        self.fields = [Field(b"Host", v) for v in self.host_values] + self.fields


def origin_fields(headers):
    """The origin's side of the comparison, from h11's (name, value) list."""
    out = {}
    for n, v in headers:
        n = bytes(n).lower()
        if n in ORIGIN_IGNORED:
            continue
        out.setdefault(n, []).append(bytes(v))
    return {k: b", ".join(v) for k, v in out.items()}


# --- bodies -------------------------------------------------------------------------------------

def rand_body(rng, rid):
    kind = rng.random()
    n = rng.choice([0, 1, 2, 5, 13, 64, 200, 1000, 3000])
    if rng.random() < 0.02:
        n = 20000
    if kind < 0.35:
        return bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))
    if kind < 0.6:
        return bytes(rng.getrandbits(8) for _ in range(n))
    if kind < 0.8:  # framing look-alikes: what a desynced parser would take for a new message
        piece = rng.choice([b"0\r\n\r\n", b"\r\n\r\n", b"5\r\nhello\r\n", b"HTTP/1.1 200 OK\r\n"])
        return (piece * (1 + n // 16))[:max(n, len(piece))]
    # A whole request inside the body: if it ever reaches the origin, it was smuggled.
    return (b"GET /d/" + rid + b"x HTTP/1.1\r\nHost: p\r\nX-Case-Id: " + rid + b"x\r\n\r\n")


def hexsize(rng, n, style=None):
    style = style or rng.choice(["lower", "lower", "upper", "zeros"])
    s = b"%x" % n
    if style == "upper":
        s = s.upper()
    elif style == "zeros":
        s = b"000" + s
    return s


def chunk_ext(rng):
    return rng.choice([b";a=b", b';a="q"', b";a", b";n=1;m=2", b';q="x;y"', b";tok-en=v"])


def encode_chunked(rng, body, styles=False, exts=False, trailers=None, last=b"0"):
    out = []
    i = 0
    while i < len(body):
        n = rng.randint(1, max(1, len(body) - i))
        if rng.random() < 0.3:
            n = min(n, rng.randint(1, 8))
        out.append(hexsize(rng, n) if styles else b"%x" % n)
        if exts and rng.random() < 0.6:
            out.append(chunk_ext(rng))
        out.append(CRLF + body[i:i + n] + CRLF)
        i += n
    out.append(last + CRLF)
    for t in trailers or []:
        out.append(t + CRLF)
    out.append(CRLF)
    return b"".join(out)


# --- oddities -----------------------------------------------------------------------------------
# Each takes (rng, req, last) and changes req; `last`: no request follows in the stream.

def _body_method(rng, r):
    if r.method not in (b"POST", b"PUT"):
        r.method = rng.choice([b"POST", b"PUT"])


def _cl(value, statuses=None, mode=REFUSE, label=None, body=b"hello"):
    def f(rng, r, last):
        _body_method(rng, r)
        r.set_cl_body(body, value)
        if mode == REFUSE:
            r.refuse(label, statuses)
        elif mode == EITHER:
            r.either(label, statuses)
        else:
            r.note(label)
    return f


def cl_dup(equal):
    def f(rng, r, last):
        _body_method(rng, r)
        body = b"hello"
        r.set_cl_body(body)
        r.add(b"Content-Length", b"5" if equal else b"6")
        if equal:  # RFC 9112 §6.3: reject, or keep the one valid value
            r.either("cl-dup-equal", {400})
        else:
            r.refuse("cl-dup-diff", {400})
    return f


def _chunked_shape(label, raw, statuses=(400,), mode=REFUSE, body=b"hello"):
    def f(rng, r, last):
        _body_method(rng, r)
        r.set_chunked_body(body, raw)
        if mode == REFUSE:
            r.refuse(label, statuses)
        elif mode == EITHER:
            r.either(label, statuses)
        else:
            r.note(label)
    return f


def ch_styles(rng, r, last):
    _body_method(rng, r)
    body = rand_body(rng, r.id) or b"x"
    r.set_chunked_body(body, encode_chunked(rng, body, styles=True))
    r.note("ch-hex-styles")


def ch_exts(rng, r, last):
    _body_method(rng, r)
    body = rand_body(rng, r.id) or b"x"
    r.set_chunked_body(body, encode_chunked(rng, body, exts=True,
                                            last=rng.choice([b"0", b"0;a=b", b"000"])))
    r.note("ch-ext")


def ch_trailers(rng, r, last):
    _body_method(rng, r)
    body = rand_body(rng, r.id) or b"x"
    tr = rng.sample([b"Host: evil.test", b"Authorization: Bearer x", b"Cookie: s=evil",
                     b"X-Forwarded-For: 6.6.6.6", b"X-Trailer: 1", b"Content-Length: 5",
                     b"Transfer-Encoding: chunked", b"X-Case-Id: evil"], rng.randint(1, 4))
    r.set_chunked_body(body, encode_chunked(rng, body, trailers=tr))
    r.note("ch-trailers")  # trailers are dropped: none of them may reach the origin as a field


def ch_many_small(rng, r, last):
    _body_method(rng, r)
    body = bytes(rng.choice(b"abcdef") for _ in range(rng.randint(50, 400)))
    raw = b"".join(b"1\r\n" + body[i:i + 1] + CRLF for i in range(len(body))) + b"0\r\n\r\n"
    r.set_chunked_body(body, raw)
    r.note("ch-1-byte-chunks")


def ch_no_final_crlf(rng, r, last):
    _body_method(rng, r)
    if last:  # the stream ends there: an incomplete request, then the client half-closes
        r.set_chunked_body(b"hello", b"5\r\nhello\r\n0\r\n")
        r.incomplete = True
        r.refuse("ch-no-final-crlf-eof", {400, 408})
    else:     # the next request line would be a trailer line without a colon
        r.set_chunked_body(b"hello", b"5\r\nhello\r\n0\r\nGET /d/" + r.id +
                           b"x HTTP/1.1\r\nHost: p\r\nX-Case-Id: " + r.id + b"x\r\n\r\n")
        r.refuse("ch-no-final-crlf", {400})


def ch_trailer_bad(rng, r, last):
    _body_method(rng, r)
    r.set_chunked_body(b"hello", b"5\r\nhello\r\n0\r\nno colon here\r\n\r\n")
    r.refuse("ch-trailer-no-colon", {400})


def ch_trailer_fold(rng, r, last):
    _body_method(rng, r)
    r.set_chunked_body(b"hello", b"5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n")
    r.either("ch-trailer-obs-fold", {400})  # §5.2: reject or unfold; dropped either way


def te_variant(te, label, statuses=(400, 501), mode=REFUSE):
    def f(rng, r, last):
        _body_method(rng, r)
        body = b"hello"
        r.set_chunked_body(body, b"5\r\nhello\r\n0\r\n\r\n", te=te)
        if mode == REFUSE:
            r.refuse(label, statuses)
        elif mode == EITHER:
            r.either(label, statuses)
        else:
            r.note(label)
    return f


def te_two_fields(rng, r, last):
    _body_method(rng, r)
    r.set_chunked_body(b"hello", b"5\r\nhello\r\n0\r\n\r\n")
    r.add(b"Transfer-Encoding", b"chunked")
    r.refuse("te-two-fields", {400, 501})  # chunked applied twice (§6.1)


def te_identity(rng, r, last):
    _body_method(rng, r)
    r.set_cl_body(b"hello")
    r.add(b"Transfer-Encoding", b"identity")
    r.refuse("te-identity+cl", {400, 501})


def te_cl(order):
    def f(rng, r, last):
        _body_method(rng, r)
        body = b"hello"
        raw = b"5\r\nhello\r\n0\r\n\r\n"
        r.set_chunked_body(body, raw)
        cl = Field(b"Content-Length", rng.choice([b"%d" % len(raw), b"3", b"0", b"40"]))
        if order == "cl-first":
            r.fields.insert(0, cl)
        else:
            r.fields.append(cl)
        # §6.1: reject, or go by Transfer-Encoding alone, and close the connection either way.
        r.either("te+cl" if order != "cl-first" else "cl+te", {400})
        r.close_after = True
    return f


def te_http10(rng, r, last):
    _body_method(rng, r)
    r.version = b"HTTP/1.0"
    r.set_chunked_body(b"hello", b"5\r\nhello\r\n0\r\n\r\n")
    r.refuse("te-http1.0", {400})


def expect_100(rng, r, last):
    _body_method(rng, r)
    body = rand_body(rng, r.id)
    if rng.random() < 0.5:
        r.set_cl_body(body)
    else:
        r.set_chunked_body(body or b"x", encode_chunked(rng, body or b"x"))
    r.add(b"Expect", rng.choice([b"100-continue", b"100-Continue"]))
    r.note("expect-100")


def expect_100_http10(rng, r, last):
    _body_method(rng, r)
    r.version = b"HTTP/1.0"
    r.set_cl_body(b"hello")
    r.add(b"Expect", b"100-continue")
    r.close_after = True
    r.note("expect-100-http1.0")  # §10.1.1: ignored; §15.2: no 1xx to an HTTP/1.0 client


def expect_unknown(rng, r, last):
    _body_method(rng, r)
    r.set_cl_body(b"hello")
    r.add(b"Expect", b"bogus-expectation")
    r.either("expect-unknown", {417})


def _request_line(label, line_fn, statuses=(400,), mode=REFUSE):
    def f(rng, r, last):
        r.request_line = line_fn
        if mode == REFUSE:
            r.refuse(label, statuses)
        else:
            r.either(label, statuses)
    return f


def rl_lower_method(rng, r, last):
    r.method = rng.choice([b"get", b"post", b"Get"])
    r.either("rl-lower-method", {400, 405, 501})


def rl_http10(rng, r, last):
    r.version = b"HTTP/1.0"
    if r.framing == "chunked":
        r.set_cl_body(r.body)
    if rng.random() < 0.5:
        r.host_values = []
    r.close_after = True
    r.note("http1.0" + ("-no-host" if not r.host_values else ""))


def rl_http12(rng, r, last):
    r.version = b"HTTP/1.2"  # RFC 9110 §6.2: a higher minor version is handled as 1.1
    r.either("rl-http/1.2", {400, 505})


def rl_leading_crlf(rng, r, last):
    r.prefix = CRLF  # RFC 9112 §2.2: SHOULD ignore at least one empty line before it
    r.either("rl-leading-crlf", {400})


def rl_long_target(rng, r, last):
    r.target = r.path + b"?" + b"a" * (MAX_URI + 100)
    r.refuse("rl-target-too-long", {414})


def rl_asterisk(rng, r, last):
    r.method = b"OPTIONS"
    r.target = r.fwd_target = b"*"
    r.either("rl-options-*", {400, 405, 501})


def rl_asterisk_get(rng, r, last):
    r.method = b"GET"
    r.target = b"*"
    r.refuse("rl-get-*", {400})


def rl_verbatim_path(rng, r, last):
    # RFC 9110 §7.6: a proxy must not rewrite the path or query it forwards.
    suffix = rng.choice([b"/a/../b", b"//x", b"/%2e%2e/y", b"/p%41?q=%20&r=a+b", b"/.;/z",
                         b"?", b"?a=1&a=2"])
    r.target = r.fwd_target = r.path + suffix
    r.note("rl-path-verbatim")


def rl_absolute(rng, r, last):
    auth = rng.choice([b"example.test", b"example.test:8080", b"[::1]:80", b"127.0.0.1",
                       b"a_b.test"])
    r.target = b"http://" + auth + r.fwd_target
    r.abs_authority = auth
    if rng.random() < 0.5:
        r.host_values = [rng.choice([b"other.test", auth])]
    r.note("absolute-form")


def abs_bad(label, prefix, statuses=(400,), mode=REFUSE, authority=None):
    def f(rng, r, last):
        r.target = prefix + r.fwd_target
        r.abs_authority = authority
        if mode == REFUSE:
            r.refuse(label, statuses)
        else:
            r.either(label, statuses)
    return f


def abs_no_host_field(rng, r, last):
    r.target = b"http://example.test" + r.fwd_target
    r.abs_authority = b"example.test"
    r.host_values = []  # finalize() decides
    r.note("absolute-form")


def abs_bad_host_field(rng, r, last):
    r.target = b"http://example.test" + r.fwd_target
    r.abs_authority = b"example.test"
    r.host_values = [b"a b"]
    r.bad_host = "abs-form-bad-host-field"  # finalize() decides


def host_values(label, values, mode=REFUSE, statuses=(400,)):
    def f(rng, r, last):
        r.host_values = list(values)
        if mode == REFUSE:  # finalize() decides: it depends on the target's form
            r.bad_host = label
        elif mode == EITHER:
            r.either(label, statuses)
        else:
            r.note(label)
    return f


def host_missing(rng, r, last):
    r.host_values = []  # finalize(): 400 for HTTP/1.1 (RFC 9112 §3.2), fine for HTTP/1.0


def hdr_underscore(rng, r, last):
    name = rng.choice([b"Accept_Language", b"X_Real_IP", b"Content_Length", b"Transfer_Encoding"])
    r.add(name, rng.choice([b"en", b"1.2.3.4", b"0", b"chunked"]))
    r.note("hdr-underscore-dropped")


def hdr_conn_named(rng, r, last):
    name = rng.choice([b"X-Foo", b"X-Secret", b"Cookie", b"Authorization"])
    value = rng.choice([name, name.lower(), b"keep-alive, " + name.upper(), name + b" , x-other"])
    r.add(b"Connection", value)
    r.add(name, b"must-not-reach-origin")
    r.note("hdr-connection-names-field")


def hdr_conn_framing(which):
    def f(rng, r, last):
        _body_method(rng, r)
        if which == b"Host":
            r.add(b"Connection", b"Host")
            r.refuse("hdr-connection-host", {400})
            return
        if which == b"Content-Length":
            r.set_cl_body(b"hello")
        else:
            r.set_chunked_body(b"hello", b"5\r\nhello\r\n0\r\n\r\n")
        r.add(b"Connection", which)
        r.either("hdr-connection-" + which.decode().lower(), {400})
    return f


def hdr_conn_close(rng, r, last):
    r.add(b"Connection", rng.choice([b"close", b"Close", b"keep-alive, close"]))
    r.close_after = True
    r.note("connection-close")


def hdr_obs_fold(rng, r, last):
    r.add(b"X-Fold", b"a", raw=b"X-Fold: a\r\n" + rng.choice([b" ", b"\t"]) + b"b\r\n",
          fwd=(b"x-fold", b"a b"))
    r.either("hdr-obs-fold", {400})


def hdr_obs_fold_te(rng, r, last):
    _body_method(rng, r)
    r.set_cl_body(b"hello")
    r.add(b"Transfer-Encoding", b"identity", raw=b"Transfer-Encoding: identity\r\n chunked\r\n")
    r.refuse("hdr-obs-fold-te", {400, 501})


def hdr_space_colon(rng, r, last):
    name = rng.choice([b"X-A", b"Transfer-Encoding", b"Content-Length", b"Host"])
    r.add(name, b"v", raw=name + rng.choice([b" ", b"\t"]) + b": v\r\n")
    r.refuse("hdr-ws-before-colon", {400})


def hdr_repl_sp(label, bad):
    def f(rng, r, last):
        # RFC 9110 §5.5: reject, or replace each CR / LF / NUL by SP before forwarding.
        r.add(b"X-Odd", b"a" + bad + b"b", fwd=(b"x-odd", b"a b"))
        r.either(label, {400})
    return f


def hdr_cr_smuggle(rng, r, last):
    r.add(b"X-Odd", b"a\rContent-Length: 40", fwd=(b"x-odd", b"a Content-Length: 40"))
    r.either("hdr-bare-cr-field", {400})


def hdr_bare_lf(rng, r, last):
    # RFC 9112 §2.2: a recipient MAY take a lone LF as the end of a line.
    r.add(b"X-Lf", b"v", raw=b"X-Lf: v\n")
    r.either("hdr-bare-lf", {400})


def hdr_no_colon(rng, r, last):
    r.add(b"X-A", b"", raw=b"X-A no colon\r\n")
    r.refuse("hdr-no-colon", {400})


def hdr_bad_name(rng, r, last):
    name = rng.choice([b"X@A", b"X(A)", b"X\x80A", b'"X"', b"X/A", b"X{A}", b"X\x01A"])
    r.add(name, b"v")
    r.refuse("hdr-bad-name", {400})


def hdr_empty_name(rng, r, last):
    r.add(b"", b"v", raw=b": v\r\n")
    r.refuse("hdr-empty-name", {400})


def hdr_ws_first_line(rng, r, last):
    # RFC 9112 §2.2: reject, or consume the whitespace-preceded line without processing it.
    r.finish_first = Field(b"X-Ws", b"v", raw=b" X-Ws: v\r\n", fwd=_NEVER)
    r.either("hdr-ws-line-after-request-line", {400})


def hdr_ctl_value(rng, r, last):
    r.add(b"X-Ctl", b"a" + rng.choice([b"\x01", b"\x7f", b"\x1b", b"\x0b"]) + b"b")
    r.refuse("hdr-ctl-in-value", {400})


def hdr_obs_text(rng, r, last):
    r.add(b"X-Text", rng.choice([b"caf\xe9", b"\xff\xfe", b"a \x80 b"]))
    r.note("hdr-obs-text")


def hdr_ws_value(rng, r, last):
    r.add(b"X-Ws", b"v", raw=b"X-Ws:" + rng.choice([b"  v  ", b"\tv\t", b"v "]) + CRLF)
    r.note("hdr-ows-trimmed")


def hdr_huge(rng, r, last):
    r.add(b"Cookie", b"c" * (MAX_HEADER + 1000))
    r.refuse("hdr-section-too-large", {431})


def hdr_many(rng, r, last):
    for i in range(rng.randint(40, 120)):
        r.add(b"X-M%d" % i, b"v%d" % i)
    r.note("hdr-many-fields")


def hdr_te_trailers(rng, r, last):
    r.add(b"TE", b"trailers")
    r.add(b"Connection", b"TE")
    r.note("hdr-te-trailers")


def hdr_dup_field(rng, r, last):
    r.add(b"Accept", b"text/html")
    r.add(b"Accept", b"*/*;q=0.1")
    r.note("hdr-repeated-field")


# name -> (weight, function)
ODDITIES = {
    "cl-zero-padded": (3, _cl(b"0005", mode=ACCEPT, label="cl-zero-padded")),
    "cl-plus": (3, _cl(b"+5", {400}, label="cl-plus-sign")),
    "cl-negative": (3, _cl(b"-5", {400}, label="cl-negative")),
    "cl-list-equal": (3, _cl(b"5, 5", {400}, mode=EITHER, label="cl-list-equal")),
    "cl-list-diff": (3, _cl(b"5, 6", {400}, label="cl-list-different")),
    "cl-dup-equal": (3, cl_dup(True)),
    "cl-dup-diff": (3, cl_dup(False)),
    "cl-2^63": (3, _cl(b"9223372036854775808", {413}, label="cl-2^63")),
    "cl-2^64-1": (3, _cl(b"18446744073709551615", {413}, label="cl-2^64-1")),
    "cl-2^64": (3, _cl(b"18446744073709551616", {400}, label="cl-2^64")),
    "cl-2^64+5": (3, _cl(b"18446744073709551621", {400}, label="cl-2^64+5")),
    "cl-2^32+5": (2, _cl(b"4294967301", {413}, label="cl-2^32+5")),
    "cl-huge": (2, _cl(b"99999999999999999999999999", {400}, label="cl-huge")),
    "cl-over-max-body": (2, _cl(b"%d" % (MAX_BODY + 1), {413}, label="cl-over-max-body")),
    "cl-hex": (2, _cl(b"0x5", {400}, label="cl-hex")),
    "cl-alpha": (2, _cl(b"5a", {400}, label="cl-trailing-alpha")),
    "cl-empty": (2, _cl(b"", {400}, label="cl-empty")),
    "cl-inner-space": (2, _cl(b"0 5", {400}, label="cl-inner-space")),
    "ch-hex-styles": (4, ch_styles),
    "ch-ext": (4, ch_exts),
    "ch-ext-multi": (2, _chunked_shape("ch-ext-several", b"5;a=b;c=d\r\nhello\r\n0\r\n\r\n",
                                       mode=ACCEPT)),
    "ch-ext-bws": (3, _chunked_shape("ch-ext-bws", b"5 ;a=b\r\nhello\r\n0\r\n\r\n",
                                     mode=EITHER)),
    "ch-ext-bws2": (2, _chunked_shape("ch-ext-bws", b"5; a = b\r\nhello\r\n0\r\n\r\n",
                                      mode=EITHER)),
    "ch-ext-no-name": (3, _chunked_shape("ch-ext-no-name", b"5;\r\nhello\r\n0\r\n\r\n")),
    "ch-ext-bad-quote": (2, _chunked_shape("ch-ext-bad-quote",
                                           b'5;a="x\r\nhello\r\n0\r\n\r\n')),
    "ch-ext-ctl": (2, _chunked_shape("ch-ext-ctl", b"5;a=\x01\r\nhello\r\n0\r\n\r\n")),
    "ch-size-huge": (3, _chunked_shape("ch-size-huge", b"ffffffff\r\nhello\r\n0\r\n\r\n",
                                       statuses=(400, 413))),
    "ch-size-over-max-body": (2, _chunked_shape(
        "ch-size-over-max-body", b"%x\r\nhello\r\n0\r\n\r\n" % (MAX_BODY + 1),
        statuses=(400, 413))),
    "ch-size-2^64+5": (3, _chunked_shape("ch-size-2^64+5",
                                         b"10000000000000005\r\nhello\r\n0\r\n\r\n")),
    "ch-size-overflow": (2, _chunked_shape("ch-size-overflow",
                                           b"fffffffffffffffff\r\nhello\r\n0\r\n\r\n")),
    "ch-size-0x": (2, _chunked_shape("ch-size-0x", b"0x5\r\nhello\r\n0\r\n\r\n")),
    "ch-size-negative": (2, _chunked_shape("ch-size-negative", b"-5\r\nhello\r\n0\r\n\r\n")),
    "ch-size-empty": (2, _chunked_shape("ch-size-empty", b"\r\nhello\r\n0\r\n\r\n")),
    "ch-size-leading-sp": (2, _chunked_shape("ch-size-leading-space",
                                             b" 5\r\nhello\r\n0\r\n\r\n")),
    "ch-size-bare-lf": (3, _chunked_shape("ch-size-bare-lf", b"5\nhello\r\n0\r\n\r\n")),
    "ch-size-bare-cr": (2, _chunked_shape("ch-size-bare-cr", b"5\rhello\r\n0\r\n\r\n")),
    "ch-data-xx": (3, _chunked_shape("ch-data-then-XX", b"5\r\nhelloXX0\r\n\r\n")),
    "ch-data-xx-crlf": (2, _chunked_shape("ch-data-then-XX",
                                          b"5\r\nhelloXX\r\n0\r\n\r\n")),
    "ch-data-lf": (3, _chunked_shape("ch-data-then-LF", b"5\r\nhello\n0\r\n\r\n")),
    "ch-data-no-crlf": (2, _chunked_shape("ch-data-no-CRLF", b"5\r\nhello0\r\n\r\n")),
    "ch-last-bare-lf": (2, _chunked_shape("ch-last-chunk-bare-lf", b"5\r\nhello\r\n0\n\r\n")),
    "ch-trailers": (4, ch_trailers),
    "ch-1-byte": (2, ch_many_small),
    "ch-no-final-crlf": (3, ch_no_final_crlf),
    "ch-trailer-no-colon": (2, ch_trailer_bad),
    "ch-trailer-fold": (2, ch_trailer_fold),
    "te-Chunked": (3, te_variant(b"Chunked", "te-Chunked", mode=EITHER)),
    "te-ows": (2, te_variant(b"chunked ", "te-ows", mode=ACCEPT)),
    "te-gzip-chunked": (3, te_variant(b"gzip, chunked", "te-gzip,chunked")),
    "te-chunked-gzip": (3, te_variant(b"chunked, gzip", "te-chunked,gzip")),
    "te-chunked-chunked": (2, te_variant(b"chunked, chunked", "te-chunked,chunked")),
    "te-identity": (2, te_identity),
    "te-xchunked": (2, te_variant(b"xchunked", "te-xchunked")),
    "te-empty": (2, te_variant(b"", "te-empty")),
    "te-chunked-comma": (2, te_variant(b"chunked,", "te-chunked-empty-member",
                                       mode=EITHER)),
    "te-two-fields": (3, te_two_fields),
    "te+cl": (3, te_cl("te-first")),
    "cl+te": (3, te_cl("cl-first")),
    "te-http1.0": (3, te_http10),
    "expect-100": (5, expect_100),
    "expect-100-http1.0": (2, expect_100_http10),
    "expect-unknown": (2, expect_unknown),
    "rl-two-sp-1": (2, _request_line("rl-two-spaces", lambda r: r.method + b"  " + r.target +
                                     b" " + r.version, mode=EITHER)),
    "rl-two-sp-2": (2, _request_line("rl-two-spaces", lambda r: r.method + b" " + r.target +
                                     b"  " + r.version, mode=EITHER)),
    "rl-tab-sep": (2, _request_line("rl-tab-separator", lambda r: r.method + b"\t" +
                                    r.target + b" " + r.version, mode=EITHER)),
    "rl-trailing-sp": (2, _request_line("rl-trailing-space", lambda r: r.method + b" " +
                                        r.target + b" " + r.version + b" ", mode=EITHER)),
    "rl-tab-in-target": (3, _request_line("rl-tab-in-target", lambda r: r.method + b" " +
                                          r.target + b"\tx HTTP/1.1", statuses=(400, 505))),
    "rl-8bit-target": (3, _request_line("rl-8bit-in-target", lambda r: r.method + b" " +
                                        r.target + b"\xe9 " + r.version)),
    "rl-ctl-target": (2, _request_line("rl-ctl-in-target", lambda r: r.method + b" " +
                                       r.target + b"\x01 " + r.version)),
    "rl-del-target": (2, _request_line("rl-del-in-target", lambda r: r.method + b" " +
                                       r.target + b"\x7f " + r.version)),
    "rl-lower-method": (2, rl_lower_method),
    "rl-http1.0": (4, rl_http10),
    "rl-http2.0": (2, _request_line("rl-http/2.0", lambda r: r.method + b" " + r.target +
                                    b" HTTP/2.0", statuses=(400, 505))),
    "rl-http1.2": (2, rl_http12),
    "rl-http-lower": (2, _request_line("rl-lowercase-http", lambda r: r.method + b" " +
                                       r.target + b" http/1.1", statuses=(400, 505))),
    "rl-no-version": (2, _request_line("rl-no-version", lambda r: r.method + b" " + r.target,
                                       statuses=(400, 505))),
    "rl-http1": (2, _request_line("rl-version-HTTP/1", lambda r: r.method + b" " + r.target +
                                  b" HTTP/1", statuses=(400, 505))),
    "rl-leading-crlf": (2, rl_leading_crlf),
    "rl-long-target": (1, rl_long_target),
    "rl-options-*": (1, rl_asterisk),
    "rl-get-*": (1, rl_asterisk_get),
    "rl-path-verbatim": (3, rl_verbatim_path),
    "abs-form": (5, rl_absolute),
    "abs-userinfo": (2, abs_bad("abs-userinfo", b"http://u@example.test")),
    "abs-empty-host": (2, abs_bad("abs-empty-host", b"http://")),
    "abs-upper-scheme": (1, abs_bad("abs-upper-scheme", b"HTTP://example.test", mode=EITHER,
                                    authority=b"example.test")),
    "abs-no-host-field": (2, abs_no_host_field),
    "abs-bad-host-field": (1, abs_bad_host_field),
    "host-missing": (3, host_missing),
    "host-dup-same": (3, host_values("host-two-fields", [b"site.test", b"site.test"])),
    "host-dup-diff": (3, host_values("host-two-fields", [b"site.test", b"evil.test"])),
    "host-slash": (2, host_values("host-a/b", [b"a/b"])),
    "host-space": (2, host_values("host-a b", [b"a b"])),
    "host-userinfo": (2, host_values("host-userinfo", [b"u@a"])),
    "host-ipv6": (2, host_values("host-[::1]:80", [b"[::1]:80"], mode=ACCEPT)),
    "host-ipv6-open": (1, host_values("host-[::1", [b"[::1"])),
    "host-port-alpha": (1, host_values("host-bad-port", [b"a:8x"])),
    "host-two-colons": (1, host_values("host-two-colons", [b"a:1:2"])),
    "host-question": (1, host_values("host-?", [b"a?b"])),
    "host-hash": (1, host_values("host-#", [b"a#b"])),
    "host-backslash": (1, host_values("host-backslash", [b"a\\b"])),
    "host-ipv4-port": (1, host_values("host-ipv4:port", [b"127.0.0.1:8080"], mode=ACCEPT)),
    "host-underscore": (1, host_values("host-reg-name-_", [b"a_b.test"], mode=ACCEPT)),
    "host-pct": (1, host_values("host-pct-encoded", [b"a%41.test"], mode=ACCEPT)),
    "host-empty": (1, host_values("host-empty", [b""], mode=EITHER)),
    "host-comma": (1, host_values("host-comma", [b"a,b"], mode=EITHER)),
    "hdr-underscore": (4, hdr_underscore),
    "hdr-conn-named": (4, hdr_conn_named),
    "hdr-conn-host": (2, hdr_conn_framing(b"Host")),
    "hdr-conn-cl": (2, hdr_conn_framing(b"Content-Length")),
    "hdr-conn-te": (2, hdr_conn_framing(b"Transfer-Encoding")),
    "hdr-conn-close": (3, hdr_conn_close),
    "hdr-obs-fold": (3, hdr_obs_fold),
    "hdr-obs-fold-te": (2, hdr_obs_fold_te),
    "hdr-ws-colon": (3, hdr_space_colon),
    "hdr-nul": (2, hdr_repl_sp("hdr-nul-in-value", b"\x00")),
    "hdr-bare-cr": (2, hdr_repl_sp("hdr-bare-cr-in-value", b"\r")),
    "hdr-bare-cr-field": (2, hdr_cr_smuggle),
    "hdr-bare-lf": (2, hdr_bare_lf),
    "hdr-no-colon": (2, hdr_no_colon),
    "hdr-bad-name": (2, hdr_bad_name),
    "hdr-empty-name": (1, hdr_empty_name),
    "hdr-ws-first-line": (1, hdr_ws_first_line),
    "hdr-ctl-value": (2, hdr_ctl_value),
    "hdr-obs-text": (2, hdr_obs_text),
    "hdr-ows": (2, hdr_ws_value),
    "hdr-huge": (1, hdr_huge),
    "hdr-many": (1, hdr_many),
    "hdr-te-trailers": (2, hdr_te_trailers),
    "hdr-repeated": (2, hdr_dup_field),
}

_BENIGN = [(b"Accept", b"*/*"), (b"User-Agent", b"framing-diff/1"), (b"Cookie", b"a=b; c=d"),
           (b"Accept-Language", b"en-GB,en;q=0.8"), (b"X-Forwarded-For", b"10.0.0.1"),
           (b"Via", b"1.0 other"), (b"X-Empty", b""), (b"Keep-Alive", b"timeout=5"),
           (b"Connection", b"keep-alive"), (b"Authorization", b"Basic dTpw"),
           (b"Content-Type", b"application/octet-stream"), (b"X-Tab", b"a\tb")]


def base_request(rng, rid):
    """A valid request with the usual variety (method, query, fields, body)."""
    r = Req(rid)
    r.method = rng.choice(METHODS)
    if rng.random() < 0.3:
        r.target = r.fwd_target = r.path + b"?q=%d&x=y" % rng.randint(0, 99)
    r.add(b"X-Case-Id", r.id)
    for name, value in rng.sample(_BENIGN, rng.randint(0, 3)):
        r.add(name, value)
    p = rng.random()
    if r.method in (b"POST", b"PUT"):
        if p < 0.45:
            r.set_cl_body(rand_body(rng, r.id))
        elif p < 0.9:
            body = rand_body(rng, r.id)
            r.set_chunked_body(body, encode_chunked(rng, body))
        else:
            r.no_body()
    elif r.method != b"HEAD" and p < 0.12:
        body = rand_body(rng, r.id)
        if p < 0.08:
            r.set_cl_body(body)
        else:
            r.set_chunked_body(body, encode_chunked(rng, body))
    return r


_BODY_FIELDS = {"hdr-conn-cl", "hdr-conn-te", "hdr-obs-fold-te", "expect-100",
                "expect-100-http1.0", "expect-unknown", "rl-http1.0"}


def category(name):
    """The part of a request an oddity changes: two oddities of one request never share one."""
    if name in _BODY_FIELDS or name.split("-")[0] in ("cl", "ch", "te", "te+cl", "cl+te"):
        return "body"
    if name.startswith(("rl-", "abs-")):
        return "line"
    return name.split("-")[0]


_NAMES = sorted(ODDITIES)
_WEIGHTS = [ODDITIES[n][0] for n in _NAMES]


def finalize(rng, r, shuffle=True):
    """Shuffles the fields, applies the rules that depend on the whole request (version, Host,
    Connection: close), puts Host first."""
    if shuffle:
        rng.shuffle(r.fields)
    if r.version == b"HTTP/1.0":
        # Keep-alive is not generated for HTTP/1.0: such a request always closes the connection.
        for f in list(r.fields):
            if f.name.lower() == b"connection":
                toks = [t.strip() for t in f.value.split(b",")
                        if t.strip() and t.strip().lower() != b"keep-alive"]
                if toks:
                    f.value = b", ".join(toks)
                    f.raw = f.name + b": " + f.value + CRLF
                else:
                    r.fields.remove(f)
        r.close_after = True
        if any(f.name.lower() == b"transfer-encoding" for f in r.fields) and \
                "te-http1.0" not in r.labels:
            r.refuse("te-http1.0", {400})  # RFC 9112 §6.1: faulty framing
    # RFC 9112 §3.2: a 400 for an HTTP/1.1 request without Host, and for any request with
    # several Host lines or an invalid one. With an absolute-form target, §3.2.2 has a proxy
    # ignore Host and use the target's authority instead: then forwarding is defensible too.
    absolute = r.abs_authority is not None
    if r.version != b"HTTP/1.0" and not r.host_values:
        (r.either if absolute else r.refuse)("host-missing", {400})
    if r.bad_host and r.host_values:  # (an HTTP/1.0 oddity may have removed Host since)
        (r.either if absolute else r.refuse)(r.bad_host, {400})
    for f in r.fields:
        if f.name.lower() == b"connection" and \
                b"close" in [t.strip().lower() for t in f.value.split(b",")]:
            r.close_after = True
    r.finish()
    if r.finish_first is not None:
        r.fields.insert(0, r.finish_first)
    return r


def gen_request(rng, rid):
    r = base_request(rng, rid)
    p = rng.random()
    names = []
    if p < 0.55:
        names = [rng.choices(_NAMES, _WEIGHTS)[0]]
    elif p < 0.63:  # two, changing different parts of the request
        names = rng.choices(_NAMES, _WEIGHTS, k=2)
        if category(names[0]) == category(names[1]):
            names = names[:1]
    for name in names:
        # Never an unfinished last request here: the half-close it needs would race with the
        # answers to the requests before it (the fixed table has that case alone).
        ODDITIES[name][1](rng, r, False)
    return finalize(rng, r)


def gen_case(seed, index):
    """Case `index` of a run: a pipelined stream of 1-4 requests (deterministic)."""
    import random
    rng = random.Random("%s:%d" % (seed, index))
    n = rng.choices([1, 2, 3, 4], [3, 3, 2, 2])[0]
    return [gen_request(rng, "%d-%d" % (index, k)) for k in range(n)]


def build(name, rid, method=None, last=False, seed=0):
    """One request with oddity `name` applied (the fixed table), deterministic."""
    import random
    rng = random.Random("fixed:%s:%s" % (name, seed))
    r = Req(rid)
    r.method = method or b"POST"
    r.add(b"X-Case-Id", r.id)
    if r.method in (b"POST", b"PUT"):
        r.set_cl_body(b"body of " + r.id)
    ODDITIES[name][1](rng, r, last)
    return finalize(rng, r, shuffle=False)


def clean(rid, method=b"GET"):
    r = Req(rid)
    r.method = method
    r.add(b"X-Case-Id", r.id)
    if method in (b"POST", b"PUT"):
        r.set_cl_body(b"probe body")
    return finalize(None, r, shuffle=False)


# --- a strict walker over what reached the origin -----------------------------------------------

_TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_TARGET = re.compile(rb"^[\x21-\x7e]+$")
_VALUE = re.compile(rb"^[\t\x20-\x7e\x80-\xff]*$")


class StrictError(Exception):
    pass


def walk_message(buf, pos):
    """Checks the request at buf[pos:] strictly (CRLF only, no obs-fold, one framing, fields
    that are tokens and visible values); returns the offset after it, or raises StrictError."""
    end = buf.find(b"\r\n\r\n", pos)
    if end < 0:
        raise StrictError("no end of head")
    head = bytes(buf[pos:end])
    if b"\r" in head.replace(b"\r\n", b"") or b"\n" in head.replace(b"\r\n", b""):
        raise StrictError("a lone CR or LF in the head")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not _TARGET.match(parts[1]) or \
            parts[2] != b"HTTP/1.1":
        raise StrictError("request line %r" % lines[0])
    cl, te, hosts = [], [], 0
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.match(name):
            raise StrictError("field line %r" % line)
        value = value.strip(b" \t")
        if not _VALUE.match(value):
            raise StrictError("field value %r" % line)
        n = name.lower()
        if n == b"content-length":
            cl.append(value)
        elif n == b"transfer-encoding":
            te.append(value)
        elif n == b"host":
            hosts += 1
    if hosts != 1:
        raise StrictError("%d Host fields" % hosts)
    pos = end + 4
    if te:
        if cl or te != [b"chunked"]:
            raise StrictError("framing: TE %r CL %r" % (te, cl))
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                raise StrictError("chunk size line")
            size_line = bytes(buf[pos:eol])
            m = re.match(rb"^([0-9A-Fa-f]{1,16})(;[^\r\n]*)?$", size_line)
            if not m:
                raise StrictError("chunk size line %r" % size_line)
            size = int(m.group(1), 16)
            pos = eol + 2
            if size == 0:
                while True:
                    eol = buf.find(b"\r\n", pos)
                    if eol < 0:
                        raise StrictError("trailer section")
                    line = bytes(buf[pos:eol])
                    pos = eol + 2
                    if not line:
                        return pos
            if buf[pos + size:pos + size + 2] != b"\r\n":
                raise StrictError("no CRLF after chunk data")
            pos += size + 2
    if len(cl) > 1 or (cl and not re.match(rb"^[0-9]{1,18}$", cl[0])):
        raise StrictError("Content-Length %r" % cl)
    n = int(cl[0]) if cl else 0
    if len(buf) < pos + n:
        raise StrictError("body shorter than Content-Length")
    return pos + n
