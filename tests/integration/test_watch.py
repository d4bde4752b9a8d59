"""memcached's `watch` on the memcached port (issue #16): the same log lines as memcached 1.6
for the same commands (compared with Debian's memcached side by side, only ts, gid and cfd
differ), HTTP hits and stores shown as gets and sets of their page keys, evictions, argument
errors, and a watcher that does not read costs bounded memory and never slows the others."""

import re
import socket
import time
import unittest

from harness import Frontcache, Origin, asan_build, get_once, rss_kib, wait_for
from test_memcached_port import RealMemcached

COMMANDS = [b"set foo 5 100 3\r\nbar\r\n", b"get foo\r\n", b"get nope\r\n", b"gets foo\r\n",
            b"add foo 0 0 1\r\nx\r\n", b"append foo 0 0 1\r\nx\r\n", b"incr foo 1\r\n",
            b"set n 0 0 1\r\n5\r\n", b"incr n 3\r\n", b"decr n 1\r\n", b"touch n 50\r\n",
            b"delete n\r\n", b"delete n\r\n", b"mg foo v\r\n", b"mg nope v\r\n",
            b"ms mk 2 T0\r\nhi\r\n", b"md mk\r\n", b"ma nope\r\n", b"gat 10 foo\r\n",
            b"cas foo 0 0 1 999\r\nz\r\n", b"prepend nope 0 0 1\r\nx\r\n",
            b"replace foo 0 30 2\r\nab\r\n", b"get a b c\r\n", b"set big 0 0 5000\r\n" +
            b"v" * 5000 + b"\r\n", b"mn\r\n", b"flush_all\r\n", b"version\r\n"]


def watcher(port, args=b"watch fetchers mutations"):
    w = socket.create_connection(("127.0.0.1", port), timeout=5)
    w.sendall(args + b"\r\n")
    return w


def read_lines(w, until=None, timeout=5):
    """Lines received on a watch connection (until one matches `until`, or a quiet 0.3 s)."""
    data = b""
    deadline = time.monotonic() + timeout
    w.settimeout(0.3)
    while time.monotonic() < deadline:
        try:
            d = w.recv(1 << 20)
        except socket.timeout:
            if until is None:
                break
            continue
        if not d:
            break
        data += d
        if until is not None and re.search(until, data):
            break
    return data


def comparable(data):
    """The watch lines without what must differ between two servers: time, log id, descriptor."""
    lines = [l for l in data.split(b"\n") if l and l != b"OK\r"]
    return [re.sub(rb"cfd=-?\d+", b"cfd=N", re.sub(rb"^ts=\d+\.\d+ gid=\d+ ", b"", l))
            for l in lines]


class Watch(unittest.TestCase):
    def setUp(self):
        self.origin = Origin()
        self.fc = Frontcache(self.origin.url, {"memcached": {"listen": "127.0.0.1:0"},
                                               "cache": {"memory": "2MiB"}})
        self.port = self.fc.extra_ports["memcached"]

    def tearDown(self):
        self.fc.stop()
        self.origin.close()

    def run_commands(self, port):
        w = watcher(port)
        self.assertEqual(read_lines(w, until=rb"OK\r\n"), b"OK\r\n")
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        for cmd in COMMANDS:
            c.sendall(cmd)
            time.sleep(0.01)
        c.sendall(b"mn\r\n")
        got = b""
        while b"VERSION" not in got:
            got += c.recv(65536)
        c.close()
        return read_lines(w)

    def test_the_same_lines_as_memcached(self):
        ref = RealMemcached()
        try:
            expected = self.run_commands(ref.port)
        finally:
            ref.stop()
        got = self.run_commands(self.port)
        self.assertGreater(len(comparable(expected)), 30)
        ours, theirs = comparable(got), comparable(expected)
        self.assertEqual(len(ours), len(theirs), (ours, theirs))
        for a, b in zip(ours, theirs):
            # A TTL may read one second less on one server: the two runs straddled a second.
            ta, tb = re.search(rb"ttl=(-?\d+)", a), re.search(rb"ttl=(-?\d+)", b)
            if ta and tb and abs(int(ta.group(1)) - int(tb.group(1))) <= 1:
                a, b = a.replace(ta.group(0), b"ttl=T"), b.replace(tb.group(0), b"ttl=T")
            self.assertEqual(a, b)
        # The line's own shape: seconds.microseconds (not zero-padded), a growing log id.
        first = got.split(b"\n")[0]
        self.assertRegex(first, rb"^ts=\d+\.\d{1,6} gid=\d+ type=item_get key=foo "
                                rb"status=not_found clsid=0 cfd=\d+ size=0$")

    def test_arguments_as_memcached(self):
        for args, answer in ((b"watch", b"OK\r\n"), (b"watch evictions", b"OK\r\n"),
                             (b"watch rawcmds", b"OK\r\n"), (b"watch bogus", b"ERROR\r\n"),
                             (b"watch fetchers bogus", b"ERROR\r\n")):
            w = watcher(self.port, args)
            self.assertEqual(read_lines(w, until=rb"\r\n"), answer, args)
            w.close()
        # Plain `watch` is fetchers only: a set shows its lookup, not the store.
        w = watcher(self.port, b"watch")
        read_lines(w, until=rb"OK\r\n")
        c = socket.create_connection(("127.0.0.1", self.port))
        c.sendall(b"set only 0 0 1\r\n1\r\n")
        c.recv(100)
        lines = comparable(read_lines(w, until=rb"key=only"))
        self.assertEqual(lines, [b"type=item_get key=only status=not_found clsid=0 cfd=N size=0"])

    def test_http_hits_and_stores_are_gets_and_sets_of_the_page_key(self):
        w = watcher(self.port, b"watch fetchers mutations")
        read_lines(w, until=rb"OK\r\n")
        self.assertEqual(get_once(self.fc, "/r/watched").header("X-Cache"), "MISS")
        miss = read_lines(w, until=rb"type=item_store key=views\.decorators\.cache\.cache_header")
        self.assertRegex(miss, rb"type=item_get key=views\.decorators\.cache\.cache_header\.\S+ "
                               rb"status=not_found")
        page_key = re.search(rb"type=item_store key=(views\.decorators\.cache\.cache_page\.\S+) "
                             rb"status=stored cmd=set ttl=900 clsid=\d+ cfd=-1", miss)
        self.assertTrue(page_key, miss)
        self.assertEqual(get_once(self.fc, "/r/watched").header("X-Cache"), "HIT")
        hit = read_lines(w, until=re.escape(page_key.group(1)) + rb" status=found")
        self.assertRegex(hit, rb"type=item_get key=%s status=found clsid=\d+ cfd=\d+ size=\d+"
                         % re.escape(page_key.group(1)))

    def test_evictions(self):
        w = watcher(self.port, b"watch evictions")
        read_lines(w, until=rb"OK\r\n")
        c = socket.create_connection(("127.0.0.1", self.port))
        c.sendall(b"set first 0 100 5000\r\n" + b"x" * 5000 + b"\r\n")
        for i in range(1000):  # 5 MB into a 2 MiB store
            c.sendall(b"set k%d 0 0 5000 noreply\r\n%s\r\n" % (i, b"x" * 5000))
        c.sendall(b"mn\r\n")
        got = b""
        while b"MN\r\n" not in got:
            got += c.recv(65536)
        lines = read_lines(w)
        # S3-FIFO picks the victims (not memcached's LRU order); the lines are memcached's.
        self.assertRegex(lines, rb"(^|\n)ts=\d+\.\d+ gid=\d+ type=eviction key=first fetch=no "
                                rb"ttl=(100|99) la=\d+ clsid=19 size=5000\n")
        evicted = re.findall(rb"type=eviction key=k\d+ fetch=no ttl=-1 la=\d+ clsid=19 size=5000\n",
                             lines)
        self.assertGreater(len(evicted), 500)
        self.assertEqual(len(evicted) + 1, len(lines.splitlines()))

    def test_a_watcher_that_does_not_read_is_bounded(self):
        idle = watcher(self.port, b"watch fetchers mutations")  # never read after this
        time.sleep(0.2)
        rss_before = rss_kib(self.fc.proc.pid)
        c = socket.create_connection(("127.0.0.1", self.port))
        value = b"x" * 100
        t0 = time.monotonic()
        for r in range(40):
            c.sendall(b"".join(b"set key%05d 0 0 100 noreply\r\n%s\r\nget key%05d\r\n"
                               % (i, value, i) for i in range(1000)) + b"mn\r\n")
            got = b""
            while not got.endswith(b"MN\r\n"):
                got += c.recv(1 << 20)
        elapsed = time.monotonic() - t0
        # 120,000 log lines (~12 MB) were produced for a client that reads none of them.
        grown = rss_kib(self.fc.proc.pid) - rss_before
        if not asan_build():  # ASan's quarantine and shadow memory make RSS meaningless here
            self.assertLess(grown, 16 * 1024, "RSS grew by %d KiB" % grown)
        # A second watcher that reads sees that lines were dropped for the first, not for it.
        fresh = watcher(self.port, b"watch fetchers")
        read_lines(fresh, until=rb"OK\r\n")
        c.sendall(b"get key00001\r\n")
        self.assertRegex(read_lines(fresh, until=rb"key00001"), rb"key=key00001 status=found")
        # The idle one, read at last, starts with what it missed.
        data = read_lines(idle, until=rb"skipped=\d+\n", timeout=10)
        self.assertRegex(data, rb"skipped=\d+\n")
        self.assertLess(elapsed, 60)
        idle.close()


if __name__ == "__main__":
    unittest.main()
