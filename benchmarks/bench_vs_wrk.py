#!/usr/bin/env python3
"""frontcache-bench's own ceiling: against a trivial server (nginx, one worker, a 200 B static
file, core 0) it must drive at least as many requests/s as wrk with the same connections and one
thread (both on core 1). Rounds alternate; medians.

    python3 benchmarks/bench_vs_wrk.py --bench build/release/benchmarks/frontcache-bench
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile

from benchlib import free_port, pin, stop_all, wait_port, wrk


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", default="build/release/benchmarks/frontcache-bench")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=50)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="fc-ceiling-")
    procs = []
    try:
        port = free_port()
        with open(os.path.join(tmp, "index.html"), "w") as f:
            f.write("x" * 200)
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write("daemon off; worker_processes 1; pid %s/n.pid; error_log %s/e.log;"
                    "events { worker_connections 4096; } http { access_log off;"
                    "keepalive_requests 10000000; client_body_temp_path %s; proxy_temp_path %s;"
                    "fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;"
                    "server { listen 127.0.0.1:%d; root %s; } }" % ((tmp,) * 7 + (port, tmp)))
        procs.append(subprocess.Popen(pin(0) + ["nginx", "-c", conf, "-p", tmp],
                                      stderr=subprocess.DEVNULL))
        wait_port(port)
        url = "http://127.0.0.1:%d/index.html" % port
        res = {"wrk": [], "frontcache-bench": []}
        for r in range(args.rounds):
            res["wrk"].append(wrk(url, args.connections, args.seconds)["rps"])
            out = os.path.join(tmp, "r%d" % r)
            subprocess.run(pin(1) + [args.bench, url, "-u", str(args.connections), "-d",
                                     "%ds" % args.seconds, "--out", out],
                           capture_output=True, check=True)
            with open(os.path.join(out, "summary.json")) as f:
                res["frontcache-bench"].append(json.load(f)["series"][0]["throughput_rps"])
            print("round %d  wrk %.0f req/s  frontcache-bench %.0f req/s"
                  % (r + 1, res["wrk"][-1], res["frontcache-bench"][-1]), flush=True)
        w, b = statistics.median(res["wrk"]), statistics.median(res["frontcache-bench"])
        print("\n| load generator (1 thread, %d connections) | req/s against nginx static |"
              % args.connections)
        print("|---|---|")
        print("| wrk | %.0f |\n| frontcache-bench | %.0f (%.2f×) |" % (w, b, b / w))
    finally:
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
