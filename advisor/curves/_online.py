"""Live warnings while a run trains: has overfitting just started, has the loss diverged?

One implementation for the three live users (``advisor.Recorder``, the Lightning
``AdvisorCallback`` and the Hugging Face ``advisor.integrations.transformers.AdvisorCallback``):
each hands :meth:`LiveMonitor.update` the curves logged so far after every evaluation and gets
back a :class:`LiveAlert` the epoch a warning is due, else ``None``.

Three rules, the first to fire wins (only what is known at evaluation ``t`` is used):

1. the slope rule: over the last ``SLOPE_WINDOW`` evaluations (all of them early on, from 4)
   validation rises, both its least-squares and its robust Theil-Sen slope, by more than
   ``SLOPE_SIGMAS`` standard errors (noise from the curve's own second differences), while
   training falls by ``SLOPE_TRAIN_DROP`` of its level over the same window and beyond its
   own noise; the onset named is the best validation value before the window. It fires
   while the rise is still young, when the gap between train and validation opens;
2. the level rule: the mean of the last ``WINDOW`` validation values is worse than the best
   such mean so far by more than ``NOISE_SIGMAS`` standard errors and by ``MIN_SPAN_RISE`` of
   the range covered, while training's mean is ``MIN_TRAIN_DROP`` below its mean at the best;
   it catches a rise too ragged for a straight line;
3. as a fallback, ``diagnose_fit`` on the prefix saying ``overfitting`` of severity
   ``DIAGNOSIS_SEVERITY`` at ``DIAGNOSIS_PATIENCE`` evaluations in a row
   (``LiveMonitor(diagnosis=False)`` turns it off): late, but it catches slow steady rises.

The thresholds were chosen on the ``dev`` part of the labelled corpus only; the ``test`` part
was run once with the final rule. ``benchmarks/bench_live_warnings.py`` prints the figures
(first warning within 5 epochs of the onset the offline diagnosis finds / onset named within
5 epochs / overfitting runs warned / median delay / false warnings on good fits), default
monitor, 2-core CPU dev machine:

* dev (71 / 40 runs): 28 % / 55 % / 86 % / 8 epochs / 5 % (before this rule: 27 % / 58 % /
  93 % / 8.5 / 12 %); with ``diagnosis=False``: 25 % / 45 % / 77 % / 7 / 2.5 %;
* test (23 / 24 runs): 22 % / 70 % / 100 % / 6 epochs / 12 % (before: 22 % / 74 % / 100 % /
  11 / 21 %); with ``diagnosis=False``: 22 % / 70 % / 96 % / 6 / 8 %.

The 90 % / 5 % target is not met. The offline onset is the smoothed optimum of the whole run:
on 15 of the 71 dev overfitting runs the raw validation optimum comes more than 5 epochs
after it (validation still improves then), on the runs of 1000+ epochs the smoothing window is
100+ epochs wide, and elsewhere the rise within 5 epochs is mostly inside the noise. The most
permissive rules tried on dev reached 31-34 % timely only with 20-65 % false warnings.

Divergence: a non-finite train or validation loss at the latest evaluation is warned about at
once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from advisor.curves._fit_robust import theil_sen
from advisor.curves._types import Curves, Series

__all__ = ["LiveAlert", "LiveMonitor"]

# Tuned on the dev part of benchmarks/corpus (see the module docstring); the test part is
# reported by benchmarks/bench_live_warnings.py and floored by tests/integrations.
# Rule 1, the slope rule:
SLOPE_WINDOW = 6  # the trend is read over the last this many evaluations (fewer early on)
SLOPE_SIGMAS = 2.0  # validation slope (OLS and Theil-Sen, the smaller) above this many std errors
SLOPE_TRAIN_DROP = 0.10  # training falls by this fraction of its level over the same window ...
SLOPE_TRAIN_SIGMAS = 3.0  # ... and its slope is this many standard errors below zero
# Rule 2, the level rule:
WINDOW = 3  # the recent level and the best level are means of this many evaluations
NOISE_SIGMAS = 4.0  # the recent level must exceed the best by this many standard errors ...
MIN_SPAN_RISE = 0.05  # ... and by this fraction of the validation range seen so far
MIN_TRAIN_DROP = 0.01  # training's recent mean is below its mean at the best by this fraction
PATIENCE = 1  # evaluations in a row meeting the level rule before warning
MIN_POINTS = 4  # no overfitting verdict before this many validation points
# Rule 3, the fallback: diagnose_fit on the prefix says overfitting of this severity ...
DIAGNOSIS_SEVERITY = "strong"
DIAGNOSIS_PATIENCE = 2  # ... this many evaluations in a row
_MAD_TO_SIGMA = 1.4826


@dataclass
class LiveAlert:
    """A warning due now.

    Attributes:
        kind: ``"overfitting"`` or ``"diverging"``.
        epoch: the epoch (as logged) of the evaluation that triggered it.
        onset_epoch: for overfitting, the epoch of the validation optimum the run has moved away
            from (the onset); for divergence, the first epoch with a non-finite loss.
        key: the series that showed it (``val_loss``, ``loss`` ...).
        message: one line for ``warnings.warn`` / ``logging``.
    """

    kind: str
    epoch: float
    onset_epoch: float | None
    key: str
    message: str


def _fmt(epoch: float | None) -> str:
    if epoch is None:
        return "?"
    return f"{epoch:g}" if float(epoch).is_integer() else f"{epoch:.2f}"


def _val_series(curves: Curves) -> Series | None:
    """The judged validation series: the loss when one was logged, else an accuracy-like one."""
    vals = {m: s for (split, m), s in curves.series.items() if split == "val"}
    if not vals:
        return None
    if "loss" in vals:
        return vals["loss"]
    losses = [s for m, s in vals.items() if "loss" in m]
    if losses:
        return losses[0]
    for name in ("accuracy", "top1", "f1", "auc"):
        if name in vals:
            return vals[name]
    return next(iter(vals.values()))


def _train_series(curves: Curves, metric: str) -> Series | None:
    tr = curves.series.get(("train", metric))
    if tr is None:
        tr = curves.series.get(("train", "loss"))
    return tr


def _noise(x: np.ndarray) -> float:
    """Point-to-point noise of a curve: robust spread of its second differences.

    Second differences cancel a smooth trend (the curve falling early, rising late), so what
    is left is the evaluation noise; sd(d2) = sqrt(6) * sigma for independent noise.
    """
    if x.size < 4:
        return float("nan")
    d2 = np.diff(x, 2)
    mad = float(np.median(np.abs(d2 - np.median(d2))))
    return _MAD_TO_SIGMA * mad / math.sqrt(6.0)


def _slope(y: np.ndarray) -> tuple[float, float, float]:
    """(OLS slope per evaluation, Theil-Sen slope, sum of squared centred positions) of ``y``."""
    x = np.arange(y.size, dtype=np.float64)
    xc = x - x.mean()
    sxx = float(np.dot(xc, xc))
    return float(np.dot(xc, y - y.mean()) / sxx), theil_sen(x, y), sxx


def _slope_rule(
    y: np.ndarray, noise: float, ep: np.ndarray, t_y: np.ndarray, t_ep: np.ndarray, k: int
) -> bool:
    """Rule 1: over the last ``k`` evaluations validation rises beyond its noise (both the OLS
    and the robust Theil-Sen slope) while training falls clearly (relative drop and its own
    noise), and the window's mean is above the best value so far."""
    k = min(k, y.size)
    if k < 4 or t_y.size < 4:
        return False
    w = y[-k:]
    ols, ts, sxx = _slope(w)
    if not min(ols, ts) > max(SLOPE_SIGMAS * noise / math.sqrt(sxx), 1e-12):
        return False
    tw = t_y[int(np.searchsorted(t_ep, ep[-k], "left")) :]
    if tw.size < 3:
        return False
    t_ols, t_ts, t_sxx = _slope(tw)
    t_slope = max(t_ols, t_ts)
    drop = -t_slope * (tw.size - 1) / max(abs(float(np.median(tw))), 1e-12)
    t_noise = _noise(t_y)
    sig = (
        -t_slope / (t_noise / math.sqrt(t_sxx))
        if t_noise > 0
        else (math.inf if t_slope < 0 else 0.0)
    )
    return bool(
        drop > SLOPE_TRAIN_DROP and sig > SLOPE_TRAIN_SIGMAS and float(w.mean()) > float(y.min())
    )


class LiveMonitor:
    """Decides after each evaluation whether to warn that the run overfits or diverges.

    The slope rule is described in the module docstring. The level rule at the latest
    evaluation ``t`` (validation values ``y``, lower is better; an accuracy-like series is
    negated): the recent level ``R`` (mean of the last ``window`` values) exceeds the best
    level ``B`` (the lowest mean of ``window`` consecutive values so far) by more than
    ``noise_sigmas`` standard errors of the difference of two such means (noise from the
    second differences of the curve, robust to spikes) and by more than ``min_span_rise`` of
    the range the curve has covered, for ``patience`` evaluations in a row, while the training
    series' mean over the recent window is below its mean over the best window by
    ``MIN_TRAIN_DROP`` of it (training still improves). The onset named is the best value's
    epoch inside the best window.

    Args:
        min_epochs: validation points needed before the first overfitting warning (>= 2).
        window, noise_sigmas, min_span_rise, patience: the rule's thresholds (module defaults,
            tuned on the dev corpus).

    ``update(curves)`` returns each kind of alert once per onset: after an overfitting
    warning the monitor re-arms only once validation has reached a new best level (a second
    onset later in the run is warned about again). Divergence is warned about once.

    Example:
        >>> monitor = LiveMonitor()
        >>> for epoch in range(n_epochs):  # doctest: +SKIP
        ...     alert = monitor.update(recorder.to_curves())
        ...     if alert:
        ...         print(alert.message)
    """

    def __init__(
        self,
        *,
        min_epochs: int = MIN_POINTS,
        window: int = WINDOW,
        noise_sigmas: float = NOISE_SIGMAS,
        min_span_rise: float = MIN_SPAN_RISE,
        patience: int = PATIENCE,
        diagnosis: bool = True,
        classes: int | None = None,
    ) -> None:
        self.min_epochs = max(2, int(min_epochs))
        self.window = max(1, int(window))
        self.noise_sigmas = float(noise_sigmas)
        self.min_span_rise = float(min_span_rise)
        self.patience = max(1, int(patience))
        self.diagnosis = bool(diagnosis)
        self.classes = classes
        self._diag_streak = 0
        self.alerts: list[LiveAlert] = []
        self._streak = 0
        self._warned_best: float | None = None  # best epoch of the current warned episode
        self._warned_level: float | None = None  # best validation level when it was warned
        self._diverged = False
        self._judged: tuple[int, float] | None = None  # (points, last epoch) last judged

    @property
    def warned_epoch(self) -> float | None:
        """Epoch of the first overfitting warning, or ``None``."""
        for a in self.alerts:
            if a.kind == "overfitting":
                return a.epoch
        return None

    def reset(self) -> None:
        """Forget every alert (a new run)."""
        self.alerts.clear()
        self._streak = 0
        self._diag_streak = 0
        self._warned_best = None
        self._warned_level = None
        self._diverged = False
        self._judged = None

    def restore(self, alerts: list[dict[str, Any]]) -> None:
        """Resume after a checkpoint: the alerts already given (``vars(alert)`` dicts) stay given."""
        self.reset()
        for a in alerts:
            alert = LiveAlert(**a)
            self.alerts.append(alert)
            if alert.kind == "overfitting":
                self._warned_best = alert.onset_epoch
            elif alert.kind == "diverging":
                self._diverged = True

    def update(self, curves: Curves) -> LiveAlert | None:
        """Judge the curves logged so far; an alert when one is due now, else ``None``."""
        alert = self._divergence(curves)
        if alert is None:
            alert = self._overfitting(curves)
        if alert is not None:
            self.alerts.append(alert)
        return alert

    # -- divergence --------------------------------------------------------------------------
    def _divergence(self, curves: Curves) -> LiveAlert | None:
        if self._diverged:
            return None
        found = None
        for (_split, metric), s in curves.series.items():
            if "loss" not in metric or not len(s):
                continue
            bad = ~np.isfinite(s.values)
            if bad.any():
                i = int(np.argmax(bad))
                if found is None or s.epochs[i] < found[0]:
                    found = (float(s.epochs[i]), s, float(s.values[i]))
        if found is None:
            return None
        self._diverged = True
        first, s, value = found
        return LiveAlert(
            kind="diverging",
            epoch=float(s.epochs[-1]),
            onset_epoch=first,
            key=s.key,
            message=(
                f"advisor: the run is diverging: {s.key} is {value} at epoch {_fmt(first)}. "
                "Lower the learning rate (or clip gradients) and restart from the last good checkpoint."
            ),
        )

    # -- overfitting -------------------------------------------------------------------------
    def overfitting_state(self, curves: Curves) -> dict[str, Any] | None:
        """The rule's figures at the latest evaluation (``None`` before it can judge)."""
        val = _val_series(curves)
        if val is None:
            return None
        ok = np.isfinite(val.values)
        y = val.values[ok] * (-1.0 if val.mode == "max" else 1.0)
        ep = val.epochs[ok]
        m = self.window
        if y.size < max(self.min_epochs, m + 1, 4):
            return None
        noise = _noise(y)
        means = np.convolve(y, np.ones(m) / m, mode="valid")  # means[j] covers y[j : j + m]
        best_j = int(np.argmin(means))
        best, recent = float(means[best_j]), float(means[-1])
        span = float(np.max(y) - np.min(y))
        band = max(self.noise_sigmas * noise * math.sqrt(2.0 / m), self.min_span_rise * span, 1e-12)
        onset_i = best_j + int(np.argmin(y[best_j : best_j + m]))
        train_improving = True
        slope_rise = False
        k = min(SLOPE_WINDOW, int(y.size))
        slope_onset_i = int(np.argmin(y[: y.size - k + 1]))
        tr = _train_series(curves, val.metric)
        if tr is not None and len(tr):
            tok = np.isfinite(tr.values)
            t_ep = tr.epochs[tok]
            t_y = tr.values[tok] * (-1.0 if tr.mode == "max" else 1.0)
            if t_y.size >= 2:
                a = np.searchsorted(t_ep, ep[best_j], "left")
                b = np.searchsorted(t_ep, ep[best_j + m - 1], "right")
                c = np.searchsorted(t_ep, ep[-m], "left")
                at_best = t_y[a:b].mean() if b > a else t_y[min(a, t_y.size - 1)]
                now = t_y[c:].mean() if c < t_y.size else t_y[-1]
                train_improving = bool(at_best - now > MIN_TRAIN_DROP * max(abs(at_best), 1e-12))
            slope_rise = _slope_rule(y, noise, ep, t_y, t_ep, SLOPE_WINDOW)
        return {
            "key": val.key,
            "points": int(y.size),
            "epoch": float(ep[-1]),
            "best_epoch": float(ep[onset_i]),
            "best_window_index": best_j,
            "best_level": best,
            "excess": recent - best,
            "band": band,
            "noise": noise,
            "beyond_noise": bool(recent - best > band and best_j < means.size - 1),
            "train_improving": train_improving,
            "slope_rise": slope_rise,
            "slope_onset_epoch": float(ep[slope_onset_i]),
            "slope_window": k,
        }

    def _by_diagnosis(self, curves: Curves) -> float | None:
        """Fallback: the whole-run diagnosis of the prefix says overfitting twice in a row.

        Slower to fire than the sequential rule on a clear rise, but it catches slow steady
        rises that stay inside the noise band of the sequential rule; never later than the
        warning the Lightning callback gave before this module existed.
        """
        if not self.diagnosis:
            return None
        from advisor.curves._diagnosis import diagnose_fit
        from advisor.errors import AdvisorError

        try:
            fit = diagnose_fit(curves, classes=self.classes)
        except AdvisorError:
            return None
        onset = fit.onset_epoch if fit.onset_epoch is not None else fit.best_epoch
        if fit.verdict != "overfitting" or fit.severity != DIAGNOSIS_SEVERITY or onset is None:
            self._diag_streak = 0
            return None
        self._diag_streak += 1
        return float(onset) if self._diag_streak >= DIAGNOSIS_PATIENCE else None

    def _overfitting(self, curves: Curves) -> LiveAlert | None:
        st = self.overfitting_state(curves)
        if st is None:
            return None
        judged = (st["points"], st["epoch"])
        if judged == self._judged:  # called again with no new validation point (train logged)
            return None
        self._judged = judged
        if self._warned_best is not None:
            level = self._warned_level
            if level is not None and st["best_level"] < level - st["band"]:
                # validation reached a new best, beyond its noise, since the warning: re-arm
                self._warned_best = self._warned_level = None
                self._streak = self._diag_streak = 0
            return None
        self._streak = self._streak + 1 if st["beyond_noise"] and st["train_improving"] else 0
        why = f"{st['key']} is worse than its best beyond its noise while training improves"
        if st["slope_rise"]:
            st["best_epoch"] = st["slope_onset_epoch"]
            why = (
                f"{st['key']} has risen over its last {st['slope_window']} evaluations beyond its "
                "noise while training falls"
            )
        elif self._streak < self.patience:
            onset = self._by_diagnosis(curves)
            if onset is None:
                return None
            st["best_epoch"] = onset
            why = "the fit diagnosis of the curves so far says overfitting"
        self._warned_best = st["best_epoch"]
        self._warned_level = st["best_level"]
        return LiveAlert(
            kind="overfitting",
            epoch=st["epoch"],
            onset_epoch=st["best_epoch"],
            key=st["key"],
            message=(
                f"advisor: the run started overfitting at epoch {_fmt(st['best_epoch'])} (seen at epoch "
                f"{_fmt(st['epoch'])}: {why}). Stop near epoch {_fmt(st['best_epoch'])} (early stopping) or add regularization;"
                " run `advisor diagnose` on the saved curves for the plan."
            ),
        )
