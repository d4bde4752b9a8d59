"""Purging groups through frontcache's admin port: POST /purge?group=G1&group=G2 to every URL in
settings.FRONTCACHE_ADMIN_URLS (with admin.peers set, one instance forwards it to the others, so
one URL is enough; each one listed is called).

Settings:
  FRONTCACHE_ADMIN_URLS   list of admin base URLs, e.g. ["http://127.0.0.1:9090"]; empty or
                          unset: purges do nothing (a development set-up without frontcache)
  FRONTCACHE_ADMIN_TOKEN  admin.token, sent as "Authorization: Bearer TOKEN" when set
  FRONTCACHE_TIMEOUT      seconds for each call (default 2); the calls run side by side, so a
                          purge takes about that long at most whatever the number of URLs

Errors (an instance down, a refused token, a timeout) are logged and returned, never raised
into the request unless raise_errors=True."""

import json
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple, Optional

from django.conf import settings

from .headers import clean

logger = logging.getLogger("frontcache_django")

DEFAULT_TIMEOUT = 2.0
# Groups are sent in several calls when their query would be longer than this (the admin port's
# request head is bounded like the public port's).
MAX_QUERY = 6000


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: urllib would send the Authorization header (the admin token) on
    to wherever it points."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _opener():
    # Straight to the admin port, never through an HTTP proxy named in the environment
    # (http_proxy is often set for a site's outgoing calls), and never on to a redirect.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


class PurgeResult(NamedTuple):
    """One call to one admin URL."""
    url: str                   # the full URL called (without the token)
    groups: tuple              # the groups it carried
    ok: bool
    status: Optional[int]      # HTTP status, None when no answer came
    purged: Optional[int]      # "purged" of the answer
    expired: Optional[int]     # "expired" of a soft purge's answer
    error: Optional[str]       # what went wrong, None when ok


class PurgeError(Exception):
    """Raised by purge_groups(raise_errors=True) after every call was made, when any failed;
    `results` holds them all."""

    def __init__(self, results):
        self.results = results
        failed = [r for r in results if not r.ok]
        super().__init__("; ".join("%s: %s" % (r.url, r.error) for r in failed))


def _setting_urls(urls):
    if urls is None:
        urls = getattr(settings, "FRONTCACHE_ADMIN_URLS", None) or []
    if isinstance(urls, str):
        urls = [urls]
    return [u.rstrip("/") for u in urls]


def _queries(groups, soft, host):
    """The query strings that carry `groups` (several when one would be too long)."""
    tail = ""
    if soft:
        tail += "&soft=1"
    if host:
        tail += "&host=" + urllib.parse.quote(host, safe="")
    out, current, batch = [], "", []
    for g in groups:
        part = "group=" + urllib.parse.quote(g, safe="")
        if batch and len(current) + 1 + len(part) + len(tail) > MAX_QUERY:
            out.append((current + tail, tuple(batch)))
            current, batch = "", []
        current = part if not current else current + "&" + part
        batch.append(g)
    if batch:
        out.append((current + tail, tuple(batch)))
    return out


def _call(url, groups, token, timeout):
    req = urllib.request.Request(url, data=b"", method="POST")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    status = None
    try:
        with _opener().open(req, timeout=timeout) as resp:
            status = resp.status
            body = resp.read(65536)
    except urllib.error.HTTPError as e:
        detail = e.read(300).decode("utf-8", "replace").strip() if e.fp else ""
        e.close()
        return PurgeResult(url, groups, False, e.code, None, None,
                           "HTTP %d%s" % (e.code, ": " + detail if detail else ""))
    except urllib.error.URLError as e:
        return PurgeResult(url, groups, False, None, None, None, str(e.reason))
    except (OSError, ValueError) as e:  # timeouts while reading, a bad URL, a reset
        return PurgeResult(url, groups, False, status, None, None,
                           "%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__)
    try:
        answer = json.loads(body)
        purged, expired = answer.get("purged"), answer.get("expired")
    except (ValueError, AttributeError):
        return PurgeResult(url, groups, False, status, None, None,
                           "answer is not the JSON expected: %r" % body[:200])
    return PurgeResult(url, groups, True, status, purged, expired, None)


def send_purges(groups, soft=False, host=None, urls=None, token=None, timeout=None):
    """Makes the calls now and returns their PurgeResults (logging each failure)."""
    groups = clean(groups, "purge_groups")
    urls = _setting_urls(urls)
    if not groups:
        return []
    if not urls:
        logger.debug("purge_groups: FRONTCACHE_ADMIN_URLS is empty; %d group(s) not purged",
                     len(groups))
        return []
    if token is None:
        token = getattr(settings, "FRONTCACHE_ADMIN_TOKEN", None) or ""
    if timeout is None:
        timeout = float(getattr(settings, "FRONTCACHE_TIMEOUT", DEFAULT_TIMEOUT))
    calls = [(base + "/purge?" + query, batch) for base in urls
             for query, batch in _queries(groups, soft, host)]
    if len(calls) == 1:
        results = [_call(calls[0][0], calls[0][1], token, timeout)]
    else:
        with ThreadPoolExecutor(max_workers=min(8, len(calls)),
                                thread_name_prefix="frontcache-purge") as pool:
            results = list(pool.map(lambda c: _call(c[0], c[1], token, timeout), calls))
    for r in results:
        if r.ok:
            logger.info("frontcache purge of %d group(s) at %s: purged %s%s", len(r.groups),
                        r.url.split("?", 1)[0], r.purged,
                        "" if r.expired is None else ", expired %s" % r.expired)
        else:
            logger.error("frontcache purge of %d group(s) (%s) at %s failed: %s",
                         len(r.groups), ", ".join(r.groups[:5]) + (
                             " ..." if len(r.groups) > 5 else ""),
                         r.url.split("?", 1)[0], r.error)
    return results


# Groups waiting for the commit of the transaction that changed them: per thread (a database
# connection is per thread), per (database alias, soft, host, urls, token, timeout,
# raise_errors).
_pending = threading.local()


def _pending_map():
    m = getattr(_pending, "map", None)
    if m is None:
        m = _pending.map = {}
    return m


def _flush(key):
    groups = _pending_map().pop(key, None)
    if not groups:
        return
    _, soft, host, urls, token, timeout, raise_errors = key
    results = send_purges(list(groups), soft, host, list(urls) if urls is not None else None,
                          token, timeout)
    if raise_errors and any(not r.ok for r in results):
        raise PurgeError(results)


def defer_purge(groups, soft=False, host=None, using=None, urls=None, token=None, timeout=None,
                raise_errors=False):
    """Purges `groups` once the current transaction on database `using` commits (at once when
    none is open; never when it rolls back). Groups deferred in one transaction are sent
    together, in one purge per URL."""
    from django.db import DEFAULT_DB_ALIAS, transaction

    using = using or DEFAULT_DB_ALIAS
    key = (using, bool(soft), host, tuple(_setting_urls(urls)) if urls is not None else None,
           token, timeout, bool(raise_errors))
    pending = _pending_map().setdefault(key, {})
    for g in clean(groups, "purge_groups"):
        pending[g] = True
    # One callback per call: the first to run sends everything pending, the others find
    # nothing. Groups of a transaction that was rolled back stay pending until the next
    # commit sends them (a purge too many, never one too few).
    transaction.on_commit(lambda: _flush(key), using=using)


def purge_groups(groups, soft=False, host=None, *, raise_errors=False, on_commit=False,
                 using=None, urls=None, token=None, timeout=None):
    """Purges `groups` (a name or a list of names) from frontcache.

    soft: mark the pages expired instead of removing them (served stale while one request
    renews each). host: only that host's pages (default: every host). on_commit: wait for the
    current transaction on database `using` to commit (returns None then). urls, token,
    timeout: instead of the settings.

    Returns a PurgeResult per call. Failures are logged; with raise_errors=True a PurgeError
    is raised once every call was made."""
    if isinstance(groups, (str, int)):
        groups = [groups]
    if on_commit:
        defer_purge(groups, soft, host, using, urls, token, timeout, raise_errors)
        return None
    results = send_purges(groups, soft, host, urls, token, timeout)
    if raise_errors and any(not r.ok for r in results):
        raise PurgeError(results)
    return results
