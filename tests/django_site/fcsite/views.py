import hashlib
import itertools
import os
import random
import time

from django.http import (HttpResponse, HttpResponseNotFound, HttpResponseRedirect, JsonResponse,
                         StreamingHttpResponse)
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.csrf import csrf_exempt

# Every render is stamped "render N" and counted (one counter per process; the tests run one
# worker), so a test can tell which requests reached the view and which were served from a cache.
_renders = itertools.count(1)
_count = 0


def _render():
    global _count
    _count = next(_renders)
    return _count


def _page(title):
    return "<html><body><h1>%s</h1><p>render %d</p></body></html>" % (title, _render())


@never_cache
def renders(request):
    return HttpResponse(str(_count), content_type="text/plain")


def gone(request):
    return HttpResponseNotFound(_page("gone"))


def home(request):
    return HttpResponse(_page("home"))


def session_page(request):
    request.session.get("seen")  # reading the session makes SessionMiddleware add Vary: Cookie
    return HttpResponse(_page("session"))


@cache_control(max_age=30)
def max30(request):
    return HttpResponse(_page("max30"))


@never_cache
def never(request):
    return HttpResponse(_page("never"))


@cache_control(private=True)
def private(request):
    return HttpResponse(_page("private"))


def setcookie(request):
    response = HttpResponse(_page("setcookie"))
    response.set_cookie("theme", "dark")
    return response


def lang(request):
    response = HttpResponse(_page("lang:" + request.headers.get("Accept-Language", "")))
    patch_vary_headers(response, ["Accept-Language"])
    return response


@csrf_exempt
def form(request):
    if request.method == "POST":
        return JsonResponse({"method": "POST", "fields": dict(request.POST.items()),
                             "render": _render()})
    return HttpResponse(_page("form"))


def redirect_view(request):
    _render()
    return HttpResponseRedirect("/")


def query(request):
    return HttpResponse(_page("query:" + request.GET.get("q", "")))


def big(request):
    return HttpResponse(b"y" * (512 * 1024), content_type="application/octet-stream")


def slow(request):
    time.sleep(float(request.GET.get("s", "0.02")))  # a stand-in for a database query
    return HttpResponse(_page("slow"))


def secure(request):
    """What Django believes about the connection (SECURE_PROXY_SSL_HEADER at work)."""
    return JsonResponse({"is_secure": request.is_secure(), "uri": request.build_absolute_uri(),
                         "render": _render()})


@csrf_exempt
def upload(request):
    """The request body as the view reads it: its length and SHA-256, read in pieces (a WSGI
    server gives the view CONTENT_LENGTH bytes, and none without it)."""
    h = hashlib.sha256()
    n = 0
    while True:
        piece = request.read(65536)
        if not piece:
            break
        h.update(piece)
        n += len(piece)
    return JsonResponse({"length": n, "sha256": h.hexdigest(),
                         "content_length": request.META.get("CONTENT_LENGTH", "")})


# benchmarks/browser_mix.py: 40 pages of a site whose template reads the session (so
# SessionMiddleware adds Vary: Cookie) and shows who is signed in. Each body is the same for the
# same page and visitor, so a client can check it got the right page. Every render appends one
# byte to FCSITE_RENDER_LOG, counted across gunicorn's worker processes.
_MIX_WORDS = ("frontcache caches pages in front of the application so that it renders each "
              "page once per stored copy rather than once per visitor while browsers send their "
              "own cookies encodings and campaign links to a site whose templates read the "
              "session for the navigation bar and the footer of every article about news sport "
              "weather travel food music film books science money health culture").split()


def mix_page(request, n):
    visitor = request.session.get("user") or request.COOKIES.get("sessionid") or "anonymous"
    log = os.environ.get("FCSITE_RENDER_LOG")
    if log:
        with open(log, "a") as f:
            f.write("x")
    rng = random.Random(n)  # the same page every render: a client can compare
    paragraphs = []
    for i in range(8 + n % 12):
        words = [rng.choice(_MIX_WORDS) for _ in range(80)]
        paragraphs.append('<p class="p%d">%s %d.</p>' % (i, " ".join(words), rng.randrange(10 ** 6)))
    body = ("<html><head><title>page %d</title></head><body><!-- page %d visitor %s -->"
            "<h1>Page %d</h1><nav>signed in as %s</nav>%s</body></html>"
            % (n, n, visitor, n, visitor, "\n".join(paragraphs)))
    return HttpResponse(body)


def stream(request):
    # No length known in advance: sent chunked (a page streamed as it renders).
    return StreamingHttpResponse(iter([b"part one, ", b"part two"]))
