"""Fit-diagnosis rules 4-5: what the validation curve says over the whole run.

A rise after its optimum beyond the measured noise (overfitting, with a severity), and a
descent still under way at the end (not converged). Also the helpers other rules read: the
rise after the best point, the headroom to the chance level, the noise of a series.
"""

from __future__ import annotations

import math

import numpy as np

from advisor.curves._fit_finding import Context, Finding, fmt_epoch, margin
from advisor.curves._fit_robust import theil_sen
from advisor.curves._fit_series import Track

__all__ = [
    "headroom",
    "is_fraction",
    "rise_after_best",
    "still_improving",
    "val_rises",
    "val_wander",
]


# ----------------------------------------------------------------------------- 4. validation rises

# A rise counts when it exceeds RISE_SIGMAS standard errors of the difference between the end
# level (median of the last m points) and the smoothed optimum, and RISE_REL of the optimum.
RISE_SIGMAS = 2.0
MEDIAN_SE = 1.25  # standard error of a median of m normal points is ~1.25 s / sqrt(m)
RISE_REL = 0.10
END_FRACTION = 0.2  # the end level is the median of this last fraction of the run
# The rise must last: at least this fraction of the run after the optimum, with most points above it.
MIN_AFTER_FRACTION = 0.1
ABOVE_FRACTION = 0.6
# "strong" overfitting: the rise is this many times its tolerance, or this fraction of the optimum.
STRONG_FACTOR = 2.0
STRONG_REL = 0.25


def rise_after_best(val: Track) -> tuple[float, float, int]:
    """(rise of the end level over the smoothed optimum, its tolerance, points after the optimum)."""
    n, b = val.n_valid, val.best
    after = n - 1 - b
    m = max(3, min(after, math.ceil(n * END_FRACTION)))
    best = float(val.smooth[b])
    end_level = float(np.median(val.bad[-m:])) if after >= 1 else best
    noise = max(val.noise, val_wander(val))
    tol = max(
        RISE_SIGMAS * MEDIAN_SE * noise * math.sqrt(1.0 / m + 1.0 / max(val.window, 1)),
        RISE_REL * headroom(val, best),
        1e-12,
    )
    return end_level - best, tol, after


def headroom(tr: Track, bad: float) -> float:
    """The level a relative change is measured against: the loss itself, or the error (1 - acc)
    of a higher-is-better metric in fractions (1 % accuracy lost at 98 % is half the errors again)."""
    if tr.series.mode == "max" and is_fraction(tr):
        return max(1.0 + bad, 1e-3)  # bad = -value
    return abs(bad)


def is_fraction(tr: Track) -> bool:
    """A higher-is-better metric in fractions (scale told by the reader, or values in [0, 1])."""
    if tr.series.scale is not None:
        return tr.series.scale == "fraction"
    return tr.n_valid > 0 and float(tr.values.min()) >= 0.0 and float(tr.values.max()) <= 1.0


def val_wander(tr: Track) -> float:
    """Robust deviation of the points around their running median (slow wander included)."""
    if tr.n_valid < 5:
        return tr.noise
    return float(np.median(np.abs(tr.bad - tr.smooth)) * 1.4826)


def val_rises(ctx: Context) -> Finding | None:
    """Validation worsens after its best point, beyond its noise, for a sustained stretch."""
    if ctx.train_only:
        return None
    val = ctx.primary
    n, b = val.n_valid, val.best
    if n < 4:
        return None
    rise, tol, after = rise_after_best(val)
    if after < max(2, int(MIN_AFTER_FRACTION * n)) or rise <= tol:
        return None
    if float(np.mean(val.bad[b + 1 :] > val.smooth[b])) < ABOVE_FRACTION:
        return None
    rel = rise / max(headroom(val, float(val.smooth[b])), 1e-12)
    severity = "strong" if rise > STRONG_FACTOR * tol or rel > STRONG_REL else "mild"
    return Finding(
        "overfitting",
        margin(rise / tol),
        "val-worsens",
        [
            f"Validation {val.series.metric} worsens after epoch {fmt_epoch(float(val.epochs[b]))}: the end level "
            f"is {rise:+.4g} ({rel:+.1%}) above the smoothed optimum, beyond the noise band {tol:.3g} "
            f"(severity {severity})."
        ],
        severity,
    )


# ----------------------------------------------------------------------------- 5. still improving

# "Clearly" improving: the smoothed curve falls over the last NC_TAIL of the run by more than
# NC_SIGMAS noise deviations and NC_REL of its final level, with the optimum in the last
# NC_BEST_FRACTION of the run.
NC_TAIL = 0.25
NC_SIGMAS = 2.0
NC_REL = 0.03
NC_BEST_FRACTION = 0.15


def still_improving(ctx: Context) -> Finding | None:
    """Rule 5: the curve still falls clearly at the end (beyond noise and ``NC_REL``): not
    converged.
    """
    tr = ctx.primary
    n, b = tr.n_valid, tr.best
    if n < 3:
        return None
    k = min(n - 1, max(2, math.ceil(NC_TAIL * n)))
    # A robust line through the raw tail: the end of a running median lags a falling curve.
    x, y = tr.epochs[-(k + 1) :], tr.bad[-(k + 1) :]
    drop = -theil_sen(x, y) * float(x[-1] - x[0])
    noise = max(tr.noise, val_wander(tr))
    tol = max(NC_SIGMAS * noise, NC_REL * abs(float(tr.smooth[-1])), 1e-12)
    if drop > tol and (n - 1 - b) <= max(1, int(NC_BEST_FRACTION * n)):
        return Finding(
            "not_converged",
            margin(drop / tol),
            "still-improving",
            [
                f"The {tr.label} {tr.series.metric} was still improving when the run stopped "
                f"({drop:.3g} over the last {k} points, beyond the band {tol:.3g}): train longer."
            ],
        )
    return None
