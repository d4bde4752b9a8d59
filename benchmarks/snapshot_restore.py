#!/usr/bin/env python3
"""How long a warm restart takes (issue #15): fills frontcache's store with SIZE of 28 KiB items
through its memcached port, then stops and starts it ROUNDS times with cache.snapshot set and
reads frontcache's own log lines: "snapshot: wrote N items ... in T s" at each exit and
"snapshot: restored N items ... in T s" at each start (the time before the listeners open).
Prints each round and the medians: items/s, GiB/s, and the time for 1 GiB.

The snapshot file was just written, so it is read from the page cache: this measures
frontcache's restore (parse, checksum, allocate, link), not the disk.

    python3 benchmarks/snapshot_restore.py --build build/release [--size-mib 1024] [--rounds 3]
"""

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

VALUE = 28 * 1024


def start(binary, config, log):
    p = subprocess.Popen([binary, "-c", config], stdout=subprocess.PIPE, stderr=log, text=True)
    ports = {}
    for _ in range(2):
        m = re.match(r"frontcache listening on (?:(\w+) )?\S+:(\d+)", p.stdout.readline())
        if not m:
            p.kill()
            raise RuntimeError("frontcache did not start")
        ports[m.group(1) or "http"] = int(m.group(2))
    return p, ports


def fill(port, size):
    n = size // VALUE
    s = socket.create_connection(("127.0.0.1", port))
    value = b"v" * VALUE
    batch = []
    for i in range(n):
        batch.append(b"set page:%08d 0 0 %d noreply\r\n%s\r\n" % (i, VALUE, value))
        if len(batch) == 256:
            s.sendall(b"".join(batch))
            batch = []
    s.sendall(b"".join(batch) + b"mn\r\n")
    buf = b""
    while not buf.endswith(b"MN\r\n"):
        buf += s.recv(65536)
    s.close()
    return n


def stop(p, log_path):
    p.send_signal(signal.SIGTERM)
    p.wait(300)
    with open(log_path) as f:
        text = f.read()
    m = re.findall(r"snapshot: wrote (\d+) items \(([\d.]+) MiB\) to \S+ in ([\d.]+) s", text)
    return m[-1] if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    binary = os.path.join(a.build, "server", "frontcache")
    tmp = tempfile.TemporaryDirectory(prefix="fc-snapbench-")
    snap = os.path.join(tmp.name, "store.snap")
    config = os.path.join(tmp.name, "frontcache.toml")
    memory = a.size_mib * 3 // 2 + 64
    with open(config, "w") as f:
        f.write('[server]\nlisten = "127.0.0.1:0"\nworkers = 2\n'
                '[upstream]\nurl = "http://127.0.0.1:9"\n'
                '[cache]\nmemory = "%dMiB"\nsnapshot = "%s"\nsnapshot_interval = "0s"\n'
                '[memcached]\nlisten = "127.0.0.1:0"\n[log]\nlevel = "info"\n' % (memory, snap))
    log_path = os.path.join(tmp.name, "stderr.log")
    log = open(log_path, "w")
    p, ports = start(binary, config, log)
    n = fill(ports["memcached"], a.size_mib << 20)
    wrote = stop(p, log_path)
    print("filled %d items of %d KiB (%.0f MiB); first write: %s items in %s s"
          % (n, VALUE // 1024, n * VALUE / 2**20, wrote[0], wrote[2]))
    size = os.path.getsize(snap)
    rows = []
    for r in range(a.rounds):
        t0 = time.monotonic()
        p, ports = start(binary, config, log)
        listening = time.monotonic() - t0
        with open(log_path) as f:
            m = re.findall(r"snapshot: restored (\d+) items \(([\d.]+) MiB\) from \S+ in ([\d.]+) s",
                           f.read())[-1]
        items, secs = int(m[0]), float(m[2])
        wrote = stop(p, log_path)
        rows.append((items, secs, listening, float(wrote[2])))
        print("round %d: restored %d items, %.2f GiB in %.3f s (%.0f items/s, %.2f GiB/s); "
              "listening after %.3f s; snapshot written at exit in %s s"
              % (r + 1, items, size / 2**30, secs, items / secs, size / 2**30 / secs, listening,
                 wrote[2]))
    med = statistics.median(s for _, s, _, _ in rows)
    items = rows[0][0]
    gib = size / 2**30
    print("median of %d: restore %.3f s for %.2f GiB (%d items): %.0f items/s, %.2f GiB/s "
          "-> 1 GiB in %.2f s; write %.3f s (%.2f GiB/s)"
          % (len(rows), med, gib, items, items / med, gib / med, med / gib,
             statistics.median(w for _, _, _, w in rows),
             gib / statistics.median(w for _, _, _, w in rows)))
    log.close()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
