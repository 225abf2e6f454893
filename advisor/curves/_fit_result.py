"""``FitDiagnosis``: the verdict of one run, the evidence behind it, and what a plot needs.

Rendering lives in ``advisor.report._fit_view`` (imported only when a result is printed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from advisor._display import Displayable

__all__ = ["SEVERITIES", "VERDICTS", "FitDiagnosis", "Verdict"]

Verdict = Literal["overfitting", "underfitting", "good_fit", "not_converged", "diverging"]
VERDICTS: tuple[str, ...] = (
    "overfitting",
    "underfitting",
    "good_fit",
    "not_converged",
    "diverging",
)
SEVERITIES: tuple[str, ...] = ("mild", "strong")


@dataclass
class FitDiagnosis(Displayable):
    """The fit verdict of one run, with the evidence behind it and what a plot needs.

    Indices (``best_index``, ``onset_index``, ``stop_index``) are 0-based positions in the
    validation series as logged (``val_epochs`` / ``val_values``); ``*_epoch`` are the
    epochs as logged. ``val_smoothed`` / ``train_smoothed`` are the running medians on the
    finite prefix of each curve, in the metric's own units, aligned with ``val_smoothed_epochs``
    / ``train_smoothed_epochs``. For a log with training series only, the ``val_*`` fields
    hold the judged training series and ``train_only`` is true.

    ``severity`` is ``"strong"`` (validation rises well beyond its noise) or ``"mild"`` (a
    small rise, or a large gap with a level validation curve) for overfitting, else ``None``.
    ``stop_*`` describe the recommended stop, chosen on ``stop_metric`` (an accuracy-like metric
    for a classifier by default, or the series named with ``metric=``).

    Example:
        >>> fit = diagnose_fit(curves)            # doctest: +SKIP
        >>> fit.verdict, fit.severity, fit.stop_epoch  # doctest: +SKIP
        ('overfitting', 'strong', 12.0)
    """

    verdict: Verdict
    confidence: float
    evidence: list[str]
    primary_key: str
    primary_metric: str
    mode: str
    primary_reason: str
    train_key: str | None
    val_epochs: np.ndarray
    val_values: np.ndarray
    val_smoothed_epochs: np.ndarray
    val_smoothed: np.ndarray
    train_epochs: np.ndarray | None
    train_values: np.ndarray | None
    train_smoothed_epochs: np.ndarray | None
    train_smoothed: np.ndarray | None
    best_index: int | None
    best_epoch: float | None
    best_value: float | None
    best_raw_index: int | None
    onset_index: int | None
    onset_epoch: float | None
    stop_index: int | None
    stop_epoch: float | None
    gap: dict[str, float | None]
    trend: dict[str, Any]
    noise: dict[str, float | None]
    val_rise: dict[str, float | None]
    chance: dict[str, Any] | None
    first_nonfinite_epoch: float | None
    caveats: list[str] = field(default_factory=list)
    source: str | None = None
    run: str | None = None
    rule: str = ""
    severity: str | None = None
    stop_key: str | None = None
    stop_metric: str | None = None
    stop_reason: str | None = None
    train_only: bool = False
    unstable_epochs: list[float] = field(default_factory=list)
    regularization: dict[str, Any] = field(default_factory=dict)
    margin: float = 0.0  # how far past its threshold the deciding statistic sits (0..1)

    def to_dict(self) -> dict[str, Any]:
        """The ``fit`` JSON object (schema: the README, "JSON schema")."""
        return {
            "verdict": self.verdict,
            "severity": self.severity,
            "confidence": round(self.confidence, 3),
            "margin": round(self.margin, 3),
            "rule": self.rule,
            "best_index": self.best_index,
            "best_epoch": _num(self.best_epoch),
            "best_value": self.best_value,
            "best_raw_index": self.best_raw_index,
            "onset_index": self.onset_index,
            "onset_epoch": _num(self.onset_epoch),
            "stop_index": self.stop_index,
            "stop_epoch": _num(self.stop_epoch),
            "stop": {"key": self.stop_key, "metric": self.stop_metric, "why": self.stop_reason},
            "gap": {**self.gap, "final": self.gap.get("end_abs")},
            "val_rise": dict(self.val_rise),
            "trend": dict(self.trend),
            "noise": dict(self.noise),
            "chance": self.chance,
            "first_nonfinite_epoch": _num(self.first_nonfinite_epoch),
            "unstable_epochs": [_num(e) for e in self.unstable_epochs],
            "regularization": dict(self.regularization),
            "train_only": self.train_only,
            "primary": {
                "key": self.primary_key,
                "metric": self.primary_metric,
                "mode": self.mode,
                "why": self.primary_reason,
                "train_key": self.train_key,
            },
            "evidence": list(self.evidence),
            "caveats": list(self.caveats),
            "n_val_points": int(self.val_values.size),
            "n_epochs": int(np.unique(self.val_epochs).size),
            "source": self.source,
            "run": self.run,
        }

    def __rich_console__(self, console, options):
        from advisor.report import render_fit

        yield from render_fit(self, width=max(20, min(options.max_width - 24, 72)))


def _num(x: float | None) -> float | int | None:
    if x is None or not math.isfinite(x):
        return None
    return int(x) if float(x).is_integer() else float(x)
