"""What the fit diagnosis gathers before its rules run, and the evidence it writes for it.

Non-finite losses, training spikes and the validation jumps they cause (instability), the
optimum, the generalisation gap, the tail trends, and the regularization in effect.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from advisor.curves._fit_finding import fmt_epoch
from advisor.curves._fit_robust import spikes
from advisor.curves._fit_rules_trend import val_wander
from advisor.curves._fit_series import TAIL_FRACTION, Track, is_loss, prepare
from advisor.curves._types import HIGHER_IS_BETTER, Curves, Series

# Hyper-parameter names that carry the regularization in effect.
REG_KEYS = {
    "weight_decay": ("weight_decay", "wd", "l2", "l2_reg", "decay"),
    "dropout": (
        "dropout",
        "drop_rate",
        "dropout_rate",
        "p_dropout",
        "hidden_dropout_prob",
        "dropout_p",
    ),
    "label_smoothing": ("label_smoothing", "label_smoothing_factor", "smoothing"),
}


def train_track(train_s: Series | None) -> Track | None:
    """The analysed training series, or ``None`` when there is none worth judging."""
    if train_s is None or len(train_s) == 0:
        return None
    train = prepare(train_s, "train")
    if train.n_valid == 0 and train.first_nonfinite is None:
        return None
    return train


def first_nonfinite(
    curves: Curves, primary: Series, train: Series | None
) -> tuple[float | None, str | None]:
    """First epoch from which a loss (any split) is non-finite to the end of the run."""
    candidates = [primary] + ([train] if train is not None else [])
    candidates += [
        s for s in curves.series.values() if "loss" in s.metric and s.split in ("train", "val")
    ]
    first: tuple[float | None, str | None] = (None, None)
    seen: set[str] = set()
    for s in candidates:
        if s.key in seen or len(s) == 0 or not is_loss(s):
            continue
        seen.add(s.key)
        finite = np.isfinite(s.values)
        if finite[-1]:
            continue
        last = int(np.nonzero(finite)[0][-1]) if finite.any() else -1
        epoch = float(s.epochs[last + 1])
        if first[0] is None or epoch < first[0]:
            first = (epoch, s.key)
    return first


def isolated_nonfinite(val: Track, train: Track | None, evidence: list[str]) -> None:
    """Add a sentence for isolated non-finite values that recovered (ignored by the rules)."""
    for tr in (val, train):
        if tr is not None and tr.isolated_nonfinite:
            evidence.append(
                f"{tr.isolated_nonfinite} isolated non-finite {tr.label} value(s) that recovered were ignored."
            )


JUMP_EPOCHS = 1.0  # a validation jump within this many epochs of a training spike is caused by it


def instability(
    primary: Series, train: Track | None, evidence: list[str]
) -> tuple[np.ndarray | None, list[float]]:
    """Mask of validation points that jump together with a training-loss spike."""
    if train is None or train.n_valid < 5 or primary.split != "val":
        return None, []
    t_spikes = spikes(train.bad, train.smooth, max(train.noise, val_wander(train)))
    if not t_spikes.any():
        return None, []
    spike_epochs = train.epochs[t_spikes]
    probe = prepare(primary, "validation")
    if probe.n_valid < 5:
        return None, []
    v_jumps = spikes(probe.bad, probe.smooth, max(probe.noise, val_wander(probe)))
    drop = np.zeros(len(primary), dtype=bool)
    epochs: list[float] = []
    for j, (i, e) in enumerate(zip(probe.positions, probe.epochs)):
        if v_jumps[j] and np.min(np.abs(spike_epochs - e)) <= JUMP_EPOCHS:
            drop[i] = True
            epochs.append(float(e))
    shown = ", ".join(fmt_epoch(float(e)) for e in spike_epochs[:5])
    if epochs:
        evidence.append(
            f"Validation jumps at epoch(s) {', '.join(fmt_epoch(e) for e in epochs[:5])} coincide with "
            f"training-loss spikes (at {shown}): instability (learning rate too high?), not overfitting; "
            "those points are left out of the verdict."
        )
    else:
        evidence.append(
            f"The training loss spikes at epoch(s) {shown} and recovers: the optimisation is unstable "
            "(learning rate too high?)."
        )
    return (drop if epochs else None), epochs


def metric_track(curves: Curves, primary: Series) -> Track | None:
    """An accuracy-like validation metric beside a loss primary (it says whether the model learned)."""
    if not is_loss(primary) or primary.split != "val":
        return None
    for m in curves.metrics("val"):
        s = curves.get("val", m)
        if m in HIGHER_IS_BETTER and s is not None and s.mode == "max" and int(s.finite.sum()) >= 3:
            return prepare(s, "validation")
    return None


def best(primary: Series, val: Track, evidence: list[str]) -> dict[str, Any]:
    """The best point (index, epoch, value; raw and smoothed) and its evidence sentence."""
    b = val.best
    w = val.window // 2
    lo, hi = max(0, b - w), min(val.n_valid, b + w + 1)
    rb = lo + int(np.argmin(val.bad[lo:hi]))
    out = {
        "best_index": val.positions[b],
        "best_epoch": float(val.epochs[b]),
        "best_value": float(val.values[rb]),
        "best_raw_index": val.positions[int(np.argmin(val.bad))],
    }
    evidence.append(
        f"Best {val.label} {primary.metric}: {out['best_value']:.4g} near epoch {fmt_epoch(float(val.epochs[rb]))} "
        f"(smoothed optimum at epoch {fmt_epoch(out['best_epoch'])}, position {out['best_index']} of {len(primary)})."
    )
    return out


def gaps(
    val: Track, train: Track | None, best_epoch: float | None, evidence: list[str]
) -> dict[str, float | None]:
    """Train/validation gaps at the best epoch and at the end (absolute and relative to train)."""
    out: dict[str, float | None] = {
        "best_abs": None,
        "best_rel": None,
        "end_abs": None,
        "end_rel": None,
    }
    if (
        train is None
        or train.n_valid < 1
        or val.n_valid < 1
        or best_epoch is None
        or val.label == "train"
    ):
        return out
    te, tv = train.epochs, train.smooth
    for name, e in (("best", best_epoch), ("end", float(val.epochs[-1]))):
        i = int(np.argmin(np.abs(val.epochs - e)))
        t = float(np.interp(e, te, tv)) if te.size > 1 else float(tv[0])
        g = float(val.smooth[i] - t)  # badness: positive = validation worse
        out[f"{name}_abs"] = g
        out[f"{name}_rel"] = g / max(abs(t), 1e-12)
    evidence.append(
        f"Generalisation gap (validation - train {val.series.metric}, worse-is-positive): "
        f"{out['best_abs']:+.4g} ({pct(out['best_rel'])}) at best, {out['end_abs']:+.4g} "
        f"({pct(out['end_rel'])}) at end."
    )
    return out


def pct(x: float | None) -> str:
    """A relative gap as a user reads it: ``+12.3%``, or ``+237x the train value`` when huge."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:+.1%}" if abs(x) < 10 else f"{x:+.0f}x the train value"


def direction(change: float, tol: float) -> str:
    """``improving``, ``worsening`` or ``flat`` for a change against its noise band ``tol``."""
    if change < -tol:
        return "improving"
    if change > tol:
        return "worsening"
    return "flat"


def trend(val: Track, train: Track | None, sign: float) -> dict[str, Any]:
    """The end-of-run trend (Theil-Sen slope and change) of validation and training, signed so
    lower is better.
    """
    return {
        "val_slope": val.tail_slope * sign,
        "val_change": val.tail_change * sign,
        "val_direction": direction(val.tail_change, val.tolerance),
        "train_slope": train.tail_slope * sign if train else None,
        "train_change": train.tail_change * sign if train else None,
        "train_direction": direction(train.tail_change, train.tolerance)
        if train and train.n_valid >= 3
        else None,
        "tail_fraction": round(TAIL_FRACTION, 3),
        "method": "Theil-Sen slope over the last third of each curve",
    }


def trend_evidence(val: Track, train: Track | None, sign: float, evidence: list[str]) -> None:
    """Add the sentence describing the end-of-run trends of both series."""
    if val.n_valid < 2:
        return
    text = f"Trend of the last third (Theil-Sen): {val.label} {val.tail_change * sign:+.3g} (band {val.tolerance:.3g})"
    if train is not None and val.label != "train":
        text += f"; train {train.tail_change * sign:+.3g} (band {train.tolerance:.3g})"
    evidence.append(
        text + f". Noise (robust, from second differences): {val.noise:.3g} "
        f"({val.noise / max(val.scale, 1e-12):.1%} of the curve's range)."
    )


def regularization(
    curves: Curves, model: dict[str, Any] | None, declared: dict[str, float] | None
) -> dict[str, tuple[float, str]]:
    """Regularization in effect: {name: (value, where it was read)}; declared wins."""
    out: dict[str, tuple[float, str]] = {}
    hp = {
        str(k).lower().split(".")[-1].split("/")[-1]: v for k, v in (curves.hparams or {}).items()
    }
    for name, keys in REG_KEYS.items():
        for key in keys:
            v = hp.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                out[name] = (float(v), f"hparams {key}")
                break
    if model:
        wd = model.get("weight_decay")
        if isinstance(wd, (int, float)) and not isinstance(wd, bool):
            out["weight_decay"] = (float(wd), "checkpoint optimizer")
        rates = model.get("dropout_rates")
        if isinstance(rates, dict) and rates:
            out["dropout"] = (float(max(rates.values())), "checkpoint")
    for name, v in (declared or {}).items():
        if v is not None:
            out[name] = (float(v), "declared")
    return out


def nonfinite_weights(model: dict[str, Any] | None) -> int | None:
    """How many layers of the checkpoint hold NaN/inf weights (``None``: none, or unknown)."""
    if not model:
        return None
    n = model.get("nonfinite_layers")
    if isinstance(n, list):
        return len(n) or None
    return int(n) if isinstance(n, (int, float)) and n else None
