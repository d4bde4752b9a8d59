"""Small helpers shared by the benchmark scripts: loopback ports, CPU pinning, process cleanup."""

import os
import shutil
import signal
import socket
import subprocess
import time


def free_port():
    """A loopback port nothing listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listening on %d" % port)


def pin(core):
    """`taskset -c CORE` when the machine has 2+ cores (servers on 0, load generator on 1)."""
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(core)]
    return []


def stop_all(procs):
    """SIGTERM each process we started (by PID), then wait; kill what does not exit."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
