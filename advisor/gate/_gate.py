"""``advisor.check``: measure a run and compare it with the conditions of the CI gate.

Each check measures one value from the fit diagnosis of a run and compares it with a
threshold. Thresholds are absolute in the primary metric's own units unless the name says
``rel``. The conditions are small objects (``_conditions``, ``_baseline_conditions``); the
results and the exit code live in ``_report``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from advisor._validation import check_number
from advisor.curves import HIGHER_IS_BETTER, Curves
from advisor.errors import AdvisorError, ConfigError
from advisor.gate._baseline_conditions import baseline_conditions
from advisor.gate._conditions import (
    DEFAULT_FAIL_ON,
    Condition,
    GateContext,
    LimitCondition,
    MinBestMetricCondition,
    VerdictCondition,
)
from advisor.gate._report import CheckReport, CheckResult, Status

__all__ = ["check"]


def _number(name: str, value: Any, *, low: float | None = None) -> float | None:
    """A threshold of the gate: None (not set) or a finite number, as a float."""
    if value is None:
        return None
    return float(check_number(name, value, of="advisor check", low=low))


def _fail_on(value: Any) -> tuple[str, ...]:
    from advisor.curves import VERDICTS

    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            if part not in VERDICTS and part != "none":
                raise ConfigError(
                    f"fail_on of advisor check must name verdicts among {', '.join(VERDICTS)}, got {part!r}."
                )
            if part != "none":
                out.append(part)
    return tuple(dict.fromkeys(out))


def _pick_metric(curves: Curves, metric: str | None, primary_metric: str):
    """The validation metric for ``min_best_metric``: the named one, else the first higher-is-better one."""
    if metric:
        for s in curves.series.values():
            if s.split == "val" and (s.metric == metric or s.key == metric):
                return s
        found = ", ".join(s.key for s in curves.series.values() if s.split == "val") or "none"
        raise ConfigError(
            f"--metric {metric!r}: no such validation series (found: {found}); pass one of those."
        )
    for m in curves.metrics("val"):
        if m in HIGHER_IS_BETTER:
            return curves.get("val", m)
    return None


def _best(values: np.ndarray, mode: str) -> float | None:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return None
    return float(v.max() if mode == "max" else v.min())


def check(
    path_or_curves: str | Path | Curves,
    *,
    max_gap: float | None = None,
    max_rel_gap: float | None = None,
    max_val_rise: float | None = None,
    fail_on: Iterable[str] | str | None = DEFAULT_FAIL_ON,
    min_best_metric: float | None = None,
    metric: str | None = None,
    baseline: str | Path | dict[str, Any] | None = None,
    baseline_tolerance: float = 0.0,
    false_alarm: float | None = None,
    classes: int | None = None,
    train_key: str | None = None,
    val_key: str | None = None,
    run: int | None = None,
) -> CheckReport:
    """Measure a run and compare it with the conditions of the CI gate.

    Args:
        path_or_curves: a curve file or directory (any format ``load_curves`` reads) or ``Curves``.
        max_gap: largest allowed generalisation gap at the end of the run (validation minus
            train, in the primary metric's units, positive when validation is worse).
        max_rel_gap: largest allowed gap at the end relative to the train value (0.5 = 50 %).
        max_val_rise: largest allowed rise of the (smoothed) validation loss from its best
            point to the end, in its own units.
        fail_on: fit verdicts that fail the gate (default overfitting, diverging; "none" for none).
        min_best_metric: lowest allowed best value of the validation metric (``metric`` or the
            first accuracy-like one); for a lower-is-better metric, the highest allowed.
        metric: the validation metric for ``min_best_metric`` and the baseline.
        baseline: a baseline file or record (``fingerprint_from_runs``, or a version-1 record)
            to compare with: a measure fails when the run is worse than the baseline mean beyond
            its noise (see ``advisor.gate._fingerprint``).
        baseline_tolerance: extra relative slack on top of the noise (0.05 = 5 % of the
            baseline value; default 0: the noise alone decides).
        false_alarm: overall false-alarm rate per same-configuration run over all baseline
            measures (default: the baseline file's, 0.05).
        classes: number of classes (chance level for the diagnosis).
        train_key, val_key, run: passed to ``load_curves``.

    Returns:
        A ``CheckReport``; ``report.exit_code`` is 0 when every condition holds, else 1.

    Raises:
        CurveFormatError: the input cannot be read or has no validation series.
        ConfigError: a threshold or the baseline file is invalid.

    Example:
        >>> report = check("lightning_logs/version_0/metrics.csv", max_gap=0.1)  # doctest: +SKIP
        >>> [r.status.value for r in report.results]  # doctest: +SKIP
        ['PASS', 'PASS']
    """
    from advisor.curves import diagnose_fit

    max_gap = _number("max_gap", max_gap)
    max_rel_gap = _number("max_rel_gap", max_rel_gap)
    max_val_rise = _number("max_val_rise", max_val_rise)
    min_best_metric = _number("min_best_metric", min_best_metric)
    tol = _number("baseline_tolerance", baseline_tolerance, low=0.0) or 0.0
    if false_alarm is not None:
        false_alarm = _number("false_alarm", false_alarm, low=1e-9)
        if false_alarm >= 1:
            raise ConfigError(f"false_alarm of advisor check must be < 1, got {false_alarm!r}.")
    failing = _fail_on(fail_on)
    base_record = None
    base_name = None
    if baseline is not None:
        from advisor.gate._baseline import read_baseline

        if isinstance(baseline, dict):
            base_record, base_name = baseline, "<dict>"
        else:
            base_record, base_name = read_baseline(baseline), str(baseline)

    if isinstance(path_or_curves, Curves):
        curves = path_or_curves
    else:
        from advisor.curves import load_curves

        kwargs: dict[str, Any] = {"train_key": train_key, "val_key": val_key}
        if run is not None:
            kwargs["run"] = run
        curves = load_curves(path_or_curves, **kwargs)
    source = (
        str(curves.source)
        if curves.source
        else (None if isinstance(path_or_curves, Curves) else str(path_or_curves))
    )
    if not curves.metrics("val"):
        # The gate judges generalisation: a run without validation cannot pass or fail it.
        from advisor.errors import CurveFormatError

        train = ", ".join(s.key for s in curves.series.values()) or "none"
        raise CurveFormatError(
            f"{source or 'curves'}: has no validation series (train series: {train}); log a "
            "validation loss (e.g. val_loss) each epoch, or pass --val KEY naming the validation column."
        )
    fit = diagnose_fit(curves, classes=classes)
    ctx = GateContext(curves=curves, fit=fit)

    # ------------------------------------------------ the conditions
    conditions: list[Condition] = [VerdictCondition(failing=failing)]
    unit = fit.primary_metric
    no_train = "no train series matching the validation series"
    if max_gap is not None:
        conditions.append(
            LimitCondition(
                id="max_gap",
                name=f"generalisation gap at end ({unit})",
                measure="generalisation gap at the end (validation - train)",
                limit=max_gap,
                getter=lambda f: f.gap.get("end_abs"),
                what="gap",
                missing=no_train,
            )
        )
    if max_rel_gap is not None:
        conditions.append(
            LimitCondition(
                id="max_rel_gap",
                name="relative generalisation gap at end",
                measure="generalisation gap at the end relative to the train value",
                limit=max_rel_gap,
                getter=lambda f: f.gap.get("end_rel"),
                what="relative gap",
                missing=no_train,
            )
        )
    if max_val_rise is not None:
        conditions.append(
            LimitCondition(
                id="max_val_rise",
                name=f"validation {unit} rise after its best",
                measure="rise of the smoothed validation curve after its best point",
                limit=max_val_rise,
                getter=_rise,
                what="rise",
                missing="no finite validation values",
            )
        )

    metric_series = None
    try:
        metric_series = _pick_metric(curves, metric, fit.primary_metric)
    except ConfigError as exc:
        ctx.metric_error = str(exc)
    if metric_series is not None:
        ctx.metric_info = {
            "key": metric_series.key,
            "mode": metric_series.mode,
            "best": _best(metric_series.values, metric_series.mode),
        }
    if min_best_metric is not None or (metric and ctx.metric_error is not None):
        conditions.append(MinBestMetricCondition(limit=min_best_metric or 0.0))

    baseline_info = None
    if base_record is not None:
        from advisor.gate._fingerprint import measure_run

        base_conds, baseline_info, legacy = baseline_conditions(
            base_record, base_name, tol, false_alarm
        )
        # The metric the baseline measured (by normalised name), unless one was named.
        bm = next((c.entry for c in base_conds if c.id == "baseline.best_metric"), None)
        wanted = metric or (bm["metric"] if bm is not None else None)
        ctx.measures = measure_run(curves, metric=wanted, fit=fit)
        if legacy:
            _legacy_values(ctx)
        bv = next((c.entry for c in base_conds if c.id == "baseline.best_val"), None)
        cv = ctx.measures.get("best_val")
        if (
            bv is not None
            and cv is not None
            and (cv["split"], cv["metric"]) == (bv["split"], bv["metric"])
        ):
            sign = -1.0 if bv.get("mode") == "max" else 1.0
            ctx.primary_better = sign * (cv["value"] - bv["mean"]) < 0
        conditions.extend(base_conds)

    results: list[CheckResult] = []
    for cond in conditions:
        # A condition that raises becomes ERROR with the reason; the others still run.
        try:
            results.append(cond.evaluate(ctx))
        except AdvisorError as exc:
            results.append(CheckResult(cond.id, cond.name, Status.ERROR, message=str(exc)))
        except Exception as exc:
            results.append(
                CheckResult(
                    cond.id, cond.name, Status.ERROR, message=f"{type(exc).__name__}: {exc}"
                )
            )

    measurements = {
        "primary": fit.primary_key,
        "verdict": fit.verdict,
        "confidence": fit.confidence,
        "best_val": fit.best_value,
        "best_epoch": fit.best_epoch,
        "gap_end": fit.gap.get("end_abs"),
        "rel_gap_end": fit.gap.get("end_rel"),
        "val_rise": _rise(fit),
        "metric": ctx.metric_info,
    }
    if base_record is not None:
        measurements["baseline_measures"] = {
            k: {kk: v[kk] for kk in ("key", "split", "metric", "value", "noise", "m")}
            for k, v in ctx.measures.items()
        }
        measurements["baseline_test"] = baseline_info
    return CheckReport(
        results=results,
        source=source,
        fit=fit,
        baseline=base_name,
        measurements=measurements,
        notes=list(curves.notes),
        conditions=[c.rule() for c in conditions],
    )


def _legacy_values(ctx: GateContext) -> None:
    """A version-1 baseline stored the fit's own figures: compare the same figures of this run."""
    fit, m = ctx.fit, ctx.measures
    if (
        "best_val" in m
        and fit.best_value is not None
        and fit.primary_metric == m["best_val"]["metric"]
    ):
        m["best_val"] = {**m["best_val"], "value": fit.best_value, "m": 1}
    if "gap_end" in m and fit.gap.get("end_abs") is not None:
        m["gap_end"] = {**m["gap_end"], "value": fit.gap["end_abs"], "m": 1}
    if "best_metric" in m and ctx.metric_info and ctx.metric_info.get("best") is not None:
        m["best_metric"] = {**m["best_metric"], "value": ctx.metric_info["best"], "m": 1}


def _rise(fit: Any) -> float | None:
    r = fit.val_rise.get("abs")
    if r is None:
        return None
    # In the metric's own units: for a higher-is-better primary a "rise" of badness is a drop.
    return float(r if fit.mode == "min" else -r)
