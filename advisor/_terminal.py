"""Text that stays readable in a narrow terminal: file names and dotted layer names.

Rich cuts what does not fit: a long title at its end (hiding the file name), a long word in
a table cell anywhere (``transformer.layers.1.self_attn.out_pr…``). ``fit_path`` shortens a
path from its start instead, and ``Breakable`` is a table cell that wraps at spaces and, inside
a long name, only after a ``.`` or ``/``, so every line holds whole name parts. Rich is
imported only when something is rendered.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["Breakable", "fit_path"]

_PIECES = re.compile(r"[^./]*[./]|[^./]+")  # name parts, each with its trailing separator


def fit_path(path: str, width: int) -> str:
    """``path`` in at most ``width`` characters, keeping its end: the file name stays readable.

    Leading folders give way first (``…/version_0/metrics.csv``); a file name longer than
    ``width`` loses its middle, never its extension.

    Example:
        >>> fit_path("/home/me/runs/lightning_logs/version_0/metrics.csv", 30)
        '…/version_0/metrics.csv'
    """
    path = str(path)
    if len(path) <= width:
        return path
    parts = path.replace("\\", "/").split("/")
    kept = parts[-1]
    for part in reversed(parts[:-1]):
        if len(part) + 1 + len(kept) + 2 > width:
            break
        kept = f"{part}/{kept}"
    if len(kept) + 2 <= width:
        return f"…/{kept}"
    keep = max(width - 1, 2)
    return f"{kept[: keep // 2]}…{kept[len(kept) - (keep - keep // 2) :]}"


def _lines(text: str, width: int) -> list[str]:
    """Greedy wrap at spaces; a word wider than ``width`` breaks after its dots and slashes."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if len(word) > width:
            pieces = _PIECES.findall(word)
        else:
            pieces = [word]
        for i, piece in enumerate(pieces):
            sep = " " if line and i == 0 else ""
            if line and len(line) + len(sep) + len(piece) > width:
                lines.append(line)
                line, sep = "", ""
            while len(piece) > width:  # one part wider than the column: the last resort
                lines.append(piece[:width])
                piece = piece[width:]
            line += sep + piece
    if line or not lines:
        lines.append(line)
    return lines


class Breakable:
    """A table cell that never breaks a name part: it wraps at spaces, then after ``.``/``/``.

    Rich shrinks a column below its cells' least width when the table is too wide, so give
    the column ``min_width=Breakable.widest_part(...)`` of its widest cell (capped to what the
    console can hold); the part is cut only when even that does not fit.

    Example:
        >>> from rich.console import Console
        >>> from rich.table import Table
        >>> name = "encoder.layers.11.self_attn.out_proj"
        >>> table = Table(width=30)
        >>> table.add_column("layer", min_width=Breakable.widest_part(name))
        >>> table.add_column("alpha")
        >>> table.add_row(Breakable(name), "7.9")
        >>> console = Console(width=30, record=True)
        >>> console.print(table)  # doctest: +ELLIPSIS
        ┏━━━...
    """

    def __init__(self, text: str, style: str = ""):
        self.text, self.style = str(text), style

    @staticmethod
    def widest_part(text: str) -> int:
        """The width a column needs so that ``text`` is never broken inside a part."""
        return max((len(p) for w in str(text).split() for p in _PIECES.findall(w)), default=0)

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        least = min(self.widest_part(self.text), options.max_width)
        return Measurement(least, min(max(len(self.text), least), options.max_width))

    def __rich_console__(self, console: Any, options: Any):
        from rich.text import Text

        yield Text("\n".join(_lines(self.text, max(options.max_width, 1))), style=self.style)

    def __str__(self) -> str:
        return self.text
