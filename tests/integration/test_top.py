"""`frontcache top` (issue #16, part) against a live instance: --once prints one text snapshot
with the rates, the store, the upstream server and the pages most missed and most hit in the
last second (from the admin port's GET /top); interactively, under a pseudo-terminal, it redraws
every second within 80x24 and quits on `q`, leaving the terminal as it found it."""

import os
import re
import select
import subprocess
import threading
import time
import unittest

from harness import BIN, Frontcache, Origin, admin_request, get_once


class Top(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.origin = Origin()
        cls.fc = Frontcache(cls.origin.url, {"admin": {"listen": "127.0.0.1:0"}}, workers=2)
        cls.admin = "127.0.0.1:%d" % cls.fc.extra_ports["admin"]
        cls.stop = threading.Event()

        def traffic():  # one page hit over and over, others missed (each URL once)
            i = 0
            while not cls.stop.is_set():
                get_once(cls.fc, "/r/popular;cc=max-age=600")
                if i % 5 == 0:
                    get_once(cls.fc, "/r/cold-%d;cc=max-age=600" % i)
                i += 1
        cls.threads = [threading.Thread(target=traffic) for _ in range(2)]
        for t in cls.threads:
            t.start()

    @classmethod
    def tearDownClass(cls):
        cls.stop.set()
        for t in cls.threads:
            t.join(10)
        cls.fc.stop()
        cls.origin.close()

    def test_once_prints_a_snapshot(self):
        out = subprocess.run([BIN, "top", "--admin", self.admin, "--once"], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        text = out.stdout
        lines = text.splitlines()
        self.assertLessEqual(len(lines), 24)
        self.assertTrue(all(len(l) <= 80 for l in lines), lines)
        rate = re.search(r"^requests/s (\d+): hit (\d+) miss (\d+)", text, re.M)
        self.assertIsNotNone(rate, text)
        self.assertGreater(int(rate.group(2)), 0)  # hits per second, from /metrics deltas
        self.assertRegex(text, r"(?m)^hit ratio +\d+\.\d %")
        self.assertRegex(text, r"(?m)^store +[\d.]+ \w+ of 64\.0 MiB")
        self.assertIn(self.origin.url, text)  # the upstream server, up
        self.assertRegex(text, r"(?m)^servers +up ")
        hit_column = [l[40:] for l in lines if len(l) > 40]
        self.assertTrue(any("/r/popular" in l for l in hit_column), text)  # the most hit page
        self.assertTrue(any("/r/cold-" in l[:40] for l in lines), text)  # missed pages

    def test_the_admin_port_serves_the_page_lists(self):
        admin_request(self.fc.extra_ports["admin"], "GET", "/top")  # starts the sampling
        time.sleep(2.2)
        body = admin_request(self.fc.extra_ports["admin"], "GET", "/top").body.decode()
        self.assertRegex(body, r"(?m)^interval \d")
        self.assertRegex(body, r"(?m)^stride 4$")
        self.assertRegex(body, r"(?m)^hit \d+ http://\S+/r/popular;cc=max-age=600$")

    def test_interactive_under_a_pty_redraws_and_quits_on_q(self):
        master, slave = os.openpty()
        p = subprocess.Popen([BIN, "top", "--admin", self.admin], stdin=slave, stdout=slave,
                             stderr=slave, close_fds=True)
        os.close(slave)
        out = b""
        end = time.monotonic() + 3.5
        while time.monotonic() < end:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                out += os.read(master, 65536)
        os.write(master, b"q")
        self.assertEqual(p.wait(5), 0)
        try:
            while select.select([master], [], [], 0.2)[0]:
                out += os.read(master, 65536)
        except OSError:
            pass
        os.close(master)
        frames = [f for f in out.decode(errors="replace").split("\x1b[H\x1b[2J")[1:] if f]
        self.assertGreaterEqual(len(frames), 2, out[:400])  # a redraw every second
        for f in frames:
            rows = [r for r in f.replace("\x1b[?25h", "").split("\r\n") if r]
            self.assertLessEqual(len(rows), 24)
            self.assertTrue(all(len(r) <= 80 for r in rows), rows)
            self.assertIn("requests/s", f)
        self.assertIn("\x1b[?25h", out.decode(errors="replace"))  # the cursor is given back


if __name__ == "__main__":
    unittest.main()
