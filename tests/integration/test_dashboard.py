"""The Grafana dashboard (packaging/grafana/frontcache-dashboard.json): valid JSON, a Prometheus
query on every panel, and every frontcache metric it queries exists in a live instance's
/metrics — so a renamed metric breaks this test, not the operator's dashboard."""

import json
import os
import re
import unittest

from harness import Frontcache, Origin, admin_request, get_once

DASHBOARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "packaging",
                         "grafana", "frontcache-dashboard.json")


class Dashboard(unittest.TestCase):
    def test_every_queried_metric_exists(self):
        with open(DASHBOARD) as f:
            dash = json.load(f)
        self.assertEqual(dash["uid"], "frontcache")
        exprs = []
        for p in dash["panels"]:
            self.assertTrue(p["title"])
            self.assertTrue(p["targets"], p["title"])
            exprs += [t["expr"] for t in p["targets"]]
        queried = set()
        for e in exprs + [v.get("query", "") for v in dash["templating"]["list"]
                          if isinstance(v.get("query"), str)]:
            queried |= set(re.findall(r"\bfrontcache_[a-z_]+", e))
        self.assertGreaterEqual(len(queried), 20)
        origin = Origin()
        fc = Frontcache(origin.url, {"admin": {"listen": "127.0.0.1:0"}})
        try:
            get_once(fc, "/r/d1")  # a miss, so histograms and per-server series have samples
            get_once(fc, "/r/d1")
            text = admin_request(fc.extra_ports["admin"], "GET", "/metrics").body.decode()
        finally:
            fc.stop()
            origin.close()
        exported = set(re.findall(r"^(frontcache_[a-z_]+)", text, re.M))
        self.assertEqual(sorted(queried - exported), [], "queried but not in /metrics")
        # The labels a panel groups by are labels of the metrics it queries, as /metrics serves
        # them (the names and labels come from one table, proxy/cache_counters.h, not from here).
        grouped = 0
        for e in exprs:
            for by in re.findall(r"\bby \(([^)]*)\)", e):
                for label in (x.strip() for x in by.split(",")):
                    grouped += 1
                    series = r'^(%s)\{[^}]*\b%s="' % (
                        "|".join(set(re.findall(r"\bfrontcache_[a-z_]+", e))), label)
                    self.assertRegex(text, re.compile(series, re.M), e)
        self.assertGreaterEqual(grouped, 5)


if __name__ == "__main__":
    unittest.main()
