from django.urls import path

from frontcache_django import cache_groups

from . import views

urlpatterns = [
    path("a/<int:pk>", views.article),
    path("t/<str:slug>", views.tag),
    path("bad/<int:pk>", views.bad_spec),
    path("own", views.own_header),
    path("list", views.listing),
    path("list-tr", views.listing_tr),
    path("list-dec", views.listing_decorated),
    path("many", views.many),
    path("update/<int:pk>", views.update),
    path("wrong", views.wrong_invalidation),
    path("async/<int:pk>", views.async_view),
    path("cbv/<int:pk>", cache_groups("cbv:{pk}")(views.ArticleView.as_view())),
    path("cbv-method/<int:pk>", views.DecoratedView.as_view()),
]
