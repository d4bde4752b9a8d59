#!/usr/bin/env python3
"""frontcache's memcached port vs a real memcached (Debian's, `-t 1`), side by side: the same
client (benchmarks/mc_load), the same keys and load, servers pinned to core 0 and the client to
core 1, rounds alternating, medians reported.

    python3 benchmarks/memcached_compare.py --bin build/release/server/frontcache \
        --load build/release/benchmarks/mc_load [--rounds 3] [--seconds 5]
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

from benchlib import free_port, pin, stop_all, wait_port

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/release/server/frontcache")
    ap.add_argument("--load", default="build/release/benchmarks/mc_load")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--value", type=int, default=100)
    ap.add_argument("--sets", type=int, default=10)
    args = ap.parse_args()
    memcached = shutil.which("memcached")
    if not memcached:
        sys.exit("needs memcached: scripts/dev deps")
    tmp = tempfile.mkdtemp(prefix="fc-mc-")
    procs = []
    try:
        mc_port, fc_port, http_port = free_port(), free_port(), free_port()
        user = ["-u", "root"] if os.getuid() == 0 else []
        procs.append(subprocess.Popen(pin(0) + [memcached, *user, "-l", "127.0.0.1", "-p",
                                                str(mc_port), "-U", "0", "-t", "1", "-m", "256",
                                                "-c", "4096"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        conf = os.path.join(tmp, "fc.toml")
        with open(conf, "w") as f:
            f.write('[server]\nlisten = "127.0.0.1:%d"\nworkers = 1\n[upstream]\n'
                    'url = "http://127.0.0.1:1"\n[cache]\nmemory = "256MiB"\n'
                    '[memcached]\nlisten = "127.0.0.1:%d"\n[log]\nlevel = "error"\n'
                    % (http_port, fc_port))
        procs.append(subprocess.Popen(pin(0) + [args.bin, "-c", conf], stdout=subprocess.DEVNULL))
        wait_port(mc_port)
        wait_port(fc_port)
        targets = [("memcached 1.6 -t 1", mc_port), ("frontcache, 1 worker", fc_port)]
        load = [args.load, "--conns", str(args.conns), "--depth", str(args.depth),
                "--value", str(args.value), "--sets", str(args.sets)]
        results = {n: [] for n, _ in targets}
        for name, port in targets:  # warm-up
            subprocess.run(pin(1) + load[:1] + [str(port)] + load[1:] + ["--seconds", "1"],
                           capture_output=True, check=True)
        for r in range(args.rounds):
            for name, port in targets:
                out = subprocess.run(pin(1) + load[:1] + [str(port)] + load[1:] +
                                     ["--seconds", str(args.seconds)],
                                     capture_output=True, text=True, check=True).stdout
                ops = float(re.search(r"ops_per_sec (\d+)", out).group(1))
                results[name].append(ops)
                print("round %d %-22s %10.0f ops/s" % (r + 1, name, ops), flush=True)
        base = statistics.median(results[targets[0][0]])
        print()
        print("memcached text protocol, mc_load --conns %d --depth %d, %d%% sets, %d B values, "
              "%d rounds x %g s, medians; servers on core 0, client on core 1"
              % (args.conns, args.depth, args.sets, args.value, args.rounds, args.seconds))
        print("| server | ops/s | vs memcached |")
        print("|---|---|---|")
        for name, _ in targets:
            m = statistics.median(results[name])
            print("| %s | %.0f | %.2f× |" % (name, m, m / base))
    finally:
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
