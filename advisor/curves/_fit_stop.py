"""The recommended stop of a run: the best logged epoch of the earliest stretch within noise
of the optimum.

Chosen on the judged series, on the series the user names (``--metric``), or on a
classifier's accuracy when it disagrees with the loss (the evidence says so).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from advisor.curves._fit_finding import fmt_epoch
from advisor.curves._fit_rules_trend import val_wander
from advisor.curves._fit_series import Track, accuracy_like, named_stop, prepare
from advisor.curves._types import Curves, Series

__all__ = ["best_in_window", "earliest_near_optimum", "recommend_stop"]

# The stop: the earliest epoch whose smoothed value is within noise of the smoothed optimum:
# STOP_SIGMAS standard errors (a running median of w points has ~ 1.25 s / sqrt(w)), the
# "one-standard-error rule" (Breiman et al. 1984) applied along the epochs, plus the depth by
# which the luckiest of n/w windows undercuts a flat stretch (see earliest_near_optimum).
STOP_SIGMAS = 1.0
MEDIAN_SE = 1.25
# The smoothed value at index i summarises the window i - w//2 .. i + w//2: the stop is the best
# logged point of that window (the checkpoint a user would keep), never a point outside it, so a
# lucky stretch elsewhere cannot pull the stop (benchmarks/bench_diagnosis.py: on the corpus's
# dev part the median held-out-loss regret at the stop fell from 3.4 % to 1.1 %).
REFINE_HALF_WINDOWS = 0.5
# Loss and accuracy "disagree" when their optima lie this fraction of the run apart.
DISAGREE_FRACTION = 0.2


def earliest_near_optimum(track: Track) -> tuple[int, float]:
    """(index, band): the earliest point whose smoothed value is within noise of the optimum."""
    noise = max(track.noise, val_wander(track))
    w = max(track.window, 1)
    smooth = track.smooth
    opt = float(smooth.min())
    # The minimum of n/w roughly independent window medians sits about sqrt(2 ln(n/w)) standard
    # errors below their common level on a flat stretch: the band adds that depth, so that a
    # long noisy plateau does not push the stop to its luckiest window.
    extreme = math.sqrt(2.0 * math.log(max(track.n_valid / w, 1.0)))
    band = (STOP_SIGMAS + extreme) * MEDIAN_SE * noise / math.sqrt(w)
    return int(np.nonzero(smooth <= opt + band)[0][0]), band


def best_in_window(track: Track, i: int) -> int:
    """Index of the best logged point in the smoothing window centred on ``i``."""
    half = int(max(track.window, 1) * REFINE_HALF_WINDOWS)
    lo, hi = max(0, i - half), min(track.n_valid, i + half + 1)
    return lo + int(np.argmin(track.bad[lo:hi]))


def recommend_stop(
    curves: Curves,
    primary: Series,
    val: Track,
    metric: str | None,
    verdict: str,
    evidence: list[str],
) -> dict[str, Any]:
    """The recommended stop: on the judged series, unless the user names another or a
    classifier's accuracy disagrees with its loss (then on the accuracy, and the evidence says so)."""
    if val.n_valid == 0:
        return {}
    series, track = primary, val
    why = f"'{primary.key}' (the judged series)"
    if metric is not None:
        series = named_stop(curves, metric)
        why = f"'{series.key}' (named with --metric)"
        track = val if series is primary else prepare(series, "validation")
    else:
        acc = accuracy_like(curves, primary)
        if acc is not None and val.n_valid >= 3:
            acc_track = prepare(acc, "validation")
            i_loss, _ = earliest_near_optimum(val)
            i_acc, _ = earliest_near_optimum(acc_track)
            span = max(float(val.epochs[-1] - val.epochs[0]), 1e-12)
            e_loss, e_acc = float(val.epochs[i_loss]), float(acc_track.epochs[i_acc])
            if abs(e_loss - e_acc) > DISAGREE_FRACTION * span:
                series, track = acc, acc_track
                why = f"'{acc.key}' (it disagrees with the loss; --metric loss to stop on the loss)"
                evidence.append(
                    f"Loss and {acc.metric} disagree: validation {primary.metric} is near its best from "
                    f"epoch {fmt_epoch(e_loss)}, {acc.metric} from epoch {fmt_epoch(e_acc)}. The verdict is "
                    f"judged on the loss; the stop follows {acc.metric}, what a classifier is finally judged on."
                )
    if track.n_valid == 0:
        return {}
    if verdict == "not_converged":
        # Still improving at the end: nothing earlier is a better place to stop (on the corpus's
        # dev part the mean held-out-loss regret of these runs fell from 3.3 % to 0.3 %).
        i = track.n_valid - 1
        evidence.append(
            f"Recommended stop: epoch {fmt_epoch(float(track.epochs[i]))}, the last logged: the run "
            "is still improving, so train longer rather than stop earlier."
        )
        return _stop(track, i, series, why)
    first, band = earliest_near_optimum(track)
    i = best_in_window(track, first)
    earliest = (
        f"the earliest whose smoothed {series.metric} is within noise ({band:.3g}) of its optimum"
    )
    at = fmt_epoch(float(track.epochs[i]))
    evidence.append(
        f"Recommended stop: epoch {at}, {earliest}, and the best logged {series.metric} around it."
        if i == first
        else f"Recommended stop: epoch {at}, the best logged {series.metric} around epoch "
        f"{fmt_epoch(float(track.epochs[first]))}, {earliest}."
    )
    return _stop(track, i, series, why)


def _stop(track: Track, i: int, series: Series, why: str) -> dict[str, Any]:
    return {
        "index": track.positions[i],
        "epoch": float(track.epochs[i]),
        "key": series.key,
        "metric": series.metric,
        "why": why,
    }
