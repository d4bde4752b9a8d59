#!/usr/bin/env python3
"""Serving a cached page: frontcache vs nginx proxy_cache vs Varnish (and nginx serving the
same bytes as a static file, the floor), side by side, same wrk command.

Each server runs one worker/thread pool, pinned to core 0; wrk (-t1) runs on core 1. The origin
(nginx, static files, no Cache-Control) is hit once per page to fill each cache; every measured
request is a hit. Rounds alternate the servers; the table shows medians, and the server CPU
per request (utime+stime of the server's processes over the run / requests).

    python3 benchmarks/hit_compare.py --bin build/release/server/frontcache [--rounds 3]

A/B of two builds (before/after a change): `--ab OLD_BIN` adds a second frontcache, started
from OLD_BIN with the same config, as the target "frontcache (--ab)"; `--no-peers` leaves out
nginx, Varnish and the static file.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from benchlib import free_port, nginx, pin, stop_all, tree_cpu_seconds, varnish, wait_port, wrk

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/release/server/frontcache")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", default="100,400")
    ap.add_argument("--sizes", default="200,28000")
    ap.add_argument("--ab", metavar="OLD_BIN", help="a second frontcache build to compare")
    ap.add_argument("--no-peers", action="store_true", help="frontcache build(s) only")
    ap.add_argument("--extra-config", metavar="FILE",
                    help="TOML appended to the config of --bin only (e.g. benchmarks/rules20.toml:"
                         " with --ab of the same binary, the cost of those rules on hits)")
    ap.add_argument("--http-mode", action="store_true",
                    help='also frontcache with cache.mode = "http" (the origin then sends '
                         "Cache-Control: max-age=3600, which both modes store)")
    args = ap.parse_args()
    for tool in ("nginx", "varnishd", "wrk"):
        if not shutil.which(tool):
            sys.exit("needs %s: scripts/dev deps" % tool)
    tmp = tempfile.mkdtemp(prefix="fc-hit-")
    procs = []
    try:
        sizes = [int(x) for x in args.sizes.split(",")]
        www = os.path.join(tmp, "www")
        os.makedirs(www)
        for size in sizes:
            with open(os.path.join(www, "page%d.html" % size), "wb") as f:
                body = b"<html><body>" + b"x" * max(0, size - 28) + b"</body></html>\n"
                f.write(body[:size])
        ports = {n: free_port()
                 for n in ("origin", "frontcache", "frontcache-ab", "frontcache-http", "nginx",
                           "varnish", "static")}
        # The origin gets core 1 with wrk: it only serves the first request of each page.
        procs.append(nginx(tmp, "origin", "server { listen 127.0.0.1:%d; root %s; %s}"
                           % (ports["origin"], www, "expires 1h; " if args.http_mode else ""), 1))
        procs.append(nginx(tmp, "static", "server { listen 127.0.0.1:%d; root %s; }"
                           % (ports["static"], www), 0))
        procs.append(nginx(tmp, "proxycache", """
  proxy_cache_path %s/nginx-cache keys_zone=hits:10m;
  upstream origin { server 127.0.0.1:%d; keepalive 16; }
  server { listen 127.0.0.1:%d; location / { proxy_pass http://origin; proxy_cache hits;
    proxy_cache_valid 200 10m; proxy_http_version 1.1; proxy_set_header Connection ""; } }
""" % (tmp, ports["origin"], ports["nginx"]), 0))
        procs.append(varnish(tmp, ports["varnish"], ports["origin"],
                             ("-s", "malloc,256m", "-t", "600", "-p", "thread_pools=1"), core=0))
        pids = {"nginx proxy_cache": procs[2].pid, "Varnish": procs[3].pid,
                "nginx static file": procs[1].pid}
        for name, binary, port, mode in (
                ("frontcache", args.bin, ports["frontcache"], "django"),
                ("frontcache (--ab)", args.ab, ports["frontcache-ab"], "django"),
                ("frontcache (mode=http)", args.bin if args.http_mode else None,
                 ports["frontcache-http"], "http")):
            if not binary:
                continue
            conf = os.path.join(tmp, "fc-%d.toml" % port)
            with open(conf, "w") as f:
                f.write('[server]\nlisten = "127.0.0.1:%d"\nworkers = 1\n[upstream]\n'
                        'url = "http://127.0.0.1:%d"\n[cache]\nmemory = "256MiB"\nmode = "%s"\n'
                        '[log]\nlevel = "error"\n' % (port, ports["origin"], mode))
                if args.extra_config and name == "frontcache":
                    with open(args.extra_config) as extra:
                        f.write(extra.read())
            procs.append(subprocess.Popen(pin(0) + [binary, "-c", conf],
                                          stdout=subprocess.DEVNULL))
            pids[name] = procs[-1].pid
        targets = [("frontcache", ports["frontcache"])]
        if args.ab:
            targets.append(("frontcache (--ab)", ports["frontcache-ab"]))
        if args.http_mode:
            targets.append(("frontcache (mode=http)", ports["frontcache-http"]))
        if not args.no_peers:
            targets += [("nginx proxy_cache", ports["nginx"]), ("Varnish", ports["varnish"]),
                        ("nginx static file", ports["static"])]
        for _, port in targets:
            wait_port(port, 30)
        conns = [int(c) for c in args.connections.split(",")]
        results = {}
        for size in sizes:
            for name, port in targets:  # fill every cache, then warm up
                wrk("http://127.0.0.1:%d/page%d.html" % (port, size), 10, 1)
        for r in range(args.rounds):
            for size in sizes:
                for c in conns:
                    for name, port in targets:
                        cpu0 = tree_cpu_seconds(pids[name])
                        res = wrk("http://127.0.0.1:%d/page%d.html" % (port, size), c, args.seconds)
                        cpu = tree_cpu_seconds(pids[name]) - cpu0
                        res["cpu_us"] = cpu * 1e6 / max(1, res["rps"] * args.seconds)
                        results.setdefault((size, c, name), []).append(res)
                        print("round %d %6d B c=%-4d %-19s %8.0f req/s p50 %6.0f us p99 %7.0f us "
                              "cpu %5.1f us/req non-2xx %d %s"
                              % (r + 1, size, c, name, res["rps"], res["p50"], res["p99"],
                                 res["cpu_us"], res["errors"], res["sock"]), flush=True)
        print()
        print("cache hits, wrk -t1, %d rounds x %d s, medians; servers on core 0, wrk on core 1"
              % (args.rounds, args.seconds))
        print("| page | c | server | req/s | p50 | p99 | server CPU/req | vs frontcache |")
        print("|---|---|---|---|---|---|---|---|")
        for size in sizes:
            for c in conns:
                fc = statistics.median(x["rps"] for x in results[(size, c, "frontcache")])
                for name, _ in targets:
                    xs = results[(size, c, name)]
                    rps = statistics.median(x["rps"] for x in xs)
                    print("| %d B | %d | %s | %.0f | %.0f µs | %.0f µs | %.1f µs | %.2f× |" % (
                        size, c, name, rps, statistics.median(x["p50"] for x in xs),
                        statistics.median(x["p99"] for x in xs),
                        statistics.median(x["cpu_us"] for x in xs), rps / fc))
    finally:
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
