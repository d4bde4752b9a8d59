#!/usr/bin/env python3
"""RFC 9111 conformance side by side (issue #14): the case table of
tests/integration/rfc9111_cases.py run against frontcache (cache.mode = "http"), nginx
proxy_cache and Varnish (built-in VCL, -t 0), each in front of its own scripted origin. Prints
pass counts per RFC section for all three, and with --list the cases each one fails.

nginx and Varnish have no clock to move: their cases sleep for real. Cases needing more than
--max-wait seconds of waiting (heuristic lifetimes of hours) are left out for all three, and
cases that check frontcache's own fields (X-Cache, its Cache-Status parameters, its compression)
are run against frontcache only. The peers' cases run concurrently (each on its own path), so
the run takes about --max-wait seconds more than the longest case.

nginx is configured as its documentation suggests for a shared cache in front of an app:
proxy_cache with the default key ($scheme$proxy_host$request_uri), proxy_cache_revalidate on,
and Host passed on.

    python3 benchmarks/conformance_compare.py --bin build/release/server/frontcache [--list]
"""

import argparse
import collections
import os
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from benchlib import free_port, nginx, stop_all, varnish, wait_port  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/release/server/frontcache")
    ap.add_argument("--max-wait", type=int, default=35,
                    help="leave out cases that need more seconds of waiting than this")
    ap.add_argument("--list", action="store_true", help="print each failed case")
    args = ap.parse_args()
    for tool in ("nginx", "varnishd"):
        if not shutil.which(tool):
            sys.exit("needs %s: scripts/dev deps" % tool)
    os.environ["FRONTCACHE_BIN"] = os.path.abspath(args.bin)
    from harness import Frontcache, Origin  # noqa: E402 (reads FRONTCACHE_BIN)
    from rfc9111_cases import CASES, CaseRunner, advance_total  # noqa: E402

    cases = [(i, c) for i, c in enumerate(CASES) if advance_total(c) <= args.max_wait]
    tmp = tempfile.mkdtemp(prefix="fc-rfc9111-")
    procs, origins, fc = [], {}, None
    try:
        for name in ("frontcache", "nginx", "varnish"):
            origins[name] = Origin()
        fc = Frontcache(origins["frontcache"].url, {"cache": {"mode": "http"}})
        ports = {"nginx": free_port(), "varnish": free_port()}
        procs.append(nginx(tmp, "proxycache", """
  proxy_cache_path %s/nginx-cache keys_zone=c:10m;
  server { listen 127.0.0.1:%d; location / { proxy_pass http://127.0.0.1:%d; proxy_cache c;
    proxy_cache_revalidate on; proxy_set_header Host $host; proxy_http_version 1.1;
    proxy_set_header Connection ""; } }
""" % (tmp, ports["nginx"], origins["nginx"].port), 0))
        procs.append(varnish(tmp, ports["varnish"], origins["varnish"].port,
                             ("-s", "malloc,64m", "-t", "0")))
        for port in ports.values():
            wait_port(port, 30)
        results = {}  # name -> {case index: failure or None}
        # frontcache: its clock is moved, cases one after the other.
        runner = CaseRunner(fc.host, fc.port, origins["frontcache"], fc.advance,
                            lambda: time.time() + fc.clock_offset)
        results["frontcache"] = {}
        for i, c in cases:
            try:
                runner.run(i, c)
                results["frontcache"][i] = None
            except (AssertionError, OSError) as e:
                results["frontcache"][i] = str(e)
        # The peers: real time, every case in its own thread.
        for name in ("nginx", "varnish"):
            runner = CaseRunner("127.0.0.1", ports[name], origins[name], time.sleep, time.time)
            out = results[name] = {}

            def one(i, c, runner=runner, out=out):
                try:
                    runner.run(i, c)
                    out[i] = None
                except (AssertionError, OSError) as e:
                    out[i] = str(e)

            threads = [threading.Thread(target=one, args=(i, c)) for i, c in cases
                       if not c.get("fc_only")]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        # Per section: passed / run, for each.
        sections = collections.OrderedDict()
        for i, c in cases:
            sections.setdefault(c["sec"], []).append((i, c))
        names = [("frontcache", "frontcache"), ("nginx", "nginx proxy_cache"),
                 ("varnish", "Varnish (-t 0)")]
        print("%d of %d cases (those needing at most %d s of waiting); frontcache-only cases "
              "are not run against the others" % (len(cases), len(CASES), args.max_wait))
        print("| section | cases | " + " | ".join(label for _, label in names) + " |")
        print("|---|---|" + "---|" * len(names))
        totals = collections.Counter()
        for sec, items in sorted(sections.items(), key=lambda kv: section_order(kv[0])):
            cells = []
            for key, _ in names:
                run = [i for i, c in items if i in results[key]]
                ok = sum(1 for i in run if results[key][i] is None)
                totals[key, "ok"] += ok
                totals[key, "run"] += len(run)
                cells.append("%d/%d" % (ok, len(run)) if run else "—")
            print("| %s | %d | %s |" % (sec if sec.startswith("RFC") else "RFC 9111 §" + sec,
                                        len(items), " | ".join(cells)))
        print("| **all** | %d | %s |" % (len(cases), " | ".join(
            "**%d/%d**" % (totals[k, "ok"], totals[k, "run"]) for k, _ in names)))
        if args.list:
            for key, label in names:
                fails = [(i, f) for i, f in sorted(results[key].items()) if f]
                print("\n%s fails %d:" % (label, len(fails)))
                for _, f in fails:
                    print("  " + f)
        return 0 if all(f is None for f in results["frontcache"].values()) else 1
    finally:
        if fc:
            fc.stop()
        stop_all(procs)
        for o in origins.values():
            o.close()
        shutil.rmtree(tmp, ignore_errors=True)


def section_order(sec):
    if sec.startswith("RFC"):
        return (1, sec)
    return (0, [int(x) for x in sec.split(".")])


if __name__ == "__main__":
    sys.exit(main())
