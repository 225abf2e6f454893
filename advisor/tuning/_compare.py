"""Is a configuration better than another beyond the fold noise? A paired comparison on the same folds.

Two configurations cross-validated on the same folds (same splits, same seed) give paired fold
scores; their differences cancel what the folds share (an easy fold is easy for both). The
candidate is better *beyond noise* when the mean paired difference (signed so that positive
is better) exceeds ``NOISE_FACTOR`` times its standard error. With 5 folds, 2.0 standard
errors is close to a one-sided paired t-test at the 5 % level (t(0.95, 4 df) = 2.13); it is
deliberately strict because the candidate is the best of many trials, whose score is biased
upwards by the selection itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["NOISE_FACTOR", "PairedComparison", "paired_comparison"]

NOISE_FACTOR = 2.0  # standard errors the mean paired difference must exceed


@dataclass(frozen=True)
class PairedComparison:
    """``candidate - reference`` over paired folds, signed so that positive means better."""

    mean: float
    se: float
    folds: int
    factor: float = NOISE_FACTOR

    @property
    def beyond_noise(self) -> bool:
        """Better by more than ``factor`` standard errors (and by more than nothing)."""
        return self.mean > 0.0 and self.mean > self.factor * self.se

    @property
    def worse_beyond_noise(self) -> bool:
        """Worse by more than ``factor`` standard errors."""
        return self.mean < 0.0 and -self.mean > self.factor * self.se

    def describe(self, metric: str) -> str:
        """``+0.0123 ± 0.0040 accuracy (paired over 5 folds)``."""
        return f"{self.mean:+.4f} ± {self.se:.4f} {metric} (paired over {self.folds} folds)"

    def to_dict(self) -> dict[str, Any]:
        """``mean``, ``se``, ``folds``, ``factor`` and ``beyond_noise`` as a JSON-ready dict."""
        return {
            "mean": self.mean,
            "se": self.se,
            "folds": self.folds,
            "factor": self.factor,
            "beyond_noise": self.beyond_noise,
        }


def paired_comparison(
    candidate: list[float],
    reference: list[float],
    *,
    direction: str,
    factor: float = NOISE_FACTOR,
) -> PairedComparison:
    """Compare fold scores of ``candidate`` against ``reference`` (same folds, same order).

    Args:
        candidate: the candidate's validation score per fold.
        reference: the reference's (the baseline's, or the best stack so far) per fold.
        direction: ``maximize`` (accuracy) or ``minimize`` (MSE).
        factor: standard errors the mean difference must exceed to count as beyond noise.

    Raises:
        ValueError: the two lists differ in length or are empty.

    Example:
        >>> c = paired_comparison([0.9, 0.8, 0.85], [0.88, 0.79, 0.84], direction="maximize")
        >>> round(c.mean, 4), c.beyond_noise
        (0.0133, True)
    """
    if len(candidate) != len(reference) or not candidate:
        raise ValueError(
            f"paired comparison needs the same non-zero number of folds, got {len(candidate)} and {len(reference)}."
        )
    sign = 1.0 if direction == "maximize" else -1.0
    diffs = [sign * (float(c) - float(r)) for c, r in zip(candidate, reference, strict=True)]
    n = len(diffs)
    mean = sum(diffs) / n
    if n < 2:
        return PairedComparison(mean, math.inf, n, factor)
    var = sum((d - mean) ** 2 for d in diffs) / (n - 1)
    return PairedComparison(mean, math.sqrt(var / n), n, factor)
