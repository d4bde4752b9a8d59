#!/usr/bin/env python3
"""A purge of every page under load: hard (`PURGE /*`) vs soft (`PURGE /*?soft=1`), one after
another against a fresh origin each, the demo's shape: frontcache-origin with 4 workers x 50 ms
(80 pages/s at most, 504 after 2 s in its queue), 400 users over 200 pages cached for 10
minutes, the purge sent to the admin port 5 s into a 15 s run. A hard purge sends every user who
asks for a page to wait for its refetch (one per page, coalesced) behind the origin's queue; a
soft purge answers them from the stale copy while one background fetch per page renews it.

    python3 benchmarks/purge_compare.py --build build/release [--seconds 15] [--users 400]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import admin_get, admin_purge, demo_origin, pin, proxy_config, stop_all

PAGES = 200


def one_run(build, tmp, name, target, users, seconds):
    procs = []
    try:
        origin, oport = demo_origin(build, 1000)
        procs.append(origin)
        conf = proxy_config(os.path.join(tmp, "fc.toml"), oport,
                            '[cache]\nseconds = 600\n[admin]\nlisten = "127.0.0.1:0"')
        fc = subprocess.Popen(pin(0) + [os.path.join(build, "server", "frontcache"), "-c", conf],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(fc)
        ports = [int(re.search(r":(\d+)$", fc.stdout.readline().strip()).group(1))
                 for _ in range(2)]
        fport, aport = ports
        # Fill every page first, so the run starts from a warm cache.
        run = os.path.join(tmp, "fill.toml")
        with open(run, "w") as f:
            f.write('run_time = "5s"\ntarget = "http://127.0.0.1:%d"\n[[user_group]]\n'
                    'name = "fill"\nusers = 8\nurls = [%s]\n'
                    % (fport, ", ".join('{url = "/page/%d", weight = 1}' % i for i in range(PAGES))))
        bench = os.path.join(build, "benchmarks", "frontcache-bench")
        subprocess.run(pin(1) + [bench, "--config", run, "--out", os.path.join(tmp, "fill")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = json.loads(admin_get(aport, "/stats"))["upstream_response_seconds_count"]
        run = os.path.join(tmp, "run.toml")
        with open(run, "w") as f:
            f.write('run_time = "%ds"\nresults_ts_interval = "1s"\ntarget = "http://127.0.0.1:%d"'
                    '\n[[user_group]]\nname = "users"\nusers = %d\ntimeout = "10s"\nurls = [%s]\n'
                    % (seconds, fport, users,
                       ", ".join('{url = "/page/%d", weight = 1}' % i for i in range(PAGES))))
        answer = {}

        def purge_later():
            time.sleep(5)
            answer["purge"] = admin_purge(aport, target)
        t = threading.Thread(target=purge_later)
        t.start()
        out = os.path.join(tmp, "out-" + name.split()[0])
        subprocess.run(pin(1) + [bench, "--config", run, "--out", out, "--names", name],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t.join()
        with open(os.path.join(out, "summary.json")) as f:
            s = json.load(f)["series"][0]
        stats = json.loads(admin_get(aport, "/stats"))
        s["origin_requests"] = int(stats["upstream_response_seconds_count"] - before)
        s["stale"] = int(stats.get("requests_total_stale", 0))
        s["purge_answer"] = answer.get("purge", "")
        # The seconds after the purge: per-interval p99 and max from intervals.csv.
        rows = [l.split(",") for l in open(os.path.join(out, "intervals.csv")).read().splitlines()]
        head, rows = rows[0], rows[1:]
        col = {n: i for i, n in enumerate(head)}
        after = [r for r in rows if 5 <= float(r[col["interval_start_s"]]) < 10]
        s["after_max_ms"] = max(float(r[col["max_ms"]]) for r in after)
        s["after_p99_ms"] = max(float(r[col["p99_ms"]]) for r in after)
        s["after_errors"] = sum(int(r[col["errors"]]) for r in after)
        return s
    finally:
        stop_all(procs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--users", type=int, default=400)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="fc-purge-")
    try:
        results = []
        for name, target in (("hard purge", "/*"), ("soft purge", "/*?soft=1")):
            s = one_run(args.build, tmp, name, target, args.users, args.seconds)
            results.append((name, target, s))
            print("%-11s %-11s answer %-32s origin requests %4d, in the 5 s after: errors %5d, "
                  "worst p99 %8.1f ms, max %8.1f ms; whole run %6.0f req/s"
                  % (name, target, s["purge_answer"], s["origin_requests"], s["after_errors"],
                     s["after_p99_ms"], s["after_max_ms"], s["throughput_rps"]), flush=True)
        print()
        print("%d users, %d cached pages, PURGE at 5 s of %d s; origin 4 workers x 50 ms"
              % (args.users, PAGES, args.seconds))
        print("| purge | origin requests | errors (5 s after) | worst interval p99 | max | req/s |")
        print("|---|---|---|---|---|---|")
        for name, target, s in results:
            print("| %s (`PURGE %s`) | %d | %d | %.1f ms | %.1f ms | %.0f |" % (
                name, target, s["origin_requests"], s["after_errors"], s["after_p99_ms"],
                s["after_max_ms"], s["throughput_rps"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
