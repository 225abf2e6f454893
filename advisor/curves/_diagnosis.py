"""Fit diagnosis: read the whole shape of a run's learning curves and name the regime.

The verdict is one of ``overfitting``, ``underfitting``, ``good_fit``, ``not_converged`` and
``diverging``. It is decided from noise-robust statistics of the whole curve, never from one
threshold on the last value:

* a running median (window ~ n/10, odd, 3..15) smooths each curve; the noise level is the MAD
  of the second differences (x 1.4826 / sqrt(6), a robust standard deviation that a smooth
  trend does not inflate);
* the best point is the minimum of the *smoothed* validation curve (a lucky dip in a noisy curve
  is not the best epoch);
* the trend of the last third of each curve is a Theil-Sen slope (median of pairwise slopes,
  Sen 1968), which ignores isolated spikes;
* the scale of a curve (used to turn changes into fractions) ignores an extreme first value
  (a first-epoch loss 10x the rest is common and would swamp any range).

The rules, in the order they are tried, and the confidence (a margin in [0, 1]: 0 means the
deciding statistic sits on its threshold, values near 1 mean it is several times past it; it is
reduced for short runs and runs missing the train curve) are documented in the README, section
"Diagnosing the fit".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from advisor._display import Displayable
from advisor.curves._types import HIGHER_IS_BETTER, Curves, Series
from advisor.errors import CurveFormatError

__all__ = ["VERDICTS", "FitDiagnosis", "diagnose_fit"]

Verdict = Literal["overfitting", "underfitting", "good_fit", "not_converged", "diverging"]
VERDICTS: tuple[str, ...] = (
    "overfitting",
    "underfitting",
    "good_fit",
    "not_converged",
    "diverging",
)

# Tail used for trends: the last third of the run (at least 5 points) - long enough for a robust
# slope, short enough to describe how the run ended.
_TAIL_FRACTION = 1 / 3
_MIN_TAIL = 5
# A change must exceed this many robust standard deviations of noise to count (and 2 % of the
# curve's scale, so that a perfectly smooth curve does not turn every wiggle into a trend).
_NOISE_FACTOR = 2.0
_SCALE_FACTOR = 0.02
# Tolerance when matching a loss to ln(K): ln(K+1) - ln(K) ~ 1/K, so a 0.02 window identifies K
# uniquely up to K ~ 25; larger K are only used when declared.
_LN_K_TOL = 0.02
_CHANCE_KEYS = ("num_classes", "n_classes", "classes", "num_labels", "n_labels", "output_dim")


def _median_filter(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or values.size < 3:
        return values.copy()
    half = window // 2
    padded = np.pad(values, half, mode="edge")
    # A sliding-window view keeps this O(n * window) without Python loops.
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)
    return np.median(windows, axis=1)


def _window_for(n: int) -> int:
    w = max(3, min(15, round(n / 10)))
    if w % 2 == 0:
        w += 1
    return 1 if n < 5 else w


def _theil_sen(x: np.ndarray, y: np.ndarray) -> float:
    """Median of pairwise slopes (Sen 1968); robust to up to ~29 % outliers."""
    if x.size < 2:
        return 0.0
    if x.size > 300:  # keep it O(300^2): subsample evenly, the estimate barely changes
        idx = np.linspace(0, x.size - 1, 300).round().astype(int)
        x, y = x[idx], y[idx]
    i, j = np.triu_indices(x.size, k=1)
    dx = x[j] - x[i]
    ok = dx != 0
    if not ok.any():
        return 0.0
    return float(np.median((y[j] - y[i])[ok] / dx[ok]))


def _noise(bad: np.ndarray) -> float:
    """Robust noise level: MAD of second differences / sqrt(6).

    For white noise of deviation s, the second difference has deviation s*sqrt(6), while a
    smooth trend contributes almost nothing; residuals from a running median would read a
    monotone noisy curve as noise-free.
    """
    if bad.size >= 5:
        d2 = bad[2:] - 2 * bad[1:-1] + bad[:-2]
        return float(np.median(np.abs(d2 - np.median(d2))) * 1.4826 / math.sqrt(6))
    if bad.size >= 2:
        return float(np.median(np.abs(np.diff(bad)))) / 2
    return 0.0


def _robust_scale(values: np.ndarray) -> float:
    """Spread of a curve ignoring an extreme first point and the top 5 % (spikes)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 1.0
    if v.size > 3 and _first_is_extreme(v):
        v = v[1:]
    lo, hi = np.percentile(v, [0, 95])
    spread = float(hi - lo)
    level = float(np.median(np.abs(v)))
    return max(spread, 0.05 * level, 1e-12)


def _first_is_extreme(v: np.ndarray) -> bool:
    rest = v[1:]
    med = float(np.median(rest))
    mad = float(np.median(np.abs(rest - med))) * 1.4826
    return abs(v[0] - med) > max(10 * mad, 2.0 * abs(med), 1e-12) and abs(v[0]) > 3 * abs(med)


def _margin(ratio: float) -> float:
    """Map "measured / threshold" (>= 1 past the threshold) to a margin in [0, 1]."""
    if not math.isfinite(ratio):
        return 1.0
    return float(max(0.0, min(1.0, math.tanh(0.5 * (ratio - 1.0)))))


@dataclass
class _Track:
    """One curve prepared for analysis, oriented so that lower is better ("badness")."""

    series: Series
    label: str
    epochs: np.ndarray
    values: np.ndarray  # as logged (finite part used for analysis)
    bad: np.ndarray  # values for "min", -values for "max"
    smooth: np.ndarray  # smoothed badness over the finite prefix
    n_valid: int  # length of the analysed (finite) prefix
    first_nonfinite: int | None  # index of the first non-finite value that persists to the end
    isolated_nonfinite: int  # count of non-finite values that recovered
    noise: float
    scale: float
    tail_slope: float  # badness per epoch
    tail_change: float  # badness change over the tail (slope * tail span)


def _prepare(series: Series, label: str) -> _Track:
    values = np.asarray(series.values, dtype=np.float64)
    epochs = np.asarray(series.epochs, dtype=np.float64)
    sign = -1.0 if series.mode == "max" else 1.0
    finite = np.isfinite(values)
    first_nonfinite: int | None = None
    isolated = 0
    if not finite.all():
        # A non-finite value counts as divergence when it persists to the end of the run;
        # isolated ones (an empty logging batch) are dropped and reported.
        last_finite = int(np.nonzero(finite)[0][-1]) if finite.any() else -1
        if last_finite < values.size - 1:
            first_nonfinite = last_finite + 1
        prefix = finite[: first_nonfinite if first_nonfinite is not None else values.size]
        isolated = int((~prefix).sum())
    stop = first_nonfinite if first_nonfinite is not None else values.size
    keep = np.isfinite(values[:stop])
    ep, val = epochs[:stop][keep], values[:stop][keep]
    bad = sign * val
    n = bad.size
    window = _window_for(n)
    smooth = _median_filter(bad, window) if n else bad
    noise = _noise(bad)
    scale = _robust_scale(bad) if n else 1.0
    tail_n = max(_MIN_TAIL, math.ceil(n * _TAIL_FRACTION))
    tail_n = min(tail_n, n)
    if tail_n >= 3:
        slope = _theil_sen(ep[-tail_n:], bad[-tail_n:])
        span = float(ep[-1] - ep[-tail_n])
    elif n >= 2:
        slope = float((bad[-1] - bad[0]) / max(ep[-1] - ep[0], 1e-12))
        span = float(ep[-1] - ep[0])
    else:
        slope, span = 0.0, 0.0
    return _Track(
        series=series,
        label=label,
        epochs=ep,
        values=val,
        bad=bad,
        smooth=smooth,
        n_valid=n,
        first_nonfinite=first_nonfinite,
        isolated_nonfinite=isolated,
        noise=noise,
        scale=scale,
        tail_slope=slope,
        tail_change=slope * span,
    )


def _tolerance(track: _Track) -> float:
    return max(_NOISE_FACTOR * track.noise, _SCALE_FACTOR * track.scale, 1e-12)


# ----------------------------------------------------------------------------- series choice


def _is_loss(metric: str) -> bool:
    return "loss" in metric


def _sum_series(parts: list[Series], split: str, name: str) -> Series | None:
    """Sum loss components on the epochs they share (two-head or box/cls/dfl losses)."""
    common = None
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
    return Series(split=split, metric=name, key=keys, epochs=epochs, values=total, mode="min")


def _pick_primary(curves: Curves, metric: str | None) -> tuple[Series, Series | None, str]:
    """Return (val series, matching train series or None, why)."""
    val_metrics = curves.metrics("val")
    if metric is not None:
        chosen = _match_metric(curves, "val", metric)
        if chosen is None:
            raise CurveFormatError(
                f"{_where(curves)}: no validation series named '{metric}' "
                f"(found: {', '.join(val_metrics) or 'none'}); pass one of those to --metric."
            )
        return (
            chosen,
            curves.get("train", chosen.metric),
            f"'{chosen.key}' (asked for with metric=)",
        )
    vl = curves.val_loss
    if vl is not None and _usable(vl):
        return vl, curves.train_loss, f"validation loss '{vl.key}'"
    comps = [curves.get("val", m) for m in val_metrics if _is_loss(m) and m != "loss"]
    comps = [c for c in comps if c is not None and _usable(c)]
    if len(comps) >= 2:
        total = _sum_series(comps, "val", "loss")
        if total is not None:
            tparts = [curves.get("train", c.metric) for c in comps]
            ttotal = (
                _sum_series([t for t in tparts if t is not None], "train", "loss")
                if all(tparts)
                else None
            )
            why = (
                f"the sum of {len(comps)} validation loss components ({', '.join(c.key for c in comps)}); "
                "no total validation loss was logged"
            )
            return total, ttotal, why
    if len(comps) == 1:
        c = comps[0]
        return c, curves.get("train", c.metric), f"validation loss '{c.key}' (the only loss logged)"
    # No usable loss: a validation metric with its own direction.
    ranked = sorted(
        (curves.get("val", m) for m in val_metrics),
        key=lambda s: (s.metric not in HIGHER_IS_BETTER, s.metric),
    )
    for s in ranked:
        if s is not None and _usable(s):
            reason = (
                "no usable validation loss was logged"
                if vl is None
                else "the validation loss is unusable"
            )
            return (
                s,
                curves.get("train", s.metric),
                f"validation {s.metric} '{s.key}' ({reason}; mode {s.mode})",
            )
    if not val_metrics:
        train = ", ".join(curves.metrics("train")) or "none"
        raise CurveFormatError(
            f"{_where(curves)}: has no validation series (train series: {train}); log a validation "
            "loss (e.g. val_loss) each epoch, or pass --val KEY naming the validation column."
        )
    # Validation exists but none has two finite points.
    first = curves.get("val", val_metrics[0])
    if first is not None and first.finite.sum() == 0 and len(first) > 0:
        return (
            first,
            curves.get("train", first.metric),
            f"'{first.key}' (every value is non-finite)",
        )
    raise CurveFormatError(
        f"{_where(curves)}: the validation series ({', '.join(val_metrics)}) have fewer than 2 "
        "epochs; a fit cannot be judged from one point - train for at least 2 epochs with validation."
    )


def _usable(s: Series) -> bool:
    return len(s) >= 2 and s.finite.sum() >= 2


def _match_metric(curves: Curves, split: str, name: str) -> Series | None:
    direct = curves.get(split, name)
    if direct is not None:
        return direct
    for s in curves.series.values():
        if s.split == split and (s.key == name or s.metric == name):
            return s
    return None


def _where(curves: Curves) -> str:
    return str(curves.source) if curves.source else "curves"


# ----------------------------------------------------------------------------- chance level


def _declared_classes(curves: Curves) -> tuple[int | None, str | None]:
    for key in _CHANCE_KEYS:
        v = curves.hparams.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v >= 2:
            return v, f"hparams {key}={v}"
    return None, None


def _infer_classes(val: _Track, train: _Track | None) -> tuple[int | None, str | None]:
    """K when a loss plateau (>= 3 consecutive values within 0.005) sits at ln K.

    The match must be tight (a quarter of the spacing between ln K and ln(K+1), at most 0.005)
    so that an ordinary loss level is not mistaken for a guessing level.
    """
    for tr, name in ((val, "validation"), (train, "train")):
        if tr is None or tr.n_valid < 3:
            continue
        v = tr.values
        for i in range(v.size - 2):
            window = v[i : i + 3]
            if float(window.max() - window.min()) > 0.005:
                continue
            level = float(np.median(window))
            if not (math.log(2) - 0.005 <= level <= math.log(1000) + 0.005):
                continue
            k = max(2, round(math.exp(level)))
            tol = min(0.005, (math.log(k + 1) - math.log(k)) / 4)
            if abs(level - math.log(k)) <= tol:
                return (
                    k,
                    f"{name} loss plateau {level:.4g} at epoch {_fmt_epoch(float(tr.epochs[i]))} ~ ln({k}) = {math.log(k):.4g}",
                )
            break  # only the first plateau is a guessing level (later ones are learned levels)
    return None, None


# ----------------------------------------------------------------------------- result


@dataclass
class FitDiagnosis(Displayable):
    """The fit verdict of one run, with the evidence behind it and what a plot needs.

    Indices (``best_index``, ``onset_index``, ``stop_index``) are 0-based positions in the
    validation series as logged (``val_epochs`` / ``val_values``); ``*_epoch`` are the
    epochs as logged. ``val_smoothed`` / ``train_smoothed`` are the running medians on the
    finite prefix of each curve, in the metric's own units, aligned with ``val_smoothed_epochs``
    / ``train_smoothed_epochs``.

    Example:
        >>> fit = diagnose_fit(curves)            # doctest: +SKIP
        >>> fit.verdict, fit.best_epoch, fit.confidence  # doctest: +SKIP
        ('overfitting', 12.0, 0.83)
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

    def to_dict(self) -> dict[str, Any]:
        """The ``fit`` JSON object (schema: the README, "JSON schema")."""
        return {
            "verdict": self.verdict,
            "confidence": round(self.confidence, 3),
            "rule": self.rule,
            "best_index": self.best_index,
            "best_epoch": _num(self.best_epoch),
            "best_value": self.best_value,
            "best_raw_index": self.best_raw_index,
            "onset_index": self.onset_index,
            "onset_epoch": _num(self.onset_epoch),
            "stop_index": self.stop_index,
            "stop_epoch": _num(self.stop_epoch),
            "gap": {**self.gap, "final": self.gap.get("end_abs")},
            "val_rise": dict(self.val_rise),
            "trend": dict(self.trend),
            "noise": dict(self.noise),
            "chance": self.chance,
            "first_nonfinite_epoch": _num(self.first_nonfinite_epoch),
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
        yield from _render_fit(self, width=max(20, min(options.max_width - 24, 72)))


def _num(x: float | None) -> float | int | None:
    if x is None or not math.isfinite(x):
        return None
    return int(x) if float(x).is_integer() else float(x)


# ----------------------------------------------------------------------------- diagnosis


def diagnose_fit(
    curves: Curves, *, classes: int | None = None, metric: str | None = None
) -> FitDiagnosis:
    """Diagnose the fit of one run from its learning curves.

    Args:
        curves: the run (from ``advisor.load_curves`` or built in memory).
        classes: number of classes, for the chance-level loss ln(K); inferred from the
            hyper-parameters or from a loss sitting at ln(K) when not given.
        metric: name of the validation series to judge (default: the validation loss, or
            the sum of its components, or a validation metric when no loss was logged).

    Returns:
        A ``FitDiagnosis``; ``to_dict()`` is the ``fit`` object of ``advisor diagnose --format json``.

    Raises:
        CurveFormatError: no validation series, or fewer than 2 validation epochs.

    Example:
        >>> import advisor
        >>> fit = advisor.curves.diagnose_fit(advisor.load_curves("metrics.csv"))  # doctest: +SKIP
        >>> fit.verdict  # doctest: +SKIP
        'good_fit'
    """
    if classes is not None and (
        not isinstance(classes, int) or isinstance(classes, bool) or classes < 2
    ):
        raise CurveFormatError(f"classes must be an int >= 2, got {classes!r}.")
    evidence: list[str] = []
    caveats: list[str] = []
    val_s, train_s, why = _pick_primary(curves, metric)
    evidence.append(f"Judged on {why}.")
    val = _prepare(val_s, "validation")
    train = _prepare(train_s, "train") if train_s is not None and len(train_s) > 0 else None
    if train is not None and train.n_valid == 0 and train.first_nonfinite is None:
        train = None
    if train is None:
        caveats.append(
            "No matching train series: the gap and the train trend are unknown; confidence lowered."
        )
    if val.n_valid < 2 and val.first_nonfinite is None:
        raise CurveFormatError(
            f"{_where(curves)}: validation series '{val_s.key}' has fewer than 2 finite values; "
            "train for at least 2 epochs with validation."
        )
    unit = val_s.metric
    sign = -1.0 if val_s.mode == "max" else 1.0
    is_loss = val_s.mode == "min" and _is_loss(val_s.metric)

    # ------------------------------------------------ best point, onset, rise
    best_index = best_epoch = best_value = best_raw = None
    stop_index = stop_epoch = None
    rise_abs = rise_rel = None
    if val.n_valid >= 1:
        # Positions in the analysed arrays map back to positions in the logged series.
        pos = _positions(val_s, val)
        b = int(np.argmin(val.smooth))
        best_index = pos[b]
        best_epoch = float(val.epochs[b])
        best_value = float(val.values[b])
        # Report the logged value at the smoothed optimum's nearest raw optimum within the window.
        w = _window_for(val.n_valid) // 2
        lo, hi = max(0, b - w), min(val.n_valid, b + w + 1)
        rb = lo + int(np.argmin(val.bad[lo:hi]))
        best_raw = pos[int(np.argmin(val.bad))]
        stop_index, stop_epoch = pos[rb], float(val.epochs[rb])
        best_value = float(val.values[rb])
        rise_abs = float(val.smooth[-1] - val.smooth[b])
        rise_rel = rise_abs / max(abs(val.smooth[b]), 1e-12)
        evidence.append(
            f"Best {val.label} {unit}: {best_value:.4g} at epoch {_fmt_epoch(stop_epoch)} "
            f"(smoothed optimum at epoch {_fmt_epoch(best_epoch)}, position {best_index} of {len(val_s)})."
        )

    # ------------------------------------------------ gap at best and at end
    gap = _gaps(val, train, best_epoch, sign)
    if gap["best_abs"] is not None:
        evidence.append(
            f"Generalisation gap ({val.label} - train {unit}, worse-is-positive): {gap['best_abs']:+.4g} "
            f"({_pct(gap['best_rel'])}) at best, {_fmt_opt(gap['end_abs'], '+.4g')} ({_pct(gap['end_rel'])}) at end."
        )

    # ------------------------------------------------ trends and noise
    tol_val = _tolerance(val)
    trend = {
        "val_slope": val.tail_slope * sign,
        "val_change": val.tail_change * sign,
        "val_direction": _direction(val.tail_change, tol_val),
        "train_slope": train.tail_slope * sign if train else None,
        "train_change": train.tail_change * sign if train else None,
        "train_direction": _direction(train.tail_change, _tolerance(train))
        if train and train.n_valid >= 3
        else None,
        "tail_fraction": round(_TAIL_FRACTION, 3),
        "method": "Theil-Sen slope over the last third of each curve",
    }
    noise = {
        "val": val.noise,
        "train": train.noise if train else None,
        "val_rel": val.noise / val.scale,
    }
    evidence.append(
        f"Trend of the last third (Theil-Sen): {val.label} {_describe_change(val.tail_change * sign, tol_val)}"
        + (
            f"; train {_describe_change(train.tail_change * sign, _tolerance(train))}"
            if train
            else ""
        )
        + f". Noise (robust, from second differences): {val.noise:.3g} ({val.noise / val.scale:.1%} of the curve's range)."
    )

    # ------------------------------------------------ chance level
    chance = None
    k, k_src = (classes, "--classes") if classes else _declared_classes(curves)
    if k is None and is_loss:
        k, k_src = _infer_classes(val, train)
    if k is not None:
        chance = {"classes": k, "loss": math.log(k), "source": k_src}
        if is_loss and val.n_valid:
            evidence.append(
                f"Chance-level loss ln({k}) = {math.log(k):.4g} ({k_src}); best {val.label} loss is "
                f"{best_value / math.log(k):.0%} of it."
            )

    # ------------------------------------------------ non-finite values
    first_nonfinite_epoch = None
    for tr in (val, train):
        if tr is not None and tr.first_nonfinite is not None:
            ep = float(tr.series.epochs[tr.first_nonfinite])
            if first_nonfinite_epoch is None or ep < first_nonfinite_epoch:
                first_nonfinite_epoch = ep
        if tr is not None and tr.isolated_nonfinite:
            evidence.append(
                f"{tr.isolated_nonfinite} isolated non-finite {tr.label} value(s) that recovered were ignored."
            )

    # ------------------------------------------------ the rules
    verdict, margin, rule = _decide(
        curves,
        val,
        train,
        val_s,
        sign,
        is_loss,
        chance,
        first_nonfinite_epoch,
        gap,
        evidence,
        caveats,
    )

    onset_index = onset_epoch = None
    if verdict == "overfitting" and best_index is not None and rule == "val-worsens":
        onset_index, onset_epoch = best_index, best_epoch
        evidence.append(
            f"Onset of overfitting: epoch {_fmt_epoch(onset_epoch)} - {val.label} {unit} worsens from there "
            f"by {rise_abs * sign:+.4g} ({_pct(rise_rel)}) while train {unit} keeps improving."
        )

    # Confidence: the rule's margin, lowered where the data are thin.
    n = val.n_valid
    if n < 10:
        margin *= 0.6
        caveats.append(f"Only {n} finite validation points: confidence lowered.")
    if train is None and verdict != "diverging":
        margin *= 0.7
    val_smoothed = sign * val.smooth
    return FitDiagnosis(
        verdict=verdict,
        confidence=float(max(0.0, min(1.0, margin))),
        evidence=evidence,
        primary_key=val_s.key,
        primary_metric=val_s.metric,
        mode=val_s.mode,
        primary_reason=why,
        train_key=train_s.key if train_s is not None else None,
        val_epochs=val_s.epochs,
        val_values=val_s.values,
        val_smoothed_epochs=val.epochs,
        val_smoothed=val_smoothed,
        train_epochs=train_s.epochs if train is not None else None,
        train_values=train_s.values if train is not None else None,
        train_smoothed_epochs=train.epochs if train is not None else None,
        train_smoothed=(sign * train.smooth) if train is not None else None,
        best_index=best_index,
        best_epoch=best_epoch,
        best_value=best_value,
        best_raw_index=best_raw,
        onset_index=onset_index,
        onset_epoch=onset_epoch,
        stop_index=stop_index,
        stop_epoch=stop_epoch,
        gap=gap,
        trend=trend,
        noise=noise,
        val_rise={"abs": None if rise_abs is None else rise_abs * sign, "rel": rise_rel},
        chance=chance,
        first_nonfinite_epoch=first_nonfinite_epoch,
        caveats=caveats,
        source=str(curves.source) if curves.source else None,
        run=curves.run,
        rule=rule,
    )


def _positions(series: Series, track: _Track) -> list[int]:
    stop = track.first_nonfinite if track.first_nonfinite is not None else len(series)
    return [i for i in range(stop) if math.isfinite(series.values[i])]


def _gaps(
    val: _Track, train: _Track | None, best_epoch: float | None, sign: float
) -> dict[str, float | None]:
    out: dict[str, float | None] = {
        "best_abs": None,
        "best_rel": None,
        "end_abs": None,
        "end_rel": None,
    }
    if train is None or train.n_valid < 1 or val.n_valid < 1 or best_epoch is None:
        return out
    te, tv = train.epochs, train.smooth
    # Validation at epoch e is compared with train at the same epoch; outside the train range
    # the nearest train point is used (Lightning logs one extra validation row at the end).
    for name, e in (("best", best_epoch), ("end", float(val.epochs[-1]))):
        i = int(np.argmin(np.abs(val.epochs - e)))
        t = float(np.interp(e, te, tv)) if te.size > 1 else float(tv[0])
        g = float(val.smooth[i] - t)  # badness: positive = validation worse
        out[f"{name}_abs"] = g
        out[f"{name}_rel"] = g / max(abs(t), 1e-12)
    return out


def _direction(change: float, tol: float) -> str:
    if change < -tol:
        return "improving"
    if change > tol:
        return "worsening"
    return "flat"


def _describe_change(change_metric: float, tol: float) -> str:
    return f"{change_metric:+.3g} over the tail (threshold {tol:.3g})"


def _decide(
    curves: Curves,
    val: _Track,
    train: _Track | None,
    val_s: Series,
    sign: float,
    is_loss: bool,
    chance: dict[str, Any] | None,
    first_nonfinite_epoch: float | None,
    gap: dict[str, float | None],
    evidence: list[str],
    caveats: list[str],
) -> tuple[str, float, str]:
    """Apply the rules in order; return (verdict, margin, rule id)."""
    # 1. Non-finite values that persist to the end of the run.
    if first_nonfinite_epoch is not None:
        evidence.append(
            f"Loss became non-finite (NaN/inf) at epoch {_fmt_epoch(first_nonfinite_epoch)} and stayed so "
            "to the end of the run; restore the last finite checkpoint and lower the learning rate."
        )
        return "diverging", 0.95, "non-finite"
    tol = _tolerance(val)
    n = val.n_valid
    b = int(np.argmin(val.smooth))

    # 2. Exploding: the train loss ends far above where it started / its minimum (optimisation
    #    failed), or validation ends an order of magnitude above its best.
    if train is not None and train.n_valid >= 3 and is_loss:
        t_rise = float(train.smooth[-1] - train.smooth.min())
        t_tol = max(_tolerance(train), 0.5 * abs(train.smooth.min()))
        start_level = float(np.median(train.bad[: min(3, train.n_valid)]))
        if t_rise > t_tol and train.bad[-1] > start_level and train.tail_change > _tolerance(train):
            evidence.append(
                f"Train {val_s.metric} rises from {sign * train.smooth.min():.4g} back above its starting "
                f"level to {sign * train.bad[-1]:.4g}: the optimisation is diverging."
            )
            return "diverging", _margin(t_rise / t_tol), "train-explodes"
    if is_loss and n >= 3:
        end = float(np.median(val.bad[-min(3, n) :]))
        best = float(val.smooth[b])
        if best > 0 and end > 10 * best and end > float(val.bad[0]):
            evidence.append(
                f"Validation loss explodes: {end:.4g} at the end vs {best:.4g} at best."
            )
            return "diverging", _margin(end / (10 * best)), "val-explodes"

    # 3. Guessing level: a loss that never leaves ln(K).
    metric_gain = _metric_gain(curves, val_s)
    learned_metric = metric_gain is not None and metric_gain[0] > 0.1
    if chance is not None and is_loss and n >= 3 and not learned_metric:
        ln_k = chance["loss"]
        best_loss = float(val.smooth.min())
        start = float(np.median(val.bad[: min(3, n)]))
        # Progress is measured against ln K: a drop of 1 % of the guessing level per tail is a crawl.
        descent = max(-val.tail_change, -(train.tail_change if train is not None else 0.0)) / ln_k
        total = (start - best_loss) / ln_k
        if best_loss >= ln_k * (1 - 0.03):
            if descent < 0.01 and total < 0.03:
                if best_loss >= ln_k * (1 - 0.005):
                    evidence.append(
                        f"Validation loss never goes below the chance level ln({chance['classes']}) = {ln_k:.4g} "
                        "and is flat: the network outputs guesses (dead network)."
                    )
                    return (
                        "diverging",
                        _margin(1.0 + 2.0 * (0.01 - descent) / 0.01),
                        "dead-at-chance",
                    )
                evidence.append(
                    f"Validation loss sits within {1 - best_loss / ln_k:.1%} of the chance level ln({chance['classes']}) "
                    f"= {ln_k:.4g} and barely moves ({total:.1%} of it over the run): the model learns almost nothing."
                )
                return (
                    "underfitting",
                    _margin(1.0 + 2.0 * (0.01 - descent) / 0.01),
                    "stuck-at-chance",
                )
            evidence.append(
                f"Validation loss is still near the chance level ln({chance['classes']}) = {ln_k:.4g} but descending "
                f"({descent:.1%} of it over the last third): train much longer or raise the learning rate."
            )
            return "not_converged", _margin(descent / 0.01), "descending-from-chance"

    # 4. Overfitting: sustained worsening of validation after its best point while train improves.
    after = n - 1 - b
    m = max(3, min(after, math.ceil(n * _TAIL_FRACTION)))
    end_level = float(np.median(val.bad[-m:])) if after >= 1 else float(val.smooth[b])
    rise = end_level - float(val.smooth[b])
    # The median of m noisy points has a standard error of about 1.25 s / sqrt(m).
    rise_tol = max(
        2.5 * 1.25 * val.noise / math.sqrt(m),
        _SCALE_FACTOR * val.scale,
        0.03 * abs(float(val.smooth[b])),
    )
    train_improves = None
    if train is not None and train.n_valid >= 3:
        tb = int(np.argmin(np.abs(train.epochs - val.epochs[b])))
        t_change = (
            float(np.median(train.bad[-m:]) - train.smooth[tb]) if train.n_valid > tb else 0.0
        )
        train_improves = t_change < _tolerance(train) * 0.5
    sustained = after >= max(2, int(0.1 * n)) and rise > rise_tol
    if sustained:
        post = val.bad[b + 1 :]
        sustained = float(np.mean(post > val.smooth[b])) >= 0.6
    if sustained and train_improves is not False:
        margin = _margin(rise / rise_tol)
        if train_improves is None:
            caveats.append("Overfitting read from the validation curve alone (no train curve).")
        margin *= _overconfidence(metric_gain, is_loss, float(val.epochs[b]), evidence)
        return "overfitting", margin, "val-worsens"
    if sustained and train_improves is False:
        evidence.append(
            "Validation worsens after its best point, but the train curve worsens too: not overfitting; "
            "the optimisation degrades (learning rate too high late in training?)."
        )
        return "diverging", _margin(rise / rise_tol) * 0.5, "both-worsen"

    # 5. Not converged: validation still clearly improving at the end.
    # "Clearly" improving: beyond the noise and by at least 2 % of the current level over the tail.
    tol_nc = max(tol, 0.02 * abs(float(val.smooth[-1])))
    if val.tail_change < -tol_nc and (n - 1 - b) <= max(2, int(0.15 * n)):
        return "not_converged", _margin(-val.tail_change / tol_nc), "still-improving"

    # 6. Plateau. Train learned a lot but validation did not follow -> overfitting (memorising);
    #    neither learned -> underfitting; otherwise a good fit.
    val_gain = _gain(val)
    train_gain = _gain(train) if train is not None and train.n_valid >= 3 else None
    end_rel, end_abs = gap["end_rel"], gap["end_abs"]
    if (
        is_loss
        and train_gain is not None
        and end_rel is not None
        and end_abs is not None
        and val_gain < 0.2
        and train_gain > 0.5
        and end_rel > 1.0
        and end_abs > 0.25 * val.scale
    ):
        evidence.append(
            f"Train loss fell {train_gain:.0%} but validation loss only {val_gain:.0%}, ending {end_rel + 1:.1f}x the "
            "train loss: the model memorises the training set instead of generalising."
        )
        margin = _margin(min(end_rel, 0.2 / max(val_gain, 0.01))) * 0.6
        margin *= _overconfidence(metric_gain, is_loss, float(val.epochs[b]), evidence)
        return "overfitting", margin, "memorises"
    if chance is not None and is_loss:
        ratio = float(val.smooth[b]) / chance["loss"]
        if ratio > 0.7 and not learned_metric:
            evidence.append(
                f"Best validation loss is {ratio:.0%} of the chance level: the model has learned little "
                "(too little capacity, too much regularisation, or a learning rate too low)."
            )
            return "underfitting", _margin(ratio / 0.7 * 2), "near-chance"
    if val_gain < 0.1 and (train_gain is None or train_gain < 0.1) and not learned_metric:
        evidence.append(
            f"Validation {val_s.metric} improved only {val_gain:.0%} from its start"
            + (f" and train {train_gain:.0%}" if train_gain is not None else "")
            + ", and both have levelled off: the model learns little."
        )
        return "underfitting", _margin(0.1 / max(val_gain, 0.01)), "little-gain"
    if train is not None and end_abs is not None and end_abs < 0:
        evidence.append(
            "Train is worse than validation (dropout or augmentation active during training): "
            "not read as underfitting on its own."
        )
    # Margin of a good fit: how far the nearest rival (validation rise / improvement) is from firing.
    closest = max(rise / rise_tol, -val.tail_change / tol_nc, 0.0)
    return "good_fit", _margin(1.0 / max(closest, 0.25)) if closest < 1 else 0.05, "plateau"


def _overconfidence(
    metric_gain: tuple[float, bool, str] | None,
    is_loss: bool,
    best_epoch: float,
    evidence: list[str],
) -> float:
    """Both readings when the loss says overfitting but accuracy still improves; returns the confidence factor."""
    if metric_gain is None or not metric_gain[1] or not is_loss:
        return 1.0
    evidence.append(
        f"Two readings disagree: validation loss worsens after epoch {_fmt_epoch(best_epoch)}, but validation "
        f"{metric_gain[2]} still improves (its best is at the end of the run). Rule: a rising loss with an "
        "improving accuracy is overconfidence (the model grows more certain on the examples it gets wrong), "
        "reported as overfitting with halved confidence."
    )
    return 0.5


def _gain(track: _Track) -> float:
    """Relative improvement from the start (median of the first 3, extreme first value skipped) to the best."""
    n = track.n_valid
    head = (
        track.bad[1 : min(4, n)]
        if n >= 4 and _first_is_extreme(track.bad)
        else track.bad[: min(3, n)]
    )
    start = float(np.median(head))
    return (start - float(track.smooth.min())) / max(abs(start), 1e-12)


def _metric_gain(curves: Curves, val_s: Series) -> tuple[float, bool, str] | None:
    """For a loss primary: (relative gain of a val accuracy-like metric, best near end?, name)."""
    for m in curves.metrics("val"):
        if m in HIGHER_IS_BETTER and m != val_s.metric:
            s = curves.get("val", m)
            if s is None or not _usable(s):
                continue
            tr = _prepare(s, "validation")
            if tr.n_valid < 3:
                continue
            start = float(np.median(tr.bad[: min(3, tr.n_valid)]))
            best = float(tr.smooth.min())
            gain = (start - best) / max(abs(start), 1e-12)
            b = int(np.argmin(tr.smooth))
            near_end = (tr.n_valid - 1 - b) <= max(
                2, int(0.15 * tr.n_valid)
            ) or tr.tail_change < -_tolerance(tr)
            return gain, near_end, m
    return None


def _fmt_epoch(e: float | None) -> str:
    if e is None:
        return "?"
    return str(int(e)) if float(e).is_integer() else f"{e:.3g}"


def _fmt_opt(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def _pct(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    # Beyond +-1000 % a percentage is unreadable (train loss near 0): say how many times instead.
    return f"{x:+.1%}" if abs(x) < 10 else f"{x:+.0f}x the train value"


# ----------------------------------------------------------------------------- terminal view

_BLOCKS = "▁▂▃▄▅▆▇█"
_VERDICT_STYLE = {
    "overfitting": "bold red",
    "diverging": "bold magenta",
    "underfitting": "bold yellow",
    "not_converged": "bold cyan",
    "good_fit": "bold green",
}
_VERDICT_HINT = {
    "overfitting": "validation gets worse while training improves: regularise or stop earlier",
    "diverging": "the optimisation failed (non-finite, exploding, or dead at chance level)",
    "underfitting": "the model has learned little: more capacity, less regularisation, better LR",
    "not_converged": "still clearly improving when it stopped: train longer",
    "good_fit": "validation has levelled off without worsening",
}


def sparkline(
    epochs: np.ndarray,
    values: np.ndarray,
    *,
    lo: float,
    hi: float,
    x0: float,
    x1: float,
    width: int,
) -> str:
    """One line of block characters; NaN/inf cells are drawn as ``×``, empty cells as a space.

    The value range ``lo..hi`` is given by the caller so that train and validation share one
    scale; values outside it are clipped (an extreme first epoch does not flatten the rest).
    """
    cells: list[list[float]] = [[] for _ in range(width)]
    bad = [False] * width
    span = max(x1 - x0, 1e-12)
    for e, v in zip(np.asarray(epochs, float).tolist(), np.asarray(values, float).tolist()):
        c = min(width - 1, max(0, int((e - x0) / span * (width - 1) + 0.5)))
        if math.isfinite(v):
            cells[c].append(v)
        else:
            bad[c] = True
    out = []
    rng = max(hi - lo, 1e-12)
    for c in range(width):
        if cells[c]:
            v = min(max(float(np.median(cells[c])), lo), hi)
            out.append(_BLOCKS[round((v - lo) / rng * (len(_BLOCKS) - 1))])
        elif bad[c]:
            out.append("×")
        else:
            out.append(" ")
    # Fill gaps between logged points (sparse logging) with the previous block.
    for c in range(1, width):
        if out[c] == " " and out[c - 1] not in (" ", "×"):
            out[c] = out[c - 1]
    return "".join(out)


def _render_fit(fit: FitDiagnosis, *, width: int = 60):
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    style = _VERDICT_STYLE.get(fit.verdict, "bold")
    head = Text()
    head.append(fit.verdict.replace("_", " ").upper(), style=style)
    head.append(f"   confidence {fit.confidence:.2f}\n", style="dim")
    head.append(_VERDICT_HINT.get(fit.verdict, ""))
    if fit.stop_epoch is not None:
        head.append(f"\nrecommended stopping epoch: {_fmt_epoch(fit.stop_epoch)}", style="bold")
    title = (
        "fit" + (f" - {fit.source}" if fit.source else "") + (f" ({fit.run})" if fit.run else "")
    )
    yield Panel(head, title=title, title_align="left", border_style=style.split()[-1])

    yield _curve_plot(fit, width)
    yield Text("")
    table = Table(
        title="evidence", show_header=False, title_justify="left", box=None, padding=(0, 1)
    )
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for line in fit.evidence:
        table.add_row("•", line)
    for line in fit.caveats:
        table.add_row("!", Text(line, style="yellow"))
    yield table


def _curve_plot(fit: FitDiagnosis, width: int):
    from rich.console import Group
    from rich.text import Text

    rows = [("val", fit.val_epochs, fit.val_values, "cyan")]
    if fit.train_values is not None and fit.train_epochs is not None:
        rows.insert(0, ("train", fit.train_epochs, fit.train_values, "green"))
    finite = np.concatenate([v[np.isfinite(v)] for _, _, v, _ in rows])
    all_epochs = np.concatenate([e for _, e, _, _ in rows])
    lines = [Text(f"{fit.primary_metric} per epoch ({fit.primary_key})", style="italic")]
    if finite.size == 0 or all_epochs.size == 0:
        lines.append(Text("(no finite values to draw)", style="dim"))
        return Group(*lines)
    # Scale on the 2nd..98th percentile so that a huge first epoch or a spike does not flatten the rest.
    lo, hi = (float(x) for x in np.percentile(finite, [2, 98]))
    if hi <= lo:
        lo, hi = float(finite.min()), float(finite.max()) + 1e-12
    x0, x1 = float(all_epochs.min()), float(all_epochs.max())
    for name, e, v, colour in rows:
        fin = v[np.isfinite(v)]
        rng = f"{fin.min():.3g}..{fin.max():.3g}" if fin.size else "non-finite"
        line = Text(f"{name:>5} ")
        line.append(sparkline(e, v, lo=lo, hi=hi, x0=x0, x1=x1, width=width), style=colour)
        line.append(f" {rng}", style="dim")
        lines.append(line)
    marks = [" "] * width
    span = max(x1 - x0, 1e-12)
    for epoch, ch in (
        (fit.onset_epoch, "^"),
        (fit.stop_epoch, "*"),
        (fit.first_nonfinite_epoch, "!"),
    ):
        if epoch is not None:
            marks[min(width - 1, max(0, int((epoch - x0) / span * (width - 1) + 0.5)))] = ch
    lines.append(Text("      " + "".join(marks), style="bold yellow"))
    axis = f"epoch {_fmt_epoch(x0)}"
    lines.append(
        Text("      " + axis + _fmt_epoch(x1).rjust(max(1, width - len(axis))), style="dim")
    )
    lines.append(
        Text(
            "      * best / stop   ^ onset of overfitting   ! first non-finite   × NaN/inf",
            style="dim",
        )
    )
    return Group(*lines)
