"""What a fit-diagnosis rule reads (``Context``) and what it returns (``Finding``).

Shared by the rule modules (``_fit_rules_optim`` for what breaks the optimisation,
``_fit_rules`` for what the curves say about the fit) and the orchestrator (``_diagnosis``).
The margin is in [0, 1]: 0 means the deciding statistic sits on its threshold, values near 1
mean it is several times past it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from advisor.curves._fit_series import Track, is_loss
from advisor.curves._types import Curves

__all__ = ["Context", "Finding", "fmt_epoch", "margin"]


@dataclass
class Finding:
    """What a rule concludes: the verdict, how far past its threshold (margin), the rule id,
    its evidence sentences and the severity.
    """

    verdict: str
    margin: float
    rule: str
    evidence: list[str] = field(default_factory=list)
    severity: str | None = None


@dataclass
class Context:
    """What the rules read. ``primary`` is the judged series (validation, or training alone)."""

    curves: Curves
    primary: Track
    train: Track | None
    train_only: bool
    chance: dict[str, Any] | None
    gap: dict[str, float | None]
    metric: Track | None  # an accuracy-like validation metric beside a loss primary
    nonfinite_epoch: float | None
    nonfinite_key: str | None
    nonfinite_weights: int | None
    regularization: dict[str, tuple[float, str]]

    @property
    def is_loss(self) -> bool:
        """Whether the judged series (``primary``) is a loss."""
        return is_loss(self.primary.series)


def margin(ratio: float) -> float:
    """Map "measured / threshold" (>= 1 past the threshold) to a margin in [0, 1]."""
    if not math.isfinite(ratio):
        return 1.0
    return float(max(0.0, min(1.0, math.tanh(0.5 * (ratio - 1.0)))))


def fmt_epoch(e: float | None) -> str:
    """An epoch as a user reads it: whole epochs without decimals, "?" when unknown.

    Example:
        >>> fmt_epoch(12.0), fmt_epoch(1.25), fmt_epoch(None)
        ('12', '1.25', '?')
    """
    if e is None:
        return "?"
    return str(int(e)) if float(e).is_integer() else f"{e:.3g}"
