#!/usr/bin/env python3
"""One of two application servers dies under load and comes back: what the clients see.

Two demo origins (benchmarks/frontcache-origin, 4 workers x 10 ms each) behind frontcache with
upstream.servers = [A, B]; every request goes upstream (/private: Cache-Control: private, never
stored). A closed loop of users runs for --seconds; B is killed (SIGKILL) at 25 % of the run and
started again on the same port at 60 %. Three set-ups, one after another, fresh processes each:

  passive        the defaults: max_fails 3, fail_timeout 10s (B is tried again after the
                 back-off, so it rejoins up to 10 s after it restarted)
  passive+check  the same plus health_check = "/", health_interval = "1s" (B rejoins within a
                 second of its restart)
  no marking     max_fails = 0: B is never left out; each request that picks it is refused and
                 sent on to A (what health marking saves: those wasted connects)

Reported per set-up (medians of --rounds): req/s, failed requests, p99, max, refused connects
to B (frontcache's upstream_server_failures_total for B), requests the restarted B served.
Servers on core 0, the load generator on core 1.

    python3 benchmarks/failover_compare.py --build build/release [--rounds 3] [--seconds 20]
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import admin_get, free_port, interleaved_rounds, pin, stop_all, wait_port

SETUPS = [
    ("passive", {}),
    ("passive+check", {"health_check": '"/"', "health_interval": '"1s"'}),
    ("no marking", {"max_fails": "0"}),
]


def start_origin(build, port):
    p = subprocess.Popen(pin(0) + [os.path.join(build, "benchmarks", "frontcache-origin"),
                                   "--listen", "127.0.0.1:%d" % port, "--workers", "4",
                                   "--service-ms", "10", "--page-size", "8000"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    p.stdout.readline()
    wait_port(port)
    return p


def served(origin):
    """Stops an origin and returns how many requests it answered."""
    origin.terminate()
    out = origin.stdout.read()
    origin.wait()
    m = re.search(r"(\d+) requests", out)
    return int(m.group(1)) if m else 0


def metric(admin_port, name, server):
    data = admin_get(admin_port, "/metrics")
    m = re.search(r'^frontcache_%s\{server="%s"\} (\S+)$' % (name, re.escape(server)),
                  data.decode(), re.M)
    return float(m.group(1)) if m else 0.0


def one_run(build, tmp, name, upstream, users, seconds):
    procs = []
    try:
        pa, pb = free_port(), free_port()
        a, b = start_origin(build, pa), start_origin(build, pb)
        procs += [a, b]
        b_url = "http://127.0.0.1:%d" % pb
        conf = os.path.join(tmp, "fc.toml")
        with open(conf, "w") as f:
            f.write('[server]\nlisten = "127.0.0.1:0"\nworkers = 1\n'
                    '[upstream]\nservers = ["http://127.0.0.1:%d", "%s"]\n%s\n'
                    '[admin]\nlisten = "127.0.0.1:0"\n[log]\nlevel = "error"\n'
                    % (pa, b_url, "\n".join("%s = %s" % kv for kv in upstream.items())))
        fc = subprocess.Popen(pin(0) + [os.path.join(build, "server", "frontcache"), "-c", conf],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(fc)
        port = int(re.search(r":(\d+)$", fc.stdout.readline().strip()).group(1))
        admin = int(re.search(r":(\d+)$", fc.stdout.readline().strip()).group(1))
        out = os.path.join(tmp, "out")
        load = subprocess.Popen(pin(1) + [os.path.join(build, "benchmarks", "frontcache-bench"),
                                          "http://127.0.0.1:%d/private" % port,
                                          "-u", str(users), "-d", "%ds" % seconds,
                                          "--timeout", "10s", "--out", out, "--names", name],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(load)
        t0 = time.monotonic()
        time.sleep(seconds * 0.25)
        b.send_signal(signal.SIGKILL)
        b.wait()
        time.sleep(max(0.0, t0 + seconds * 0.6 - time.monotonic()))
        b2 = start_origin(build, pb)
        procs.append(b2)
        load.wait()
        with open(os.path.join(out, "summary.json")) as f:
            s = json.load(f)["series"][0]
        s["refused_b"] = metric(admin, "upstream_server_failures_total", b_url)
        s["b_after_restart"] = served(b2)
        return s
    finally:
        stop_all(procs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--users", type=int, default=50)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="fc-failover-")
    try:
        res = interleaved_rounds(
            SETUPS, args.rounds,
            lambda name, upstream: one_run(args.build, tmp, name, upstream, args.users,
                                           args.seconds),
            lambda r, name, s: "round %d %-14s %8.0f req/s failed %6d (%.3f%%) p99 %7.2f ms "
            "max %8.1f ms refused connects to B %6d  B served after restart %6d" % (
                r, name, s["throughput_rps"], s["errors"], s["error_rate_pct"], s["p99_ms"],
                s["max_ms"], s["refused_b"], s["b_after_restart"]))
        print("%d users, %d s per run, B killed at %.0f s and restarted at %.0f s, %d rounds, "
              "medians" % (args.users, args.seconds, args.seconds * 0.25, args.seconds * 0.6,
                           args.rounds))
        print("| set-up | req/s | failed requests | p99 | max | refused connects to B "
              "| B served after restart |")
        print("|---|---|---|---|---|---|---|")
        for name, _ in SETUPS:
            xs = res[name]
            med = lambda k: statistics.median(x[k] for x in xs)
            print("| %s | %.0f | %d | %.2f ms | %.0f ms | %d | %d |" % (
                name, med("throughput_rps"), med("errors"), med("p99_ms"), med("max_ms"),
                med("refused_b"), med("b_after_restart")))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
