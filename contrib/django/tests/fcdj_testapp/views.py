from django.http import HttpResponse
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from frontcache_django import add_cache_groups, cache_groups, invalidate_groups

from .models import Article

COUNT = {"n": 0}


def _rendered():
    COUNT["n"] += 1
    return COUNT["n"]


@cache_groups("article:{pk}", "index")
def article(request, pk):
    return HttpResponse("article %d render %d" % (pk, _rendered()))


@cache_groups(lambda request, slug: ["tag:" + slug, "tag-lower:" + slug.lower()])
def tag(request, slug):
    return HttpResponse("tag %s render %d" % (slug, _rendered()))


@cache_groups("article:{missing}", "ok")
def bad_spec(request, pk):
    return HttpResponse("bad")


def own_header(request):
    """The view sets Cache-Groups itself, then adds more."""
    response = HttpResponse("own render %d" % _rendered())
    response["Cache-Groups"] = '"own", "sh\\"ared"'
    add_cache_groups(response, 'sh"ared', "later")
    request.cache_groups.append("own")
    request.cache_groups.append("from-request")
    return response


def listing(request):
    """An undecorated list page: render() with the template tags."""
    articles = Article.objects.order_by("pk")
    request.cache_groups.append("index")
    return render(request, "fcdj/list.html", {"articles": articles, "n": _rendered()})


def listing_tr(request):
    """The same as a TemplateResponse (rendered after the view returns)."""
    return TemplateResponse(request, "fcdj/list.html",
                            {"articles": Article.objects.order_by("pk"), "n": _rendered()})


@cache_groups("index")
def listing_decorated(request):
    articles = Article.objects.order_by("pk")
    return render(request, "fcdj/list.html", {"articles": articles, "n": _rendered()})


def many(request):
    response = HttpResponse("many")
    request.cache_groups.extend(request.GET.getlist("g"))
    return response


@csrf_exempt
def update(request, pk):
    a = Article.objects.get(pk=pk)
    a.title = request.POST.get("title", a.title)
    a.tags = request.POST.get("tags", a.tags)
    a.save()
    response = HttpResponse("saved")
    invalidate_groups(response, "article:%d" % pk)
    return response


def wrong_invalidation(request):
    response = HttpResponse("get")
    invalidate_groups(response, "x")
    return response


@cache_groups("async:{pk}")
async def async_view(request, pk):
    request.cache_groups.append("async-list")
    return HttpResponse("async")


class ArticleView(View):
    def get(self, request, pk):
        return HttpResponse("cbv %d" % pk)


@method_decorator(cache_groups("cbv-method:{pk}"), name="dispatch")
class DecoratedView(View):
    def get(self, request, pk):
        return HttpResponse("cbv %d" % pk)
