#!/usr/bin/env python3
"""Size rules of the server's sources, checked on every build with the include rules: no source
file over 600 lines and no function over 80 lines (tests, benchmarks and tables of data are not
held to them). A file or function past a limit fails the build naming it.

A function is measured from the line of its opening brace to the line of its closing one; it is
recognised without a compiler: a brace at declaration level (not inside another function) whose
header has a parameter list and is not a namespace, class, struct, union, enum or an initializer.
Lambdas inside a function count towards it.

    python3 cmake/sizes.py SOURCE_DIR [STAMP] [--report]

STAMP, when given, is written on success (the build's record that the check passed); --report
lists what is over without failing.
"""

import os
import re
import sys

FOLDERS = ["common", "config", "http", "cache", "io", "proxy", "fleet", "admin", "server", "tools"]
MAX_FILE = 600
MAX_FUNCTION = 80
SOURCE = re.compile(r"\.(cpp|h)$")
SCOPE = re.compile(r"\b(namespace|class|struct|union|enum)\b[^;()]*$|extern\s+\"C\"\s*$")


def strip(text):
    """The text with comments, strings and character literals blanked (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c == 'R' and text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + (m.group(1) if m else "") + '"', i)
            j = n if end < 0 else end + len(m.group(1) if m else "") + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (min(j, n) - i - 1) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(text):
    """(name, first line, length) of every function-level brace block."""
    code = strip(text)
    found, stack, start = [], [], 0  # stack of (kind, line, name); kind: scope, function, block
    for i, c in enumerate(code):
        if c == ";":
            start = i + 1
        elif c == "{":
            header = " ".join(code[start:i].split())
            if any(kind != "scope" for kind, _, _ in stack):
                stack.append(("block", 0, ""))  # inside a function: counted with it
            elif SCOPE.search(header) or "(" not in header or "=" in header.split("(")[0] \
                    or header.endswith(("=", ",")):
                stack.append(("scope", 0, ""))  # a namespace, a class, a table of data
            else:
                name = re.findall(r"([\w:~]+)\s*\(", header)
                stack.append(("function", code.count("\n", 0, i) + 1, name[0] if name else "?"))
            start = i + 1
        elif c == "}":
            if stack:
                kind, line, name = stack.pop()
                if kind == "function":
                    found.append((name, line, code.count("\n", 0, i) + 1 - line + 1))
            start = i + 1
    return found


def check(root):
    errors = []
    for folder in FOLDERS:
        base = os.path.join(root, folder)
        if not os.path.isdir(base):
            continue
        for d, _, fs in os.walk(base):
            for f in sorted(fs):
                if not SOURCE.search(f):
                    continue
                path = os.path.join(d, f)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as src:
                    text = src.read()
                lines = text.count("\n")
                if lines > MAX_FILE:
                    errors.append("%s: %d lines (at most %d)" % (rel, lines, MAX_FILE))
                for name, line, length in functions(text):
                    if length > MAX_FUNCTION:
                        errors.append("%s:%d: %s is %d lines (at most %d)" % (
                            rel, line, name, length, MAX_FUNCTION))
    return errors


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = args[0] if args else "."
    errors = check(root)
    for e in errors:
        print("sizes: " + e, file=sys.stderr)
    if errors and "--report" not in sys.argv:
        sys.exit(1)
    if len(args) > 1:
        with open(args[1], "w") as stamp:
            stamp.write("ok\n")


if __name__ == "__main__":
    main()
