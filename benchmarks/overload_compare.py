#!/usr/bin/env python3
"""The original deployment's failure shape: more users than the app's workers can serve, and pages
that expire every few seconds. The same load through frontcache three ways, one after another
against a fresh origin each: coalescing + grace off (every expiry sends everyone who asks for
the page to the app), on (the defaults: one fetch per page, the stale copy meanwhile), and a
baseline whose pages never expire during the run (what p99 looks like without expiry).

Origin: benchmarks/frontcache-origin, 4 workers x 50 ms (80 pages/s at most), backlog 200,
gateway timeout 2 s (503 / 504 beyond). frontcache's own cap on upstream requests
(upstream.max_connections) is lifted to 1024 in all three, so only coalescing and grace differ.
Load: frontcache-bench, closed loop, 20 pages.
Servers on core 0, the load generator on core 1.

    python3 benchmarks/overload_compare.py --build build/release [--rounds 3] [--seconds 20]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

from benchlib import demo_origin, interleaved_rounds, pin, proxy_config, start_server as start, stop_all

PAGES = 20
TTL = 3

SETUPS = [
    ("coalescing + grace off", {"coalesce": "false", "grace": '"0s"', "stale_if_error": '"0s"',
                                "seconds": str(TTL)}),
    ("coalescing + grace on", {"coalesce": "true", "grace": '"60s"', "seconds": str(TTL)}),
    ("baseline: no expiry", {"seconds": "3600"}),
]


def one_run(build, tmp, name, cache, users, seconds):
    procs = []
    try:
        origin, oport = demo_origin(build, 200)
        procs.append(origin)
        conf = proxy_config(os.path.join(tmp, "fc.toml"), oport,
                            "[cache]\n" + "\n".join("%s = %s" % kv for kv in cache.items()))
        fc, fport = start(pin(0) + [os.path.join(build, "server", "frontcache"), "-c", conf],
                          r"listening on \S+:(\d+)")
        procs.append(fc)
        run = os.path.join(tmp, "run.toml")
        with open(run, "w") as f:
            f.write('run_time = "%ds"\ntarget = "http://127.0.0.1:%d"\n'
                    '[[user_group]]\nname = "users"\nusers = %d\ntimeout = "10s"\nurls = [%s]\n'
                    % (seconds, fport, users,
                       ", ".join('{url = "/page/%d", weight = 1}' % i for i in range(PAGES))))
        out = os.path.join(tmp, "out")
        subprocess.run(pin(1) + [os.path.join(build, "benchmarks", "frontcache-bench"),
                                 "--config", run, "--out", out, "--names", name],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(out, "summary.json")) as f:
            s = json.load(f)["series"][0]
        stop_all([fc])
        origin.terminate()
        line = origin.stdout.read()
        origin.wait()
        m = re.search(r"(\d+) requests, (\d+) ok, (\d+) 503, (\d+) 504", line)
        s["origin_requests"] = int(m.group(1))
        return s
    finally:
        stop_all(procs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--users", type=int, default=400)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="fc-overload-")
    try:
        res = interleaved_rounds(
            SETUPS, args.rounds,
            lambda name, cache: one_run(args.build, tmp, name, cache, args.users, args.seconds),
            lambda r, name, s: "round %d %-24s %9.0f req/s errors %6.2f%% p50 %8.2f ms p99 "
            "%8.2f ms max %8.1f ms origin requests %d" % (
                r, name, s["throughput_rps"], s["error_rate_pct"], s["p50_ms"], s["p99_ms"],
                s["max_ms"], s["origin_requests"]))
        print("%d users, %d pages expiring every %d s, %d s per run, %d rounds, medians; origin "
              "4 workers x 50 ms" % (args.users, PAGES, TTL, args.seconds, args.rounds))
        print("| set-up | req/s | errors | p50 | p99 | max | origin requests | per page per TTL |")
        print("|---|---|---|---|---|---|---|---|")
        for name, _ in SETUPS:
            xs = res[name]
            med = lambda k: statistics.median(x[k] for x in xs)
            periods = args.seconds / TTL
            print("| %s | %.0f | %.2f %% | %.2f ms | %.2f ms | %.0f ms | %d | %.2f |" % (
                name, med("throughput_rps"), med("error_rate_pct"), med("p50_ms"),
                med("p99_ms"), med("max_ms"), med("origin_requests"),
                med("origin_requests") / PAGES / periods))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
