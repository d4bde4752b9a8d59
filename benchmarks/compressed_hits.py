#!/usr/bin/env python3
"""Hits of a compressed page against the same page uncompressed (issue #13): a 28 KB HTML page
(a news index: markup repeated per teaser, seeded prose; gzip makes it about a fifth)
stored once by frontcache, then fetched from the store with wrk as identity (no Accept-Encoding),
gzip and br. With --ab OLD_BIN, a build from before compression serves the identity page too, so
the uncompressed hit path can be compared before/after in the same run. Set-ups alternate round
after round; medians of --rounds. frontcache on core 0, wrk on core 1.

    python3 benchmarks/compressed_hits.py --bin build/release/server/frontcache [--ab OLD_BIN]
"""

import argparse
import http.server
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading

from benchlib import interleaved_rounds, pin, proxy_config, start_server, stop_all, wrk


def page(size):
    """`size` bytes of a news index page, seeded: markup repeated per teaser, prose drawn from a
    small vocabulary — it compresses like real HTML (about 5x with gzip)."""
    rng = random.Random(28)
    words = ("the of and to in a is that for it as was with be by on not he this are or his from "
             "at which but have an they you were her she there been one all we their has would "
             "when if so no will can more about said up out what its into them than only some "
             "could time new these two may then do first any my now such like our over man me "
             "even most made after also did many before must through years where much your way "
             "well down should because each just those people how too little state good very").split()
    say = lambda lo, hi: " ".join(rng.choice(words) for _ in range(rng.randrange(lo, hi)))  # noqa
    out = ['<!doctype html><html lang="en"><head><meta charset="utf-8"><title>News</title>'
           '<link rel="stylesheet" href="/static/css/site.css"></head><body>'
           '<header class="site-header"><nav class="main-nav"><ul>']
    for i in range(12):
        out.append('<li class="nav-item"><a class="nav-link" href="/section/%d/">%s</a></li>'
                   % (i, say(1, 3)))
    out.append("</ul></nav></header><main class=\"content\">")
    n = 0
    while sum(map(len, out)) < size:
        n += 1
        slug = say(3, 6).replace(" ", "-")
        out.append('<article class="teaser teaser--%s"><a class="teaser__image" '
                   'href="/news/2026/11/%s/"><img src="/media/thumbs/%d.jpg" alt="%s" '
                   'loading="lazy" width="320" height="180"></a><h2 class="teaser__title">'
                   '<a href="/news/2026/11/%s/">%s</a></h2><p class="teaser__meta">By '
                   '<a href="/authors/%d/">%s</a> &middot; <time datetime="2026-11-%02dT%02d:00">'
                   '%d November 2026</time></p><p class="teaser__text">%s.</p></article>\n'
                   % (("small", "wide", "feature")[n % 3], slug, rng.randrange(10 ** 5), say(2, 5),
                      slug, say(4, 9), rng.randrange(40), say(2, 3), 1 + n % 28, n % 24,
                      1 + n % 28, say(15, 35)))
    return "".join(out).encode()[:size]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/release/server/frontcache")
    ap.add_argument("--ab", metavar="OLD_BIN", help="a build from before compression")
    ap.add_argument("--size", type=int, default=28000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=100)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("needs wrk: scripts/dev deps")
    body = page(args.size)

    class Origin(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    tmp = tempfile.mkdtemp(prefix="fc-zhits-")
    procs = []
    try:
        builds = [("new", args.bin)] + ([("old", args.ab)] if args.ab else [])
        port = {}
        for name, binary in builds:
            conf = proxy_config(os.path.join(tmp, name + ".toml"), origin.server_port,
                                '[cache]\nmemory = "256MiB"')
            p, port[name] = start_server(pin(0) + [binary, "-c", conf],
                                         r"listening on \S+:(\d+)")
            procs.append(p)
        ae = {"identity": (), "gzip": ("Accept-Encoding: gzip",),
              "br": ("Accept-Encoding: gzip, deflate, br",)}
        setups = [("identity", ("new", "identity")), ("gzip", ("new", "gzip")),
                  ("br", ("new", "br"))]
        if args.ab:
            setups.append(("identity, before compression", ("old", "identity")))
        for _, (build, coding) in setups:  # fill, and check the coding is the one asked for
            wrk("http://127.0.0.1:%d/page" % port[build], 1, 1, ae[coding])

        def one(name, s):
            build, coding = s
            return wrk("http://127.0.0.1:%d/page" % port[build], args.connections, args.seconds,
                       ae[coding])

        res = interleaved_rounds(
            setups, args.rounds, one,
            lambda r, n, x: "round %d %-30s %8.0f req/s p99 %7.0f us" % (r, n, x["rps"], x["p99"]))
        med = {n: statistics.median(x["rps"] for x in xs) for n, xs in res.items()}
        print("%d-byte HTML page, hits only, wrk -t1 -c%d -d%ds, medians of %d alternating rounds"
              % (args.size, args.connections, args.seconds, args.rounds))
        print("| served as | req/s | vs identity |")
        print("|---|---|---|")
        for n, _ in setups:
            print("| %s | %.0f | %.2fx |" % (n, med[n], med[n] / med["identity"]))
        return 0
    finally:
        stop_all(procs)
        origin.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
