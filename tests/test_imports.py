"""The import graph of vmmemviz, computed from the source: no cycles, and imports point down.

Layers, bottom to top: importers and model (with the shared errors, assets, inputfile, outputfile and
argparsing), then scene, paint, engine, export, ui, cli. A module
may import its own layer and the ones below it; export never imports ui, nor the engine's
QThread module (engine.worker). Every import counts, also one inside a function.
"""
from __future__ import annotations

import ast
from pathlib import Path

import vmmemviz

ROOT = Path(vmmemviz.__file__).resolve().parent
LAYERS = {"errors": 0, "assets": 0, "inputfile": 0, "outputfile": 0, "argparsing": 0, "importers": 0, "model": 0,
          "scene": 1, "paint": 2, "engine": 3, "export": 4, "ui": 5, "cli": 6, "__main__": 7,
          "__init__": 0}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def graph() -> dict:
    """module -> the vmmemviz modules it imports."""
    mods = {module_name(p): p for p in ROOT.rglob("*.py")}
    out = {}
    for name, path in mods.items():
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = pkg.split(".")[:len(pkg.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            else:
                continue
            deps |= {t for t in targets if t in mods and t != name}
        out[name] = deps
    return out


def layer(mod: str) -> tuple:
    part = mod.split(".")[1] if "." in mod else "__init__"
    return part, LAYERS[part]


def cycles(g: dict) -> list:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
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

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_imports_point_down():
    bad = []
    for mod, deps in graph().items():
        (part, lv) = layer(mod)
        for d in deps:
            dpart, dlv = layer(d)
            upward = dlv > lv or (part == "export" and (dpart == "ui" or d == "vmmemviz.engine.worker"))
            if upward:
                bad.append(f"{mod} -> {d}")
    assert bad == []


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_production_code_never_imports_the_invariant_checker():
    users = [m for m, deps in graph().items() if "vmmemviz.model.views.invariants" in deps]
    assert users == []


def test_chapters_are_named_without_qt_so_export_can_find_them():
    """``export --chapter`` names the window's chapters: their module imports no Qt, nor the
    engine's QThread module (it lived in engine.worker, out of export's reach)."""
    path = ROOT / "engine" / "chapters.py"
    tree = ast.parse(path.read_text(), str(path))
    mods = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    mods |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(m.split(".")[0] == "PySide6" for m in mods)
    g = graph()
    assert "vmmemviz.engine.worker" not in g["vmmemviz.engine.chapters"]
    assert "vmmemviz.engine.chapters" in g["vmmemviz.engine.worker"]
