"""A small real Django site used by the integration tests (Debian's python3-django, served
by gunicorn on loopback). Without FCSITE_DJANGO_CACHE it has no cache middleware: frontcache in
front does that work. With FCSITE_DJANGO_CACHE=1 it runs Django's own per-site cache
(UpdateCacheMiddleware + FetchFromCacheMiddleware) over memcached at FCSITE_MEMCACHED — the
set-up frontcache replaces, used as the reference in test_django_cache."""

import os

SECRET_KEY = "frontcache-test-site-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "fcsite.urls"
USE_I18N = False
# USE_I18N / USE_TZ make Django append the language and time zone to cache keys
# (_i18n_cache_key_suffix); a proxy cannot know them (docs/request-flow.md), so the reference
# site has both off and its keys can be compared with frontcache's byte for byte.
USE_TZ = False
INSTALLED_APPS = ["django.contrib.sessions"]
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware"]
DATABASES = {}

if os.environ.get("FCSITE_HTTPS") == "1":
    # How every HTTPS Django site behind a TLS terminator is configured.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    MIDDLEWARE = ["django.middleware.security.SecurityMiddleware"] + MIDDLEWARE

if os.environ.get("FCSITE_GZIP") == "1":
    # A typical production site (benchmarks/browser_mix.py): responses gzipped for clients that
    # accept it, which adds Vary: Accept-Encoding.
    MIDDLEWARE = ["django.middleware.gzip.GZipMiddleware"] + MIDDLEWARE

if os.environ.get("FCSITE_STATIC_ROOT"):
    # A production-shaped site serving its static files with WhiteNoise (python3-whitenoise):
    # collectstatic gives them hashed names (the manifest storage) and gzip and brotli
    # variants; hashed files are sent with max-age=315360000 (ten years) and immutable, the
    # others with WhiteNoise's 60 s.
    INSTALLED_APPS = INSTALLED_APPS + ["django.contrib.staticfiles"]
    STATIC_URL = "/static/"
    STATIC_ROOT = os.environ["FCSITE_STATIC_ROOT"]
    STATICFILES_DIRS = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")]
    STATICFILES_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
    MIDDLEWARE = ["whitenoise.middleware.WhiteNoiseMiddleware"] + MIDDLEWARE

if os.environ.get("FCSITE_DJANGO_CACHE") == "1":
    MIDDLEWARE = (["django.middleware.cache.UpdateCacheMiddleware"] + MIDDLEWARE +
                  ["django.middleware.cache.FetchFromCacheMiddleware"])
    CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": os.environ.get("FCSITE_MEMCACHED", "127.0.0.1:11211"),
    }}
    CACHE_MIDDLEWARE_SECONDS = 600
    CACHE_MIDDLEWARE_KEY_PREFIX = ""

if os.environ.get("FCSITE_DB"):
    # Articles whose pages declare cache groups and are purged by group when one is saved
    # (test_django_groups), through frontcache_django (contrib/django, on PYTHONPATH): SQLite at
    # FCSITE_DB (made by `python3 -m django seed_articles`), purges sent to the admin URLs in
    # FCSITE_FRONTCACHE_ADMIN (comma-separated) with the token FCSITE_FRONTCACHE_TOKEN.
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                             "NAME": os.environ["FCSITE_DB"]}}
    INSTALLED_APPS = INSTALLED_APPS + ["frontcache_django", "fcsite.articles"]
    MIDDLEWARE = MIDDLEWARE + ["frontcache_django.middleware.CacheGroupsMiddleware"]
    TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates",
                  "APP_DIRS": True}]
    FRONTCACHE_ADMIN_URLS = [u for u in os.environ.get("FCSITE_FRONTCACHE_ADMIN", "").split(",")
                             if u]
    FRONTCACHE_ADMIN_TOKEN = os.environ.get("FCSITE_FRONTCACHE_TOKEN", "")
