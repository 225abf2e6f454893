"""The oracle that labels a corpus run from its held-out curve (never from advisor).

A run is labelled from the per-epoch loss on a held-out split the training never saw and the
logger never wrote (the TEST split), plus the training curve. The same function is applied to
the VALIDATION curve; where the two labels disagree the run is left unscored (see
``generate.py``). Everything the rules compare against is stated by a named threshold below.

Scales the rules use, per dataset and held-out split (``Scale``):

* ``baseline``: the loss of the best *constant* predictor on that split (class-prior
  cross-entropy for classifiers, the variance of the target around the train mean for
  regression/forecasting). A model that learned nothing sits here.
* ``reference``: the "achievable" loss, the best smoothed held-out loss reached by a few
  well-configured reference models (moderate capacity, sensible weight decay, early stopping),
  stored in ``references.json``.
* ``chance``: ``ln K`` for a K-class classifier (uniform logits), ``None`` for regression.

Curve handling: the held-out curve is smoothed (running median then running mean, both over an
odd window of about ``SMOOTH_FRAC`` of the run, at least 3 and at most ``SMOOTH_MAX`` epochs,
shrinking at the ends), and its per-epoch noise ``sigma`` is the robust standard deviation
(1.4826 x MAD) of the residuals from the smoothed curve. The *noise band* is::

    band = max(NOISE_K * sigma, BAND_REL * min_smoothed, BAND_ABS * baseline)

Rules, first match wins:

1. diverging
   a. a non-finite train or held-out loss (the first non-finite epoch is recorded), or
   b. the train loss explodes: the mean of its last ``TAIL_FRAC_END`` epochs is above its first
      epoch and more than ``EXPLODE_RATIO`` times its minimum (and above it by more than
      ``EXPLODE_ABS`` x baseline), or
   c. dead at chance (classifiers): the held-out loss never gets more than ``DEAD_TOL``
      (relative) below the chance level (the lower of ``ln K`` and the constant-prior loss), and
      its median over the run is within ``DEAD_END_TOL`` above ``ln K``:
      the run never learned anything and sits at chance (an oscillating output bias keeps it a
      little above ``ln K``, which is why the upper tolerance is wider), or
   d. blown up: the best smoothed held-out loss is more than ``FAR_ABOVE`` times the constant
      predictor's loss (huge but finite outputs: the run never got near a useful model).
2. overfitting
   a. severity "strong": after its minimum the smoothed held-out loss rises and stays up: both
      the mean of the last ``TAIL_FRAC_END`` raw epochs and the last smoothed point are above
      ``min_smoothed + rise`` where
      ``rise = max(band, min(RISE_REL * min_smoothed, RISE_RANGE_FRAC * (baseline - reference)))``
      (the range term matters on low-signal data, where losing a quarter of what can be learned
      is a small relative rise), and the minimum lies before that final window.
   b. severity "mild": the run ends with a large generalisation gap (held-out loss at least
      ``GAP_RATIO`` times the eval-mode train loss, and the absolute gap at least
      ``GAP_ABS_REF`` x reference) while its final held-out loss is clearly worse than the
      reference: above ``reference + CLEAR_WORSE_FRAC * (baseline - reference)`` and above
      ``reference + band``.
3. not_converged: the held-out loss still falls beyond noise over the final ``TAIL_FRAC_NC``
   of the run (a least-squares line through the raw tail falls by more than
   ``max(band, min(NC_REL * final_smoothed, NC_RANGE_FRAC * (baseline - reference)))``) and
   its smoothed minimum is in the last
   ``NEAR_END_FRAC`` of the run (at least the last 2 epochs).
4. underfitting: the best smoothed held-out loss stays more than ``UF_FRAC`` of the way from
   the reference to the baseline (``best > reference + UF_FRAC * (baseline - reference)``)
   with no large gap (2b's gap test fails) and not still falling (3 failed).
5. good_fit otherwise.

The oracle's best stop epoch is the earliest epoch whose smoothed held-out loss is within the
noise band of the smoothed minimum (0-based index into the per-epoch list: index 0 is the
evaluation after the first training epoch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["THRESHOLDS", "OracleResult", "Scale", "noise_sigma", "oracle_label", "smooth"]

# -- smoothing and noise -------------------------------------------------------------------
SMOOTH_FRAC = 0.06  # smoothing window, as a fraction of the run length
SMOOTH_MAX = 21  # ... capped (epochs), so long runs keep their shape
NOISE_K = 2.0  # the noise band is NOISE_K per-epoch noise sigmas ...
BAND_REL = 0.01  # ... at least 1 % of the smoothed minimum ...
BAND_ABS = 0.001  # ... and at least 0.1 % of the constant-predictor loss (float floor)

# -- diverging -----------------------------------------------------------------------------
EXPLODE_RATIO = 2.0  # final train loss > 2x its minimum (and above its first epoch)
EXPLODE_ABS = 0.05  # ... and above the minimum by 5 % of the baseline (ignores tiny losses)
DEAD_TOL = 0.005  # dead at chance: the held-out loss never gets 0.5 % below the chance level ...
DEAD_END_TOL = 0.10  # ... and its median is within 10 % above ln K (it sits at chance)
FAR_ABOVE = 2.0  # best smoothed held-out loss > 2x the constant predictor's loss: blown up

# -- overfitting ---------------------------------------------------------------------------
TAIL_FRAC_END = 0.10  # "end of run" window: last 10 % of epochs (at least 3)
RISE_REL = 0.10  # strong: sustained rise of >= 10 % above the smoothed minimum (and > band) ...
RISE_RANGE_FRAC = 0.25  # ... or of 25 % of the learnable range (baseline - reference) if smaller
GAP_RATIO = 3.0  # mild: held-out loss >= 3x the eval-mode train loss ...
GAP_ABS_REF = 1.0  # ... and the gap >= 1x the dataset's reference loss ...
CLEAR_WORSE_FRAC = 0.15  # ... and final held-out loss > ref + 15 % of (baseline - ref)

# -- not converged -------------------------------------------------------------------------
TAIL_FRAC_NC = 0.25  # still falling over the last 25 % of the run ...
NC_REL = 0.03  # ... by more than 3 % of its final level (and the noise band) ...
NC_RANGE_FRAC = 0.05  # ... or 5 % of the learnable range (baseline - reference) if smaller
NEAR_END_FRAC = 0.05  # ... with the minimum in the last 5 % of the run (at least 2 epochs)

# -- underfitting --------------------------------------------------------------------------
UF_FRAC = 0.40  # best loss more than 40 % of the way from the reference to the baseline

THRESHOLDS = {
    k: v
    for k, v in dict(globals()).items()
    if k.isupper() and isinstance(v, (int, float)) and not k.startswith("_")
}


@dataclass
class Scale:
    """Loss levels of one held-out split of one dataset."""

    baseline: float  # best constant predictor on this split
    reference: float  # achievable loss (reference models)
    chance: float | None = None  # ln K for classifiers
    prior_loss: float | None = None  # constant-prior cross-entropy (classifiers)


@dataclass
class OracleResult:
    label: str
    severity: str | None = None
    reason: str = ""
    first_nonfinite_epoch: int | None = None
    stop_epoch: int | None = None
    stats: dict[str, Any] = field(default_factory=dict)


def _odd_window(n: int) -> int:
    w = round(SMOOTH_FRAC * n)
    w = max(3, min(SMOOTH_MAX, w))
    if w % 2 == 0:
        w += 1
    return min(w, n if n % 2 else max(n - 1, 1))


def smooth(values: np.ndarray) -> np.ndarray:
    """Running median then running mean over an odd window (shrinking at the ends)."""
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    if n < 3:
        return v.copy()
    w = _odd_window(n)
    h = w // 2
    med = np.array([np.median(v[max(0, i - h) : i + h + 1]) for i in range(n)])
    csum = np.concatenate([[0.0], np.cumsum(med)])
    out = np.empty(n)
    for i in range(n):
        lo, hi = max(0, i - h), min(n, i + h + 1)
        out[i] = (csum[hi] - csum[lo]) / (hi - lo)
    return out


def noise_sigma(values: np.ndarray, smoothed: np.ndarray) -> float:
    r = np.asarray(values) - np.asarray(smoothed)
    if r.size < 3:
        return 0.0
    return float(1.4826 * np.median(np.abs(r - np.median(r))))


def _first_nonfinite(*curves: np.ndarray | None) -> int | None:
    first = None
    for c in curves:
        if c is None or len(c) == 0:
            continue
        bad = np.flatnonzero(~np.isfinite(np.asarray(c, dtype=np.float64)))
        if bad.size:
            first = int(bad[0]) if first is None else min(first, int(bad[0]))
    return first


def _tail_drop(held: np.ndarray, k: int) -> float:
    """Fall of the held-out loss over its last ``k + 1`` epochs, from a least-squares line.

    A line through the raw tail, not the smoothed end points: a centred running mean shrinks
    at the end of a run and flattens a curve that is still falling steadily (a 10-epoch run
    losing 1.7 % per epoch read as "no longer falling").
    """
    tail = held[-(k + 1) :] if held.size > k else held
    if tail.size < 2:
        return 0.0
    x = np.arange(tail.size, dtype=np.float64)
    slope = float(np.polyfit(x, tail, 1)[0])
    return -slope * (tail.size - 1)


def _tail_len(n: int, frac: float) -> int:
    return max(3, math.ceil(frac * n)) if n >= 6 else max(1, n // 2)


def oracle_label(
    held: list[float] | np.ndarray,
    train: list[float] | np.ndarray,
    scale: Scale,
    *,
    train_eval: list[float] | np.ndarray | None = None,
    extra_nonfinite: list[np.ndarray | None] = (),
) -> OracleResult:
    """Label one run from its held-out loss curve (test or validation) and its train curve.

    Args:
        held: held-out loss per epoch (index 0 = after the first training epoch).
        train: the train loss as logged (train mode, mean over the epoch's minibatches).
        scale: the dataset's baseline / reference / chance levels on this held-out split.
        train_eval: the train-set loss in eval mode per epoch (used for the gap; the logged
            train loss is used where it is missing).
        extra_nonfinite: other curves whose non-finite values make the run diverging
            (the validation loss, when labelling from the test curve).
    """
    held = np.asarray(held, dtype=np.float64)
    train = np.asarray(train, dtype=np.float64)
    tev = None if train_eval is None else np.asarray(train_eval, dtype=np.float64)
    n = held.size
    stats: dict[str, Any] = {}

    # 1a. non-finite
    nf = _first_nonfinite(held, train, *extra_nonfinite)
    if nf is not None:
        return OracleResult(
            "diverging", reason=f"non-finite loss from epoch index {nf}", first_nonfinite_epoch=nf
        )
    if n == 0:
        return OracleResult("good_fit", reason="empty curve")

    # 1b. train loss exploding
    k_end = _tail_len(n, TAIL_FRAC_END)
    t_end = float(np.mean(train[-k_end:]))
    t_min = float(np.min(train))
    stats.update(train_end=t_end, train_min=t_min, train_start=float(train[0]))
    if (
        n >= 4
        and t_end > train[0]
        and t_end > EXPLODE_RATIO * t_min
        and t_end - t_min > EXPLODE_ABS * scale.baseline
    ):
        return OracleResult(
            "diverging",
            reason=f"train loss explodes: ends at {t_end:.4g}, min {t_min:.4g}, start {train[0]:.4g}",
            stats=stats,
        )

    # 1c. dead at chance: never below the chance level, and sitting at it at the end
    if scale.chance:
        floor = min(x for x in (scale.chance, scale.prior_loss) if x)
        top = max(x for x in (scale.chance, scale.prior_loss) if x)
        end = float(np.median(held))
        if np.min(held) >= (1 - DEAD_TOL) * floor and end <= (1 + DEAD_END_TOL) * top:
            return OracleResult(
                "diverging",
                reason=(
                    f"dead at chance: held-out loss never below {(1 - DEAD_TOL) * floor:.4g} "
                    f"(chance ln K {scale.chance:.4g}, prior {floor:.4g}), median {end:.4g}"
                ),
                stats=stats,
            )

    s = smooth(held)
    sigma = noise_sigma(held, s)
    i_min = int(np.argmin(s))
    s_min = float(s[i_min])

    # 1d. never even reached the constant predictor: the run is broken (blown-up outputs)
    if s_min > FAR_ABOVE * scale.baseline:
        return OracleResult(
            "diverging",
            reason=f"best held-out loss {s_min:.4g} > {FAR_ABOVE:g}x the constant predictor's {scale.baseline:.4g}",
            stats=stats,
        )
    band = max(NOISE_K * sigma, BAND_REL * s_min, BAND_ABS * scale.baseline)
    stop = int(np.flatnonzero(s <= s_min + band)[0])
    h_end = float(np.mean(held[-k_end:]))
    ref, base = scale.reference, scale.baseline
    stats.update(
        sigma=sigma,
        band=band,
        min_smoothed=s_min,
        argmin=i_min,
        end_mean=h_end,
        end_smoothed=float(s[-1]),
        n=n,
    )

    # 2a. strong overfitting: sustained rise after the minimum
    rise = max(band, min(RISE_REL * s_min, RISE_RANGE_FRAC * (scale.baseline - scale.reference)))
    stats["rise_needed"] = rise
    if i_min < n - k_end and h_end > s_min + rise and s[-1] > s_min + rise:
        return OracleResult(
            "overfitting",
            "strong",
            reason=f"held-out loss rises from {s_min:.4g} (epoch {i_min}) to {h_end:.4g}",
            stop_epoch=stop,
            stats=stats,
        )

    # 2b. mild overfitting: large final generalisation gap, clearly worse than achievable
    tr_ref = tev if tev is not None and tev.size == n and np.all(np.isfinite(tev)) else train
    tr_end = float(np.mean(tr_ref[-k_end:]))
    gap = h_end - tr_end
    large_gap = h_end >= GAP_RATIO * max(tr_end, 1e-12) and gap >= GAP_ABS_REF * ref
    clearly_worse = h_end > ref + max(CLEAR_WORSE_FRAC * (base - ref), band)
    stats.update(train_eval_end=tr_end, gap=gap, large_gap=bool(large_gap))
    if large_gap and clearly_worse:
        return OracleResult(
            "overfitting",
            "mild",
            reason=f"final gap: held-out {h_end:.4g} vs train {tr_end:.4g} (reference {ref:.4g})",
            stop_epoch=stop,
            stats=stats,
        )

    # 3. not converged: still falling at the end
    k_nc = _tail_len(n, TAIL_FRAC_NC)
    drop = _tail_drop(held, k_nc)
    near_end = max(2, math.ceil(NEAR_END_FRAC * n))
    stats.update(tail_drop=drop)
    nc_needed = max(band, min(NC_REL * float(s[-1]), NC_RANGE_FRAC * (base - ref)))
    stats["drop_needed"] = nc_needed
    if i_min >= n - near_end and drop > nc_needed:
        return OracleResult(
            "not_converged",
            reason=f"held-out loss still falling: -{drop:.4g} over the last {k_nc} epochs",
            stop_epoch=stop,
            stats=stats,
        )

    # 4. underfitting: far from the achievable loss, small gap
    uf_level = ref + UF_FRAC * (base - ref)
    stats["underfit_level"] = uf_level
    if s_min > uf_level and not large_gap:
        return OracleResult(
            "underfitting",
            reason=f"best held-out loss {s_min:.4g} > {uf_level:.4g} (reference {ref:.4g}, baseline {base:.4g})",
            stop_epoch=stop,
            stats=stats,
        )

    return OracleResult("good_fit", reason="none of the rules fired", stop_epoch=stop, stats=stats)
