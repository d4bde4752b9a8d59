#!/usr/bin/env python3
"""The include rules of the source tree, checked on every build (the `fc_layers` target).

Each top-level folder is one CMake library and may include only the folders listed for it
here — the folders whose libraries it links. A file that includes anything else, or a folder
that is not in the table, fails the build with the file, the line and the rule. The same table
is docs/architecture.md's "Layers"; change both together.

Also: only the folders in UV may include <uv.h> (the pure layers are unit-tested and fuzzed
without an event loop).

    python3 cmake/layers.py SOURCE_DIR [STAMP_FILE]
"""

import os
import re
import sys

# folder -> folders it may include (itself always).
ALLOWED = {
    "common": [],
    "config": ["common"],
    "http": ["common"],
    "cache": ["common", "http"],
    "io": ["common", "config"],
    "proxy": ["common", "config", "http", "cache", "io"],
    "fleet": ["common", "config", "cache", "io", "proxy"],
    "admin": ["common", "config", "http", "cache", "io", "proxy", "fleet"],
    "server": ["common", "config", "http", "cache", "io", "proxy", "fleet", "admin", "tools"],
    "tools": ["common", "config", "http", "cache", "proxy"],
    # Not libraries of the server: they may use anything.
    "benchmarks": None,
    "tests": None,
}
UV = {"io", "proxy", "fleet", "admin", "server", "benchmarks", "tests"}
SKIP = {"build", "cmake", "docs", "packaging", "scripts", "results", ".git", ".ci"}
SOURCE = re.compile(r"\.(c|cc|cpp|h|hpp)$")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def check(root):
    errors = []
    for top in sorted(os.listdir(root)):
        path = os.path.join(root, top)
        if not os.path.isdir(path) or top in SKIP or top.startswith("."):
            continue
        files = [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs if SOURCE.search(f)]
        if not files:
            continue
        if top not in ALLOWED:
            errors.append("%s/: a folder of sources that cmake/layers.py does not know: add it "
                          "to ALLOWED with the folders it may include" % top)
            continue
        for f in sorted(files):
            rel = os.path.relpath(f, root)
            allowed = ALLOWED[top]
            with open(f, encoding="utf-8", errors="replace") as src:
                for n, line in enumerate(src, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    kind, target = m.groups()
                    if kind == "<":
                        if target == "uv.h" and top not in UV:
                            errors.append("%s:%d: <uv.h> in %s/, which does no I/O" % (rel, n, top))
                        continue
                    first = target.split("/", 1)[0]
                    if "/" not in target or allowed is None or first == top:
                        continue
                    if first in ALLOWED and first not in allowed:
                        errors.append("%s:%d: includes %s: %s/ may include only %s" % (
                            rel, n, target, top, ", ".join(allowed) or "itself"))
    return errors


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    errors = check(root)
    for e in errors:
        print("layers: " + e, file=sys.stderr)
    if errors:
        sys.exit(1)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as stamp:
            stamp.write("ok\n")


if __name__ == "__main__":
    main()
