"""A small real Django site used by the integration tests (Debian's python3-django, served
by gunicorn on loopback). It has no cache middleware: frontcache in front does that work."""

import os

SECRET_KEY = "frontcache-test-site-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "fcsite.urls"
USE_I18N = False
USE_TZ = True
INSTALLED_APPS = ["django.contrib.sessions"]
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware"]
DATABASES = {}
