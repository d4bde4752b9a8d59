#!/usr/bin/env python3
"""Pass-through overhead: wrk against a fast origin directly, through frontcache, and through
nginx's proxy_pass (a peer doing the same job), side by side.

The origin is nginx (Debian's nginx-light) serving a small static page with one worker. The
servers (origin and the proxy under test) are pinned to core 0 and wrk to core 1 (when the
machine has 2+ cores), so a proxy shares its core with the origin. Rounds alternate the targets;
the table shows medians of the rounds. Throughput is measured with --connections (default 50);
the added latency of the extra hop with one connection (c=1), where nothing queues.

    python3 benchmarks/passthrough.py --bin build/release/server/frontcache [--rounds 3]

A/B of two builds: `--ab OLD_BIN` adds "through frontcache (--ab)", a second frontcache started
from OLD_BIN with the same config, to the rounds.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from benchlib import free_port, pin, stop_all, wait_port, wrk

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/release/server/frontcache")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--ab", metavar="OLD_BIN", help="a second frontcache build to compare")
    args = ap.parse_args()
    if not shutil.which("nginx") or not shutil.which("wrk"):
        sys.exit("needs nginx (nginx-light) and wrk: scripts/dev deps")

    tmp = tempfile.mkdtemp(prefix="fc-passthrough-")
    procs = []
    try:
        origin_port, fc_port, nginx_port, ab_port = free_port(), free_port(), free_port(), free_port()
        with open(os.path.join(tmp, "index.html"), "w") as f:
            f.write("<html><body>" + "x" * 180 + "</body></html>\n")
        nginx_conf = os.path.join(tmp, "nginx.conf")
        with open(nginx_conf, "w") as f:
            f.write("""daemon off; worker_processes 1; pid %(tmp)s/nginx.pid;
error_log %(tmp)s/error.log; events { worker_connections 4096; }
http { access_log off; client_body_temp_path %(tmp)s; proxy_temp_path %(tmp)s;
  fastcgi_temp_path %(tmp)s; uwsgi_temp_path %(tmp)s; scgi_temp_path %(tmp)s;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:%(port)d; root %(tmp)s; location / { } } }
""" % {"tmp": tmp, "port": origin_port})
        nginx_proxy_conf = os.path.join(tmp, "nginx-proxy.conf")
        with open(nginx_proxy_conf, "w") as f:
            f.write("""daemon off; worker_processes 1; pid %(tmp)s/nginx-proxy.pid;
error_log %(tmp)s/error-proxy.log; events { worker_connections 4096; }
http { access_log off; client_body_temp_path %(tmp)s; proxy_temp_path %(tmp)s;
  fastcgi_temp_path %(tmp)s; uwsgi_temp_path %(tmp)s; scgi_temp_path %(tmp)s;
  keepalive_requests 1000000;
  upstream origin { server 127.0.0.1:%(origin)d; keepalive 16; }
  server { listen 127.0.0.1:%(port)d; location / { proxy_pass http://origin;
    proxy_http_version 1.1; proxy_set_header Connection ""; } } }
""" % {"tmp": tmp, "port": nginx_port, "origin": origin_port})
        procs.append(subprocess.Popen(pin(0) + ["nginx", "-c", nginx_proxy_conf, "-p", tmp],
                                      stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen(pin(0) + ["nginx", "-c", nginx_conf, "-p", tmp],
                                      stderr=subprocess.DEVNULL))
        for binary, port in ((args.bin, fc_port), (args.ab, ab_port)):
            if not binary:
                continue
            fc_conf = os.path.join(tmp, "frontcache-%d.toml" % port)
            with open(fc_conf, "w") as f:
                # Every path bypassed: this measures forwarding, not the cache.
                f.write('[server]\nlisten = "127.0.0.1:%d"\nworkers = 1\n'
                        '[upstream]\nurl = "http://127.0.0.1:%d"\n[cache]\nbypass_paths = ["/"]\n'
                        '[log]\nlevel = "error"\n' % (port, origin_port))
            procs.append(subprocess.Popen(pin(0) + [binary, "-c", fc_conf],
                                          stdout=subprocess.DEVNULL))
        targets = [("origin directly", origin_port), ("through frontcache", fc_port)]
        if args.ab:
            targets.append(("through frontcache (--ab)", ab_port))
        targets.append(("through nginx proxy_pass", nginx_port))
        for _, port in targets:
            wait_port(port)
        runs = {name: {"load": [], "c1": []} for name, _ in targets}
        for name, port in targets:  # warm-up: fill the keep-alive pools
            wrk("http://127.0.0.1:%d/index.html" % port, args.connections, 1)
        for r in range(args.rounds):
            for name, port in targets:
                url = "http://127.0.0.1:%d/index.html" % port
                load = wrk(url, args.connections, args.seconds)
                c1 = wrk(url, 1, max(2, args.seconds // 2))
                runs[name]["load"].append(load)
                runs[name]["c1"].append(c1)
                print("round %d %-26s c=%d: %7.0f req/s p50 %6.0f us p99 %6.0f us | c=1: p50 %5.0f us"
                      " p99 %5.0f us | non-2xx %d %s"
                      % (r + 1, name, args.connections, load["rps"], load["p50"], load["p99"],
                         c1["p50"], c1["p99"], load["errors"] + c1["errors"], load["sock"]),
                      flush=True)

        def med(name, kind, key):
            return statistics.median(x[key] for x in runs[name][kind])

        base = targets[0][0]
        print()
        print("pass-through, wrk -t1, %d rounds x %d s, medians; origin: nginx static page (200 B);"
              " servers on core 0, wrk on core 1" % (args.rounds, args.seconds))
        print("| target | req/s (c=%d) | vs direct | p50 / p99 (c=%d) | p50 (c=1) | added p50 (c=1) |"
              % (args.connections, args.connections))
        print("|---|---|---|---|---|---|")
        for name, _ in targets:
            print("| %s | %.0f | %.2f× | %.0f / %.0f µs | %.0f µs | %s |" % (
                name, med(name, "load", "rps"), med(name, "load", "rps") / med(base, "load", "rps"),
                med(name, "load", "p50"), med(name, "load", "p99"), med(name, "c1", "p50"),
                "—" if name == base else "+%.0f µs" % (med(name, "c1", "p50") - med(base, "c1", "p50"))))
    finally:
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
