import itertools

from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.csrf import csrf_exempt

_renders = itertools.count(1)


def home(request):
    # Each render is stamped so a test can tell a fresh render from a cached copy.
    return HttpResponse("<html><body><h1>home</h1><p>render %d</p></body></html>" % next(_renders))


@csrf_exempt
def form(request):
    if request.method == "POST":
        return JsonResponse({"method": "POST", "fields": dict(request.POST.items())})
    return HttpResponse("<form method=post><input name=a></form>")


def redirect_view(request):
    return HttpResponseRedirect("/")


def query(request):
    return JsonResponse({"q": request.GET.get("q", "")})


def big(request):
    return HttpResponse(b"y" * (512 * 1024), content_type="application/octet-stream")
