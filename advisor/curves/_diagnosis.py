"""Fit diagnosis: read the whole shape of a run's learning curves and name the regime.

The verdict is one of ``overfitting``, ``underfitting``, ``good_fit``, ``not_converged`` and
``diverging``. It is decided from noise-robust statistics of the whole curve
(``_fit_robust``), on the series ``_fit_series`` chooses, by the ordered rules of
``_fit_rules``; the confidence is calibrated by ``_fit_confidence`` and the result is a
``FitDiagnosis`` (``_fit_result``). This module wires them together:

1. choose the judged series (a loss whenever one was logged) and the stop series;
2. find non-finite losses, training-loss spikes and the validation jumps they cause
   (instability: those points are left out of the verdict, and the evidence says so);
3. gather the chance level, the generalisation gap and the regularization in effect;
4. apply the rules, pick a robust stop epoch, and calibrate the confidence.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from advisor.curves._fit_confidence import calibrated
from advisor.curves._fit_result import SEVERITIES, VERDICTS, FitDiagnosis
from advisor.curves._fit_robust import spikes
from advisor.curves._fit_rules import Context, decide, fmt_epoch, rise_after_best, val_wander
from advisor.curves._fit_series import (
    TAIL_FRACTION,
    Track,
    accuracy_like,
    chance_level,
    is_loss,
    named_stop,
    pick_primary,
    prepare,
    where,
)
from advisor.curves._types import HIGHER_IS_BETTER, Curves, Series
from advisor.errors import CurveFormatError

__all__ = ["SEVERITIES", "VERDICTS", "FitDiagnosis", "diagnose_fit"]

# The stop: the earliest epoch whose smoothed value is within noise of the smoothed optimum:
# STOP_SIGMAS standard errors (a running median of w points has ~ 1.25 s / sqrt(w)), the
# "one-standard-error rule" (Breiman et al. 1984) applied along the epochs, plus the depth by
# which the luckiest of n/w windows undercuts a flat stretch (see _earliest_near_optimum).
STOP_SIGMAS = 1.0
MEDIAN_SE = 1.25
# Loss and accuracy "disagree" when their optima lie this fraction of the run apart.
DISAGREE_FRACTION = 0.2
# Hyper-parameter names that carry the regularization in effect.
_REG_KEYS = {
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


def diagnose_fit(
    curves: Curves,
    *,
    classes: int | None = None,
    metric: str | None = None,
    model: dict[str, Any] | None = None,
    regularization: dict[str, float] | None = None,
) -> FitDiagnosis:
    """Diagnose the fit of one run from its learning curves.

    Args:
        curves: the run (from ``advisor.load_curves`` or built in memory).
        classes: number of classes, for the chance-level loss ln(K); inferred from the
            hyper-parameters or from a loss sitting at ln(K) when not given.
        metric: the validation series the stop epoch is chosen on (a normalised name such as
            ``"accuracy"``/``"top1"`` or the key as logged). The verdict is always judged on a loss
            when one was logged; by default a classifier's stop is chosen on its accuracy-like
            metric, and the evidence says when loss and accuracy disagree.
        model: the model facts of a checkpoint (``ModelReport.model`` as a dict): non-finite
            weights and the regularization in effect are read from it.
        regularization: declared regularization in effect (``weight_decay``, ``dropout``,
            ``label_smoothing``); wins over hyper-parameters and the checkpoint.

    Returns:
        A ``FitDiagnosis``; ``to_dict()`` is the ``fit`` object of ``advisor diagnose --format json``.

    Raises:
        CurveFormatError: no usable series, fewer than 2 epochs, or an unknown ``metric``.

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
    primary_s, train_s, why, train_only = pick_primary(curves)
    evidence = [f"Judged on {why}."]
    caveats: list[str] = []
    if train_only:
        caveats.append(
            "No validation series: judged from the training curve alone; over- and underfitting "
            "need a validation series (log one to judge them)."
        )
    label = "train" if train_only else "validation"
    train = _train_track(train_s)
    drop, unstable_epochs = _instability(primary_s, train, evidence)
    val = prepare(primary_s, label, drop=drop)
    if val.n_valid < 2 and val.first_nonfinite is None:
        raise CurveFormatError(
            f"{where(curves)}: series '{primary_s.key}' has fewer than 2 finite values; "
            "train for at least 2 epochs with validation."
        )
    if train is None and not train_only:
        caveats.append(
            "No matching train series: the gap and the train trend are unknown; confidence lowered."
        )
    nonfinite_epoch, nonfinite_key = _first_nonfinite(curves, primary_s, train_s)
    _isolated_nonfinite(val, train, evidence)
    metric_track = _metric_track(curves, primary_s)
    chance = chance_level(curves, val, train, classes) if val.n_valid else None
    sign = -1.0 if primary_s.mode == "max" else 1.0
    best = _best(primary_s, val, evidence) if val.n_valid else {}
    gap = _gaps(val, train, best.get("best_epoch"), evidence)
    _trend_evidence(val, train, sign, evidence)
    if chance is not None and is_loss(primary_s) and val.n_valid:
        evidence.append(
            f"Chance-level loss ln({chance['classes']}) = {chance['loss']:.4g} ({chance['source']}); "
            f"best {label} loss is {float(val.smooth.min()) / chance['loss']:.0%} of it."
        )
    reg = _regularization(curves, model, regularization)
    ctx = Context(
        curves=curves,
        primary=val,
        train=train,
        train_only=train_only,
        chance=chance,
        gap=gap,
        metric=metric_track,
        nonfinite_epoch=nonfinite_epoch,
        nonfinite_key=nonfinite_key,
        nonfinite_weights=_nonfinite_weights(model),
        regularization=reg,
    )
    found = decide(ctx) if val.n_valid >= 2 or nonfinite_epoch is not None else _all_nonfinite()
    evidence.extend(found.evidence)
    stop = _stop(curves, primary_s, val, metric, found.verdict, evidence)
    onset_index = onset_epoch = None
    if found.rule == "val-worsens" and best:
        onset_index, onset_epoch = best["best_index"], best["best_epoch"]
        evidence.append(
            f"Onset of overfitting: epoch {fmt_epoch(onset_epoch)} - validation {primary_s.metric} "
            "worsens from there while training keeps improving."
        )
    if found.verdict == "diverging":
        caveats.append(
            "The run diverged: regularization advice is provisional until training is stable "
            "(lower the learning rate first)."
        )
    confidence = calibrated(found.rule, found.margin)
    if val.n_valid < 10 and found.rule not in ("non-finite", "non-finite-weights"):
        caveats.append(
            f"Only {val.n_valid} finite points: a short run is read with less certainty."
        )
    rise = rise_after_best(val)[0] if val.n_valid >= 2 else None
    return FitDiagnosis(
        verdict=found.verdict,  # type: ignore[arg-type]
        confidence=confidence,
        evidence=evidence,
        primary_key=primary_s.key,
        primary_metric=primary_s.metric,
        mode=primary_s.mode,
        primary_reason=why,
        train_key=train_s.key if train is not None else None,
        val_epochs=primary_s.epochs,
        val_values=primary_s.values,
        val_smoothed_epochs=val.epochs,
        val_smoothed=sign * val.smooth,
        train_epochs=train_s.epochs if train is not None else None,
        train_values=train_s.values if train is not None else None,
        train_smoothed_epochs=train.epochs if train is not None else None,
        train_smoothed=(sign * train.smooth) if train is not None else None,
        best_index=best.get("best_index"),
        best_epoch=best.get("best_epoch"),
        best_value=best.get("best_value"),
        best_raw_index=best.get("best_raw_index"),
        onset_index=onset_index,
        onset_epoch=onset_epoch,
        stop_index=stop.get("index"),
        stop_epoch=stop.get("epoch"),
        gap=gap,
        trend=_trend(val, train, sign),
        noise={
            "val": val.noise,
            "train": train.noise if train else None,
            "val_rel": val.noise / val.scale if val.scale else None,
        },
        val_rise={
            "abs": None if rise is None else rise * sign,
            "rel": None
            if rise is None or not best
            else rise / max(abs(float(val.smooth[val.best])), 1e-12),
        },
        chance=chance,
        first_nonfinite_epoch=nonfinite_epoch,
        caveats=caveats,
        source=str(curves.source) if curves.source else None,
        run=curves.run,
        rule=found.rule,
        severity=found.severity,
        stop_key=stop.get("key"),
        stop_metric=stop.get("metric"),
        stop_reason=stop.get("why"),
        train_only=train_only,
        unstable_epochs=unstable_epochs,
        regularization={k: {"value": v, "source": s} for k, (v, s) in reg.items()},
        margin=found.margin,
    )


def _all_nonfinite():
    from advisor.curves._fit_rules import Finding

    return Finding("diverging", 0.95, "non-finite", [])


# ----------------------------------------------------------------------------- helpers


def _train_track(train_s: Series | None) -> Track | None:
    if train_s is None or len(train_s) == 0:
        return None
    train = prepare(train_s, "train")
    if train.n_valid == 0 and train.first_nonfinite is None:
        return None
    return train


def _first_nonfinite(
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


def _isolated_nonfinite(val: Track, train: Track | None, evidence: list[str]) -> None:
    for tr in (val, train):
        if tr is not None and tr.isolated_nonfinite:
            evidence.append(
                f"{tr.isolated_nonfinite} isolated non-finite {tr.label} value(s) that recovered were ignored."
            )


JUMP_EPOCHS = 1.0  # a validation jump within this many epochs of a training spike is caused by it


def _instability(
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


def _metric_track(curves: Curves, primary: Series) -> Track | None:
    """An accuracy-like validation metric beside a loss primary (it says whether the model learned)."""
    if not is_loss(primary) or primary.split != "val":
        return None
    for m in curves.metrics("val"):
        s = curves.get("val", m)
        if m in HIGHER_IS_BETTER and s is not None and s.mode == "max" and int(s.finite.sum()) >= 3:
            return prepare(s, "validation")
    return None


def _best(primary: Series, val: Track, evidence: list[str]) -> dict[str, Any]:
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


def _gaps(
    val: Track, train: Track | None, best_epoch: float | None, evidence: list[str]
) -> dict[str, float | None]:
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
        f"{out['best_abs']:+.4g} ({_pct(out['best_rel'])}) at best, {out['end_abs']:+.4g} "
        f"({_pct(out['end_rel'])}) at end."
    )
    return out


def _pct(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:+.1%}" if abs(x) < 10 else f"{x:+.0f}x the train value"


def _direction(change: float, tol: float) -> str:
    if change < -tol:
        return "improving"
    if change > tol:
        return "worsening"
    return "flat"


def _trend(val: Track, train: Track | None, sign: float) -> dict[str, Any]:
    return {
        "val_slope": val.tail_slope * sign,
        "val_change": val.tail_change * sign,
        "val_direction": _direction(val.tail_change, val.tolerance),
        "train_slope": train.tail_slope * sign if train else None,
        "train_change": train.tail_change * sign if train else None,
        "train_direction": _direction(train.tail_change, train.tolerance)
        if train and train.n_valid >= 3
        else None,
        "tail_fraction": round(TAIL_FRACTION, 3),
        "method": "Theil-Sen slope over the last third of each curve",
    }


def _trend_evidence(val: Track, train: Track | None, sign: float, evidence: list[str]) -> None:
    if val.n_valid < 2:
        return
    text = f"Trend of the last third (Theil-Sen): {val.label} {val.tail_change * sign:+.3g} (band {val.tolerance:.3g})"
    if train is not None and val.label != "train":
        text += f"; train {train.tail_change * sign:+.3g} (band {train.tolerance:.3g})"
    evidence.append(
        text + f". Noise (robust, from second differences): {val.noise:.3g} "
        f"({val.noise / max(val.scale, 1e-12):.1%} of the curve's range)."
    )


def _earliest_near_optimum(track: Track) -> tuple[int, float]:
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


def _stop(
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
            i_loss, _ = _earliest_near_optimum(val)
            i_acc, _ = _earliest_near_optimum(acc_track)
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
    i, band = _earliest_near_optimum(track)
    evidence.append(
        f"Recommended stop: epoch {fmt_epoch(float(track.epochs[i]))}, the earliest whose smoothed "
        f"{series.metric} is within noise ({band:.3g}) of its optimum."
    )
    return {
        "index": track.positions[i],
        "epoch": float(track.epochs[i]),
        "key": series.key,
        "metric": series.metric,
        "why": why,
    }


def _regularization(
    curves: Curves, model: dict[str, Any] | None, declared: dict[str, float] | None
) -> dict[str, tuple[float, str]]:
    """Regularization in effect: {name: (value, where it was read)}; declared wins."""
    out: dict[str, tuple[float, str]] = {}
    hp = {
        str(k).lower().split(".")[-1].split("/")[-1]: v for k, v in (curves.hparams or {}).items()
    }
    for name, keys in _REG_KEYS.items():
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


def _nonfinite_weights(model: dict[str, Any] | None) -> int | None:
    if not model:
        return None
    n = model.get("nonfinite_layers")
    if isinstance(n, list):
        return len(n) or None
    return int(n) if isinstance(n, (int, float)) and n else None
