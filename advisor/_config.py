"""Settings from ``[tool.advisor]`` in the nearest pyproject.toml.

Each command reads its own table (``[tool.advisor.check]`` for ``advisor check``);
keys shared by several commands (``task``, ``samples``, ``rules-dir`` ...) live in
``[tool.advisor]`` itself. The CLI loads them into click's ``default_map`` so that
flags always win. Unknown keys are an error with a "did you mean" suggestion.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from advisor._validation import did_you_mean
from advisor.errors import ConfigError

__all__ = ["find_pyproject", "load_tool_config", "validate_keys"]


def find_pyproject(start: str | Path | None = None) -> Path | None:
    """Return the nearest ``pyproject.toml`` at or above ``start`` (default: the cwd)."""
    here = Path(start or Path.cwd()).resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_tool_config(start: str | Path | None = None) -> tuple[dict[str, Any], Path | None]:
    """Return the ``[tool.advisor]`` table of the nearest pyproject.toml and its path.

    An absent file or table gives ``({}, None)``; a file that is not valid TOML is a
    ``ConfigError`` naming the file.
    """
    path = find_pyproject(start)
    if path is None:
        return {}, None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: is not valid TOML ({exc}); fix the file or run from another folder."
        ) from None
    table = data.get("tool", {}).get("advisor", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.advisor] must be a table, got {type(table).__name__}.")
    return table, path


def validate_keys(table: dict[str, Any], allowed: Iterable[str], *, where: str) -> None:
    """Raise ``ConfigError`` for the first key of ``table`` not in ``allowed``, with a suggestion."""
    allowed = sorted(set(allowed))
    for key in table:
        if key not in allowed:
            hint = did_you_mean(key, allowed) or f" Allowed: {', '.join(allowed)}."
            raise ConfigError(f"{where}: unknown key '{key}'.{hint}")
