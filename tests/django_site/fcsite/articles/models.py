from django.db import models


class Article(models.Model):
    """An article with its tags as a comma-separated field. Its groups (purged on save through
    frontcache_django.purge_on_save, connected in apps.py): its own, the index's (a new article
    appears there) and each tag's (an article given a tag appears on the tag's page). The pages
    that showed it before the save name "article:ID" themselves, and the groups it had before
    are purged too."""
    title = models.CharField(max_length=200)
    tags = models.CharField(max_length=200, blank=True)

    class Meta:
        app_label = "articles"
        ordering = ["pk"]

    def tag_list(self):
        return [t for t in self.tags.split(",") if t]

    def cache_groups(self):
        return ["article:%d" % self.pk, "index"] + ["tag:%s" % t for t in self.tag_list()]
