"""Small helpers shared by the benchmark scripts: loopback ports, CPU pinning, process cleanup."""

import os
import re
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


def read_to_close(sock):
    """Everything `sock` sends until it closes (the answer of a one-request connection)."""
    data = b""
    while True:
        d = sock.recv(65536)
        if not d:
            break
        data += d
    sock.close()
    return data


def start_server(cmd, pattern):
    """Starts `cmd` and reads the port from its first stdout line (`pattern` has one group)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    m = re.search(pattern, p.stdout.readline())
    if not m:
        p.kill()
        raise RuntimeError("%s did not start" % cmd[0])
    return p, int(m.group(1))


def demo_origin(build, backlog):
    """The demo's origin on core 0: frontcache-origin, 4 workers x 50 ms, 8 KB pages, 504 after
    2 s in its queue of `backlog`. Returns (process, port)."""
    return start_server(pin(0) + [os.path.join(build, "benchmarks", "frontcache-origin"),
                                  "--workers", "4", "--service-ms", "50", "--page-size", "8000",
                                  "--backlog", str(backlog), "--gateway-timeout-ms", "2000"],
                        r"listening on \S+:(\d+)")


def proxy_config(path, origin_port, extra):
    """A frontcache config for the comparison scripts: one worker on a free port in front of
    `origin_port`, upstream requests uncapped (1024), quiet logs, plus `extra` sections."""
    with open(path, "w") as f:
        f.write('[server]\nlisten = "127.0.0.1:0"\nworkers = 1\n'
                '[upstream]\nurl = "http://127.0.0.1:%d"\nmax_connections = 1024\n'
                'read_timeout = "10s"\n%s\n[log]\nlevel = "error"\n' % (origin_port, extra))
    return path


def admin_purge(port, target):
    """PURGE `target` on frontcache's admin port (Host: the admin address, so no host narrows
    it); returns the answer's body."""
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(("PURGE %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (target, port)).encode())
    return read_to_close(s).split(b"\r\n\r\n", 1)[1].decode().strip()


def admin_get(port, path):
    """The body of GET `path` on frontcache's admin port (which answers and closes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % path).encode())
    return read_to_close(s).split(b"\r\n\r\n", 1)[1]


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


NGINX_COMMON = """daemon off; worker_processes 1; pid %(tmp)s/%(name)s.pid;
error_log %(tmp)s/%(name)s-error.log; events { worker_connections 8192; }
http { access_log off; client_body_temp_path %(tmp)s; proxy_temp_path %(tmp)s;
  fastcgi_temp_path %(tmp)s; uwsgi_temp_path %(tmp)s; scgi_temp_path %(tmp)s;
  keepalive_requests 10000000; %(body)s }
"""


def nginx(tmp, name, body, core):
    """nginx (one worker, on `core`) with `body` inside its http block; files under `tmp`."""
    conf = os.path.join(tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write(NGINX_COMMON % {"tmp": tmp, "name": name, "body": body})
    return subprocess.Popen(pin(core) + ["nginx", "-c", conf, "-p", tmp],
                            stderr=subprocess.DEVNULL)


def varnish(tmp, port, backend_port, extra=(), core=None):
    """varnishd in the foreground on 127.0.0.1:`port` in front of `backend_port`, with the
    built-in VCL plus `extra` arguments (e.g. "-t", "0"); its files under `tmp`."""
    return subprocess.Popen((pin(core) if core is not None else []) + [
        "varnishd", "-F", "-a", "127.0.0.1:%d" % port, "-b", "127.0.0.1:%d" % backend_port,
        *extra, "-n", os.path.join(tmp, "varnish-%d" % port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def memcached(port, core=None):
    """memcached on 127.0.0.1:`port`, one thread, no UDP."""
    user = ["-u", "root"] if os.getuid() == 0 else []
    return subprocess.Popen((pin(core) if core is not None else []) + [
        "memcached", *user, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-t", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


DJANGO_SITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                           "django_site")


def django_site(port, env, workers, core=None):
    """The Django test site (tests/django_site) under gunicorn with `workers` sync workers, its
    settings chosen by `env` (FCSITE_* variables)."""
    e = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **env)
    return subprocess.Popen((pin(core) if core is not None else []) + [
        "/usr/bin/python3", "-m", "gunicorn", "--chdir", DJANGO_SITE, "-b",
        "127.0.0.1:%d" % port, "-w", str(workers), "--backlog", "2048", "fcsite.wsgi"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=e)


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


def to_us(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    v = float(m.group(1))
    return v * {"us": 1, "ms": 1000, "s": 1e6}[m.group(2)]


def wrk(url, conns, seconds, headers=()):
    """wrk -t1 on core 1 (`headers`: extra "Name: value" lines sent with every request)."""
    extra = [a for h in headers for a in ("-H", h)]
    out = subprocess.run(pin(1) + ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency",
                                   *extra, url], capture_output=True, text=True, check=True).stdout
    try:
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        # Anchored at the line start: "62.50%" in the Req/Sec line must not match.
        p50 = to_us(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
        p99 = to_us(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    except AttributeError:
        raise RuntimeError("unexpected wrk output for %s:\n%s" % (url, out))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock_err = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": p50, "p99": p99,
            "errors": (int(errors.group(1)) if errors else 0), "sock": sock_err.group(1) if sock_err else ""}


def tree_cpu_seconds(pid):
    """utime + stime of a process and all its descendants (nginx and Varnish fork workers)."""
    tck = os.sysconf("SC_CLK_TCK")
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tck)
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        if p in parents:
            total += parents[p][1]
        todo.extend(c for c, (pp, _) in parents.items() if pp == p)
    return total


def interleaved_rounds(setups, rounds, run_one, line):
    """Runs each (name, settings) of `setups` once per round, round after round (so drift on a
    shared machine hits every set-up alike), printing line(round, name, result) as each run
    ends. Returns {name: [result per round]}."""
    res = {name: [] for name, _ in setups}
    for r in range(rounds):
        for name, settings in setups:
            s = run_one(name, settings)
            res[name].append(s)
            print(line(r + 1, name, s), flush=True)
    print()
    return res
