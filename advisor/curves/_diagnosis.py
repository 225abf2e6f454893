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

from typing import Any

from advisor.curves import _fit_context as gather
from advisor.curves._fit_confidence import calibrated
from advisor.curves._fit_finding import Context, Finding, fmt_epoch
from advisor.curves._fit_result import SEVERITIES, VERDICTS, FitDiagnosis
from advisor.curves._fit_rules import decide
from advisor.curves._fit_rules_trend import rise_after_best
from advisor.curves._fit_series import chance_level, is_loss, pick_primary, prepare, where
from advisor.curves._fit_stop import recommend_stop
from advisor.curves._types import Curves
from advisor.errors import CurveFormatError

__all__ = ["SEVERITIES", "VERDICTS", "FitDiagnosis", "diagnose_fit"]


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
    train = gather.train_track(train_s)
    drop, unstable_epochs = gather.instability(primary_s, train, evidence)
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
    nonfinite_epoch, nonfinite_key = gather.first_nonfinite(curves, primary_s, train_s)
    gather.isolated_nonfinite(val, train, evidence)
    metric_track = gather.metric_track(curves, primary_s)
    chance = chance_level(curves, val, train, classes) if val.n_valid else None
    sign = -1.0 if primary_s.mode == "max" else 1.0
    best = gather.best(primary_s, val, evidence) if val.n_valid else {}
    gap = gather.gaps(val, train, best.get("best_epoch"), evidence)
    gather.trend_evidence(val, train, sign, evidence)
    if chance is not None and is_loss(primary_s) and val.n_valid:
        evidence.append(
            f"Chance-level loss ln({chance['classes']}) = {chance['loss']:.4g} ({chance['source']}); "
            f"best {label} loss is {float(val.smooth.min()) / chance['loss']:.0%} of it."
        )
    reg = gather.regularization(curves, model, regularization)
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
        nonfinite_weights=gather.nonfinite_weights(model),
        regularization=reg,
    )
    found = decide(ctx) if val.n_valid >= 2 or nonfinite_epoch is not None else _all_nonfinite()
    evidence.extend(found.evidence)
    stop = recommend_stop(curves, primary_s, val, metric, found.verdict, evidence)
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
        trend=gather.trend(val, train, sign),
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


def _all_nonfinite() -> Finding:
    return Finding("diverging", 0.95, "non-finite", [])
