"""Upstreams that move (issue #23): the upstream is named by a host name that a DNS server the
test starts on loopback (dnsmasq, from Debian's dnsmasq-base) answers; its answer changes
mid-run, as when Docker or Kubernetes recreates the app under a new address. frontcache looks
the name up again as its TTL says, checks the new address before use, drains the old one: no
request fails across the change, and a DNS server that stops answering changes nothing.
Before, the name was resolved once at start-up and the dead address dialled until a restart."""

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import Frontcache, Origin, admin_request, get_once as get, wait_for

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dnsmasq:
    """dnsmasq on 127.0.0.1:PORT answering from a hosts file only (TTL 1 s); answer() rewrites
    the file and has it re-read (SIGHUP)."""

    def __init__(self, tmp):
        self.hosts = os.path.join(tmp, "hosts")
        os.chmod(tmp, 0o755)  # dnsmasq reads the file as the user it runs as
        self.answer({})
        for _ in range(5):
            self.port = free_udp_port()
            self.proc = subprocess.Popen(
                [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                 "--no-hosts", "--addn-hosts=" + self.hosts, "--listen-address=127.0.0.1",
                 "--bind-interfaces", "--port=%d" % self.port, "--local-ttl=1", "--pid-file=",
                 "--user=" + pwd.getpwuid(os.getuid()).pw_name, "--log-facility=-"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(0.3)
            if self.proc.poll() is None:
                return
            self.proc.stderr.close()  # the port was taken meanwhile: another one
        raise RuntimeError("dnsmasq did not start")

    def answer(self, names):
        with open(self.hosts + ".new", "w") as f:
            for name, address in names.items():
                f.write("%s %s\n" % (address, name))
        os.chmod(self.hosts + ".new", 0o644)
        os.replace(self.hosts + ".new", self.hosts)
        if getattr(self, "proc", None):
            self.proc.send_signal(signal.SIGHUP)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.proc.stderr.close()


def metric(fc, name, labels):
    body = admin_request(fc.extra_ports["admin"], "GET", "/metrics").body.decode()
    m = re.search(r"^frontcache_%s\{%s\} (\S+)$" % (name, re.escape(labels)), body, re.M)
    return float(m.group(1)) if m else None


class MovingUpstream(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dns = Dnsmasq(self.tmp.name)
        self.addCleanup(self.dns.stop)
        # Two instances of the app on the same port at two loopback addresses, as a recreated
        # container comes back under a new address.
        self.old = Origin(host="127.0.0.2")
        self.new = Origin(host="127.0.0.3", port=self.old.port)
        self.addCleanup(self.new.close)
        self.dns.answer({"app.test": "127.0.0.2"})
        self.url = "http://app.test:%d" % self.old.port
        self.fc = Frontcache(self.url, {
            "upstream": {"resolver": "127.0.0.1:%d" % self.dns.port, "resolve_min_ttl": "1s",
                         "max_fails": 1, "fail_timeout": "60s"},
            "admin": {"listen": "127.0.0.1:0"},
            "cache": {"bypass_paths": ["/"]}}, workers=2)
        self.addCleanup(self.fc.stop)

    def load(self, statuses, stop, n):
        i = 0
        while not stop.is_set():
            statuses.append(get(self.fc, "/hello?c=%d-%d" % (n, i)).status)
            i += 1

    def test_a_changed_answer_moves_traffic_and_fails_no_request(self):
        self.assertEqual(get(self.fc, "/hello").status, 200)
        self.assertEqual(len(self.old.requests), 1)
        statuses, stop = [], threading.Event()
        threads = [threading.Thread(target=self.load, args=(statuses, stop, n)) for n in range(3)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)
            self.dns.answer({"app.test": "127.0.0.3"})
            self.assertTrue(wait_for(lambda: len(self.new.requests) > 20, timeout=15),
                            self.fc.log())
            self.old.close()  # the old instance is gone for good
            before = len(statuses)
            self.assertTrue(wait_for(lambda: len(statuses) > before + 100, timeout=15))
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(set(statuses), {200}, [s for s in statuses if s != 200][:5])
        label = 'server="%s"' % self.url
        self.assertLess(metric(self.fc, "upstream_resolve_age_seconds", label), 5)
        self.assertGreaterEqual(
            metric(self.fc, "upstream_resolutions_total", label + ',result="ok"'), 1)
        self.assertEqual(metric(self.fc, "upstream_resolve_addresses", label), 1)

    def test_a_dns_server_that_stops_answering_changes_nothing(self):
        self.assertEqual(get(self.fc, "/hello").status, 200)
        self.dns.stop()  # timeouts from now on
        label = 'server="%s"' % self.url
        self.assertTrue(wait_for(lambda: (metric(self.fc, "upstream_resolutions_total",
                                                 label + ',result="failed"') or 0) >= 1,
                                 timeout=20), self.fc.log())
        for i in range(20):
            self.assertEqual(get(self.fc, "/hello?after=%d" % i).status, 200)
        self.assertEqual(metric(self.fc, "upstream_resolve_addresses", label), 1)
        # The age of the last good answer grows: what the operator alerts on.
        self.assertTrue(wait_for(
            lambda: metric(self.fc, "upstream_resolve_age_seconds", label) > 1.5, timeout=10))
        self.assertEqual(get(self.fc, "/hello?later").status, 200)

    def test_a_name_that_vanishes_keeps_the_last_good_set(self):
        self.dns.answer({})  # NXDOMAIN from now on
        label = 'server="%s"' % self.url
        self.assertTrue(wait_for(lambda: (metric(self.fc, "upstream_resolutions_total",
                                                 label + ',result="failed"') or 0) >= 1,
                                 timeout=20), self.fc.log())
        for i in range(10):
            self.assertEqual(get(self.fc, "/hello?gone=%d" % i).status, 200)


if __name__ == "__main__":
    unittest.main()
