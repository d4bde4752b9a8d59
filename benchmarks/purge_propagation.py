#!/usr/bin/env python3
"""How long a purge takes to reach the fleet (issue #15): three frontcache instances in front of
the demo origin, each listing the other two in admin.peers (with admin.token set). Each round
stores one page in all three, sends `PURGE` for it to the first instance's admin port, and polls
the other two's GET /stats until their purged_total has moved: the time from sending the purge to
the last peer having removed the page. Prints every round's time and the median, p90 and max.

The poll itself takes a fraction of a millisecond on loopback, so the figures are upper bounds.

    python3 benchmarks/purge_propagation.py --build build/release [--rounds 50]
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import demo_origin, free_port, read_to_close, stop_all

TOKEN = "bench-token"


def admin(port, method, target):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n\r\n"
               % (method, target, port, TOKEN)).encode())
    return read_to_close(s).split(b"\r\n\r\n", 1)[1]


def purged(port):
    return json.loads(admin(port, "GET", "/stats"))["purged_total"]


def get(port, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("GET %s HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n"
               % path).encode())
    head = read_to_close(s).split(b"\r\n\r\n", 1)[0].decode()
    return re.search(r"X-Cache: (\w+)", head).group(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--rounds", type=int, default=50)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="fc-prop-")
    procs = []
    try:
        origin, oport = demo_origin(a.build, 1000)
        procs.append(origin)
        admins = [free_port() for _ in range(3)]
        fronts = []
        for i, ap_ in enumerate(admins):
            conf = os.path.join(tmp, "fc%d.toml" % i)
            peers = ", ".join('"127.0.0.1:%d"' % p for p in admins if p != ap_)
            with open(conf, "w") as f:
                f.write('[server]\nlisten = "127.0.0.1:0"\nworkers = 1\n'
                        '[upstream]\nurl = "http://127.0.0.1:%d"\n'
                        '[admin]\nlisten = "127.0.0.1:%d"\npeers = [%s]\ntoken = "%s"\n'
                        '[log]\nlevel = "error"\n' % (oport, ap_, peers, TOKEN))
            p = subprocess.Popen([os.path.join(a.build, "server", "frontcache"), "-c", conf],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            procs.append(p)
            fronts.append(int(re.search(r":(\d+)$", p.stdout.readline().strip()).group(1)))
            p.stdout.readline()  # the admin line
        times = []
        for r in range(a.rounds):
            path = "/page/%d" % r
            for port in fronts:
                get(port, path)
            assert all(get(port, path) == "HIT" for port in fronts)
            before = [purged(p) for p in admins[1:]]
            t0 = time.perf_counter()
            admin(admins[0], "PURGE", path)
            pending = set(range(2))
            while pending:
                for k in list(pending):
                    if purged(admins[1 + k]) > before[k]:
                        pending.discard(k)
                if time.perf_counter() - t0 > 10:
                    raise RuntimeError("round %d: the purge did not reach every peer" % r)
            ms = (time.perf_counter() - t0) * 1000
            times.append(ms)
            assert all(get(port, path) == "MISS" for port in fronts[1:])
        times.sort()
        print("rounds: " + " ".join("%.1f" % t for t in times))
        print("purge propagation to 2 peers (3 instances, loopback, %d rounds): median %.2f ms, "
              "p90 %.2f ms, max %.2f ms (sent to the first instance -> removed in both others)"
              % (len(times), statistics.median(times), times[int(len(times) * 0.9) - 1],
                 times[-1]))
    finally:
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
