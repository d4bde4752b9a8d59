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
            # The report charts errors per interval by kind: a line, and the kind in its legend.
            with open(os.path.join(self.tmp, "f", "report.html")) as f:
                html = f.read()
            chart = html[html.index('aria-label="Errors per second by kind'):]
            chart = chart[:chart.index("</svg>")]
            self.assertIn("<polyline", chart)
            self.assertIn(": http_4xx</text>", chart)
        finally:
            o.close()

    def test_compare_and_report(self):
        origin = OriginProc("--workers", "2", "--service-ms", "20")
        fc = Frontcache(origin.url.rstrip("/"))
        out = os.path.join(self.tmp, "cmp")
        note = os.path.join(self.tmp, "setup-notes.txt")
        with open(note, "w") as f:
            f.write("origin: --workers 2 --service-ms 20 <as written>\n")
        try:
            summary, table = bench(out, "--compare", origin.url, "http://127.0.0.1:%d/" % fc.port,
                                   "--names", "direct,frontcache", "-u", "20", "-d", "2s",
                                   "--interval", "1s", "--attach", note)
        finally:
            self.assertEqual(fc.stop(), 0)
            origin.stop()
        names = [s["name"] for s in summary["series"]]
        self.assertEqual(names, ["direct", "frontcache"])
        direct, cached = summary["series"]
        self.assertGreater(cached["throughput_rps"], 10 * direct["throughput_rps"])
        self.assertIn("ratio", table)
        # The report: four SVG charts whose lines and dots carry data, both series named.
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
        self.assertEqual(p.svgs, 4)  # response time, throughput, distribution, errors
        self.assertGreaterEqual(p.points, 6)  # mean + p90 + throughput + distribution, x2
        # Log axes carry round decade labels, and throughput is on one too, so the slow direct
        # run (tens of req/s) and the cached one (thousands) are both readable.
        thr = html[html.index('aria-label="Throughput over time"'):]
        thr = thr[:thr.index("</svg>")]
        labels = re.findall(r'text-anchor="end">([^<]+)</text>', thr)
        self.assertTrue(set(labels) & {"10", "100"} and set(labels) & {"1k", "10k"}, labels)
        self.assertIn("log scale", thr)
        lat = html[html.index('aria-label="Response time over time'):]
        lat = lat[:lat.index("</svg>")]
        for v in re.findall(r'text-anchor="end">([^<]+)</text>', lat):
            self.assertRegex(v, r"^(0\.0*1|1|10+|1k|10k|100k)$")
        # How the runs were made: options, generator version, the attached notes (escaped).
        self.assertIn('id="runs"', html)
        self.assertRegex(html, r"load: closed loop, 20 users, 2 s")
        self.assertRegex(html, r"generator: frontcache-bench \d+\.\d+\.\d+")
        self.assertIn("<h3>setup-notes.txt</h3>", html)
        self.assertIn("&lt;as written&gt;", html)
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


class RunFileGroups(unittest.TestCase):
    def test_user_groups_weights_and_per_group_intervals(self):
        o = Origin()
        tmp = tempfile.mkdtemp(prefix="fc-bench-")
        try:
            run = os.path.join(tmp, "run.toml")
            with open(run, "w") as f:
                f.write('run_time = "2s"\nresults_ts_interval = "1s"\ntarget = "%s"\n'
                        '[[user_group]]\nname = "readers"\nusers = 2\n'
                        'urls = [{url = "/r/a", weight = 3}, {url = "/r/b", weight = 1}]\n'
                        'headers = ["X-Group: readers"]\n'
                        '[[user_group]]\nname = "searchers"\nusers = 1\nurl = "/r/s"\n'
                        'think_time = "100ms"\n' % o.url)
            summary, _ = bench(os.path.join(tmp, "out"), "--config", run)
            self.assertEqual(summary["series"][0]["errors"], 0)
            with open(os.path.join(tmp, "out", "intervals.csv")) as f:
                rows = list(csv.DictReader(f))
            self.assertEqual({r["group"] for r in rows}, {"readers", "searchers"})
            a = sum(1 for m, t, h, b in o.requests if t == "/r/a")
            b = sum(1 for m, t, h, b in o.requests if t == "/r/b")
            s = sum(1 for m, t, h, b in o.requests if t == "/r/s")
            self.assertGreater(a, 2 * b)  # weights 3:1
            self.assertGreater(b, 0)
            self.assertLessEqual(s, 25)   # one user thinking 100 ms per request for 2 s
            self.assertTrue(all(("X-Group", "readers") in h for m, t, h, _ in o.requests
                                if t in ("/r/a", "/r/b")))
            bad = os.path.join(tmp, "bad.toml")
            with open(bad, "w") as f:
                f.write("[[user_group]]\nusers = 0\nurl = \"/\"\n")
            p = subprocess.run([BENCH, "--config", bad], capture_output=True, text=True)
            self.assertEqual(p.returncode, 2)
            self.assertIn("bad.toml:2:9: user_group[0].users: must be at least 1", p.stderr)
        finally:
            o.close()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
