"""Live warnings while a run trains: has overfitting just started, has the loss diverged?

One implementation for the three live users (``advisor.Recorder``, the Lightning
``AdvisorCallback`` and the Hugging Face ``advisor.integrations.transformers.AdvisorCallback``):
each hands :meth:`LiveMonitor.update` the curves logged so far after every evaluation and gets
back a :class:`LiveAlert` the epoch a warning is due, else ``None``.

Two rules, the first to fire wins:

1. a dedicated sequential rule (``LiveMonitor`` documents it): the mean of the last
   ``WINDOW`` validation values is worse than the best such mean so far by more than its
   noise and by ``MIN_SPAN_RISE`` of the range covered, while training still improves. It asks
   only what can be known at epoch ``t``, so a clear rise is warned about within a few epochs;
2. as a fallback, ``diagnose_fit`` on the prefix saying ``overfitting`` at
   ``DIAGNOSIS_PATIENCE`` evaluations in a row (``LiveMonitor(diagnosis=False)`` turns it off).
   The whole-run diagnosis needs the rise to dominate the curve's shape, so it comes late
   (in the Lightning example at epoch ~29 for an onset near 15), but it catches slow steady
   rises that stay inside the sequential rule's band.

The thresholds were chosen on the ``dev`` part of the labelled corpus;
``benchmarks/bench_live_warnings.py`` prints the ``dev`` and ``test`` figures (how often the
first warning lands within 5 epochs of the onset the offline diagnosis finds, and how often a
good fit gets a false warning). They fall well short of 90 % / 5 % on that corpus: see the
README section "Integrations" for the figures and why.

Divergence: a non-finite train or validation loss at the latest evaluation is warned about at
once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from advisor.curves._types import Curves, Series

__all__ = ["LiveAlert", "LiveMonitor"]

# Tuned on the dev part of benchmarks/corpus (see the module docstring); the test part is
# reported by benchmarks/bench_live_warnings.py and floored by tests/integrations.
WINDOW = 3  # the recent level and the best level are means of this many evaluations
NOISE_SIGMAS = 4.0  # the recent level must exceed the best by this many standard errors ...
MIN_SPAN_RISE = 0.05  # ... and by this fraction of the validation range seen so far
PATIENCE = 1  # evaluations in a row meeting the rule before warning
MIN_POINTS = 4  # no overfitting verdict before this many validation points
DIAGNOSIS_PATIENCE = (
    2  # fallback: diagnose_fit on the prefix says overfitting this many times in a row
)
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


class LiveMonitor:
    """Decides after each evaluation whether to warn that the run overfits or diverges.

    The overfitting rule at the latest evaluation ``t`` (validation values ``y``, lower is
    better; an accuracy-like series is negated): the recent level ``R`` (mean of the last
    ``window`` values) exceeds the best level ``B`` (the lowest mean of ``window`` consecutive
    values so far) by more than ``noise_sigmas`` standard errors of the difference of two such
    means (noise from the second differences of the curve, robust to spikes) and by more than
    ``min_span_rise`` of the range the curve has covered, for ``patience`` evaluations in a
    row, while the training series' mean over the recent window is below its mean over the
    best window (training still improves). The onset named is the best value's epoch inside
    the best window.

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
                train_improving = bool(now < at_best)
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
        if fit.verdict != "overfitting" or onset is None:
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
        if self._streak < self.patience:
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
