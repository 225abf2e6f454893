"""One console for results (stdout) and one for messages (stderr)."""

from __future__ import annotations

from typing import Any

from rich.console import Console

__all__ = ["err_console", "out_console", "print_json"]

out_console = Console(soft_wrap=False)
err_console = Console(stderr=True)


def print_json(obj: Any) -> None:
    """Print one JSON object on stdout with no styling (NaN/inf become null)."""
    from advisor._jsonutil import dumps

    print(dumps(obj))
