"""The package layout (docs/architecture.md), read from the source with `ast`, imports inside functions included:
no import cycles, the library never imports an app or the CLI, and no module is named like a standard-library one.

An edge goes to the module an import names: `from . import x` with x a module is an edge to x, `from . import
name` (not a module) an edge to the package's __init__."""

import ast
import os
import sys

import lstmkit

ROOT = os.path.dirname(lstmkit.__file__)
APPS = ("lstmkit.apps", "lstmkit.cli")


def _modules():
    """{dotted name: (path, is_package)} of every module under src/lstmkit."""
    out = {}
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for f in sorted(files):
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                parts = os.path.relpath(path, os.path.dirname(ROOT))[:-3].split(os.sep)
                is_pkg = parts[-1] == "__init__"
                out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


def _graph():
    """{module: the lstmkit modules it imports}."""
    mods = _modules()
    graph = {m: set() for m in mods}
    for name, (path, is_pkg) in mods.items():
        pkg = (name if is_pkg else name.rpartition(".")[0]).split(".")
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(pkg[:len(pkg) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else node.module or ""
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in mods and t != name)
    return graph


def _cycles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
                on.discard(comp[-1])
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    graph = _graph()
    assert len(graph) > 50 and sum(map(len, graph.values())) > 200          # the walk found the package
    assert _cycles(graph) == []


def test_the_library_never_imports_an_app():
    """lstmkit/__init__ excepted: it loads lk.experiments on first use, by name."""
    graph = _graph()
    assert sorted((a, b) for a in graph if not a.startswith(APPS) and a != "lstmkit"
                  for b in graph[a] if b.startswith(APPS)) == []


def test_no_module_shadows_the_standard_library():
    assert sorted(m for m in _modules() if m.rpartition(".")[2] in sys.stdlib_module_names) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
