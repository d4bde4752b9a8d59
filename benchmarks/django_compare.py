#!/usr/bin/env python3
"""A real Django site three ways, same wrk load: uncached; with Django's own per-site cache
middleware over memcached (the set-up frontcache replaces); and uncached behind frontcache.

The site is tests/django_site (Debian's python3-django, gunicorn, 4 sync workers); its /slow
view sleeps 20 ms per render, a stand-in for database work. Servers on core 0, wrk on core 1.

    python3 benchmarks/django_compare.py --bin build/release/server/frontcache [--rounds 3]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from benchlib import django_site, free_port, memcached, pin, stop_all, wait_port, wrk


def gunicorn(port, env):
    return django_site(port, env, 4, core=0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/release/server/frontcache")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--path", default="/slow")
    args = ap.parse_args()
    if not shutil.which("memcached") or not shutil.which("wrk"):
        sys.exit("needs memcached and wrk: scripts/dev deps")
    tmp = tempfile.mkdtemp(prefix="fc-django-")
    procs = []
    try:
        p = {n: free_port() for n in ("mc", "plain", "cached", "fc")}
        procs.append(memcached(p["mc"], core=0))
        procs.append(gunicorn(p["plain"], {}))
        procs.append(gunicorn(p["cached"], {"FCSITE_DJANGO_CACHE": "1",
                                            "FCSITE_MEMCACHED": "127.0.0.1:%d" % p["mc"]}))
        conf = os.path.join(tmp, "fc.toml")
        with open(conf, "w") as f:
            f.write('[server]\nlisten = "127.0.0.1:%d"\nworkers = 1\n[upstream]\n'
                    'url = "http://127.0.0.1:%d"\n[log]\nlevel = "error"\n' % (p["fc"], p["plain"]))
        procs.append(subprocess.Popen(pin(0) + [args.bin, "-c", conf], stdout=subprocess.DEVNULL))
        for port in p.values():
            wait_port(port, 30)
        targets = [("Django, no cache", p["plain"]),
                   ("Django + cache middleware + memcached", p["cached"]),
                   ("frontcache in front of Django", p["fc"])]
        res = {n: [] for n, _ in targets}
        for name, port in targets:
            wrk("http://127.0.0.1:%d%s" % (port, args.path), 10, 1)  # warm-up, fills caches
        for r in range(args.rounds):
            for name, port in targets:
                x = wrk("http://127.0.0.1:%d%s" % (port, args.path), args.connections, args.seconds)
                res[name].append(x)
                print("round %d %-40s %8.0f req/s p50 %8.0f us p99 %8.0f us errors %d %s"
                      % (r + 1, name, x["rps"], x["p50"], x["p99"], x["errors"], x["sock"]),
                      flush=True)
        print()
        print("Django site %s (20 ms per render), wrk -t1 -c%d -d%ds, %d rounds, medians"
              % (args.path, args.connections, args.seconds, args.rounds))
        print("| set-up | req/s | p50 | p99 | non-2xx |")
        print("|---|---|---|---|---|")
        for name, _ in targets:
            xs = res[name]
            print("| %s | %.0f | %.1f ms | %.1f ms | %d |" % (
                name, statistics.median(x["rps"] for x in xs),
                statistics.median(x["p50"] for x in xs) / 1000,
                statistics.median(x["p99"] for x in xs) / 1000, sum(x["errors"] for x in xs)))
    finally:
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
