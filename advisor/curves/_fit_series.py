"""The series a fit diagnosis reads: which ones, prepared how, and the chance level.

* ``Track``: one curve prepared for analysis, oriented so that lower is better ("badness"),
  with its finite prefix, smoothing, noise, scale and tail trend.
* ``pick_primary``: the series the verdict is judged on (the validation loss, the sum of its
  components, or a validation metric when no loss was logged; the training loss when the log has
  no validation series at all).
* ``named_stop`` / ``accuracy_like``: the series the stop epoch may be chosen on (what the user
  names with ``--metric``, or a classifier's accuracy when it disagrees with the loss).
* ``chance_level``: ln K for a K-class classifier, declared, from hyper-parameters, or inferred
  from a loss plateau at ln K.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from advisor.curves._fit_robust import (
    first_is_extreme,
    median_filter,
    noise_level,
    robust_scale,
    smoothing_window,
    theil_sen,
)
from advisor.curves._types import HIGHER_IS_BETTER, Curves, Series
from advisor.errors import CurveFormatError

__all__ = [
    "Track",
    "accuracy_like",
    "chance_level",
    "is_loss",
    "named_stop",
    "pick_primary",
    "prepare",
]

# Tail used for trends: the last third of the run (at least 5 points).
TAIL_FRACTION = 1 / 3
MIN_TAIL = 5
# Tolerance when matching a loss plateau to ln(K): a quarter of the spacing ln(K+1) - ln(K),
# at most 0.005, so that an ordinary loss level is not mistaken for a guessing level.
LN_K_TOL = 0.005
PLATEAU_POINTS = 3
MAX_INFERRED_CLASSES = 1000
CHANCE_KEYS = ("num_classes", "n_classes", "classes", "num_labels", "n_labels", "output_dim")


@dataclass
class Track:
    """One curve prepared for analysis (values oriented so that lower is better)."""

    series: Series
    label: str
    epochs: np.ndarray  # epochs of the analysed (finite) points
    values: np.ndarray  # the analysed values as logged
    bad: np.ndarray  # values for "min", -values for "max"
    smooth: np.ndarray  # running median of ``bad``
    positions: list[int]  # position of each analysed point in the logged series
    n_valid: int
    first_nonfinite: int | None  # index of the first non-finite value that persists to the end
    isolated_nonfinite: int  # non-finite values that recovered
    noise: float
    scale: float
    window: int
    tail_slope: float  # badness per epoch over the tail
    tail_change: float  # badness change over the tail

    @property
    def best(self) -> int:
        """Index (in the analysed arrays) of the smoothed optimum."""
        return int(np.argmin(self.smooth))

    @property
    def tolerance(self) -> float:
        """A change smaller than this is noise: 2 robust deviations, or 2 % of the range."""
        return max(2.0 * self.noise, 0.02 * self.scale, 1e-12)

    def start_level(self) -> float:
        """Median of the first 3 points (an extreme first point skipped)."""
        n = self.n_valid
        head = self.bad[1 : min(4, n)] if first_is_extreme(self.bad) else self.bad[: min(3, n)]
        return float(np.median(head))

    def gain(self) -> float:
        """Relative improvement from the start to the smoothed optimum."""
        start = self.start_level()
        return (start - float(self.smooth.min())) / max(abs(start), 1e-12)


def is_loss(series: Series) -> bool:
    """Whether a series is a loss (lower is better and named like one), not an error rate or a
    score.
    """
    return series.mode == "min" and "loss" in series.metric


def prepare(series: Series, label: str, *, drop: np.ndarray | None = None) -> Track:
    """Analyse ``series``; ``drop`` masks logged points to leave out (instability spikes)."""
    values = np.asarray(series.values, dtype=np.float64)
    epochs = np.asarray(series.epochs, dtype=np.float64)
    sign = -1.0 if series.mode == "max" else 1.0
    finite = np.isfinite(values)
    first_nonfinite: int | None = None
    if not finite.all():
        last_finite = int(np.nonzero(finite)[0][-1]) if finite.any() else -1
        if last_finite < values.size - 1:
            first_nonfinite = last_finite + 1
    stop = first_nonfinite if first_nonfinite is not None else values.size
    keep = finite[:stop].copy()
    isolated = int((~keep).sum())
    if drop is not None:
        keep &= ~drop[:stop]
    positions = [int(i) for i in np.nonzero(keep)[0]]
    ep, val = epochs[:stop][keep], values[:stop][keep]
    bad = sign * val
    n = bad.size
    noise = noise_level(bad)
    scale = robust_scale(bad) if n else 1.0
    window = smoothing_window(n, noise / scale if scale > 0 else 0.0)
    smooth = median_filter(bad, window) if n else bad
    slope, span = _tail_trend(ep, bad)
    return Track(
        series=series,
        label=label,
        epochs=ep,
        values=val,
        bad=bad,
        smooth=smooth,
        positions=positions,
        n_valid=n,
        first_nonfinite=first_nonfinite,
        isolated_nonfinite=isolated,
        noise=noise,
        scale=scale,
        window=window,
        tail_slope=slope,
        tail_change=slope * span,
    )


def _tail_trend(ep: np.ndarray, bad: np.ndarray) -> tuple[float, float]:
    n = bad.size
    tail_n = min(n, max(MIN_TAIL, math.ceil(n * TAIL_FRACTION)))
    if tail_n >= 3:
        return theil_sen(ep[-tail_n:], bad[-tail_n:]), float(ep[-1] - ep[-tail_n])
    if n >= 2:
        return float((bad[-1] - bad[0]) / max(ep[-1] - ep[0], 1e-12)), float(ep[-1] - ep[0])
    return 0.0, 0.0


# ----------------------------------------------------------------------------- series choice


def _usable(s: Series | None) -> bool:
    return s is not None and len(s) >= 2 and int(s.finite.sum()) >= 2


def _has_values(s: Series | None) -> bool:
    return s is not None and len(s) >= 1


def where(curves: Curves) -> str:
    """Where ``curves`` came from, for error messages: the source path, else ``"curves"``."""
    return str(curves.source) if curves.source else "curves"


def _sum_series(parts: list[Series], split: str) -> Series | None:
    """Sum loss components on the epochs they share (two-head or box/cls/dfl losses)."""
    common: set[float] | None = None
    for p in parts:
        e = set(p.epochs.tolist())
        common = e if common is None else common & e
    if not common:
        return None
    epochs = np.array(sorted(common))
    total = np.zeros(epochs.size)
    for p in parts:
        lookup = dict(zip(p.epochs.tolist(), p.values.tolist()))
        total += np.array([lookup[e] for e in epochs.tolist()])
    keys = "+".join(p.key for p in parts)
    return Series(split=split, metric="loss", key=keys, epochs=epochs, values=total, mode="min")


def _loss_components(curves: Curves, split: str) -> list[Series]:
    comps = [curves.get(split, m) for m in curves.metrics(split) if "loss" in m and m != "loss"]
    return [c for c in comps if c is not None and c.mode == "min"]


def pick_primary(curves: Curves) -> tuple[Series, Series | None, str, bool]:
    """Return (judged series, matching train series or None, why, train_only).

    The verdict is judged on a loss whenever one was logged (a loss that is non-finite is the
    strongest signal in a log, so it is chosen even when every value is NaN); on a validation
    metric only when no loss was logged; on the training loss alone when the log has no
    validation series.
    """
    vl = curves.val_loss
    if _has_values(vl) and (_usable(vl) or not np.isfinite(vl.values).all()):
        return vl, curves.train_loss, f"validation loss '{vl.key}'", False
    comps = [c for c in _loss_components(curves, "val") if _usable(c)]
    if len(comps) >= 2:
        total = _sum_series(comps, "val")
        if total is not None:
            tparts = [curves.get("train", c.metric) for c in comps]
            ttotal = (
                _sum_series([t for t in tparts if t is not None], "train") if all(tparts) else None
            )
            why = (
                f"the sum of {len(comps)} validation loss components "
                f"({', '.join(c.key for c in comps)}); no total validation loss was logged"
            )
            return total, ttotal, why, False
    if len(comps) == 1:
        c = comps[0]
        return (
            c,
            curves.get("train", c.metric),
            f"validation loss '{c.key}' (the only loss logged)",
            False,
        )
    val_metrics = curves.metrics("val")
    ranked = sorted(
        (curves.get("val", m) for m in val_metrics),
        key=lambda s: (s.metric not in HIGHER_IS_BETTER, s.metric),
    )
    for s in ranked:
        if _usable(s):
            reason = (
                "no usable validation loss was logged"
                if vl is None
                else "the validation loss is unusable"
            )
            return (
                s,
                curves.get("train", s.metric),
                f"validation {s.metric} '{s.key}' ({reason}; mode {s.mode})",
                False,
            )
    train_only = _train_only_primary(curves)
    if train_only is not None and not val_metrics:
        return (
            train_only,
            None,
            f"training {train_only.metric} '{train_only.key}' (no validation series logged)",
            True,
        )
    if not val_metrics:
        raise CurveFormatError(
            f"{where(curves)}: has no usable series (train: {', '.join(curves.metrics('train')) or 'none'}); "
            "log a loss each epoch for at least 2 epochs, or pass --train/--val KEY naming the columns."
        )
    raise CurveFormatError(
        f"{where(curves)}: the validation series ({', '.join(val_metrics)}) have fewer than 2 "
        "epochs; a fit cannot be judged from one point - train for at least 2 epochs with validation."
    )


def _train_only_primary(curves: Curves) -> Series | None:
    tl = curves.train_loss
    if tl is None:
        comps = _loss_components(curves, "train")
        tl = _sum_series(comps, "train") if len(comps) >= 2 else (comps[0] if comps else None)
    if _has_values(tl) and (len(tl) >= 2 or not np.isfinite(tl.values).any()):
        return tl
    for m in sorted(curves.metrics("train"), key=lambda m: (m not in HIGHER_IS_BETTER, m)):
        s = curves.get("train", m)
        if _usable(s):
            return s
    return None


def match_metric(curves: Curves, name: str) -> Series | None:
    """A validation series by normalised metric name or logged key (case-insensitive)."""
    low = name.strip().lower()
    direct = curves.get("val", low)
    if direct is not None:
        return direct
    for s in curves.series.values():
        if s.split == "val" and (
            s.key.lower() == low or s.metric == low or s.key.lower().endswith(low)
        ):
            return s
    return None


def named_stop(curves: Curves, metric: str) -> Series:
    """The validation series the user named with ``--metric`` (normalised name or key)."""
    chosen = match_metric(curves, metric)
    if chosen is None:
        names = sorted({s.metric for s in curves.series.values() if s.split == "val"})
        raise CurveFormatError(
            f"{where(curves)}: no validation series named {metric!r} "
            f"(found: {', '.join(names) or 'none'}); pass one of those to --metric."
        )
    return chosen


def accuracy_like(curves: Curves, primary: Series) -> Series | None:
    """An accuracy-like validation metric logged beside a validation loss, or None."""
    if not (is_loss(primary) and primary.split == "val"):
        return None
    for m in ("accuracy", "top1", "f1", "auc", "map", "iou", "dice", "r2"):
        s = curves.get("val", m)
        if _usable(s) and s.mode == "max":
            return s
    return None


# ----------------------------------------------------------------------------- chance level


def chance_level(
    curves: Curves, primary: Track, train: Track | None, classes: int | None
) -> dict | None:
    """``{"classes", "loss", "source"}`` for a K-class classifier's guessing level, or None."""
    if classes is not None:
        return _chance(classes, "--classes")
    for key in CHANCE_KEYS:
        v = curves.hparams.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v >= 2:
            return _chance(v, f"hparams {key}={v}")
    if not is_loss(primary.series):
        return None
    for tr, name in ((primary, primary.label), (train, "train")):
        found = _plateau_at_ln_k(tr, name) if tr is not None else None
        if found is not None:
            return found
    return None


def _chance(k: int, source: str) -> dict:
    return {"classes": k, "loss": math.log(k), "source": source}


def _plateau_at_ln_k(tr: Track, name: str) -> dict | None:
    """K when the first loss plateau (3 values within 0.005) sits at ln K."""
    v = tr.values
    for i in range(v.size - PLATEAU_POINTS + 1):
        window = v[i : i + PLATEAU_POINTS]
        if float(window.max() - window.min()) > LN_K_TOL:
            continue
        level = float(np.median(window))
        if not (math.log(2) - LN_K_TOL <= level <= math.log(MAX_INFERRED_CLASSES) + LN_K_TOL):
            return None
        k = max(2, round(math.exp(level)))
        tol = min(LN_K_TOL, (math.log(k + 1) - math.log(k)) / 4)
        if abs(level - math.log(k)) <= tol:
            epoch = float(tr.epochs[i])
            shown = str(int(epoch)) if epoch.is_integer() else f"{epoch:.3g}"
            return _chance(
                k, f"{name} loss plateau {level:.4g} at epoch {shown} ~ ln({k}) = {math.log(k):.4g}"
            )
        return None  # only the first plateau is a guessing level
    return None
