#!/usr/bin/env python3
"""How soon coalesced waiters are answered once the page they wait for is stored.

1,000 clients ask at once for one cold page; the demo origin (benchmarks/frontcache-origin)
takes 500 ms to render it, so 999 requests wait for the one fetch. frontcache (2 workers) times
each woken waiter from the fill (the lock released) to its answer written, in its
coalesced_wake_seconds histogram (admin /stats); this script reads the deltas per burst and the
origin's request count. Every burst uses a new page. Medians of --rounds bursts.

    python3 benchmarks/coalesce_wake.py --build build/release [--rounds 5]
"""

import argparse
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile

from benchlib import admin_get, read_to_close, stop_all

BUCKETS = ["0_00025", "0_0005", "0_001", "0_0025", "0_005", "0_01", "0_025", "pInf"]
LABELS = ["0.25 ms", "0.5 ms", "1 ms", "2.5 ms", "5 ms", "10 ms", "25 ms", "all"]


def start(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ports = {}
    while True:
        line = p.stdout.readline()
        m = re.search(r"listening on (?:(admin) )?\S+:(\d+)", line)
        if not m:
            break
        ports[m.group(1) or "main"] = int(m.group(2))
        if "frontcache-origin" in cmd[0] or "admin" in ports:
            break
    return p, ports


def stats(port):
    return json.loads(admin_get(port, "/stats"))


def burst(port, path, n):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(("GET %s HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n" % path).encode())
        socks.append(s)
    ok = 0
    for s in socks:
        ok += read_to_close(s).startswith(b"HTTP/1.1 200")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--clients", type=int, default=1000)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp(prefix="fc-wake-")
    procs = []
    try:
        origin, oports = start([os.path.join(args.build, "benchmarks", "frontcache-origin"),
                                "--workers", "4", "--service-ms", "500", "--page-size", "8000"])
        procs.append(origin)
        conf = os.path.join(tmp, "fc.toml")
        with open(conf, "w") as f:
            f.write('[server]\nlisten = "127.0.0.1:0"\nworkers = 2\n[upstream]\n'
                    'url = "http://127.0.0.1:%d"\n[cache]\nlock_timeout = "20s"\n'
                    '[admin]\nlisten = "127.0.0.1:0"\n[log]\nlevel = "error"\n' % oports["main"])
        fc, ports = start([os.path.join(args.build, "server", "frontcache"), "-c", conf])
        procs.append(fc)
        rows = []
        for r in range(args.rounds):
            before = stats(ports["admin"])
            ok = burst(ports["main"], "/page/wake%d" % r, args.clients)
            after = stats(ports["admin"])
            d = lambda k: after[k] - before[k]
            woken = d("coalesced_wake_seconds_count")
            row = {"ok": ok, "woken": woken,
                   "mean_ms": d("coalesced_wake_seconds_sum") * 1000 / max(woken, 1)}
            for b in BUCKETS:
                row[b] = d("coalesced_wake_seconds_bucket_" + b)
            rows.append(row)
            print("burst %d: %d/%d answered 200, %d woken; within %s; mean %.2f ms" % (
                r + 1, ok, args.clients, woken,
                ", ".join("%s %d" % (l, row[b]) for l, b in zip(LABELS, BUCKETS)),
                row["mean_ms"]), flush=True)
        stop_all([fc])
        origin.terminate()
        out = origin.stdout.read()
        origin.wait()
        m = re.search(r"(\d+) requests", out)
        print()
        print("%d clients per burst, %d bursts, origin requests in all: %s; medians:"
              % (args.clients, args.rounds, m.group(1) if m else "?"))
        print("| answered within | " + " | ".join(LABELS) + " | mean |")
        print("|---" * (len(LABELS) + 2) + "|")
        print("| woken waiters | " + " | ".join(
            "%d" % statistics.median(x[b] for x in rows) for b in BUCKETS) +
            " | %.2f ms |" % statistics.median(x["mean_ms"] for x in rows))
    finally:
        stop_all(procs)


if __name__ == "__main__":
    sys.exit(main())
