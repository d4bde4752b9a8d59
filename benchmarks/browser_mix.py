#!/usr/bin/python3
"""Real browsers in front of a typical production Django site (issue #13), three set-ups side by
side in one run: frontcache (defaults), Django's own per-site cache middleware over memcached, and
Varnish with its default configuration. The same visitors in each.

The site is tests/django_site with GZipMiddleware (Vary: Accept-Encoding) and a session read on
every page (Vary: Cookie), 40 pages /mix/N of 4-10 KB of HTML, under gunicorn (Debian's python3-django).
The visitors (seeded, so every set-up sees the same requests):
  - browsers: Chrome 50 % ("gzip, deflate, br, zstd"), Safari 20 % ("gzip, deflate, br"),
    Firefox 10 % ("gzip, deflate, br, zstd"), Edge 5 % (Chrome's), Googlebot 10 % ("gzip"),
    curl 5 % (no Accept-Encoding);
  - 65 % carry client-side analytics cookies with values of their own (_ga, _gid, _ga_<id>, _fbp);
  - a quarter land from a campaign link (?utm_source=...&utm_medium=...&gclid=...);
  - 5 % are signed in (a sessionid of their own: their pages show their name, must never be
    served to anyone else).
Each visitor views 5 pages (popular pages more often) on one keep-alive connection; --concurrency
visitors at a time. Every answer is checked: 200, a Content-Encoding the client accepts, decoded,
the right page for the right visitor. "Ideal" is one render per page per encoding the app produces
(gzip for clients that accept it, identity for the others) per signed-in visitor: what an ideal
cache would have asked the app for, counted over the requests actually sent.

    python3 benchmarks/browser_mix.py --bin build/release/server/frontcache [--visitors 400]
"""

import argparse
import collections
import gzip
import http.client
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

try:
    import brotli
    import zstandard
except ImportError:
    sys.exit("needs python3-brotli and python3-zstandard: scripts/dev deps")

from benchlib import django_site, free_port, memcached, stop_all, varnish, wait_port

PAGES = 40
BROWSERS = [  # (name, share, Accept-Encoding or None)
    ("chrome", 50, "gzip, deflate, br, zstd"),
    ("safari", 20, "gzip, deflate, br"),
    ("firefox", 10, "gzip, deflate, br, zstd"),
    ("edge", 5, "gzip, deflate, br, zstd"),
    ("googlebot", 10, "gzip"),
    ("curl", 5, None),
]
UA = {"chrome": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0", "safari": "Mozilla/5.0 Safari/605",
      "firefox": "Mozilla/5.0 Firefox/133.0", "edge": "Mozilla/5.0 Chrome/131.0 Edg/131.0",
      "googlebot": "Googlebot/2.1", "curl": "curl/7.88.1"}


def plan(visitors, seed):
    rng = random.Random(seed)
    weights = [1.0 / (i + 1) ** 0.8 for i in range(PAGES)]  # popular pages first
    out = []
    for v in range(visitors):
        roll, acc, browser = rng.uniform(0, 100), 0, None
        for name, share, ae in BROWSERS:
            acc += share
            if roll < acc and browser is None:
                browser = (name, ae)
        browser = browser or BROWSERS[0][::2]
        cookies = []
        if rng.random() < 0.65:
            r = lambda: rng.randrange(10 ** 9, 10 ** 10)  # noqa: E731
            cookies += ["_ga=GA1.1.%d.%d" % (r(), r()), "_gid=GA1.1.%d.%d" % (r(), r()),
                        "_ga_K3Y9Q2=GS1.1.%d.1.1.%d.0.0.0" % (r(), r()), "_fbp=fb.1.%d.%d" % (r(), r())]
        user = "user%d" % v if rng.random() < 0.05 else None
        if user:
            cookies.append("sessionid=" + user)
        rng.shuffle(cookies)
        campaign = rng.random() < 0.25
        pages = rng.choices(range(PAGES), weights, k=5)
        views = []
        for i, n in enumerate(pages):
            target = "/mix/%d" % n
            if i == 0 and campaign:
                target += "?utm_source=newsletter&utm_medium=email&utm_campaign=nov%d&gclid=%d" % (
                    rng.randrange(4), rng.randrange(10 ** 8))
            views.append((n, target))
        out.append({"browser": browser[0], "ae": browser[1], "cookie": "; ".join(cookies),
                    "user": user, "views": views})
    return out


def ideal_renders(visitors):
    need = set()
    for v in visitors:
        for n, _ in v["views"]:
            need.add((n, bool(v["ae"] and "gzip" in v["ae"]), v["user"]))
    return len(need)


def accepts(ae, coding):
    if coding == "identity":
        return True
    return bool(ae) and coding in [t.split(";")[0].strip() for t in ae.split(",")]


def decode(coding, body):
    if coding == "gzip":
        return gzip.decompress(body)
    if coding == "br":
        return brotli.decompress(body)
    if coding == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    return body


def drive(port, visitors, concurrency):
    """Runs every visitor against 127.0.0.1:port. Returns (latencies, wrong, bytes, codings)."""
    lock = threading.Lock()
    lat, wrong, sent = [], [], [0]
    codings = collections.Counter()
    queue = list(reversed(visitors))

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                v = queue.pop()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for n, target in v["views"]:
                headers = {"User-Agent": UA[v["browser"]], "Host": "www.example.test"}
                if v["ae"] is not None:
                    headers["Accept-Encoding"] = v["ae"]
                if v["cookie"]:
                    headers["Cookie"] = v["cookie"]
                t0 = time.perf_counter()
                try:
                    conn.request("GET", target, headers=headers)
                    resp = conn.getresponse()
                    body = resp.read()
                except (OSError, http.client.HTTPException) as e:
                    with lock:
                        wrong.append("%s: %s" % (target, e))
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    continue
                dt = time.perf_counter() - t0
                coding = (resp.getheader("Content-Encoding") or "identity").lower()
                problem = None
                if resp.status != 200:
                    problem = "status %d" % resp.status
                elif not accepts(v["ae"], coding):
                    problem = "coding %s for Accept-Encoding %r" % (coding, v["ae"])
                else:
                    try:
                        text = decode(coding, body).decode()
                    except Exception as e:  # noqa: BLE001 - any decoding failure is a wrong answer
                        text, problem = "", "undecodable %s: %s" % (coding, e)
                    marker = "<!-- page %d visitor %s -->" % (n, v["user"] or "anonymous")
                    if not problem and marker not in text:
                        problem = "wrong page: wanted %r" % marker
                head_bytes = sum(len(k) + len(x) + 4 for k, x in resp.getheaders()) + 17
                with lock:
                    lat.append(dt)
                    sent[0] += len(body) + head_bytes
                    codings[coding] += 1
                    if problem:
                        wrong.append("%s %s: %s" % (v["browser"], target, problem))
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat, wrong, sent[0], codings


def gunicorn(port, env, workers):
    return django_site(port, dict(env, FCSITE_GZIP="1"), workers)


def renders(path):
    return os.path.getsize(path) if os.path.exists(path) else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/release/server/frontcache")
    ap.add_argument("--visitors", type=int, default=400)
    ap.add_argument("--concurrency", type=int, default=40)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--gunicorn-workers", type=int, default=2)
    ap.add_argument("--only", default="", help="comma-separated set-ups (frontcache,django,varnish)")
    args = ap.parse_args()
    for tool in ("memcached", "varnishd"):
        if not shutil.which(tool):
            sys.exit("needs %s: scripts/dev deps" % tool)
    visitors = plan(args.visitors, args.seed)
    ideal = ideal_renders(visitors)
    requests = sum(len(v["views"]) for v in visitors)
    tmp = tempfile.mkdtemp(prefix="fc-mix-")
    procs = []
    try:
        ports = {n: free_port() for n in ("mc", "app_fc", "app_dj", "app_vn", "fc", "vn")}
        logs = {n: os.path.join(tmp, "renders-%s" % n) for n in ("fc", "dj", "vn")}
        procs.append(memcached(ports["mc"]))
        procs.append(gunicorn(ports["app_fc"], {"FCSITE_RENDER_LOG": logs["fc"]},
                              args.gunicorn_workers))
        procs.append(gunicorn(ports["app_dj"], {"FCSITE_RENDER_LOG": logs["dj"],
                                                "FCSITE_DJANGO_CACHE": "1",
                                                "FCSITE_MEMCACHED": "127.0.0.1:%d" % ports["mc"]},
                              args.gunicorn_workers))
        procs.append(gunicorn(ports["app_vn"], {"FCSITE_RENDER_LOG": logs["vn"]},
                              args.gunicorn_workers))
        conf = os.path.join(tmp, "fc.toml")
        with open(conf, "w") as f:
            f.write('[server]\nlisten = "127.0.0.1:%d"\nworkers = 1\n[upstream]\n'
                    'url = "http://127.0.0.1:%d"\n[log]\nlevel = "error"\n'
                    % (ports["fc"], ports["app_fc"]))
        procs.append(subprocess.Popen([args.bin, "-c", conf], stdout=subprocess.DEVNULL))
        # Varnish as installed: the built-in VCL, default TTL (120 s).
        procs.append(varnish(tmp, ports["vn"], ports["app_vn"], ("-s", "malloc,256m")))
        for port in ports.values():
            wait_port(port, 30)
        # Each gunicorn worker's first request loads Django's middleware and URLs (hundreds of
        # ms): done here, on a page that is not counted, so no set-up pays for it in its p99.
        for app in ("app_fc", "app_dj", "app_vn"):
            for _ in range(4 * args.gunicorn_workers):
                c = http.client.HTTPConnection("127.0.0.1", ports[app], timeout=30)
                c.request("GET", "/")
                c.getresponse().read()
                c.close()
        setups = [("frontcache", "fc", ports["fc"]),
                  ("Django cache middleware + memcached", "dj", ports["app_dj"]),
                  ("Varnish, default configuration", "vn", ports["vn"])]
        if args.only:
            keep = args.only.split(",")
            setups = [s for s in setups if s[0].split()[0].lower() in keep]
        print("%d visitors x 5 views = %d requests over %d pages; ideal: %d renders"
              % (len(visitors), requests, PAGES, ideal), flush=True)
        rows = []
        for name, key, port in setups:
            lat, wrong, sent, codings = drive(port, visitors, args.concurrency)
            r = renders(logs[key])
            p99 = sorted(lat)[int(len(lat) * 0.99) - 1] * 1000 if lat else float("nan")
            rows.append((name, r, r / ideal, len(wrong), sent, p99, codings))
            print("%-38s renders %5d (%.2fx ideal)  wrong %d  bytes %d  p99 %.1f ms  %s"
                  % (name, r, r / ideal, len(wrong), sent, p99, dict(codings)), flush=True)
            for w in wrong[:5]:
                print("    wrong: " + w)
        print()
        print("%d visitors x 5 page views (%d requests), %d pages, seed %d, %d at a time; "
              "ideal %d renders" % (len(visitors), requests, PAGES, args.seed, args.concurrency,
                                    ideal))
        print("| set-up | app renders | renders / ideal | wrong answers | bytes to clients | p99 |")
        print("|---|---|---|---|---|---|")
        for name, r, ratio, wrong, sent, p99, _ in rows:
            print("| %s | %d | %.2f | %d | %.2f MB | %.1f ms |"
                  % (name, r, ratio, wrong, sent / 1e6, p99))
        bad = [row for row in rows if row[0] == "frontcache" and (row[3] or row[2] > 1.2)]
        return 1 if bad else 0
    finally:
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
