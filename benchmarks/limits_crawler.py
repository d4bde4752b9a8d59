#!/usr/bin/env python3
"""A crawler next to visitors, with and without [limits] (issue #23).

The app is the test Django site under gunicorn (4 workers; /slow sleeps 20 ms, a stand-in for a
database query). A crawler walks distinct URLs no cache can hold (/slow?page=N: a query string,
bypassed as Django's cache does) at a fixed rate, open loop, from one client address over 20 connections; 50
visitors, each from its own address, browse cached pages with a think time and now and then a
page of their own that misses. Both come through a trusted proxy in front (X-Forwarded-For), so
frontcache budgets the real clients. The same load runs twice against the same app: limits off,
then [limits] with a crawler class by User-Agent.

What it reports: how many of the crawler's requests reached the app (gunicorn's access log),
the crawler's answers, the visitors' 429s and their latency (median, p99).

    python3 benchmarks/limits_crawler.py --bin build/release/server/frontcache [--seconds 20]
"""

import argparse
import http.client
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SITE = os.path.join(HERE, "..", "tests", "django_site")

LIMITS = """
[limits]
rate = 20
burst = 50
[[limits.classes]]
name = "crawlers"
user_agent = ["*bot*", "*crawl*", "*spider*"]
rate = 5
burst = 10
"""


def start_gunicorn(log):
    proc = subprocess.Popen(
        ["/usr/bin/python3", "-m", "gunicorn", "--chdir", SITE, "-b", "127.0.0.1:0", "-w", "4",
         "--preload",  # Django imported before the workers fork: no second-long first request
         "--access-logfile", log, "fcsite.wsgi"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    for line in proc.stderr:
        m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
        if m:
            return proc, int(m.group(1))
    raise RuntimeError("gunicorn did not start")


def start_frontcache(binary, tmp, app_port, limits):
    path = os.path.join(tmp, "fc.toml")
    with open(path, "w") as f:
        f.write('[server]\nlisten = "127.0.0.1:0"\nworkers = 2\ntrusted_proxies = ["127.0.0.1"]\n'
                '[upstream]\nurl = "http://127.0.0.1:%d"\n[log]\nlevel = "warn"\n%s'
                % (app_port, LIMITS if limits else ""))
    proc = subprocess.Popen([binary, "-c", path], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    m = re.match(r"frontcache listening on \S+:(\d+)", proc.stdout.readline())
    if not m:
        raise RuntimeError("frontcache did not start")
    return proc, int(m.group(1))


def fetch(conn, path, client, ua):
    conn.request("GET", path, headers={"Host": "site.test", "X-Forwarded-For": client,
                                       "User-Agent": ua})
    r = conn.getresponse()
    r.read()
    return r.status


def crawler(port, rate, stop, out, k, lanes):
    # One of `lanes` connections, each sending its share of the rate on its own schedule (open
    # loop: a slow answer delays only its lane).
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    n, start = 0, time.monotonic() + k / rate
    while not stop.is_set():
        due = start + n * lanes / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            out.append(fetch(conn, "/slow?page=%d-%d" % (k, n), "203.0.113.77",
                             "Mozilla/5.0 (compatible; ExampleBot/2.1)"))
        except (OSError, http.client.HTTPException):
            out.append(0)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        n += 1


def visitor(port, k, stop, out):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    rnd = random.Random(k)
    client = "198.51.100.%d" % (k + 1)
    while not stop.is_set():
        path = rnd.choice(["/", "/max30", "/lang", "/mix/%d" % rnd.randrange(20)])
        if rnd.random() < 0.05:
            path = "/slow?visitor=%d&n=%d" % (k, rnd.randrange(10**9))  # a page of their own
        t0 = time.monotonic()
        try:
            status = fetch(conn, path, client, "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0")
        except (OSError, http.client.HTTPException):
            status = 0
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        out.append((status, time.monotonic() - t0))
        time.sleep(rnd.uniform(0.1, 0.3))


def run(binary, seconds, rate, limits):
    tmp = tempfile.mkdtemp(prefix="fc-limits-")
    log = os.path.join(tmp, "app.log")
    app, app_port = start_gunicorn(log)
    fc, port = start_frontcache(binary, tmp, app_port, limits)
    try:
        # Warm: every worker has served, the visitors' pages are stored (from an allowed client).
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for path in ["/", "/max30", "/lang"] + ["/mix/%d" % i for i in range(20)] + ["/slow"] * 8:
            fetch(warm, path, "192.0.2.1", "warm-up")
        warm.close()
        stop = threading.Event()
        started = time.monotonic()
        crawled, visits = [], []
        lanes = 20
        threads = [threading.Thread(target=crawler, args=(port, rate, stop, crawled, k, lanes))
                   for k in range(lanes)]
        threads += [threading.Thread(target=visitor, args=(port, k, stop, visits))
                    for k in range(50)]
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        time.sleep(0.5)
        with open(log) as f:
            reached = sum(1 for line in f if "ExampleBot" in line)
        lat = sorted(d for s, d in visits if s == 200)
        return {
            "seconds": elapsed,
            "crawler_budget": int(10 + 5 * elapsed) if limits else None,
            "crawler_sent": len(crawled),
            "crawler_reached_app": reached,
            "crawler_429": crawled.count(429),
            "visitor_requests": len(visits),
            "visitor_429": sum(1 for s, _ in visits if s == 429),
            "visitor_errors": sum(1 for s, _ in visits if s not in (200, 429)),
            "visitor_p50_ms": 1000 * statistics.median(lat),
            "visitor_p90_ms": 1000 * lat[int(len(lat) * 0.90) - 1],
            "visitor_p99_ms": 1000 * lat[int(len(lat) * 0.99) - 1],
        }
    finally:
        fc.send_signal(signal.SIGTERM)
        fc.wait(15)
        app.send_signal(signal.SIGTERM)
        app.wait(15)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/release/server/frontcache")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rate", type=float, default=200, help="crawler requests per second")
    args = ap.parse_args()
    if not os.path.exists(args.bin):
        sys.exit("no frontcache binary at %s" % args.bin)
    rows = [("limits off", run(args.bin, args.seconds, args.rate, False)),
            ("[limits] crawlers 5/s", run(args.bin, args.seconds, args.rate, True))]
    print("crawler %.0f req/s for %.0f s over 20 connections, 50 visitors; the crawler class "
          "allows 10 at once, then 5 a second" % (args.rate, args.seconds))
    keys = list(rows[0][1])
    print("| | " + " | ".join(name for name, _ in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for k in keys:
        print("| %s | %s |" % (k, " | ".join(
            ("%.1f" % r[k]) if isinstance(r[k], float) else "-" if r[k] is None else str(r[k])
            for _, r in rows)))


if __name__ == "__main__":
    main()
