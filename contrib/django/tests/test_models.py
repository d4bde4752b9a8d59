"""Model signals: saving or deleting an instance purges its groups, after the save and before it
(read from the database row), once the transaction commits; many-to-many changes too; the
mixin connects itself. Real Django ORM on in-memory SQLite, real HTTP to a stub admin port."""

import unittest

import support  # noqa: F401
from django.db import transaction
from django.test import Client, override_settings

from fcdj_testapp.models import Article, Note, NoteProxy, Plain, Topic
from frontcache_django import purge as purge_module
from frontcache_django import purge_on_save
from support import AdminStub, LogCapture


class Base(unittest.TestCase):
    def setUp(self):
        self.stub = AdminStub()
        self.addCleanup(self.stub.close)
        purge_module._pending.map = {}
        s = override_settings(FRONTCACHE_ADMIN_URLS=[self.stub.url], FRONTCACHE_ADMIN_TOKEN="tk")
        s.enable()
        self.addCleanup(s.disable)
        for m in (Article, Topic, Note, Plain):
            m.objects.all().delete()
        del self.stub.requests[:]

    def sent(self):
        """The groups of each request, in order; and clears the record."""
        with self.stub.lock:
            out = [r["groups"] for r in self.stub.requests]
            for r in self.stub.requests:
                self.assertEqual(r["authorization"], "Bearer tk")
                self.assertEqual(r["path"], "/purge")
            del self.stub.requests[:]
        return out


class PurgeOnSave(Base):
    def setUp(self):
        super().setUp()
        self.addCleanup(purge_on_save(Article, groups=lambda a: a.cache_groups()))

    def test_create_update_delete(self):
        a = Article.objects.create(title="t", tags="python,django")
        self.assertEqual(self.sent(), [["article:%d" % a.pk, "tag:python", "tag:django"]])
        a.title = "t2"
        a.save()
        self.assertEqual(self.sent(), [["article:%d" % a.pk, "tag:python", "tag:django"]])
        pk = a.pk
        a.delete()
        self.assertEqual(self.sent(), [["article:%d" % pk, "tag:python", "tag:django"]])

    def test_the_groups_it_had_before_the_save_are_purged_too(self):
        a = Article.objects.create(title="t", tags="python,django")
        self.sent()
        a.tags = "python,web"  # out of "django", into "web"
        a.save()
        self.assertEqual(self.sent(), [["article:%d" % a.pk, "tag:python", "tag:django",
                                        "tag:web"]])
        # A copy loaded before the change still purges what the database held.
        stale = Article.objects.get(pk=a.pk)
        Article.objects.filter(pk=a.pk).update(tags="rust")  # no signal: nothing sent
        self.assertEqual(self.sent(), [])
        stale.tags = "go"
        stale.save()
        self.assertEqual(self.sent(), [["article:%d" % a.pk, "tag:rust", "tag:go"]])

    def test_a_primary_key_set_by_hand_replacing_a_row(self):
        a = Article.objects.create(title="t", tags="old")
        self.sent()
        Article(pk=a.pk, title="t", tags="new").save()
        self.assertEqual(self.sent(), [["article:%d" % a.pk, "tag:old", "tag:new"]])

    def test_deferred_to_the_commit_and_sent_once_per_transaction(self):
        with transaction.atomic():
            a = Article.objects.create(title="a", tags="x")
            b = Article.objects.create(title="b", tags="x,y")
            a.tags = "z"
            a.save()
            self.assertEqual(self.sent(), [])
        self.assertEqual(self.sent(), [["article:%d" % a.pk, "tag:x", "article:%d" % b.pk,
                                        "tag:y", "tag:z"]])

    def test_nothing_sent_for_a_rolled_back_save(self):
        a = Article.objects.create(title="a", tags="x")
        self.sent()
        try:
            with transaction.atomic():
                a.tags = "y"
                a.save()
                raise RuntimeError
        except RuntimeError:
            pass
        self.assertEqual(self.sent(), [])

    def test_many_to_many_changes_from_both_sides(self):
        py, dj = Topic.objects.create(name="py"), Topic.objects.create(name="dj")
        a = Article.objects.create(title="a")
        self.sent()
        a.topics.add(py)
        self.assertEqual(self.sent(), [["article:%d" % a.pk, "topic:py"]])
        a.topics.set([dj])  # py removed, dj added: one transaction, one purge
        self.assertEqual(self.sent(), [["article:%d" % a.pk, "topic:py", "topic:dj"]])
        a.topics.clear()
        self.assertEqual(self.sent(), [["article:%d" % a.pk, "topic:dj"]])
        b = Article.objects.create(title="b")
        self.sent()
        py.articles.add(a, b)  # from the other side
        self.assertEqual(sorted(map(sorted, self.sent())),
                         [sorted(["article:%d" % a.pk, "topic:py",
                                  "article:%d" % b.pk])])
        py.articles.clear()
        self.assertEqual(sorted(map(sorted, self.sent())),
                         [sorted(["article:%d" % a.pk, "topic:py", "article:%d" % b.pk])])

    def test_a_delete_purges_the_groups_its_links_gave_it(self):
        py = Topic.objects.create(name="py")
        a = Article.objects.create(title="a", tags="x")
        a.topics.add(py)
        self.sent()
        pk = a.pk
        a.delete()  # its links to topics go before post_delete
        self.assertEqual(self.sent(), [["article:%d" % pk, "tag:x", "topic:py"]])

    def test_a_save_through_a_view_purges_after_the_response_is_built(self):
        a = Article.objects.create(title="t", tags="old")
        self.sent()
        r = Client().post("/update/%d" % a.pk, {"title": "new", "tags": "new"})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(self.sent(), [["article:%d" % a.pk, "tag:old", "tag:new"]])

    def test_a_broken_groups_function_does_not_fail_the_save(self):
        disconnect = purge_on_save(Topic, groups=lambda t: 1 / 0)
        self.addCleanup(disconnect)
        with LogCapture() as log:
            Topic.objects.create(name="x")
        self.assertEqual(Topic.objects.filter(name="x").count(), 1)
        self.assertTrue(any("could not be computed" in m for m in log.messages()))
        self.assertEqual(self.sent(), [])

    def test_an_admin_port_that_is_down_does_not_fail_the_save(self):
        with override_settings(FRONTCACHE_ADMIN_URLS=[support.closed_port_url()]), \
                LogCapture() as log:
            a = Article.objects.create(title="t", tags="x")
        self.assertTrue(Article.objects.filter(pk=a.pk).exists())
        self.assertTrue(any("failed" in m for m in log.messages()))

    def test_disconnect_stops_it(self):
        self.doCleanups()  # disconnects and closes the stub
        self.stub = AdminStub()
        self.addCleanup(self.stub.close)
        with override_settings(FRONTCACHE_ADMIN_URLS=[self.stub.url]):
            Article.objects.create(title="t")
        self.assertEqual(self.stub.requests, [])


class Mixin(Base):
    def test_a_model_with_the_mixin_purges_by_itself(self):
        n = Note.objects.create(text="hello")
        self.assertEqual(self.sent(), [["note:%d" % n.pk, "note-text:hello"]])
        n.text = "bye"
        n.save()
        self.assertEqual(self.sent(), [["note:%d" % n.pk, "note-text:hello", "note-text:bye"]])
        pk = n.pk
        n.delete()
        self.assertEqual(self.sent(), [["note:%d" % pk, "note-text:bye"]])

    def test_a_proxy_model_too(self):
        n = NoteProxy.objects.create(text="p")
        self.assertEqual(self.sent(), [["note:%d" % n.pk, "note-text:p"]])

    def test_default_groups(self):
        p = Plain.objects.create(text="x")
        self.assertEqual(self.sent(), [["fcdj_testapp.plain:%d" % p.pk]])


if __name__ == "__main__":
    unittest.main()
