"""cmake/layers.py and cmake/sizes.py, the rules every build checks: each passes on this tree and
fails, naming the file and line, on a small tree that breaks it."""

import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAYERS = os.path.join(ROOT, "cmake", "layers.py")
SIZES = os.path.join(ROOT, "cmake", "sizes.py")


def run(script, root, *extra):
    return subprocess.run([sys.executable, script, root, *extra], capture_output=True, text=True,
                          timeout=120)


def tree(files):
    """A temporary source tree holding `files` (path -> text)."""
    d = tempfile.TemporaryDirectory()
    for path, text in files.items():
        full = os.path.join(d.name, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    return d


def function(name, body_lines):
    return "int %s(int x) {\n%s    return x;\n}\n" % (name, "    x += 1;\n" * body_lines)


class Layers(unittest.TestCase):
    def test_this_tree_passes_and_writes_its_stamp(self):
        with tempfile.TemporaryDirectory() as d:
            stamp = os.path.join(d, "layers.ok")
            p = run(LAYERS, ROOT, stamp)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(os.path.exists(stamp))

    def test_an_include_against_the_table_fails(self):
        # http/ is below proxy/: including the data path from a parser is refused.
        with tree({"http/a.cpp": '#include "http/b.h"\n#include "proxy/client.h"\n',
                   "http/b.h": "", "proxy/client.h": ""}) as d:
            stamp = os.path.join(d, "layers.ok")
            p = run(LAYERS, d, stamp)
            self.assertEqual(p.returncode, 1)
            self.assertIn("http/a.cpp:2: includes proxy/client.h", p.stderr)
            self.assertFalse(os.path.exists(stamp))

    def test_uv_outside_the_io_layers_fails(self):
        with tree({"cache/a.cpp": "#include <uv.h>\n", "io/b.cpp": "#include <uv.h>\n"}) as d:
            p = run(LAYERS, d)
            self.assertEqual(p.returncode, 1)
            self.assertIn("cache/a.cpp:1: <uv.h> in cache/", p.stderr)
            self.assertNotIn("io/b.cpp", p.stderr)

    def test_an_unknown_folder_of_sources_fails(self):
        with tree({"extras/a.cpp": "int a;\n"}) as d:
            p = run(LAYERS, d)
            self.assertEqual(p.returncode, 1)
            self.assertIn("extras/: a folder of sources", p.stderr)


class Sizes(unittest.TestCase):
    def test_this_tree_passes_and_writes_its_stamp(self):
        with tempfile.TemporaryDirectory() as d:
            stamp = os.path.join(d, "sizes.ok")
            p = run(SIZES, ROOT, stamp)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(os.path.exists(stamp))

    def test_a_function_over_80_lines_fails(self):
        # 80 lines from brace to brace fit; 81 do not.
        with tree({"cache/a.cpp": function("fits", 77) + function("tooLong", 78)}) as d:
            stamp = os.path.join(d, "sizes.ok")
            p = run(SIZES, d, stamp)
            self.assertEqual(p.returncode, 1)
            self.assertIn("cache/a.cpp:81: tooLong is 81 lines (at most 80)", p.stderr)
            self.assertNotIn("fits", p.stderr)
            self.assertFalse(os.path.exists(stamp))

    def test_braces_in_comments_strings_and_lambdas(self):
        # A brace in a comment or a string is not code; a lambda counts towards its function.
        text = ("int f() {\n    // }\n    const char *s = \"}\";\n    auto g = [] {\n" +
                "        return 1;\n" * 80 + "    };\n    return g();\n}\n")
        with tree({"proxy/a.cpp": text}) as d:
            p = run(SIZES, d)
            self.assertEqual(p.returncode, 1)
            self.assertIn("proxy/a.cpp:1: f is", p.stderr)

    def test_a_file_over_600_lines_fails_and_tests_are_not_held(self):
        with tree({"http/big.h": "// x\n" * 601, "tests/unit/big_test.cpp": "// x\n" * 2000,
                   "http/ok.h": "// x\n" * 600}) as d:
            p = run(SIZES, d)
            self.assertEqual(p.returncode, 1)
            self.assertIn("http/big.h: 601 lines (at most 600)", p.stderr)
            self.assertNotIn("big_test", p.stderr)
            self.assertNotIn("ok.h", p.stderr)
            self.assertEqual(run(SIZES, d, "--report").returncode, 0)


if __name__ == "__main__":
    unittest.main()
