#!/usr/bin/env python3
"""The long fault soak under ThreadSanitizer: frontcache (2 workers) in front of a test origin
for --seconds, with keep-alive client load (hits, misses, HEADs, ranges, POSTs, chunked uploads),
clients resetting mid-request and mid-response, the origin killed and restarted, SIGHUP reloads
that alternate reloadable settings, admin-port prefix and soft purges, public PURGEs forwarded
to a peer, memcached flush_all and snapshot writes — all at once (tests/integration/soak.py).

Afterwards frontcache must still answer and drain, and its stderr must hold no ThreadSanitizer
report; each report is printed in full. Exits 1 when there is one.

    cmake --preset tsan && cmake --build --preset tsan
    python3 benchmarks/fault_soak.py --build build/tsan [--seconds 300]
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import soak  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build/tsan", help="a build folder of the tsan preset")
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--reload-every", type=float, default=15, help="seconds between SIGHUPs")
    ap.add_argument("--origin-every", type=float, default=10,
                    help="seconds between kills of the origin")
    ap.add_argument("--clients", type=int, default=4, help="steady keep-alive client threads")
    ap.add_argument("--resetters", type=int, default=2, help="threads of resetting clients")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="also write the result to this file")
    args = ap.parse_args()
    binary = os.path.join(args.build, "server", "frontcache")
    result = soak.Soak(binary, seconds=args.seconds, reload_every=args.reload_every,
                       origin_every=args.origin_every, clients=args.clients,
                       resetters=args.resetters, seed=args.seed,
                       log=lambda line: print(line, flush=True)).run()
    print(soak.describe(result))
    print("soak: %.0f requests/s; %s" % (result["requests"] / max(result["seconds"], 1),
                                          "FAILED" if soak.failed(result) else "no races"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 1 if soak.failed(result) else 0


if __name__ == "__main__":
    sys.exit(main())
