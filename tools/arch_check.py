#!/usr/bin/env python3
"""Two architecture checks over the workspace's Rust sources (issue 20).

  python3 tools/arch_check.py loops   module import cycles inside each crate
  python3 tools/arch_check.py long    functions over 80 lines in src/ and crates/*/src

A module's imports are the `crate::a::b` paths it names (in `use` lines and in
expressions); `crate::a::b` counts as an edge to module `a::b` if that file
exists, else to `a`. Test modules (`#[cfg(test)]` to the end of the file, the
layout this workspace uses) are left out: tests may reach anywhere. A function's
length runs from its `fn` line to its closing brace, by brace counting outside
strings, chars and comments. Exits 1 when it finds a loop (`loops`) or a long
function without a `// long:` reason comment right above it (`long`).
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT = 80


def crates():
    yield "candlecast (src/)", os.path.join(ROOT, "src")
    cdir = os.path.join(ROOT, "crates")
    for name in sorted(os.listdir(cdir)):
        src = os.path.join(cdir, name, "src")
        if os.path.isdir(src):
            yield name, src


def rust_files(src):
    for dirpath, _, files in os.walk(src):
        for f in files:
            if f.endswith(".rs"):
                yield os.path.join(dirpath, f)


def module_of(src, path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return "::".join(rel)


def strip_code(text):
    """The text with comments, strings and chars blanked (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(re.sub(r"[^\n]", " ", text[i:j + 1]))
            i = j + 1
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:  # a lifetime
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def without_tests(code):
    m = re.search(r"#\[cfg\(test\)\]", code)
    return code if m is None else code[: m.start()]


def loops():
    found = 0
    for name, src in crates():
        mods = {module_of(src, p): p for p in rust_files(src)}
        reexports = root_reexports(mods.get(""))
        edges = {m: set() for m in mods}
        for m, p in mods.items():
            code = without_tests(strip_code(open(p, encoding="utf-8").read()))
            paths = re.findall(r"\bcrate((?:::\w+)+)", code)
            # `use crate::{a, b::c}` groups
            for grp in re.findall(r"\bcrate::\{([^}]*)\}", code):
                paths += ["::" + x.strip().split(" as ")[0] for x in grp.split(",") if x.strip()]
            for path in paths:
                parts = [x for x in path.split("::") if x]
                if parts and parts[0] in reexports:
                    # `crate::Name` re-exported by the crate root: its module.
                    parts = reexports[parts[0]].split("::") + parts[1:]
                for k in range(len(parts), 0, -1):
                    t = "::".join(parts[:k])
                    if t in mods and t != m and t != "":
                        # a child module naming its parent's items is not a loop
                        # through the parent unless the parent names it back
                        edges[m].add(t)
                        break
        cycles = find_cycles(edges)
        for c in cycles:
            found += 1
            print(f"{name}: import loop " + " -> ".join(c + [c[0]]))
    if not found:
        print("no import loops inside any crate")
    return 1 if found else 0


def root_reexports(lib):
    """Name -> module for the crate root's `pub use module::...::{Name, ...}`."""
    out = {}
    if lib is None:
        return out
    code = without_tests(strip_code(open(lib, encoding="utf-8").read()))
    for m in re.finditer(r"\bpub use (?:crate::)?([\w:]+?)::(\{[^}]*\}|\w+)\s*;", code):
        module, names = m.group(1), m.group(2).strip("{}")
        for name in names.split(","):
            name = name.strip().split(" as ")[-1].strip()
            if name and name != "self":
                out[name] = module
    return out


def find_cycles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


FN = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+\"[^\"]*\"\s+)?fn\s+(\w+)")


def long_functions():
    bad = 0
    rows = []
    for name, src in crates():
        for p in sorted(rust_files(src)):
            raw = open(p, encoding="utf-8").read()
            code = strip_code(raw)
            cut = re.search(r"#\[cfg\(test\)\]", code)
            code_lines = code[: cut.start()].split("\n") if cut else code.split("\n")
            raw_lines = raw.split("\n")
            i = 0
            while i < len(code_lines):
                m = FN.match(code_lines[i])
                if not m:
                    i += 1
                    continue
                depth, j, opened = 0, i, False
                while j < len(code_lines):
                    for ch in code_lines[j]:
                        if ch == "{":
                            depth, opened = depth + 1, True
                        elif ch == "}":
                            depth -= 1
                        elif ch == ";" and not opened and depth == 0:
                            break  # a declaration without a body
                    else:
                        if opened and depth == 0:
                            break
                        j += 1
                        continue
                    break
                length = j - i + 1
                if opened and length > LIMIT:
                    k = i - 1
                    while k >= 0 and (raw_lines[k].strip().startswith("#[") or raw_lines[k].strip().startswith("///")):
                        k -= 1
                    reason = any("// long:" in raw_lines[x] for x in range(max(0, k - 3), i))
                    rel = os.path.relpath(p, ROOT)
                    rows.append((length, f"{rel}:{i + 1} {m.group(1)}", reason))
                    bad += 0 if reason else 1
                # nested fns are counted inside their parent only
                i = j + 1 if opened else i + 1
    for length, where, reason in sorted(rows, reverse=True):
        print(f"{length:5} {where}" + ("  (reason given)" if reason else ""))
    print(f"{bad} functions over {LIMIT} lines without a reason, {len(rows) - bad} with one")
    return 1 if bad else 0


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "loops":
        sys.exit(loops())
    if what == "long":
        sys.exit(long_functions())
    print(__doc__)
    sys.exit(2)
