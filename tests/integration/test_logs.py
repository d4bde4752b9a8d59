"""The access log for operators (issue #16, logs): log.format = "json" (one JSON object per
line), the request id (X-Request-Id passed through when usable, else made here; sent upstream
and logged), and SIGUSR1 reopening the file for logrotate."""

import json
import os
import re
import signal
import tempfile
import unittest

from harness import Frontcache, Origin, request, wait_for


def get(fc, path, headers=""):
    resp, r = request(fc, "GET %s HTTP/1.1\r\nHost: site.test\r\n%s\r\n" % (path, headers))
    r.sock.close()
    return resp


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().splitlines()


class JsonLog(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "access.log")
        self.origin = Origin()
        self.fc = Frontcache(self.origin.url, {"log": {"access_log": self.path, "format": "json"}})

    def tearDown(self):
        self.fc.stop()
        self.origin.close()
        self.dir.cleanup()

    def test_one_json_object_per_request(self):
        get(self.fc, "/r/j1")
        get(self.fc, "/r/j1")
        get(self.fc, '/r/j"2\\', "X-Request-Id: client-id-42\r\n")
        wait_for(lambda: len(lines(self.path)) == 3, timeout=5)
        miss, hit, odd = (json.loads(l) for l in lines(self.path))
        self.assertEqual(set(miss), {"time", "client", "method", "target", "protocol", "status",
                                     "bytes", "cache", "upstream_ms", "server", "total_ms",
                                     "request_id"})
        self.assertRegex(miss["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual((miss["client"], miss["method"], miss["target"], miss["protocol"]),
                         ("127.0.0.1", "GET", "/r/j1", "HTTP/1.1"))
        self.assertEqual((miss["status"], miss["cache"], miss["server"]),
                         (200, "MISS", self.origin.url))
        self.assertGreater(miss["bytes"], 0)
        self.assertGreaterEqual(miss["upstream_ms"], 0)
        self.assertEqual((hit["cache"], hit["upstream_ms"], hit["server"]), ("HIT", None, None))
        self.assertRegex(miss["request_id"], r"^[0-9a-f]{24}$")
        self.assertNotEqual(miss["request_id"], hit["request_id"])
        self.assertEqual(odd["target"], '/r/j"2\\')  # escaped in the line, intact when read
        self.assertEqual(odd["request_id"], "client-id-42")


class RequestId(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.path = os.path.join(cls.dir.name, "access.log")
        cls.origin = Origin()
        cls.fc = Frontcache(cls.origin.url, {"log": {"access_log": cls.path}})

    @classmethod
    def tearDownClass(cls):
        cls.fc.stop()
        cls.origin.close()
        cls.dir.cleanup()

    def sent_upstream(self, headers=""):
        target = "/echo?%d" % len(lines(self.path))
        e = json.loads(get(self.fc, target, headers).body)
        ids = [v for n, v in e["headers"] if n.lower() == "x-request-id"]
        wait_for(lambda: any(target in l for l in lines(self.path)), timeout=5)
        logged = [l for l in lines(self.path) if target in l][-1]
        return ids, re.search(r" id=(\S+)$", logged).group(1)

    def test_a_usable_client_id_is_passed_through_and_logged(self):
        ids, logged = self.sent_upstream("X-Request-Id: abc-123_XYZ\r\n")
        self.assertEqual(ids, ["abc-123_XYZ"])
        self.assertEqual(logged, "abc-123_XYZ")

    def test_otherwise_one_is_made_sent_upstream_and_logged(self):
        ids, logged = self.sent_upstream()
        self.assertEqual(len(ids), 1)
        self.assertRegex(ids[0], r"^[0-9a-f]{24}$")
        self.assertEqual(logged, ids[0])
        for bad in ("has space", 'quo"te', "x" * 80):
            ids, logged = self.sent_upstream("X-Request-Id: %s\r\n" % bad)
            self.assertEqual(len(ids), 1, bad)  # replaced, not doubled
            self.assertRegex(ids[0], r"^[0-9a-f]{24}$")
            self.assertEqual(logged, ids[0])


class Reopen(unittest.TestCase):
    def test_sigusr1_reopens_the_access_log(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "access.log")
            origin = Origin()
            fc = Frontcache(origin.url, {"log": {"access_log": path, "level": "info"}})
            try:
                get(fc, "/r/before")
                wait_for(lambda: len(lines(path)) == 1, timeout=5)
                os.rename(path, path + ".1")  # what logrotate does
                fc.proc.send_signal(signal.SIGUSR1)
                wait_for(lambda: "reopened the access log" in fc.log(), timeout=5)
                get(fc, "/r/after")
                wait_for(lambda: len(lines(path)) == 1, timeout=5)
                self.assertIn("/r/after", lines(path)[0])
                self.assertEqual(len(lines(path + ".1")), 1)
                self.assertIn("/r/before", lines(path + ".1")[0])
            finally:
                self.assertEqual(fc.stop(), 0)
                origin.close()


if __name__ == "__main__":
    unittest.main()
