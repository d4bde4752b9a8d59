from django.conf import settings
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home),
    path("session", views.session_page),
    path("max30", views.max30),
    path("never", views.never),
    path("private", views.private),
    path("setcookie", views.setcookie),
    path("lang", views.lang),
    path("form", views.form),
    path("redirect", views.redirect_view),
    path("query", views.query),
    path("big", views.big),
    path("slow", views.slow),
    path("renders", views.renders),
    path("gone", views.gone),
    path("secure", views.secure),
    path("upload", views.upload),
    path("mix/<int:n>", views.mix_page),
    path("stream", views.stream),
]

if "fcsite.articles" in settings.INSTALLED_APPS:  # with FCSITE_DB (test_django_groups)
    urlpatterns.append(path("articles/", include("fcsite.articles.urls")))
