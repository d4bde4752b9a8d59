"""Ranges from the store (issue #13, part; RFC 9110 §14): a single-range GET of a stored page is
answered 206 from the stored copy (416 when it selects nothing, the whole page for several ranges
or an If-Range that does not match); a range request for a page not stored fetches the whole
page without Range, stores it and answers the range; a 206 never marks a page not storable."""

import unittest

from harness import Frontcache, Origin, admin_stats, get_once, request


class Ranges(unittest.TestCase):
    def setUp(self):
        self.origin = Origin()
        self.fc = Frontcache(self.origin.url, workers=2)

    def tearDown(self):
        self.fc.stop()
        self.origin.close()

    def reached(self, path):
        return [h for m, t, h, b in self.origin.requests if t == path]

    def test_single_ranges_of_a_stored_page(self):
        path = '/r/rng;size=1000;etag="v1";cc=max-age=600'
        full = get_once(self.fc, path)
        self.assertEqual(full.header("X-Cache"), "MISS")
        self.assertEqual(len(full.body), 1000)
        cases = [("bytes=0-9", 0, 9), ("bytes=990-", 990, 999), ("bytes=-5", 995, 999),
                 ("bytes=100-99999", 100, 999), ("bytes=7-7", 7, 7)]
        for spec, first, last in cases:
            r = get_once(self.fc, path, "Range: %s\r\n" % spec)
            self.assertEqual(r.status, 206, spec)
            self.assertEqual(r.header("X-Cache"), "HIT", spec)
            self.assertEqual(r.header("Content-Range"), "bytes %d-%d/1000" % (first, last))
            self.assertEqual(r.header("Content-Length"), str(last - first + 1))
            self.assertEqual(r.body, full.body[first:last + 1], spec)
            self.assertEqual(r.header("ETag"), '"v1"')  # the stored fields come along
        unsat = get_once(self.fc, path, "Range: bytes=1000-\r\n")
        self.assertEqual(unsat.status, 416)
        self.assertEqual(unsat.header("Content-Range"), "bytes */1000")
        self.assertEqual(unsat.body, b"")
        for spec in ("bytes=0-1,5-6", "items=0-9", "bytes=9-0"):  # the whole page
            r = get_once(self.fc, path, "Range: %s\r\n" % spec)
            self.assertEqual((r.status, r.body), (200, full.body), spec)
        ok = get_once(self.fc, path, 'Range: bytes=0-3\r\nIf-Range: "v1"\r\n')
        self.assertEqual((ok.status, ok.body), (206, full.body[:4]))
        changed = get_once(self.fc, path, 'Range: bytes=0-3\r\nIf-Range: "v0"\r\n')
        self.assertEqual((changed.status, changed.body), (200, full.body))
        weak = get_once(self.fc, path, 'Range: bytes=0-3\r\nIf-Range: W/"v1"\r\n')
        self.assertEqual(weak.status, 200)
        # HEAD has no ranges (§14.2): the stored head.
        resp, r = request(self.fc, "HEAD %s HTTP/1.1\r\nHost: site.test\r\nRange: bytes=0-9\r\n"
                                   "Connection: close\r\n\r\n" % path, head_request=True)
        r.sock.close()
        self.assertEqual(resp.status, 200)
        self.assertEqual(len(self.reached(path)), 1)  # all of it from the one stored copy

    def test_a_range_request_for_a_page_not_stored_fetches_and_stores_the_whole_page(self):
        path = "/r/cold;size=500;cc=max-age=600"
        r = get_once(self.fc, path, "Range: bytes=10-19\r\nIf-Range: \"x\"\r\n")
        self.assertEqual(r.status, 200)  # If-Range "x" does not match the stored page: all of it
        self.assertEqual(len(r.body), 500)
        sent = self.reached(path)
        self.assertEqual(len(sent), 1)
        names = [n.lower() for n, v in sent[0]]
        self.assertNotIn("range", names)     # the upstream was asked for the whole page
        self.assertNotIn("if-range", names)
        path2 = "/r/cold2;size=500;cc=max-age=600"
        r = get_once(self.fc, path2, "Range: bytes=10-19\r\n")
        self.assertEqual(r.status, 206)  # held until stored, then cut from the stored page
        self.assertEqual(r.header("X-Cache"), "MISS")
        self.assertEqual(r.header("Content-Range"), "bytes 10-19/500")
        full = get_once(self.fc, path2)
        self.assertEqual(full.header("X-Cache"), "HIT")
        self.assertEqual(r.body, full.body[10:20])
        self.assertEqual(len(self.reached(path2)), 1)

    def test_a_206_from_the_application_does_not_mark_the_page(self):
        fc = Frontcache(self.origin.url, {"admin": {"listen": "127.0.0.1:0"}})
        try:
            self.assertEqual(get_once(fc, "/r/partial;status=206;cc=max-age=600").status, 206)
            self.assertEqual(admin_stats(fc)["hit_for_miss_marks_total"], 0)
            # ...where another status that is not stored does mark it (the counter works).
            self.assertEqual(get_once(fc, "/r/gone;status=404").status, 404)
            self.assertEqual(admin_stats(fc)["hit_for_miss_marks_total"], 1)
        finally:
            fc.stop()


if __name__ == "__main__":
    unittest.main()
