"""Purging a model instance's groups when it changes.

purge_on_save(Model, groups=lambda obj: [...]) connects Django's model signals so that each save
and delete purges the instance's groups once the transaction commits: the groups it has after
the save AND the ones it had before (read from its database row on pre_save), so that an
article moved out of a tag also purges the old tag's page. Changes to the model's many-to-many
fields (obj.tags.add/remove/set/clear) purge the same way: the groups before and after.

CacheGroupsModelMixin does the same for every concrete model that inherits it, with the
groups of its cache_groups() method."""

import logging

from django.db.models import signals

from .headers import flatten
from .purge import defer_purge

logger = logging.getLogger("frontcache_django")

_OLD = "_frontcache_groups_before"


def _groups(func, instance):
    try:
        out = func(instance)
    except Exception:  # a bug in a groups function must not fail the save
        logger.exception("frontcache: the cache groups of %r could not be computed", instance)
        return []
    if out is None:
        return []
    return [out] if isinstance(out, str) else flatten([out])


def _method(instance):
    return instance.cache_groups()


class _Receivers:
    """The signal handlers for one model."""

    def __init__(self, model, groups, soft, host):
        self.model, self.func, self.soft, self.host = model, groups or _method, soft, host
        self.uid = "frontcache_django:%s.%s:%d" % (model._meta.app_label if hasattr(model, "_meta")
                                                   else "", model.__name__, id(model))

    def purge(self, groups, using):
        if groups:
            defer_purge(groups, self.soft, self.host, using)

    def before_save(self, sender, instance, raw=False, using=None, update_fields=None, **kw):
        old = []
        pk = instance.pk
        if pk is not None:
            # The row as it is in the database, before this save changes it (none for a new
            # instance; one with a primary key set by hand may replace a row).
            try:
                row = sender._base_manager.using(using).filter(pk=pk).first()
            except Exception:
                logger.exception("frontcache: the stored %s %r could not be read",
                                 sender.__name__, pk)
                row = None
            if row is not None:
                old = _groups(self.func, row)
        setattr(instance, _OLD, old)

    def after_save(self, sender, instance, created=False, raw=False, using=None, **kw):
        old = instance.__dict__.pop(_OLD, [])
        self.purge(old + _groups(self.func, instance), using)

    def before_delete(self, sender, instance, using=None, **kw):
        # Computed before the row and its many-to-many links are gone.
        setattr(instance, _OLD, _groups(self.func, instance))

    def after_delete(self, sender, instance, using=None, **kw):
        old = instance.__dict__.pop(_OLD, None)
        self.purge(old if old is not None else _groups(self.func, instance), using)

    def _field_for(self, through):
        """Our model's many-to-many field whose link table is `through`, or None."""
        for f in self.model._meta.many_to_many:
            if f.remote_field.through is through:
                return f
        return None

    def m2m_changed(self, sender, instance, action, reverse, model, pk_set, using=None, **kw):
        field = self._field_for(sender)
        if field is None:
            return
        if not reverse:  # obj.tags.add(tag): the instance is ours
            objs = [instance]
        elif action == "pre_clear":  # tag.article_set.clear(): every one linked now
            objs = list(getattr(instance, field.remote_field.get_accessor_name()).all())
            instance.__dict__["_frontcache_cleared"] = objs
        elif action == "post_clear":
            objs = instance.__dict__.pop("_frontcache_cleared", [])
        else:  # tag.article_set.add(article): the instances of ours being linked or unlinked
            objs = list(self.model._base_manager.using(using).filter(pk__in=pk_set or ()))
            if action.startswith("post_"):
                # Fresh objects: carry over what their copies read before the change.
                before = instance.__dict__.pop("_frontcache_linked", {})
                for obj in objs:
                    if obj.pk in before:
                        setattr(obj, _OLD, before[obj.pk])
        if action in ("pre_add", "pre_remove", "pre_clear"):
            for obj in objs:
                setattr(obj, _OLD, _groups(self.func, obj))
            if reverse and action != "pre_clear":
                instance.__dict__["_frontcache_linked"] = {
                    obj.pk: obj.__dict__.pop(_OLD) for obj in objs}
        elif action in ("post_add", "post_remove", "post_clear"):
            groups = []
            for obj in objs:
                groups.extend(obj.__dict__.pop(_OLD, []))
                groups.extend(_groups(self.func, obj))
            self.purge(groups, using)

    def connect(self):
        signals.pre_save.connect(self.before_save, sender=self.model, weak=False,
                                 dispatch_uid=self.uid + ":pre_save")
        signals.post_save.connect(self.after_save, sender=self.model, weak=False,
                                  dispatch_uid=self.uid + ":post_save")
        signals.pre_delete.connect(self.before_delete, sender=self.model, weak=False,
                                   dispatch_uid=self.uid + ":pre_delete")
        signals.post_delete.connect(self.after_delete, sender=self.model, weak=False,
                                    dispatch_uid=self.uid + ":post_delete")
        # Any sender: the link tables may not be resolved yet (a "app.Model" string); each
        # call checks whether the table is one of this model's fields.
        signals.m2m_changed.connect(self.m2m_changed, weak=False, dispatch_uid=self.uid + ":m2m")

    def disconnect(self):
        for sig, name in ((signals.pre_save, "pre_save"), (signals.post_save, "post_save"),
                          (signals.pre_delete, "pre_delete"),
                          (signals.post_delete, "post_delete")):
            sig.disconnect(sender=self.model, dispatch_uid=self.uid + ":" + name)
        signals.m2m_changed.disconnect(dispatch_uid=self.uid + ":m2m")


def purge_on_save(model, groups=None, *, soft=False, host=None):
    """Purges an instance's groups when it is saved or deleted, once the transaction commits:
    `groups(instance)` (a name or a list; default: instance.cache_groups()) as it was before the
    save, read from the database, and as it is after. Its many-to-many fields are watched too.
    Calling it again for the same model replaces nothing: the first connection stays. Returns a
    function that disconnects the handlers."""
    receivers = _Receivers(model, groups, soft, host)
    receivers.connect()
    return receivers.disconnect


class CacheGroupsModelMixin:
    """Inherit it in a model and define cache_groups(self) returning the instance's groups
    (default: "app_label.model_name:pk"): every concrete model that inherits it purges those
    groups on save and delete, as purge_on_save() does."""

    def cache_groups(self):
        return ["%s.%s:%s" % (self._meta.app_label, self._meta.model_name, self.pk)]


def _on_class_prepared(sender, **kwargs):
    if issubclass(sender, CacheGroupsModelMixin) and not sender._meta.abstract \
            and not sender._meta.swapped:
        purge_on_save(sender)


signals.class_prepared.connect(_on_class_prepared, weak=False,
                               dispatch_uid="frontcache_django:class_prepared")

__all__ = ["purge_on_save", "CacheGroupsModelMixin"]
