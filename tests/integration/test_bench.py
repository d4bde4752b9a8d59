"""frontcache-bench and frontcache-origin, as real processes: a short run against the origin
with a known service time gives that mean; every error kind is classified; the results folder
has the documented shape; the HTML report renders (headless Chromium when installed) with data
in its charts."""

import csv
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
from html.parser import HTMLParser

from harness import Frontcache, Origin, free_port_closed

BIN_DIR = os.path.dirname(os.environ.get("FRONTCACHE_BIN", ""))
BUILD = os.path.dirname(BIN_DIR)
BENCH = os.path.join(BUILD, "benchmarks", "frontcache-bench")
ORIGIN = os.path.join(BUILD, "benchmarks", "frontcache-origin")


class OriginProc:
    def __init__(self, *args):
        self.proc = subprocess.Popen([ORIGIN, "--listen", "127.0.0.1:0", *args],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        self.port = int(re.search(r":(\d+)$", line.strip()).group(1))
        self.url = "http://127.0.0.1:%d/" % self.port

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


def bench(out, *args):
    p = subprocess.run([BENCH, *args, "--out", out], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("frontcache-bench failed: %s %s" % (p.stdout, p.stderr))
    with open(os.path.join(out, "summary.json")) as f:
        return json.load(f), p.stdout


class Bench(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fc-bench-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_mean_matches_a_known_service_time(self):
        origin = OriginProc("--workers", "4", "--service-ms", "20")
        try:
            summary, table = bench(os.path.join(self.tmp, "r"), origin.url, "-u", "2", "-d", "2s",
                                   "--interval", "500ms")
        finally:
            origin.stop()
        s = summary["series"][0]
        self.assertGreater(s["transactions"], 50)
        self.assertEqual(s["errors"], 0)
        self.assertGreater(s["mean_ms"], 19.5)
        self.assertLess(s["mean_ms"], 30)  # 20 ms of service + loopback + timer granularity
        self.assertIn("transactions", table)
        with open(os.path.join(self.tmp, "r", "intervals.csv")) as f:
            rows = list(csv.DictReader(f))
        self.assertGreaterEqual(len(rows), 4)  # 2 s in 500 ms intervals
        self.assertEqual(sum(int(r["requests"]) for r in rows), s["transactions"])
        self.assertIn("http_504", rows[0])
        for name in ("summary.txt", "report.html"):
            self.assertTrue(os.path.getsize(os.path.join(self.tmp, "r", name)) > 0)

    def test_errors_are_classified(self):
        # 504: one worker, 200 ms per request, a 100 ms gateway timeout, ten users.
        origin = OriginProc("--workers", "1", "--service-ms", "200", "--gateway-timeout-ms", "100")
        try:
            s = bench(os.path.join(self.tmp, "a"), origin.url, "-u", "10", "-d", "2s")[0]["series"][0]
            self.assertGreater(s["errors_by_kind"]["http_504"], 0)
            self.assertEqual(s["errors_by_kind"]["http_5xx"], 0)
            # timeout: the answer takes longer than --timeout.
            s = bench(os.path.join(self.tmp, "b"), origin.url, "-u", "1", "-d", "1s",
                      "--timeout", "50ms")[0]["series"][0]
            self.assertGreater(s["errors_by_kind"]["timeout"], 0)
        finally:
            origin.stop()
        # connect: nothing listens.
        s = bench(os.path.join(self.tmp, "c"), "http://127.0.0.1:%d/" % free_port_closed(),
                  "-u", "2", "-d", "1s")[0]["series"][0]
        self.assertGreater(s["errors_by_kind"]["connect"], 0)
        # reset, 5xx and 4xx, from the scriptable test origin.
        o = Origin()
        try:
            s = bench(os.path.join(self.tmp, "d"), o.url + "/reset-mid-body", "-u", "2",
                      "-d", "1s")[0]["series"][0]
            self.assertGreater(s["errors_by_kind"]["reset"], 0)
            s = bench(os.path.join(self.tmp, "e"), o.url + "/r/x;status=503", "-u", "2",
                      "-d", "1s")[0]["series"][0]
            self.assertGreater(s["errors_by_kind"]["http_5xx"], 0)
            s = bench(os.path.join(self.tmp, "f"), o.url + "/nope", "-u", "2", "-d", "1s")[0]["series"][0]
            self.assertGreater(s["errors_by_kind"]["http_4xx"], 0)
        finally:
            o.close()

    def test_compare_and_report(self):
        origin = OriginProc("--workers", "2", "--service-ms", "20")
        fc = Frontcache(origin.url.rstrip("/"))
        out = os.path.join(self.tmp, "cmp")
        try:
            summary, table = bench(out, "--compare", origin.url, "http://127.0.0.1:%d/" % fc.port,
                                   "--names", "direct,frontcache", "-u", "20", "-d", "2s",
                                   "--interval", "1s")
        finally:
            self.assertEqual(fc.stop(), 0)
            origin.stop()
        names = [s["name"] for s in summary["series"]]
        self.assertEqual(names, ["direct", "frontcache"])
        direct, cached = summary["series"]
        self.assertGreater(cached["throughput_rps"], 10 * direct["throughput_rps"])
        self.assertIn("ratio", table)
        # The report: three SVG charts whose lines and dots carry data, both series named.
        path = os.path.join(out, "report.html")

        class Svg(HTMLParser):
            def __init__(self):
                super().__init__()
                self.svgs, self.points, self.circles = 0, 0, 0

            def handle_starttag(self, tag, attrs):
                a = dict(attrs)
                self.svgs += tag == "svg"
                if tag == "polyline" and len(a.get("points", "").split()) >= 2:
                    self.points += 1
                self.circles += tag == "circle"

        with open(path) as f:
            html = f.read()
        p = Svg()
        p.feed(html)
        self.assertEqual(p.svgs, 3)
        self.assertGreaterEqual(p.points, 6)  # mean + p90 + throughput + distribution, x2
        self.assertGreater(p.circles, 100)
        self.assertIn("frontcache", html)
        self.assertNotIn("<script", html)  # self-contained, nothing to fetch or run
        chromium = shutil.which("chromium")
        if chromium:
            r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                "--enable-logging=stderr", "--v=0", "--dump-dom",
                                "file://" + path], capture_output=True, text=True, timeout=120)
            self.assertIn("<svg", r.stdout)
            self.assertNotIn("CONSOLE", r.stderr.upper().replace("CONSOLE_", ""))


if __name__ == "__main__":
    unittest.main()
