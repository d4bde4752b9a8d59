"""The Debian package (scripts/dev package; CPack): built from this build tree, its control
fields and contents, installed with dpkg into a root the test makes, the installed binary
answering --check-config on the installed config and serving a request, the hardened systemd
unit passing `systemd-analyze verify`, and the man page rendering without warnings."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

from harness import BIN, Origin, Reader

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(BIN)))
WANTED = ["./usr/bin/frontcache", "./usr/bin/frontcache-bench", "./etc/frontcache/frontcache.toml",
          "./usr/lib/systemd/system/frontcache.service", "./usr/share/man/man1/frontcache.1.gz",
          "./usr/share/frontcache/grafana/frontcache-dashboard.json"]


def run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


class DebianPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fc-deb-")
        p = run("cpack", "-G", "DEB", "-B", os.path.join(cls.tmp, "out"), cwd=BUILD)
        if p.returncode != 0:
            raise RuntimeError("cpack failed:\n" + p.stdout + p.stderr)
        debs = [f for f in os.listdir(os.path.join(cls.tmp, "out")) if f.endswith(".deb")]
        cls.deb = os.path.join(cls.tmp, "out", debs[0])
        # An empty dpkg database in a root of our own: installed there, not on this machine.
        cls.root = os.path.join(cls.tmp, "root")
        for d in ("var/lib/dpkg/updates", "var/lib/dpkg/info"):
            os.makedirs(os.path.join(cls.root, d))
        open(os.path.join(cls.root, "var/lib/dpkg/status"), "w").close()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_control_fields_and_contents(self):
        fields = {f: run("dpkg-deb", "-f", self.deb, f).stdout.strip()
                  for f in ("Package", "Version", "Depends", "Section")}
        self.assertEqual(fields["Package"], "frontcache")
        self.assertRegex(fields["Version"], r"^\d+\.\d+\.\d+$")
        for lib in ("libuv1", "libssl3", "libmemcached11", "libtomlplusplus3"):
            self.assertIn(lib, fields["Depends"])  # from dpkg-shlibdeps, not by hand
        listing = run("dpkg-deb", "-c", self.deb).stdout
        files = {line.split()[-1] for line in listing.splitlines()}
        for f in WANTED:
            self.assertIn(f, files)
        self.assertIn("-rwxr-xr-x root/root", [l for l in listing.splitlines()
                                              if l.endswith("./usr/bin/frontcache")][0])
        conffiles = run("dpkg-deb", "--info", self.deb, "conffiles").stdout.split()
        self.assertEqual(conffiles, ["/etc/frontcache/frontcache.toml"])

    def test_installs_checks_its_config_and_serves(self):
        p = run("dpkg", "--root=" + self.root, "--force-not-root", "--force-depends",
                "--log=/dev/null", "-i", self.deb)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        binary = os.path.join(self.root, "usr/bin/frontcache")
        conf = os.path.join(self.root, "etc/frontcache/frontcache.toml")
        p = run(binary, "--check-config", conf)
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "ok"), p.stderr)
        self.assertIn("frontcache.toml", run("dpkg", "--root=" + self.root, "-L",
                                             "frontcache").stdout)
        # Started with the installed config, pointed at a test origin on a free port.
        origin = Origin()
        text = open(conf).read()
        text = re.sub(r'(?m)^listen = .*$', 'listen = "127.0.0.1:0"', text)
        text = re.sub(r'(?m)^url = .*$', 'url = "%s"' % origin.url, text)
        mine = os.path.join(self.tmp, "run.toml")
        with open(mine, "w") as f:
            f.write(text)
        proc = subprocess.Popen([binary, "-c", mine], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        try:
            m = re.match(r"frontcache listening on \S+:(\d+)", proc.stdout.readline())
            self.assertIsNotNone(m)
            s = socket.create_connection(("127.0.0.1", int(m.group(1))), 10)
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            resp = Reader(s).response()
            s.close()
            self.assertEqual((resp.status, resp.body), (200, b"hello"))
        finally:
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(15), 0)
            origin.close()

    def test_the_systemd_unit_verifies(self):
        extracted = os.path.join(self.tmp, "x")
        self.assertEqual(run("dpkg-deb", "-x", self.deb, extracted).returncode, 0)
        text = open(os.path.join(extracted, "usr/lib/systemd/system/frontcache.service")).read()
        for directive in ("DynamicUser=yes", "ProtectSystem=strict", "LimitNOFILE=",
                          "ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=yes"):
            self.assertIn(directive, text)
        # Verified where its binary exists: the extracted one stands in for /usr/bin/frontcache.
        local = os.path.join(self.tmp, "frontcache.service")
        with open(local, "w") as f:
            f.write(text.replace("/usr/bin/frontcache",
                                 os.path.join(extracted, "usr/bin/frontcache")))
        p = run("systemd-analyze", "verify", "--man=no", local)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual((p.stdout + p.stderr).strip(), "", "systemd-analyze warned")

    def test_the_man_page_renders_cleanly(self):
        extracted = os.path.join(self.tmp, "m")
        run("dpkg-deb", "-x", self.deb, extracted)
        page = os.path.join(extracted, "usr/share/man/man1/frontcache.1.gz")
        p = subprocess.run("gzip -dc %s | groff -man -Tutf8 -ww" % page, shell=True,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stderr, "")
        self.assertIn("--check-config", p.stdout.replace("\u2010", "-").replace("\u2212", "-"))
        self.assertIn("SIGUSR1", p.stdout)


if __name__ == "__main__":
    unittest.main()
