"""Every public function, class and public method of the package has a docstring.

Pure AST over the installed package's files (no module is imported), so it is fast and sees
modules whose optional dependencies (torch, lightning, transformers) are absent.
"""

from __future__ import annotations

import ast
from pathlib import Path

import advisor

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _public(name: str) -> bool:
    return not name.startswith("_")


def missing_docstrings(root: Path) -> list[str]:
    """``path:line name`` of every public definition under ``root`` without a docstring.

    Public definitions: top-level functions and classes, and the methods of public classes,
    whose names do not start with ``_``.
    """
    missing: list[str] = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = path.relative_to(root.parent)
        for node in tree.body:
            if not (isinstance(node, _DEFS) and _public(node.name)):
                continue
            if ast.get_docstring(node) is None:
                missing.append(f"{where}:{node.lineno} {node.name}")
            if isinstance(node, ast.ClassDef):
                missing.extend(
                    f"{where}:{sub.lineno} {node.name}.{sub.name}"
                    for sub in node.body
                    if isinstance(sub, _FUNCS)
                    and _public(sub.name)
                    and ast.get_docstring(sub) is None
                )
    return missing


def test_every_public_function_class_and_method_has_a_docstring():
    root = Path(advisor.__file__).parent
    missing = missing_docstrings(root)
    listing = "\n".join(missing)
    assert not missing, f"{len(missing)} public definitions without a docstring:\n{listing}"
