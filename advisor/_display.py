"""Display protocol shared by every result type (curves, diagnosis, recommendations, tune, check).

A result class implements ``to_dict()`` and ``__rich_console__`` itself and inherits this mixin
for the rest: ``to_json()``, ``_repr_html_()`` (Jupyter) and ``plot()`` (a matplotlib Figure).
The HTML and plotting code lives in ``advisor.report`` and is imported only when used, so
results stay cheap to create. These lazy imports, inside the display methods, are the one
place a lower package reaches up to ``advisor.report`` (the rule is in docs/architecture.md);
no module imports ``report`` at import time.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Displayable"]


class Displayable:
    """Mixin giving a result ``to_json``, ``_repr_html_`` and ``plot``."""

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - every subclass overrides
        """The result as a JSON-ready dict (what ``to_json`` writes); every result overrides it."""
        raise NotImplementedError

    def to_json(self, *, indent: int | None = 2) -> str:
        """The result as strict JSON (NaN/inf written as null)."""
        from advisor._jsonutil import dumps

        return dumps(self.to_dict(), indent=indent)

    def _repr_html_(self) -> str:
        from advisor.report import to_html_fragment

        return to_html_fragment(self)

    def plot(self, **kwargs: Any):
        """Draw the result with matplotlib and return the ``Figure``."""
        from advisor.report import plot

        return plot(self, **kwargs)
