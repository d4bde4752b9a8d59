#!/usr/bin/env python3
"""Pass-through overhead: wrk against a fast origin directly and through frontcache, side by side.

The origin is nginx (Debian's nginx-light) serving a small static page with one worker. The
server under test is pinned to core 0 and wrk to core 1 (when the machine has 2+ cores). Rounds
alternate direct / through frontcache; the table shows medians of the rounds and the ratios.

    python3 benchmarks/passthrough.py --bin build/release/proxy/frontcache [--rounds 3]
"""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listening on %d" % port)


def pin(core):
    if shutil.which("taskset") and os.cpu_count() and os.cpu_count() >= 2:
        return ["taskset", "-c", str(core)]
    return []


def to_us(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    v = float(m.group(1))
    return v * {"us": 1, "ms": 1000, "s": 1e6}[m.group(2)]


def wrk(url, conns, seconds):
    out = subprocess.run(pin(1) + ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency",
                                   url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_us(re.search(r"50%\s+(\S+)", out).group(1))
    p99 = to_us(re.search(r"99%\s+(\S+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock_err = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": p50, "p99": p99,
            "errors": (int(errors.group(1)) if errors else 0), "sock": sock_err.group(1) if sock_err else ""}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/release/proxy/frontcache")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=50)
    args = ap.parse_args()
    if not shutil.which("nginx") or not shutil.which("wrk"):
        sys.exit("needs nginx (nginx-light) and wrk: scripts/dev deps")

    tmp = tempfile.mkdtemp(prefix="fc-passthrough-")
    procs = []
    try:
        origin_port, fc_port = free_port(), free_port()
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
        procs.append(subprocess.Popen(pin(0) + ["nginx", "-c", nginx_conf, "-p", tmp],
                                      stderr=subprocess.DEVNULL))
        fc_conf = os.path.join(tmp, "frontcache.toml")
        with open(fc_conf, "w") as f:
            f.write('[server]\nlisten = "127.0.0.1:%d"\nworkers = 1\n'
                    '[upstream]\nurl = "http://127.0.0.1:%d"\n[log]\nlevel = "error"\n'
                    % (fc_port, origin_port))
        procs.append(subprocess.Popen(pin(0) + [args.bin, "-c", fc_conf],
                                      stdout=subprocess.DEVNULL))
        wait_port(origin_port)
        wait_port(fc_port)
        direct_url = "http://127.0.0.1:%d/index.html" % origin_port
        proxy_url = "http://127.0.0.1:%d/index.html" % fc_port
        wrk(direct_url, args.connections, 1)  # warm-up
        wrk(proxy_url, args.connections, 1)
        runs = {"direct": [], "frontcache": []}
        for r in range(args.rounds):
            for name, url in (("direct", direct_url), ("frontcache", proxy_url)):
                res = wrk(url, args.connections, args.seconds)
                runs[name].append(res)
                print("round %d %-10s %9.0f req/s  p50 %7.0f us  p99 %7.0f us  non-2xx %d %s"
                      % (r + 1, name, res["rps"], res["p50"], res["p99"], res["errors"], res["sock"]),
                      flush=True)
        med = {n: {k: statistics.median(x[k] for x in v) for k in ("rps", "p50", "p99")}
               for n, v in runs.items()}
        d, p = med["direct"], med["frontcache"]
        print()
        print("pass-through, wrk -t1 -c%d -d%ds, %d rounds, medians (origin: nginx static 200 B)"
              % (args.connections, args.seconds, args.rounds))
        print("| target | req/s | p50 | p99 |")
        print("|---|---|---|---|")
        print("| origin directly | %.0f | %.0f µs | %.0f µs |" % (d["rps"], d["p50"], d["p99"]))
        print("| through frontcache | %.0f | %.0f µs | %.0f µs |" % (p["rps"], p["p50"], p["p99"]))
        print("| ratio / added | %.2f× | +%.0f µs | +%.0f µs |"
              % (p["rps"] / d["rps"], p["p50"] - d["p50"], p["p99"] - d["p99"]))
    finally:
        for pr in procs:
            pr.send_signal(signal.SIGTERM)
        for pr in procs:
            try:
                pr.wait(10)
            except subprocess.TimeoutExpired:
                pr.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
