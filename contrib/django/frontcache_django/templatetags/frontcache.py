"""{% load frontcache %}

{% cache_group "article:" article.pk %}   adds the group "article:42" to the page being rendered:
                                          the arguments are joined as text into one name
{% cache_groups_for articles "article:{pk}" %}
                                          one group per object: the pattern filled in with
                                          str.format from each object's attributes ({pk}, {slug})

Both write nothing into the page; they append to request.cache_groups, which
CacheGroupsMiddleware (or a view's @cache_groups) turns into the Cache-Groups field. They need
the request in the context: a template rendered through render(request, ...) or a
TemplateResponse."""

from django import template

from ..groups import request_groups
from ..headers import logger

register = template.Library()


def _request(context):
    request = getattr(context, "request", None) or context.get("request")
    if request is None:
        logger.warning("{%% cache_group %%} in a template rendered without a request: ignored")
    return request


@register.simple_tag(takes_context=True)
def cache_group(context, *parts):
    request = _request(context)
    if request is not None and parts:
        request_groups(request).append("".join(str(p) for p in parts))
    return ""


class _Attrs:
    """str.format's view of an object: {pk}, {slug}, any attribute."""

    def __init__(self, obj):
        self.obj = obj

    def __getitem__(self, name):
        if isinstance(self.obj, dict):
            return self.obj[name]
        try:
            return getattr(self.obj, name)
        except AttributeError:
            raise KeyError(name)


@register.simple_tag(takes_context=True)
def cache_groups_for(context, objects, pattern):
    request = _request(context)
    if request is None:
        return ""
    groups = request_groups(request)
    for obj in objects:
        try:
            groups.append(pattern.format_map(_Attrs(obj)))
        except (KeyError, IndexError, ValueError) as e:
            logger.warning("{%% cache_groups_for %%}: %r could not be filled from %r (%s)",
                           pattern, obj, e)
    return ""
