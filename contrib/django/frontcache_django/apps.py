from django.apps import AppConfig


class FrontcacheDjangoConfig(AppConfig):
    """Listed in INSTALLED_APPS only for the {% load frontcache %} template tags."""
    name = "frontcache_django"
    verbose_name = "frontcache cache groups"
