"""Shared by the tests: a real Django (Debian's python3-django) configured in this process with an
in-memory SQLite database and the test app fcdj_testapp, and a real HTTP server on 127.0.0.1
standing in for frontcache's admin port, recording every request it is sent."""

import json
import logging
import os
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [p for p in (os.path.dirname(HERE), HERE) if p not in sys.path]

try:
    import django
except ImportError:  # pragma: no cover
    raise ImportError("these tests need Django for %s (Debian: apt-get install python3-django, "
                      "then run them with /usr/bin/python3)" % sys.executable)

from django.conf import settings

MIDDLEWARE = [
    "django.middleware.cache.UpdateCacheMiddleware",
    "django.middleware.common.CommonMiddleware",
    "frontcache_django.middleware.CacheGroupsMiddleware",
    "django.middleware.cache.FetchFromCacheMiddleware",
]

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="frontcache-django-tests",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="fcdj_testapp.urls",
        USE_TZ=False,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        INSTALLED_APPS=["django.contrib.contenttypes", "frontcache_django", "fcdj_testapp"],
        MIDDLEWARE=MIDDLEWARE,
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        CACHE_MIDDLEWARE_SECONDS=600,
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates",
                    "APP_DIRS": True, "OPTIONS": {}}],
        FRONTCACHE_ADMIN_URLS=[],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment
    setup_test_environment()
    call_command("migrate", run_syncdb=True, verbosity=0)


class AdminStub:
    """An HTTP server on 127.0.0.1 (port 0) answering POST /purge as frontcache's admin port
    does: 200 {"purged": N} (N: the number of groups; soft: also "expired"), or `status` with a
    body when set; `delay`: seconds to wait before answering. `requests` records each one as a
    dict: method, path, query (parse_qs of the query, order kept in `groups`), authorization,
    body."""

    def __init__(self, status=200, delay=0.0):
        self.status, self.delay = status, delay
        self.requests = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
                record = {"method": "POST", "path": path, "query": query,
                          "groups": [v for k, v in pairs if k == "group"],
                          "params": {k: v for k, v in pairs if k != "group"},
                          "authorization": self.headers.get("Authorization"), "body": body}
                with stub.lock:
                    stub.requests.append(record)
                if stub.delay:
                    time.sleep(stub.delay)
                if stub.status == 200:
                    answer = {"purged": len(record["groups"])}
                    if record["params"].get("soft") == "1":
                        answer["expired"] = len(record["groups"])
                    out = json.dumps(answer).encode()
                else:
                    out = b"refused"
                try:
                    self.send_response(stub.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def all_groups(self):
        with self.lock:
            return [g for r in self.requests for g in r["groups"]]


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers (a hung admin port)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.conns = []
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.stopping = True
        self.sock.close()
        for c in self.conns:
            c.close()


def closed_port_url():
    """A URL on a loopback port nothing listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "http://127.0.0.1:%d" % port


class LogCapture(logging.Handler):
    """Collects the frontcache_django logger's records while installed (a context manager)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def messages(self, level=logging.WARNING):
        return [r.getMessage() for r in self.records if r.levelno >= level]

    def __enter__(self):
        self.logger = logging.getLogger("frontcache_django")
        self.old_level = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.old_level)
import logging; logging.getLogger("frontcache_django").addHandler(logging.NullHandler())
