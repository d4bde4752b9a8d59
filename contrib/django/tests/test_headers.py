"""The Cache-Groups field itself: serialisation (RFC 8941 sf-strings), the checks that keep a
field frontcache accepts as a whole, and reading back a field a view set."""

import hashlib
import unittest

import support  # noqa: F401  (Django configured)
from django.http import HttpResponse

from frontcache_django import add_cache_groups, groups_of, invalidate_groups
from frontcache_django.headers import ParseError, clean, parse, serialize
from support import LogCapture


class Serialisation(unittest.TestCase):
    def test_strings_are_quoted_and_escaped(self):
        self.assertEqual(serialize(["article:42", "tag:python", "index"]),
                         '"article:42", "tag:python", "index"')
        self.assertEqual(serialize(['say "hi"', "back\\slash", "a, b; c=d"]),
                         r'"say \"hi\"", "back\\slash", "a, b; c=d"')

    def test_what_is_serialised_parses_back_to_the_same(self):
        groups = ['q"uote', "\\", " spaced ", "~!#$%&'()*+,-./:;<=>?@[]^_`{|}", "x"]
        self.assertEqual(parse(serialize(groups)), (groups, []))

    def test_parse_reads_lists_with_parameters_and_other_members(self):
        self.assertEqual(parse('"a";p=1;q="x;y", "b",tok, 42, ("c" "d");z, "e"'),
                         (["a", "b", "e"], ["tok", "42", '("c" "d")']))
        self.assertEqual(parse("  "), ([], []))
        for bad in ('"a", ', '"unterminated', '"a" "b"', '"bad\\escape"', '"a",,"b"',
                    '"tab\there"'):
            with self.assertRaises(ParseError, msg=bad):
                parse(bad)


class Checks(unittest.TestCase):
    def test_names_that_cannot_go_as_they_are_get_one_wire_name(self):
        ok_256 = "x" * 256
        long = "y" * 257
        with LogCapture() as log:
            out = clean(["fine", "", "tab\there", "caf\u00e9", "nl\n", ok_256, long, None,
                         "fine", "del\x7f", 42, b"ab"])
        self.assertEqual(out, ["fine", "tab%09here", "caf%C3%A9", "nl%0A", ok_256,
                               "sha256:" + hashlib.sha256(long.encode()).hexdigest(), "del%7F",
                               "42"])
        warnings = log.messages()
        self.assertEqual(len(warnings), 3, warnings)  # "", None and the bytes
        self.assertTrue(any("empty" in w for w in warnings))
        self.assertTrue(any("bytes" in w for w in warnings))
        # Every wire name is one frontcache accepts: printable ASCII, at most 256 bytes.
        for g in out:
            self.assertTrue(all(" " <= c <= "~" for c in g) and len(g) <= 256, g)
        # A long name of non-ASCII characters too.
        self.assertTrue(clean(["\u00e9" * 100])[0].startswith("sha256:"))

    def test_at_most_128_groups_the_first_ones_kept(self):
        groups = ["g%d" % i for i in range(200)]
        with LogCapture() as log:
            out = clean(groups + ["g0"])
        self.assertEqual(out, groups[:128])
        self.assertEqual(len(log.messages()), 1)
        self.assertIn("200 groups, only the first 128 kept", log.messages()[0])

    def test_duplicates_keep_the_first_place(self):
        self.assertEqual(clean(["b", "a", "b", ["c", "a"], ("d",)]), ["b", "a", "c", "d"])


class OnAResponse(unittest.TestCase):
    def test_add_merges_with_what_the_response_has(self):
        r = HttpResponse()
        self.assertEqual(add_cache_groups(r, "a", "b"), ["a", "b"])
        add_cache_groups(r, ["b", "c"], 'd"e')
        self.assertEqual(r["Cache-Groups"], '"a", "b", "c", "d\\"e"')
        self.assertEqual(groups_of(r), ["a", "b", "c", 'd"e'])

    def test_a_field_the_view_wrote_badly_is_replaced_not_kept(self):
        r = HttpResponse()
        r["Cache-Groups"] = '"article:42" "index"'  # no comma: frontcache would ignore it all
        with LogCapture() as log:
            add_cache_groups(r, "index")
        self.assertEqual(r["Cache-Groups"], '"index"')
        self.assertIn("not a List of Strings", log.messages()[0])
        r["Cache-Groups"] = "article:42, index"  # tokens, not strings
        with LogCapture() as log:
            add_cache_groups(r, "new")
        self.assertEqual(r["Cache-Groups"], '"new"')
        self.assertEqual(len(log.messages()), 2)
        r["Cache-Groups"] = '"a", tok, "b"'
        with LogCapture() as log:
            add_cache_groups(r)
        self.assertEqual(r["Cache-Groups"], '"a", "b"')
        self.assertIn("member tok dropped", log.messages()[0])

    def test_nothing_valid_left_removes_the_field(self):
        r = HttpResponse()
        r["Cache-Groups"] = "bad bad"
        with LogCapture():
            add_cache_groups(r, "", None)
        self.assertFalse(r.has_header("Cache-Groups"))
        add_cache_groups(r)
        self.assertFalse(r.has_header("Cache-Groups"))

    def test_invalidation_field(self):
        r = HttpResponse()
        invalidate_groups(r, "article:42", "index", "article:42")
        self.assertEqual(r["Cache-Group-Invalidation"], '"article:42", "index"')
        self.assertFalse(r.has_header("Cache-Groups"))


if __name__ == "__main__":
    unittest.main()
