"""Option types shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

__all__ = ["PathListOption"]


class PathListOption(click.Option):
    """A repeatable path option that also accepts one string from ``[tool.advisor]``.

    ``rules-dir = "my_rules"`` in pyproject.toml is a single string, while the flag
    ``--rules`` may be given several times; both end up as a tuple of paths.
    """

    def type_cast_value(self, ctx: click.Context, value: Any) -> Any:
        if isinstance(value, str | Path):
            value = (value,)
        return super().type_cast_value(ctx, value)
