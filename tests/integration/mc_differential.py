"""A randomised differential run of the memcached port against real memcached (issue #16): random
streams of text and meta commands — valid, invalid, with and without their data blocks — sent
to both servers in lockstep, every answer compared byte for byte. Only what must differ is
normalised: CAS values (each server's own; a generated `<CAS>` placeholder is replaced by the
last CAS that server returned for the key, so compare-and-swap succeeds on both), and a TTL
that crossed a second boundary between the two requests (±1).

    python3 tests/integration/mc_differential.py --bin build/dev/server/frontcache \\
        [--seed 1] [--count 20000] [--show 20]

The test suite runs it (test_memcached_port.RandomDifferential) with a fixed seed.
"""

import argparse
import base64
import os
import random
import re
import socket
import sys
import time

KEYS = [b"k1", b"k2", b"k3", b"cnt", b"num", b"a", b"b" * 250]
B64KEYS = [base64.b64encode(k) for k in (b"k1", b"bin\x01key", b"num")]
NUMBERS = [b"0", b"1", b"7", b"42", b"100", b"18446744073709551615", b"18446744073709551616",
           b"-1", b"abc", b"", b"1.5", b" 12", b"99999999999999999999",
           # memcached's safe_strtoull on a token: leading white space and a sign accepted,
           # then digits followed by white space or the end, a negative value refused (but
           # "-18446744073709551615" is 1), no length limit; a NUL ends the whole line.
           b"\t5", b"5\tx", b"+5", b"-0", b"0" * 40 + b"7", b"-18446744073709551615",
           b"-9223372036854775809", b"0x10", b"5x", b"5\x00x"]
EXPTIMES = [b"0", b"0", b"100", b"1000", b"-1", b"abc", b"2592000", b"2592001", b"99999999999",
            b"\t100", b"100\tx", b"0" * 35 + b"100"]
WHITE = b" \t\n\v\f\r"  # isspace() in the C locale
# Counter values that are not plain digits (memcached reads a value with safe_strtoull, as it
# reads a token, the value's "\r\n" ending it).
ODD_COUNTERS = [b" 12", b"\t7", b"\n\v\f\r9", b"12 ", b"12\t", b"12 abc", b"12\tx", b"12abc",
                b"12\x00abc", b"\x0012", b"+5", b"-0", b"  -0  ", b"-5", b"- 5", b"+", b"-",
                b"0x10", b"010", b"1e3", b"1.5", b"007 ", b"0" * 40 + b"7", b" " * 30 + b"3",
                b"18446744073709551615", b"18446744073709551616", b"-18446744073709551615",
                b"-9223372036854775808", b"-9223372036854775809", b"-18446744073709551616",
                b"99999999999999999999999", b"7\r", b"\xa012", b"12\xa0"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def key(self):
        r = self.r
        x = r.random()
        if x < 0.85:
            return r.choice(KEYS[:6])
        if x < 0.9:
            return KEYS[6]
        if x < 0.95:
            return b"b" * 251  # too long
        return r.choice([b"bad\x01key", b"x" * 100, b"k1k1"])

    def value(self):
        r = self.r
        x = r.random()
        if x < 0.3:
            return r.choice(NUMBERS[:6])
        if x < 0.38:
            return self.odd_counter()
        if x < 0.45:
            return b""
        if x < 0.5:
            return b"x" * r.choice([300, 5000])
        v = bytes(r.choice(b"abcdefghij0123456789 ") for _ in range(r.randint(1, 12)))
        return v if v.strip(WHITE) else b"x" + v

    def odd_counter(self):
        """A counter that is not plain digits. Never white space alone: memcached's strtoull
        reads such a value past its end, through the "\r\n" and into whatever its slab chunk
        held before (cache/store/number.h), which no other server can answer alike."""
        r = self.r
        x = r.random()
        if x < 0.6:
            return r.choice(ODD_COUNTERS)
        return (r.choice([b"", b" ", b"\t", b" \t ", b"\n", b"+", b"-", b"00"]) +
                str(r.choice([0, 1, 9, 99, 12345, 2 ** 63, 2 ** 64 - 1, 2 ** 64])).encode() +
                r.choice([b"", b" ", b"  ", b"x", b" x", b"\tx", b"\x00z", b"\r", b"abc"]))

    def num(self):
        return self.r.choice(NUMBERS)

    def cas(self):
        return b"<CAS>" if self.r.random() < 0.6 else self.r.choice([b"1", b"999", b"abc", b"0"])

    def data_block(self, v):
        """The value and its terminator, usually right, sometimes not."""
        x = self.r.random()
        if x < 0.03:
            return v + b"X\r\n"  # one byte too many
        if x < 0.04:
            # "\n" alone: memcached takes the next byte as the terminator's second. It gets one
            # here rather than the sentinel's first, which would leave both servers waiting
            # (0.5 s) and memcached's LRU maintainer idle; an item fetched twice after such a
            # pause waits on it for an asynchronous bump, holding a reference, and incr/decr
            # do not rewrite an item in place while another reference is held.
            return v + b"\nx"
        return v + b"\r\n"

    def text_store(self):
        r = self.r
        cmd = r.choice([b"set", b"add", b"replace", b"append", b"prepend", b"cas"])
        v = self.value()
        flags = r.choice([b"0", b"0", b"5", b"4294967295", b"4294967296", b"abc", b"-1"])
        length = str(len(v)).encode() if r.random() < 0.95 else r.choice([b"-1", b"abc", b"3"])
        parts = [cmd, self.key(), flags, r.choice(EXPTIMES), length]
        if cmd == b"cas":
            parts.append(self.cas())
        if r.random() < 0.15:
            parts.append(b"noreply")
        if r.random() < 0.03:
            parts = parts[:r.randint(1, len(parts) - 1)]  # missing tokens
            return b" ".join(parts) + b"\r\n"
        return b" ".join(parts) + b"\r\n" + self.data_block(v)

    def text_other(self):
        r = self.r
        c = r.random()
        noreply = [b"noreply"] if r.random() < 0.1 else []
        if c < 0.3:
            cmd = r.choice([b"get", b"gets"])
            return b" ".join([cmd] + [self.key() for _ in range(r.randint(0, 3))]) + b"\r\n"
        if c < 0.4:
            cmd = r.choice([b"gat", b"gats"])
            return b" ".join([cmd, r.choice(EXPTIMES)] +
                             [self.key() for _ in range(r.randint(0, 2))]) + b"\r\n"
        if c < 0.5:
            return b" ".join([r.choice([b"incr", b"decr"]), self.key(), self.num()] +
                             noreply) + b"\r\n"
        if c < 0.55:
            return self.counter_script()
        if c < 0.65:
            extra = [r.choice([b"0", b"5"])] if r.random() < 0.1 else []
            return b" ".join([b"delete", self.key()] + extra + noreply) + b"\r\n"
        if c < 0.75:
            return b" ".join([b"touch", self.key(), r.choice(EXPTIMES)] + noreply) + b"\r\n"
        if c < 0.78:
            return r.choice([b"flush_all\r\n", b"flush_all 0\r\n", b"flush_all noreply\r\n",
                             b"flush_all abc\r\n"])
        if c < 0.82:
            return r.choice([b"verbosity 1\r\n", b"verbosity\r\n", b"verbosity x\r\n",
                             b"verbosity 1 noreply\r\n"])
        if c < 0.9:
            return r.choice([b"\r\n", b"bogus\r\n", b"GET k1\r\n", b"get\r\n", b"incr\r\n",
                             b"touch k1\r\n", b"set k1\r\n", b"delete\r\n", b"cas k1 0 0 1\r\n"])
        return b"mn\r\n"

    def counter_script(self):
        """An odd counter stored, changed by incr, decr or ma, and read back (the in-place
        rewrite pads the new number with spaces to the old length)."""
        r = self.r
        key = r.choice(KEYS[:6])
        v = self.odd_counter()
        if r.random() < 0.01:
            # memcached keeps an item over 512 KiB in chunks and calls it non-numeric whatever
            # it holds; just under that it is a number. (Only in a set both servers accept: a
            # refused one's block would be read as a line, and memcached closes a connection
            # that sends 2 KiB without a newline.)
            v = b"1" + b" " * r.choice([524100, 600000])
        flags = r.choice([b"0", b"5"])
        change = r.choice([b"incr %s %s\r\n", b"decr %s %s\r\n", b"ma %s D%s v\r\n",
                           b"ma %s MD D%s t c\r\n"]) % (key, self.num())
        read = r.choice([b"get %s\r\n" % key, b"mg %s v s\r\n" % key, b""])
        return b"set %s %s 0 %d\r\n%s\r\n%s%s" % (key, flags, len(v), v, change, read)

    def meta_flags(self, allowed, with_tokens):
        r = self.r
        out = []
        for _ in range(r.randint(0, 5)):
            f = r.choice(allowed)
            if f in with_tokens:
                tok = with_tokens[f]()
                out.append(f + tok)
            else:
                out.append(f)
        if r.random() < 0.05:
            out.append(r.choice([b"Z", b"zz", b"!", b"1"]))  # unknown
        return out

    def meta(self):
        r = self.r
        c = r.random()
        b64 = r.random() < 0.05
        key = r.choice(B64KEYS) if b64 else self.key()
        opaque = lambda: r.choice([b"", b"abc", b"o" * 40])
        ttl = lambda: r.choice(EXPTIMES[:6])
        tokens = {b"O": opaque, b"T": ttl, b"N": ttl, b"R": ttl, b"C": self.cas,
                  b"E": lambda: r.choice([b"5", b"abc"]), b"F": lambda: r.choice(
                      [b"0", b"3", b"abc", b"4294967296"]),
                  b"M": lambda: r.choice([b"S", b"E", b"A", b"P", b"R", b"I", b"+", b"D", b"-",
                                          b"X", b"s", b"a", b""]),
                  b"D": self.num, b"J": self.num}
        if c < 0.35:
            flags = self.meta_flags([b"b", b"c", b"f", b"h", b"k", b"l", b"O", b"q", b"s", b"t",
                                     b"u", b"v", b"N", b"R", b"T", b"E"], tokens)
            if b64:
                flags.append(b"b")
            return b" ".join([b"mg", key] + flags) + b"\r\n"
        if c < 0.65:
            v = self.value()
            flags = self.meta_flags([b"b", b"c", b"C", b"F", b"I", b"k", b"M", b"N", b"O", b"q",
                                     b"s", b"T", b"E"], tokens)
            if b64:
                flags.append(b"b")
            length = str(len(v)).encode() if r.random() < 0.95 else r.choice([b"abc", b"-1"])
            line = b" ".join([b"ms", key, length] + flags) + b"\r\n"
            if r.random() < 0.03:
                return b" ".join([b"ms", key] + flags) + b"\r\n"
            return line + self.data_block(v)
        if c < 0.8:
            flags = self.meta_flags([b"b", b"C", b"E", b"I", b"k", b"O", b"q", b"T", b"x"],
                                    tokens)
            if b64:
                flags.append(b"b")
            return b" ".join([b"md", key] + flags) + b"\r\n"
        if c < 0.95:
            flags = self.meta_flags([b"b", b"C", b"E", b"N", b"J", b"D", b"T", b"M", b"O", b"q",
                                     b"t", b"c", b"v", b"k"], tokens)
            if b64:
                flags.append(b"b")
            return b" ".join([b"ma", key] + flags) + b"\r\n"
        return r.choice([b"mn\r\n", b"me " + key + b"\r\n", b"mg\r\n", b"ms\r\n", b"md\r\n",
                         b"ma\r\n"])

    def command(self):
        x = self.r.random()
        if x < 0.3:
            return self.text_store()
        if x < 0.55:
            return self.text_other()
        return self.meta()


# memcached's LRU crawler walks items in the background holding a reference, and an item so held
# is not rewritten in place by incr/decr (a new item replaces it, without its fetched mark): off,
# so that memcached answers the same stream the same way every time.
EXTRA_MEMCACHED_ARGS = ("-o", "no_lru_crawler")

# What ends each command's answer: a meta get of a key the generator never uses.
SENTINEL = b"mg __end__ k\r\n"
SENTINEL_ANSWER = b"EN k__end__\r\n"


class Server:
    """One connection to a server, reopened when the server closes it."""

    def __init__(self, port):
        self.port = port
        self.cas = {}
        self.sock = None

    def connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, cmd):
        """Sends `cmd` then a sentinel; returns the answer up to the sentinel's (or what came
        before the server went quiet or closed, marked)."""
        if self.sock is None:
            self.connect()
        key = re.match(rb"(?:cas|ms|md|ma) (\S+)", cmd)
        if b"<CAS>" in cmd:
            cmd = cmd.replace(b"<CAS>", self.cas.get(key.group(1) if key else b"", b"1"))
        self.sock.sendall(cmd + SENTINEL)
        out = b""
        self.sock.settimeout(0.5)
        try:
            while not out.endswith(SENTINEL_ANSWER):
                d = self.sock.recv(1 << 20)
                if not d:
                    self.sock.close()
                    self.sock = None
                    return out + b"<closed>"
                out += d
        except socket.timeout:
            return out + b"<quiet>"
        finally:
            if self.sock:
                self.sock.settimeout(5)
        answer = out[:-len(SENTINEL_ANSWER)]
        self.learn(cmd, answer)
        return answer

    def learn(self, cmd, answer):
        for k, c in re.findall(rb"VALUE (\S+) \d+ \d+ (\d+)\r\n", answer):
            self.cas[k] = c
        m = re.match(rb"(?:mg|ms|ma) (\S+)", cmd)
        if m:
            c = re.search(rb"^(?:VA \d+|HD|OK|EX|NS|NF)\b[^\r\n]* c(\d+)", answer)
            if c:
                self.cas[m.group(1)] = c.group(1)


def normalize(ans):
    ans = re.sub(rb"(VALUE \S+ \d+ \d+) \d+\r\n", rb"\1 <cas>\r\n", ans)
    ans = re.sub(rb"(?<= cas=)\d+", b"<cas>", ans)
    return re.sub(rb"(?<= c)\d+", b"<cas>", ans)


def close_enough(a, b):
    """Equal, or equal but for TTLs one second apart (the two requests straddled a second)."""
    if a == b:
        return True
    # t (TTL left), l (seconds since the last access) and me's exp= and la=: each server reads its
    # own clock, memcached's ticking once a second.
    pattern = rb"(?<= t)(-?\d+)|(?<= l)(\d+)|(?<= exp=)(-?\d+)|(?<= la=)(\d+)"
    ta = [x for x in re.split(pattern, a) if x is not None]
    tb = [x for x in re.split(pattern, b) if x is not None]
    if len(ta) != len(tb) or len(ta) == 1:
        return False
    for i, (x, y) in enumerate(zip(ta, tb)):
        if i % 2 == 1:
            # A TTL printed after T-1 is 1 minus the server's own relative clock, wrapped at
            # 2^32: both must have wrapped; the value depends on when each server started.
            if int(x) >= 2 ** 31 and int(y) >= 2 ** 31:
                continue
            if abs(int(x) - int(y)) > 1:
                return False
        elif x != y:
            return False
    return True


def run(ref_port, our_port, seed, count):
    """Returns (commands run, [(i, command, memcached's answer, ours)])."""
    g = Gen(seed)
    ref, ours = Server(ref_port), Server(our_port)
    for s in (ref, ours):
        s.connect()
        s.send(b"flush_all\r\n")
    diffs = []
    history = []
    for i in range(count):
        cmd = g.command()
        a = normalize(ref.send(cmd))
        b = normalize(ours.send(cmd))
        if not close_enough(a, b):
            m = re.match(rb"\S+ (\S+)", cmd)
            key = m.group(1) if m else b""
            related = [c for c in history if key and re.search(rb"(^|\s)%s(\s|$)" % re.escape(key),
                                                               c.split(b"\r\n")[0])]
            diffs.append((i, cmd, a, b, related[-5:]))
        history.append(cmd)
    return count, diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--show", type=int, default=20)
    a = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    os.environ["FRONTCACHE_BIN"] = a.bin
    import harness
    harness.BIN = a.bin
    from test_memcached_port import RealMemcached
    ref = RealMemcached(EXTRA_MEMCACHED_ARGS)
    fc = harness.Frontcache("http://127.0.0.1:1", {"memcached": {"listen": "127.0.0.1:0"}})
    try:
        t0 = time.monotonic()
        n, diffs = run(ref.port, fc.extra_ports["memcached"], a.seed, a.count)
        print("%d commands (seed %d) in %.1f s: %d difference(s)"
              % (n, a.seed, time.monotonic() - t0, len(diffs)))
        for i, cmd, x, y, before in diffs[:a.show]:
            print("#%d %r\n  memcached: %r\n  ours:      %r\n  after: %r"
                  % (i, cmd[:200], x[:300], y[:300], [c[:60] for c in before]))
    finally:
        fc.stop()
        ref.stop()
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
