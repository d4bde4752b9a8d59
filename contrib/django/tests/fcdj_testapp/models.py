from django.db import models

from frontcache_django import CacheGroupsModelMixin


class Topic(models.Model):
    name = models.CharField(max_length=50)


class Article(models.Model):
    """Tags as a comma-separated field; topics as a many-to-many field."""
    title = models.CharField(max_length=200)
    tags = models.CharField(max_length=200, blank=True)
    topics = models.ManyToManyField(Topic, blank=True, related_name="articles")

    def tag_list(self):
        return [t for t in self.tags.split(",") if t]

    def cache_groups(self):
        return (["article:%d" % self.pk] + ["tag:%s" % t for t in self.tag_list()] +
                ["topic:%s" % t.name for t in self.topics.all()])


class Note(CacheGroupsModelMixin, models.Model):
    """Connected by the mixin alone."""
    text = models.CharField(max_length=100)

    def cache_groups(self):
        return ["note:%d" % self.pk, "note-text:%s" % self.text]


class Plain(CacheGroupsModelMixin, models.Model):
    """The mixin's default groups."""
    text = models.CharField(max_length=100)


class NoteProxy(Note):
    """Saved through a proxy, the signals name the proxy: the mixin connects it too."""

    class Meta:
        proxy = True
