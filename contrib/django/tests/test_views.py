"""Declaring groups in views and templates, and CacheGroupsMiddleware writing them out, through
Django's real request handling (django.test.Client), with Django's own cache middleware in the
chain in each order."""

import unittest

import support  # noqa: F401  (Django configured)
from django.core.cache import cache
from django.test import Client, override_settings

from fcdj_testapp import views
from fcdj_testapp.models import Article
from frontcache_django import groups_of
from frontcache_django import middleware as fc_middleware
from support import LogCapture

UPDATE = "django.middleware.cache.UpdateCacheMiddleware"
FETCH = "django.middleware.cache.FetchFromCacheMiddleware"
OURS = "frontcache_django.middleware.CacheGroupsMiddleware"


class Base(unittest.TestCase):
    def setUp(self):
        cache.clear()
        Article.objects.all().delete()

    def renders(self):
        return views.COUNT["n"]


class Decorator(Base):
    def test_placeholders_come_from_the_view_arguments(self):
        r = Client().get("/a/42")
        self.assertEqual(r["Cache-Groups"], '"article:42", "index"')
        self.assertEqual(Client().get("/a/7")["Cache-Groups"], '"article:7", "index"')

    def test_a_callable_gets_the_request_and_arguments(self):
        r = Client().get("/t/Python")
        self.assertEqual(groups_of(r), ["tag:Python", "tag-lower:python"])

    def test_a_placeholder_the_view_lacks_is_dropped_and_logged(self):
        with LogCapture() as log:
            r = Client().get("/bad/1")
        self.assertEqual(r["Cache-Groups"], '"ok"')
        self.assertTrue(any("'article:{missing}' could not be filled" in m
                            for m in log.messages()), log.messages())

    def test_the_decorator_without_parentheses_says_so(self):
        from django.test import RequestFactory
        from frontcache_django import cache_groups

        @cache_groups
        def view(request):
            pass
        with self.assertRaisesRegex(TypeError, "with parentheses"):
            view(RequestFactory().get("/"))

    def test_class_based_views(self):
        self.assertEqual(groups_of(Client().get("/cbv/4")), ["cbv:4"])
        self.assertEqual(groups_of(Client().get("/cbv-method/5")), ["cbv-method:5"])

    def test_async_views(self):
        r = Client().get("/async/9")
        self.assertEqual(groups_of(r), ["async:9", "async-list"])

    def test_without_the_middleware_the_decorator_still_writes_the_field(self):
        with override_settings(MIDDLEWARE=[]):
            self.assertEqual(Client().get("/a/5")["Cache-Groups"], '"article:5", "index"')
            # request.cache_groups of a decorated view is written by the decorator too.
            Article.objects.create(title="x")
            pk = Article.objects.get().pk
            self.assertEqual(groups_of(Client().get("/list-dec")),
                             ["index", "article:%d" % pk, "title:x"])


class Middleware(Base):
    def test_the_view_field_is_merged_deduplicated_in_order(self):
        r = Client().get("/own")
        self.assertEqual(r["Cache-Groups"], '"own", "sh\\"ared", "later", "from-request"')

    def test_a_list_page_names_each_article_it_shows(self):
        a = Article.objects.create(title="one", tags="x")
        b = Article.objects.create(title='two "2"', tags="")
        for path, first in (("/list", ["index"]), ("/list-tr", []), ("/list-dec", ["index"])):
            r = Client().get(path)
            self.assertEqual(groups_of(r), first + ["article:%d" % a.pk, "article:%d" % b.pk,
                                                    "title:one", 'title:two "2"'], path)
        self.assertIn('title:two \\"2\\"', Client().get("/list")["Cache-Groups"])

    def test_too_many_groups_keep_the_first_128_and_warn(self):
        query = "&".join("g=n%d" % i for i in range(130))
        with LogCapture() as log:
            r = Client().get("/many?" + query + "&g=bad%01")
        self.assertEqual(groups_of(r), ["n%d" % i for i in range(128)])
        msgs = log.messages()
        self.assertTrue(any("131 groups, only the first 128" in m for m in msgs), msgs)

    def test_no_groups_no_field(self):
        r = Client().get("/many")
        self.assertFalse(r.has_header("Cache-Groups"))

    def test_invalidation_only_on_unsafe_methods(self):
        a = Article.objects.create(title="one")
        r = Client().post("/update/%d" % a.pk, {"title": "new"})
        self.assertEqual(r["Cache-Group-Invalidation"], '"article:%d"' % a.pk)
        with LogCapture() as log:
            r = Client().get("/wrong")
        self.assertFalse(r.has_header("Cache-Group-Invalidation"))
        self.assertIn("only a response to an unsafe method", log.messages()[0])


class WithDjangosCache(Base):
    """The second request is answered from Django's own cache (the view does not run): it must
    carry the same groups, whatever the order of the middleware."""

    ORDERS = {
        "between": [UPDATE, OURS, FETCH],
        "innermost": [UPDATE, FETCH, OURS],
    }

    def check(self, order, path, expect):
        with override_settings(MIDDLEWARE=order):
            cache.clear()
            first = Client().get(path)
            before = self.renders()
            second = Client().get(path)
            self.assertEqual(self.renders(), before, "not answered from Django's cache")
            self.assertEqual(groups_of(first), expect)
            self.assertEqual(groups_of(second), expect)

    def test_every_way_of_declaring_groups_is_cached_with_the_page(self):
        a = Article.objects.create(title="one")
        listed = ["article:%d" % a.pk, "title:one"]
        for name, order in self.ORDERS.items():
            with self.subTest(name):
                self.check(order, "/a/3", ["article:3", "index"])
                self.check(order, "/list", ["index"] + listed)
                self.check(order, "/list-tr", listed)
                self.check(order, "/list-dec", ["index"] + listed)
                self.check(order, "/own", ["own", 'sh"ared', "later", "from-request"])

    def test_outermost_keeps_what_is_on_the_response_before_the_middleware_runs(self):
        a = Article.objects.create(title="one")
        listed = ["article:%d" % a.pk, "title:one"]
        order = [OURS, UPDATE, FETCH]
        self.check(order, "/a/3", ["article:3", "index"])
        self.check(order, "/list-tr", listed)
        self.check(order, "/list-dec", ["index"] + listed)

    def test_outermost_is_warned_about(self):
        self.assertIsNone(fc_middleware.placement_problem([UPDATE, OURS, FETCH]))
        self.assertIsNone(fc_middleware.placement_problem([OURS]))
        why = fc_middleware.placement_problem([OURS, UPDATE, FETCH])
        self.assertIn("listed before django.middleware.cache.UpdateCacheMiddleware", why)
        self.assertIn("before", fc_middleware.placement_problem(
            [OURS, "django.middleware.cache.CacheMiddleware"]))
        fc_middleware.CacheGroupsMiddleware._warned = False
        with override_settings(MIDDLEWARE=[OURS, UPDATE, FETCH]), LogCapture() as log:
            Client().get("/a/1")
        self.assertTrue(any("List it after UpdateCacheMiddleware" in m for m in log.messages()))


if __name__ == "__main__":
    unittest.main()
