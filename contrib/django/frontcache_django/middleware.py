"""CacheGroupsMiddleware: gives every request a list, request.cache_groups, that views, templates
and template tags append groups to, and writes them out as the response's Cache-Groups field,
merged with one the view set itself (de-duplicated, in order, names that cannot be sent dropped
with a warning). It also removes Cache-Group-Invalidation from responses to safe methods.

Where to list it: anywhere after django.middleware.cache.UpdateCacheMiddleware (or
CacheMiddleware). Groups from @cache_groups, add_cache_groups() and template tags in a
TemplateResponse are on the response before any middleware runs, wherever this one is listed;
only what an undecorated view appends to request.cache_groups while it builds a plain
HttpResponse (render(), a template tag inside it) waits for this middleware's own response
phase, which must run before Django's cache stores the page. A warning is logged once when it
is listed before UpdateCacheMiddleware."""

from django.conf import settings

from .groups import SAFE_METHODS, _after_render, request_groups
from .headers import CACHE_GROUP_INVALIDATION, logger

_CACHE_STORES = ("django.middleware.cache.UpdateCacheMiddleware",
                 "django.middleware.cache.CacheMiddleware")
_SELF = "frontcache_django.middleware.CacheGroupsMiddleware"


def placement_problem(middleware=None):
    """A sentence when CacheGroupsMiddleware is listed before (outside) a middleware of
    Django's that stores pages in its cache, else None."""
    names = list(settings.MIDDLEWARE if middleware is None else middleware)
    if _SELF not in names:
        return None
    ours = names.index(_SELF)
    for store in _CACHE_STORES:
        if store in names and names.index(store) > ours:
            return ("%s is listed before %s: groups that an undecorated view appends to "
                    "request.cache_groups while building a plain HttpResponse are added after "
                    "Django's cache stored the page, so its cached copies lack them. List it "
                    "after %s." % (_SELF, store, store.rsplit(".", 1)[1]))
    return None


class CacheGroupsMiddleware:
    sync_capable = True
    async_capable = False
    _warned = False

    def __init__(self, get_response):
        self.get_response = get_response
        why = placement_problem()
        if why and not CacheGroupsMiddleware._warned:
            CacheGroupsMiddleware._warned = True
            logger.warning(why)

    def __call__(self, request):
        request_groups(request)
        response = self.get_response(request)
        return self.process_response(request, response)

    def process_template_response(self, request, response):
        # Rendered inside the handler, before any middleware's response phase: groups added
        # by the template's tags land on the response there, wherever this is listed.
        return _after_render(request, response)

    def process_response(self, request, response):
        _after_render(request, response)
        if request.method in SAFE_METHODS and response.has_header(CACHE_GROUP_INVALIDATION):
            logger.warning("%s removed from the response to %s %s: only a response to an "
                           "unsafe method may invalidate groups", CACHE_GROUP_INVALIDATION,
                           request.method, request.path)
            del response[CACHE_GROUP_INVALIDATION]
        return response
