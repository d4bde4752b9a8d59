#!/usr/bin/env python3
"""What a purge by cache group costs (issue #24): one frontcache (one worker) in front of a small
origin written here, whose pages declare `Cache-Groups`. It stores --pages pages in one group
("big") and as many unrelated pages (in 100 groups of their own), then purges the group through
the admin port (POST /purge?group=big), and for comparison a 100-page group and the same 10,000
pages by path prefix (PURGE /big/*, a walk of the whole store). Memory: the process's RSS before
and after filling, and the same fill in a second process whose origin declares no group, so the
difference is what the groups cost (the index and the group bytes in each page), per page.

Not a timed test: a measurement, printed as a table (docs/groups.md has one).

    python3 benchmarks/group_purge.py --build build/dev [--pages 10000]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import read_to_close, stop_all

BODY = b"x" * 2000


class Origin:
    """A keep-alive HTTP/1.1 origin on loopback: /big/N is in group "big", /other/N in group
    "oN%100"; with groups=False no page declares a group."""

    def __init__(self, groups):
        self.groups = groups
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        buf = b""
        with c:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                path = head.split(b" ", 2)[1].decode()
                extra = ""
                if self.groups:
                    kind, n = path.strip("/").split("/")
                    group = "big" if kind == "big" else "o%d" % (int(n) % 100)
                    extra = 'Cache-Groups: "%s"\r\n' % group
                c.sendall(("HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\n%s"
                           "Content-Length: %d\r\n\r\n" % (extra, len(BODY))).encode() + BODY)

    def close(self):
        self.sock.close()


def fetch_all(port, paths, threads=4):
    """GETs every path over `threads` keep-alive connections."""
    def worker(part):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        buf = b""
        for p in part:
            s.sendall(("GET %s HTTP/1.1\r\nHost: site.test\r\n\r\n" % p).encode())
            while b"\r\n\r\n" not in buf:
                buf += s.recv(65536)
            head, buf = buf.split(b"\r\n\r\n", 1)
            length = int([l for l in head.split(b"\r\n")
                          if l.lower().startswith(b"content-length:")][0].split(b":")[1])
            while len(buf) < length:
                buf += s.recv(65536)
            buf = buf[length:]
        s.close()
    ts = [threading.Thread(target=worker, args=(paths[i::threads],)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def admin(port, method, target):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 0\r\n\r\n"
               % (method, target, port)).encode())
    return read_to_close(s).split(b"\r\n\r\n", 1)[1]


def timed(port, method, target):
    t = time.perf_counter()
    body = admin(port, method, target)
    return (time.perf_counter() - t) * 1000, json.loads(body)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Instance:
    def __init__(self, build, origin, tmp, name):
        cfg = os.path.join(tmp, name + ".toml")
        with open(cfg, "w") as f:
            f.write('[server]\nlisten = "127.0.0.1:0"\nworkers = 1\n'
                    '[upstream]\nurl = "http://127.0.0.1:%d"\n'
                    '[cache]\nmemory = "512MiB"\n[admin]\nlisten = "127.0.0.1:0"\n'
                    '[log]\nlevel = "error"\n' % origin.port)
        self.proc = subprocess.Popen([os.path.join(build, "server", "frontcache"), "-c", cfg],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.port = int(self.proc.stdout.readline().rsplit(":", 1)[1])
        self.admin = int(self.proc.stdout.readline().rsplit(":", 1)[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build/dev")
    ap.add_argument("--pages", type=int, default=10000)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="fc-groups-bench-")
    procs, origins = [], []
    big = ["/big/%d" % i for i in range(a.pages)]
    other = ["/other/%d" % i for i in range(a.pages)]
    rows = []
    try:
        rss = {}
        for groups in (False, True):
            origin = Origin(groups)
            origins.append(origin)
            fc = Instance(a.build, origin, tmp, "grouped" if groups else "plain")
            procs.append(fc.proc)
            time.sleep(0.2)
            before = rss_kib(fc.proc.pid)
            fetch_all(fc.port, big + other)
            after = rss_kib(fc.proc.pid)
            rss[groups] = (before, after)
            if not groups:
                continue
            listing = json.loads(admin(fc.admin, "GET", "/groups"))
            ms, ans = timed(fc.admin, "POST", "/purge?group=big")
            rows.append(("POST /purge?group=big (%d pages of %d)" % (a.pages, 2 * a.pages),
                         ms, ans["purged"]))
            ms, ans = timed(fc.admin, "POST", "/purge?group=o7")
            rows.append(("POST /purge?group=o7 (a group of %d)" % (a.pages // 100), ms,
                         ans["purged"]))
            fetch_all(fc.port, big)  # the group again, for the path purge
            ms, ans = timed(fc.admin, "PURGE", "/big/*")
            rows.append(("PURGE /big/* (the same %d pages by path: a walk)" % a.pages, ms,
                         ans["purged"]))
        print("pages: %d in group \"big\" + %d unrelated (2,000-byte bodies), one worker"
              % (a.pages, a.pages))
        print("groups indexed: %d, entries: %d" % (listing["groups"], listing["entries"]))
        print()
        print("| purge | time | pages purged |")
        print("|---|---|---|")
        for what, ms, n in rows:
            print("| %s | %.1f ms | %d |" % (what, ms, n))
        print()
        (b0, a0), (b1, a1) = rss[False], rss[True]
        print("| fill of %d pages | RSS before | RSS after | growth |" % (2 * a.pages))
        print("|---|---|---|---|")
        print("| no groups | %d KiB | %d KiB | %d KiB |" % (b0, a0, a0 - b0))
        print("| with groups | %d KiB | %d KiB | %d KiB |" % (b1, a1, a1 - b1))
        print()
        print("groups' cost: %.0f bytes per page (index entry + the group in the page)"
              % (((a1 - b1) - (a0 - b0)) * 1024.0 / (2 * a.pages)))
    finally:
        stop_all(procs)
        for o in origins:
            o.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
