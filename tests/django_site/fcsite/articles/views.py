"""Pages that declare cache groups (test_django_groups): an article's page names its own group,
the index and each tag's page name theirs and every article they show."""

from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from frontcache_django import cache_groups

from ..views import _render
from .models import Article


@cache_control(max_age=600)
@cache_groups("article:{pk}")
def article(request, pk):
    a = get_object_or_404(Article, pk=pk)
    return render(request, "articles/article.html", {"article": a, "render": _render()})


@cache_control(max_age=600)
def index(request):
    request.cache_groups.append("index")
    return render(request, "articles/list.html",
                  {"title": "index", "articles": Article.objects.all(), "render": _render()})


@cache_control(max_age=600)
@cache_groups("tag:{tag}")
def tag(request, tag):
    shown = [a for a in Article.objects.all() if tag in a.tag_list()]
    return render(request, "articles/list.html",
                  {"title": "tag " + tag, "articles": shown, "render": _render()})


@csrf_exempt
@require_POST
def edit(request, pk):
    """Updates an article from the form fields title and tags; the model signal purges."""
    try:
        a = Article.objects.get(pk=pk)
    except Article.DoesNotExist:
        raise Http404
    a.title = request.POST.get("title", a.title)
    a.tags = request.POST.get("tags", a.tags)
    a.save()
    return JsonResponse({"saved": a.pk, "groups": a.cache_groups(), "render": _render()})
