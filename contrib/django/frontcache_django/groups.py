"""Declaring a response's groups: on the response itself (add_cache_groups, invalidate_groups),
for a view (the @cache_groups decorator), or on the request while it is being answered
(request.cache_groups, a list that views, templates and tags append to; see middleware.py)."""

import asyncio
import functools

from .headers import CACHE_GROUP_INVALIDATION, CACHE_GROUPS, flatten, logger, merge_into

UNSAFE_METHODS = frozenset(["POST", "PUT", "PATCH", "DELETE"])
SAFE_METHODS = frozenset(["GET", "HEAD", "OPTIONS", "TRACE"])


def add_cache_groups(response, *groups):
    """Adds `groups` (names, or lists of names) to the response's Cache-Groups field, after the
    ones it has, without repeats. Names that cannot be sent are dropped with a warning. Returns
    the groups the field now holds."""
    return merge_into(response, CACHE_GROUPS, groups)


def invalidate_groups(response, *groups):
    """Adds `groups` to the response's Cache-Group-Invalidation field: frontcache invalidates
    them for the request's host when it passes this response on. Only a response to an unsafe
    method (POST, PUT, PATCH, DELETE) may carry it; CacheGroupsMiddleware removes it, with a
    warning, from any other. Returns the groups the field now holds."""
    return merge_into(response, CACHE_GROUP_INVALIDATION, groups)


def request_groups(request):
    """The request's list of groups (request.cache_groups), made when it has none yet."""
    groups = getattr(request, "cache_groups", None)
    if groups is None:
        groups = []
        try:
            request.cache_groups = groups
        except AttributeError:  # not a request object; nothing to keep them on
            pass
    return groups


def flush_request_groups(request, response):
    """Moves the groups gathered on request.cache_groups into the response's Cache-Groups
    field. The list is emptied in place, so what is appended later is still seen."""
    groups = getattr(request, "cache_groups", None)
    if groups:
        pending = list(groups)
        del groups[:]
        add_cache_groups(response, pending)
    return response


def _after_render(request, response, extra=()):
    """Adds `extra` and the request's groups to `response` now, or, for a response not yet
    rendered (a TemplateResponse, whose template may add groups while it renders), once it
    has been rendered."""
    if extra:
        add_cache_groups(response, extra)
    if getattr(response, "is_rendered", True) is False and hasattr(
            response, "add_post_render_callback"):
        response.add_post_render_callback(lambda r: flush_request_groups(request, r))
    else:
        flush_request_groups(request, response)
    return response


def _format(spec, request, args, kwargs):
    if callable(spec):
        out = spec(request, *args, **kwargs)
        if out is None:
            return []
        return [out] if isinstance(out, str) else flatten([out])
    try:
        return [spec.format(*args, **kwargs)]
    except (KeyError, IndexError, AttributeError, ValueError) as e:
        logger.warning("cache_groups: %r could not be filled from the view's arguments %r %r "
                       "(%s: %s): dropped", spec, args, kwargs, type(e).__name__, e)
        return []


def cache_groups(*specs):
    """A view decorator declaring the groups of the pages the view answers.

    Each spec is either a string, filled in with str.format from the view's URL arguments
    (``@cache_groups("article:{pk}", "index")``), or a callable called as
    ``spec(request, *args, **kwargs)`` returning a name, a list of names or None.

    The groups are written on the response the view returns, together with what the view or
    its template appended to request.cache_groups, before any middleware sees it: Django's
    cache middleware, wherever it is listed, stores the page with its groups.
    """
    def finish(request, response, args, kwargs):
        if response is None:
            return response
        declared = []
        for spec in specs:
            declared.extend(_format(spec, request, args, kwargs))
        return _after_render(request, response, declared)

    def decorate(view):
        if not callable(view):
            # @cache_groups without parentheses: the view became a spec, and the request
            # arrives here.
            raise TypeError("cache_groups takes group names and returns the decorator: write "
                            "@cache_groups(\"name\", ...), with parentheses")
        if asyncio.iscoroutinefunction(view):
            @functools.wraps(view)
            async def wrapped_async(request, *args, **kwargs):
                request_groups(request)
                return finish(request, await view(request, *args, **kwargs), args, kwargs)
            return wrapped_async

        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            request_groups(request)
            return finish(request, view(request, *args, **kwargs), args, kwargs)
        return wrapped

    return decorate
