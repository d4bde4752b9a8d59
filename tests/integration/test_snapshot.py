"""Warm restarts (issue #15): cache.snapshot is written at exit after draining and every
snapshot_interval, and read back at start before the listeners open. A missing, truncated,
corrupt or empty file is logged and ignored; frontcache starts empty and never crashes. The
temporary file is never opened through a symlink planted at its name, and the snapshot is 0600."""

import os
import re
import signal
import tempfile
import threading
import time
import unittest

from harness import (Frontcache, Origin, Reader, admin_stats, free_port_closed as dead_port,
                     get_once, wait_for)

PAGES = 10000


def fetch_all(fc, paths, threads=8):
    """GETs every path over keep-alive connections (pipelined in batches); returns
    {path: response}."""
    out = {}
    lock = threading.Lock()

    def worker(part):
        s = fc.connect(timeout=30)
        r = Reader(s)
        for i in range(0, len(part), 50):
            batch = part[i:i + 50]
            s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: site.test\r\n\r\n" % p.encode()
                               for p in batch))
            for p in batch:
                resp = r.response()
                with lock:
                    out[p] = resp
        s.close()

    ts = [threading.Thread(target=worker, args=(paths[k::threads],)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return out


class WarmRestart(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="fc-snap-")
        self.snap = os.path.join(self.dir.name, "store.snap")
        self.origin = Origin()
        self.started = []

    def tearDown(self):
        for fc in self.started:
            fc.stop()
        self.origin.close()
        self.dir.cleanup()

    def start(self, upstream=None, interval="0s", memory="256MiB", wrapper=None):
        fc = Frontcache(upstream or self.origin.url,
                        {"cache": {"snapshot": self.snap, "snapshot_interval": interval,
                                   "memory": memory},
                         "admin": {"listen": "127.0.0.1:0"},
                         "log": {"level": "info"}}, workers=2, wrapper=wrapper)
        self.started.append(fc)
        return fc

    def stop(self, fc):
        """SIGTERM, wait for the exit (and its snapshot); returns the whole log."""
        fc.proc.send_signal(signal.SIGTERM)
        fc.proc.wait(60)
        log = fc.log()  # fc.stop() removes the log with its directory
        self.assertEqual(fc.stop(), 0)
        self.started.remove(fc)
        return log

    def test_10000_pages_are_hits_after_a_restart_with_the_origin_gone(self):
        paths = ["/r/page-%d;size=2000" % i for i in range(PAGES)]
        fc = self.start()
        first = fetch_all(fc, paths)
        self.assertEqual(sum(1 for r in first.values() if r.header("X-Cache") == "MISS"), PAGES)
        log = self.stop(fc)
        m = re.search(r"snapshot: wrote (\d+) items", log)
        self.assertTrue(m, log)
        self.assertEqual(int(m.group(1)), 2 * PAGES)  # each page and its header key
        self.assertTrue(os.path.getsize(self.snap) > PAGES * 2000)

        self.origin.close()  # the application is down during this start
        fc = self.start(upstream="http://127.0.0.1:%d" % dead_port())
        self.assertRegex(fc.log(), r"snapshot: restored %d items" % (2 * PAGES))
        self.assertEqual(admin_stats(fc)["snapshot_restored_items"], 2 * PAGES)
        again = fetch_all(fc, paths)
        self.assertEqual(len(again), PAGES)
        for p in paths:
            self.assertEqual(again[p].status, 200, p)
            self.assertEqual(again[p].header("X-Cache"), "HIT", p)
            self.assertEqual(again[p].body, first[p].body, p)
        self.assertEqual(admin_stats(fc)["upstream_errors_total_502"], 0)

    def test_stale_if_error_answers_from_the_restored_copy(self):
        fc = self.start()
        path = "/r/short;cc=max-age=60"
        first = get_once(fc, path)
        self.assertEqual(first.header("X-Cache"), "MISS")
        self.stop(fc)
        self.origin.close()
        fc = self.start(upstream="http://127.0.0.1:%d" % dead_port())
        fc.advance(120)  # past max-age, within the default stale_if_error (300 s)
        stale = get_once(fc, path)
        self.assertEqual(stale.status, 200)
        self.assertEqual(stale.header("X-Cache"), "STALE")
        self.assertEqual(stale.body, first.body)
        fc.advance(600)  # past every window: nothing to serve, the upstream is down
        self.assertEqual(get_once(fc, path).status, 502)

    def test_expired_items_are_not_kept(self):
        fc = self.start()
        get_once(fc, "/r/brief;cc=max-age=5")
        get_once(fc, "/r/long;cc=max-age=6000")
        fc.advance(400)  # "brief": past max-age + grace (60 s) + stale_if_error (300 s)
        self.stop(fc)
        fc = self.start()
        # Only "long" (its page and header key) was written; an item that expires between the
        # write and the restore is dropped by the reader (unit-tested with an injected clock).
        self.assertRegex(fc.log(), r"restored 2 items")
        self.assertEqual(get_once(fc, "/r/long;cc=max-age=6000").header("X-Cache"), "HIT")
        self.assertEqual(get_once(fc, "/r/brief;cc=max-age=5").header("X-Cache"), "MISS")

    def test_bad_snapshots_are_ignored(self):
        fc = self.start()
        for i in range(300):
            get_once(fc, "/r/bad-%d;size=5000" % i)
        self.stop(fc)
        with open(self.snap, "rb") as f:
            good = f.read()
        flipped = bytearray(good)
        flipped[len(good) // 2] ^= 0x55
        cases = {
            "truncated": good[:len(good) // 2],
            "corrupt": bytes(flipped),
            "empty": b"",
            "not a snapshot": b"GARBAGE!" * 100,
            "cut at the end record": good[:-5],
        }
        for name, data in cases.items():
            with self.subTest(name):
                with open(self.snap, "wb") as f:
                    f.write(data)
                fc = self.start()
                self.assertRegex(fc.log(), r"snapshot: .*ignored, starting empty")
                self.assertEqual(admin_stats(fc)["store_items"], 0)
                self.assertEqual(get_once(fc, "/r/bad-1;size=5000").header("X-Cache"), "MISS")
                self.stop(fc)  # writes a good snapshot again: one item + its header key
                os.unlink(self.snap)

    def test_periodic_snapshots_while_hits_run_and_after_a_crash(self):
        fc = self.start(interval="1s")
        paths = ["/r/hot-%d;size=20000" % i for i in range(200)]
        fetch_all(fc, paths)
        errors = []
        stop = threading.Event()

        def hammer():
            while not stop.is_set():
                for p, r in fetch_all(fc, paths[:50], threads=1).items():
                    if r.status != 200 or r.header("X-Cache") != "HIT":
                        errors.append((p, r.status, r.header("X-Cache")))

        ts = [threading.Thread(target=hammer) for _ in range(3)]
        for t in ts:
            t.start()
        wait_for(lambda: admin_stats(fc)["snapshots_total_ok"] >= 3, timeout=20)
        stop.set()
        for t in ts:
            t.join(30)
        self.assertEqual(errors, [])
        stats = admin_stats(fc)
        self.assertEqual(stats["snapshots_total_error"], 0)
        self.assertEqual(stats["snapshot_items"], 400)
        # A crash (no drain, no final write) keeps the last periodic snapshot, whole.
        fc.proc.kill()
        fc.proc.wait()
        self.started.remove(fc)
        fc.stop()
        self.assertEqual([n for n in os.listdir(self.dir.name) if ".tmp." in n], [])
        fc = self.start()
        self.assertRegex(fc.log(), r"snapshot: restored 400 items")
        self.assertEqual(get_once(fc, paths[7]).header("X-Cache"), "HIT")

    def test_an_unwritable_directory_is_an_error_in_the_log_not_a_crash(self):
        self.snap = os.path.join(self.dir.name, "missing-dir", "store.snap")
        fc = self.start()
        get_once(fc, "/hello")
        log = self.stop(fc)
        self.assertRegex(log, r"snapshot: cannot create .*missing-dir")


    def test_a_symlink_at_the_temporary_name_is_not_followed(self):
        victim = os.path.join(self.dir.name, "victim")
        with open(victim, "wb") as f:
            f.write(b"the test's own file")
        os.chmod(victim, 0o644)
        fc = self.start()
        tmp = "%s.tmp.%d" % (self.snap, fc.proc.pid)  # the name the write will use
        os.symlink(victim, tmp)
        get_once(fc, "/r/sym")
        log = self.stop(fc)
        self.assertRegex(log, r"snapshot: refusing to write the snapshot: %s already exists and "
                              r"is a symlink" % re.escape(tmp))
        with open(victim, "rb") as f:
            self.assertEqual(f.read(), b"the test's own file")  # not truncated, not written
        self.assertEqual(os.stat(victim).st_mode & 0o777, 0o644)
        self.assertTrue(os.path.islink(tmp))  # left alone for the operator to look at
        self.assertFalse(os.path.exists(self.snap))
        os.unlink(tmp)

        # A stale temporary file of ours (a crash of an earlier process with the same pid, as
        # in a container where frontcache is always pid 1) is replaced; the write goes on.
        # Under umask 277 the file would be created 0400: the snapshot is 0600 all the same.
        fc = self.start(wrapper=["sh", "-c", 'umask 277; exec "$0" "$@"'])
        stale = "%s.tmp.%d" % (self.snap, fc.proc.pid)
        with open(stale, "wb") as f:
            f.write(b"half a snapshot")
        get_once(fc, "/r/sym")
        log = self.stop(fc)
        self.assertNotIn("refusing", log)
        self.assertRegex(log, r"snapshot: wrote 2 items")
        self.assertEqual(os.stat(self.snap).st_mode & 0o777, 0o600)
        self.assertFalse(os.path.exists(stale))
        fc = self.start()
        self.assertRegex(fc.log(), r"snapshot: restored 2 items")
        self.assertEqual(get_once(fc, "/r/sym").header("X-Cache"), "HIT")


if __name__ == "__main__":
    unittest.main()
