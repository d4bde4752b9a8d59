from django.apps import AppConfig


class ArticlesConfig(AppConfig):
    name = "fcsite.articles"
    label = "articles"
    default_auto_field = "django.db.models.AutoField"

    def ready(self):
        from frontcache_django import purge_on_save

        from .models import Article
        purge_on_save(Article)
