"""Checks, conditions and the report of ``advisor check``.

Each check measures one value from the fit diagnosis of a run and compares it with a
threshold. Thresholds are absolute in the primary metric's own units unless the name says
``rel``. A measured value within 10 % below an upper limit (gap, rise) is a WARN,
so that a gate about to fail is visible before it does; a check whose input is missing
(no train curve for the gap, no accuracy for ``min_best_metric``) is a WARN "not measured".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from advisor._display import Displayable
from advisor.curves._types import HIGHER_IS_BETTER, Curves
from advisor.errors import AdvisorError, ConfigError

__all__ = [
    "DEFAULT_FAIL_ON",
    "BaselineCondition",
    "CheckReport",
    "CheckResult",
    "Condition",
    "GateContext",
    "LimitCondition",
    "MinBestMetricCondition",
    "Status",
    "VerdictCondition",
    "check",
]

# Overfitting and divergence are regressions a CI run should stop; not_converged and
# underfitting are often expected in short smoke-test runs, so they do not fail by default.
DEFAULT_FAIL_ON: tuple[str, ...] = ("overfitting", "diverging")
# A measured value this close to its threshold (fraction of the threshold) is a WARN.
_WARN_FRACTION = 0.9


class Status(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    ERROR = "ERROR"


@dataclass
class CheckResult:
    """One check: what was measured, against which threshold, and the outcome."""

    id: str
    title: str
    status: Status
    measured: Any = None
    threshold: Any = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status.value,
            "measured": self.measured,
            "threshold": self.threshold,
            "message": self.message,
        }


@dataclass
class CheckReport(Displayable):
    """Results of ``advisor.check``; ``exit_code`` is 0 when nothing FAILed or ERRORed, else 1."""

    results: list[CheckResult]
    source: str | None
    fit: Any = None
    baseline: str | None = None
    measurements: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    conditions: list[dict[str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if any(r.status in (Status.FAIL, Status.ERROR) for r in self.results) else 0

    @property
    def passed(self) -> bool:
        return self.exit_code == 0

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for r in self.results:
            out[r.status.value] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "passed": self.passed,
            "exit_code": self.exit_code,
            "counts": self.counts(),
            "checks": [r.to_dict() for r in self.results],
            "measurements": self.measurements,
            "baseline": self.baseline,
            "fit": self.fit.to_dict() if self.fit is not None else None,
            "notes": list(self.notes),
            "conditions": list(self.conditions),
        }

    def __rich_console__(self, console, options):
        from advisor.gate._render import text_renderables

        yield from text_renderables(self)


def _number(name: str, value: Any, *, low: float | None = None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{name} of advisor check must be a finite number, got {value!r}.")
    if low is not None and value < low:
        raise ConfigError(f"{name} of advisor check must be >= {low}, got {value!r}.")
    return float(value)


def _fail_on(value: Any) -> tuple[str, ...]:
    from advisor.curves._diagnosis import VERDICTS

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


def _near(measured: float, threshold: float) -> bool:
    """True when ``measured`` passes an upper limit but lies within 10 % of it."""
    margin = (1 - _WARN_FRACTION) * max(abs(threshold), 1e-12)
    return threshold - margin < measured <= threshold


def _upper_check(
    cid: str, title: str, measured: float | None, limit: float, what: str, missing: str
) -> CheckResult:
    if measured is None or not math.isfinite(measured):
        return CheckResult(cid, title, Status.WARN, None, limit, f"not measured: {missing}")
    if measured > limit:
        return CheckResult(
            cid, title, Status.FAIL, measured, limit, f"{what} {measured:.4g} exceeds {limit:.4g}"
        )
    status = Status.WARN if _near(measured, limit) else Status.PASS
    note = " (within 10% of the limit)" if status is Status.WARN else ""
    return CheckResult(
        cid, title, status, measured, limit, f"{what} {measured:.4g} <= {limit:.4g}{note}"
    )


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


# ----------------------------------------------------------------------------- conditions


@dataclass
class GateContext:
    """What the conditions read: the run, its fit diagnosis and its measures."""

    curves: Curves
    fit: Any
    metric_info: dict[str, Any] | None = None
    metric_error: str | None = None
    measures: dict[str, Any] = field(default_factory=dict)
    primary_better: bool = False


@dataclass
class Condition:
    """One condition of the gate: an id, a name, what it measures, ``evaluate`` and ``explain``.

    ``evaluate(ctx)`` returns a ``CheckResult``; it may raise, the gate turns that into ERROR.
    ``explain()`` says in one sentence what fails (SARIF rule descriptions, the README table).
    """

    id: str = ""
    name: str = ""
    measure: str = ""

    def evaluate(self, ctx: GateContext) -> CheckResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def explain(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def rule(self) -> dict[str, str]:
        return {
            "id": self.id,
            "name": self.name,
            "measure": self.measure,
            "description": self.explain(),
        }


@dataclass
class VerdictCondition(Condition):
    failing: tuple[str, ...] = DEFAULT_FAIL_ON
    id: str = "verdict"
    name: str = "fit verdict"
    measure: str = "fit verdict of the learning curves"

    def evaluate(self, ctx: GateContext) -> CheckResult:
        fit = ctx.fit
        conf = f"{fit.verdict} (confidence {fit.confidence:.2f}, {fit.rule})"
        if fit.verdict in self.failing:
            return CheckResult(
                self.id,
                self.name,
                Status.FAIL,
                fit.verdict,
                list(self.failing),
                f"verdict {conf} is in fail_on",
            )
        return CheckResult(
            self.id, self.name, Status.PASS, fit.verdict, list(self.failing), f"verdict {conf}"
        )

    def explain(self) -> str:
        listed = ", ".join(self.failing) or "none"
        return f"Fails when the fit verdict is one of: {listed}."


@dataclass
class LimitCondition(Condition):
    """An upper limit on a value of the fit diagnosis (gap, relative gap, rise)."""

    limit: float = 0.0
    getter: Any = None
    what: str = ""
    missing: str = ""

    def evaluate(self, ctx: GateContext) -> CheckResult:
        return _upper_check(
            self.id, self.name, self.getter(ctx.fit), self.limit, self.what, self.missing
        )

    def explain(self) -> str:
        return f"Fails when the {self.measure} exceeds {self.limit:g}; WARN within 10 % below it."


@dataclass
class MinBestMetricCondition(Condition):
    limit: float = 0.0
    id: str = "min_best_metric"
    name: str = "best validation metric"
    measure: str = "best logged value of the validation metric"

    def evaluate(self, ctx: GateContext) -> CheckResult:
        if ctx.metric_error is not None:
            return CheckResult(self.id, self.name, Status.ERROR, message=ctx.metric_error)
        return _metric_check(ctx.metric_info, self.limit)

    def explain(self) -> str:
        return (
            f"Fails when the best validation metric is below {self.limit:g} "
            "(above it for a lower-is-better metric)."
        )


# Check ids of the baseline measures (the version-1 ids are kept).
BASELINE_IDS = {
    "best_val": "baseline.best_val",
    "final_val": "baseline.final_val",
    "best_metric": "baseline.best_metric",
    "gap_end": "baseline.gap",
    "val_rise": "baseline.val_rise",
}


@dataclass
class BaselineCondition(Condition):
    """One measure of the baseline fingerprint: fails when the run is worse beyond the noise."""

    entry: dict[str, Any] = field(default_factory=dict)
    k: float = 2.0
    tolerance: float = 0.0
    tolerance_scale: float = 0.0
    baseline_name: str | None = None

    def explain(self) -> str:
        return (
            f"Fails when the run's {self.measure} is worse than the baseline mean by more than "
            f"k = {self.k:.2f} x sqrt(std^2 (1 + 1/n) + noise^2 / m) (one-sided prediction "
            "interval; about one false alarm in twenty same-configuration runs over all measures)"
            + (f", plus {self.tolerance:.0%} tolerance" if self.tolerance else "")
            + (
                "; a diagnostic measure only WARNs when the run is better on the primary measure."
                if self.entry.get("role") == "diagnostic"
                else "."
            )
        )

    def spread(self, cand: dict[str, Any] | None) -> float:
        e = self.entry
        n = int(e.get("n") or 1)
        noise = e.get("noise")
        if noise is None:  # a version-1 file stores no noise: assume the run's own
            noise = (cand or {}).get("noise") or 0.0
        m = float(e.get("m") or 1)
        std = e.get("std") if n >= 2 and e.get("std") is not None else noise
        s = math.sqrt(std**2 * (1 + 1 / n) + noise**2 / m)
        # Curves without noise (built in memory): a relative floor keeps equal values passing.
        return max(s, 1e-6 * max(abs(float(e["mean"])), 1e-6))

    def evaluate(self, ctx: GateContext) -> CheckResult:
        e = self.entry
        split, metric, bkey = e["split"], e["metric"], e.get("key")
        cand = ctx.measures.get(e["_name"])
        if cand is None or (cand["split"], cand["metric"]) != (split, metric):
            logged = (
                ", ".join(s.key for s in ctx.curves.series.values() if s.split == split) or "none"
            )
            what = f"{split} {metric}"
            if e["_name"] == "gap_end" and ctx.curves.get(split, metric) is not None:
                what = f"train {metric} (the baseline's gap used '{e.get('train_key', 'train ' + metric)}')"
                logged = (
                    ", ".join(s.key for s in ctx.curves.series.values() if s.split == "train")
                    or "none"
                )
            return CheckResult(
                self.id,
                self.name,
                Status.FAIL,
                None,
                e["mean"],
                f"baseline {self.baseline_name or ''} measured '{bkey}' ({split} {metric}); this run "
                f"logs no {what} series (its {split if 'train' not in what else 'train'} series: {logged}); "
                "log it again or regenerate the baseline with --update-baseline --force",
            )
        x = float(cand["value"])
        mean = float(e["mean"])
        sign = -1.0 if e.get("mode") == "max" else 1.0
        spread = self.spread(cand)
        slack = self.k * spread + self.tolerance * max(abs(mean), self.tolerance_scale)
        allowed = mean + sign * slack
        worse_by = sign * (x - mean)
        z = worse_by / spread
        n = int(e.get("n") or 1)
        renamed = (
            f" (baseline '{bkey}', this run '{cand['key']}')"
            if bkey and cand.get("key") != bkey
            else ""
        )
        desc = (
            f"{x:.4g} vs baseline {mean:.4g} (n={n}, spread {spread:.2g}): "
            f"{'worse' if worse_by > 0 else 'better'} by {abs(z):.1f} spread"
        )
        if worse_by > slack:
            if e.get("role") == "diagnostic" and ctx.primary_better:
                return CheckResult(
                    self.id,
                    self.name,
                    Status.WARN,
                    x,
                    allowed,
                    f"{desc}, beyond the limit {allowed:.4g}; not a regression: the run is better "
                    f"on the primary measure (best {ctx.measures['best_val']['key']}){renamed}",
                )
            return CheckResult(
                self.id,
                self.name,
                Status.FAIL,
                x,
                allowed,
                f"{desc}, beyond the limit {allowed:.4g} (k={self.k:.2f}){renamed}",
            )
        return CheckResult(
            self.id,
            self.name,
            Status.PASS,
            x,
            allowed,
            f"{desc}, within the limit {allowed:.4g} (k={self.k:.2f}){renamed}",
        )


def _baseline_conditions(
    record: dict[str, Any], name: str | None, tol: float, false_alarm: float | None
) -> tuple[list[BaselineCondition], dict[str, Any], bool]:
    from advisor.gate._fingerprint import DEFAULT_FALSE_ALARM, MEASURES, gate_k, legacy_measures

    legacy = record.get("advisor_baseline") == 1 or not isinstance(record.get("measures"), dict)
    measures = legacy_measures(record) if legacy else record["measures"]
    gated = [m for m in measures if m in MEASURES and MEASURES[m].role != "info"]
    n = (
        1
        if legacy
        else int(
            record.get("n_runs") or max((measures[m].get("n") or 1) for m in gated) if gated else 1
        )
    )
    fa = false_alarm
    if fa is None:
        fa = (record.get("test") or {}).get("false_alarm") or DEFAULT_FALSE_ALARM
    k = gate_k(n, len(gated), fa)
    best_scale = abs(float((measures.get("best_val") or {}).get("mean") or 0.0))
    out = []
    for m in gated:
        e = {**measures[m], "_name": m}
        unit = f"{e['split']} {e['metric']}"
        title = {
            "best_val": f"baseline: best {unit}",
            "final_val": f"baseline: final {unit}",
            "best_metric": f"baseline: best {unit}",
            "gap_end": "baseline: generalisation gap at end",
            "val_rise": f"baseline: {unit} rise after its best",
        }[m]
        out.append(
            BaselineCondition(
                id=BASELINE_IDS[m],
                name=title,
                measure=f"{MEASURES[m].title} ({unit})",
                entry=e,
                k=k,
                tolerance=tol,
                tolerance_scale=best_scale if m == "gap_end" else 0.0,
                baseline_name=name,
            )
        )
    info = {"n_runs": n, "measures_gated": len(gated), "false_alarm": fa, "k": k, "legacy": legacy}
    return out, info, legacy


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
    from advisor.curves._diagnosis import diagnose_fit

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

        base_conds, baseline_info, legacy = _baseline_conditions(
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


def _metric_check(info: dict[str, Any] | None, limit: float) -> CheckResult:
    title = "best validation metric"
    if info is None or info["best"] is None:
        return CheckResult(
            "min_best_metric",
            title,
            Status.WARN,
            None,
            limit,
            "not measured: no accuracy-like validation metric; name one with --metric",
        )
    best, key = info["best"], info["key"]
    title = f"best validation {key}"
    if info["mode"] == "max":
        if best < limit:
            return CheckResult(
                "min_best_metric",
                title,
                Status.FAIL,
                best,
                limit,
                f"best {key} {best:.4g} < {limit:.4g}",
            )
        # No "near the limit" WARN here: accuracy-like thresholds sit close to 1, where 10 % of
        # the threshold would cover every plausible value.
        return CheckResult(
            "min_best_metric",
            title,
            Status.PASS,
            best,
            limit,
            f"best {key} {best:.4g} >= {limit:.4g}",
        )
    # Lower-is-better metric (error rate, MAE): the threshold is the highest allowed best.
    return _upper_check("min_best_metric", title, best, limit, f"best {key}", "no finite values")
