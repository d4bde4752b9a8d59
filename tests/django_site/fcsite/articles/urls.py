from django.urls import path

from . import views

urlpatterns = [
    path("", views.index),
    path("<int:pk>", views.article),
    path("<int:pk>/edit", views.edit),
    path("tag/<str:tag>", views.tag),
]
