"""Imports flow one way (docs/architecture.md): no back-edge, no cycle, no other package's privates.

Read from the source with ``ast`` (nothing is imported). Layers, bottom to top: the shared
modules and ``catalogue``; ``curves``, ``inspect``; ``engine``, ``gate``; ``regularizers``;
``tuning``; ``report``; ``integrations``, ``_api``; the package root; ``cli``. The one
documented exception: a result's display method may import ``advisor.report`` lazily (inside a
function), never at module import time.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import advisor

PACKAGE = Path(advisor.__file__).resolve().parent
LAYER = {
    **dict.fromkeys(
        ["_version", "errors", "_validation", "_jsonutil", "_config", "_terminal", "_display"], 0
    ),
    "catalogue": 0,
    "curves": 1,
    "inspect": 1,
    "engine": 2,
    "gate": 2,
    "regularizers": 3,
    "tuning": 4,
    "report": 5,
    "integrations": 6,
    "_api": 6,
    "": 7,  # advisor/__init__.py
    "cli": 8,
}
LAZY_UP_ALLOWED = {"advisor.report"}  # display methods only (docs/architecture.md)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str:
    """``advisor.tuning._cv`` -> ``tuning``; ``advisor`` -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _outside_functions(node):
    """Every node run at module import time (class bodies, ``if TYPE_CHECKING:``, ``try``)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        yield child
        yield from _outside_functions(child)


def _imports():
    """(importer, imported module, at module import time?) for every ``advisor`` import."""
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(n) for n in _outside_functions(tree)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
                if node.module == "advisor":
                    names = [f"advisor.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name == "advisor" or name.startswith("advisor."):
                    yield importer, name, id(node) in top


def test_every_unit_has_a_layer():
    units = {_unit(m) for m, _, _ in _imports()} | {_unit(t) for _, t, _ in _imports()}
    assert units <= set(LAYER), f"add to LAYER: {sorted(units - set(LAYER))}"


def test_no_import_reaches_up_a_layer():
    bad = []
    for importer, target, at_import in _imports():
        a, b = _unit(importer), _unit(target)
        if a == b or LAYER[b] <= LAYER[a]:
            continue
        if not at_import and target in LAZY_UP_ALLOWED:
            continue
        bad.append(f"{importer} -> {target}" + ("" if at_import else " (lazy)"))
    assert not bad, "imports reaching up a layer:\n" + "\n".join(bad)


def test_no_package_imports_another_packages_private_module():
    bad = []
    for importer, target, _ in _imports():
        if _unit(importer) == _unit(target):
            continue
        private = [p for p in target.split(".")[2:] if p.startswith("_")]
        if private:
            bad.append(f"{importer} -> {target}")
    assert not bad, "import the package's public names instead:\n" + "\n".join(bad)


def test_no_cycle_among_modules_at_import_time():
    graph: dict[str, set[str]] = defaultdict(set)
    for importer, target, at_import in _imports():
        if at_import and importer != target:
            graph[importer].add(target)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    # A package's __init__ importing its own modules, which import names back from the
    # package (``from advisor.curves import ...`` inside curves), is how lazy packages are
    # built; a cycle through two units is what the layers forbid.
    across = [c for c in cycles if len({_unit(m) for m in c}) > 1]
    assert not across, "import cycles across packages:\n" + "\n".join(
        " -> ".join(c) for c in across
    )
