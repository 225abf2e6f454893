"""The report's content model: a result becomes ``Section``s of ``Block``s, written once.

``_sections.py`` (and ``_sections_model.py``) build them from results; ``_html.py`` and
``_markdown.py`` render the same sections, so a notebook cell, an HTML report and a PR comment
always say the same thing. The small formatters here turn JSON-able values into short text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Block", "Section", "fmt", "scalars"]


@dataclass
class Block:
    """One piece of a section.

    ``kind`` is ``"verdict"`` (data: verdict, confidence, status), ``"kv"`` (data: list of
    (key, value)), ``"table"`` (data: {"headers": [...], "rows": [[...]]}), ``"text"``,
    ``"list"`` (data: list of str), ``"code"`` (data: {"language", "code"}) or ``"figure"``
    (data: {"name", "figure", "alt"}).
    """

    kind: str
    data: Any


@dataclass
class Section:
    """A titled part of a report: its ``Block``s, in order."""

    title: str
    blocks: list[Block] = field(default_factory=list)


def _plain(obj: Any) -> Any:
    from advisor._jsonutil import to_jsonable

    return to_jsonable(obj)


def fmt(value: Any) -> str:
    """A short human form of a JSON-able value."""
    import json

    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | dict):
        text = json.dumps(_plain(value), separators=(", ", ": "))
        return text if len(text) <= 160 else text[:157] + "..."
    return str(value)


def scalars(d: dict[str, Any], *, skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """``(key, short text)`` rows of the scalar entries of ``d``.

    Lists, dicts and the keys in ``skip`` are left out; values are formatted with ``fmt``.
    """
    return [(k, fmt(v)) for k, v in d.items() if k not in skip and not isinstance(v, dict | list)]
