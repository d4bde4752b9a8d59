from django.urls import path

from . import views

urlpatterns = [
    path("", views.home),
    path("form", views.form),
    path("redirect", views.redirect_view),
    path("query", views.query),
    path("big", views.big),
]
