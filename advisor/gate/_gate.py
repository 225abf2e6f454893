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

__all__ = ["DEFAULT_FAIL_ON", "CheckReport", "CheckResult", "Status", "check"]

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
    baseline_tolerance: float = 0.05,
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
        baseline: a baseline file (or its dict) to compare with; regressions beyond
            ``baseline_tolerance`` (relative, 0.05 = 5 %) fail.
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
    tol = _number("baseline_tolerance", baseline_tolerance, low=0.0)
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
    fit = diagnose_fit(curves, classes=classes)

    results: list[CheckResult] = []

    def guarded(cid: str, title: str, fn) -> None:
        # A check that raises becomes ERROR with the reason; the other checks still run.
        try:
            results.append(fn())
        except AdvisorError as exc:
            results.append(CheckResult(cid, title, Status.ERROR, message=str(exc)))
        except Exception as exc:
            results.append(
                CheckResult(cid, title, Status.ERROR, message=f"{type(exc).__name__}: {exc}")
            )

    def verdict_check() -> CheckResult:
        title = "fit verdict"
        conf = f"{fit.verdict} (confidence {fit.confidence:.2f}, {fit.rule})"
        if fit.verdict in failing:
            return CheckResult(
                "verdict",
                title,
                Status.FAIL,
                fit.verdict,
                list(failing),
                f"verdict {conf} is in fail_on",
            )
        return CheckResult(
            "verdict", title, Status.PASS, fit.verdict, list(failing), f"verdict {conf}"
        )

    guarded("verdict", "fit verdict", verdict_check)
    unit = fit.primary_metric
    if max_gap is not None:
        guarded(
            "max_gap",
            f"generalisation gap at end ({unit})",
            lambda: _upper_check(
                "max_gap",
                f"generalisation gap at end ({unit})",
                fit.gap.get("end_abs"),
                max_gap,
                "gap",
                "no train series matching the validation series",
            ),
        )
    if max_rel_gap is not None:
        guarded(
            "max_rel_gap",
            "relative generalisation gap at end",
            lambda: _upper_check(
                "max_rel_gap",
                "relative generalisation gap at end",
                fit.gap.get("end_rel"),
                max_rel_gap,
                "relative gap",
                "no train series matching the validation series",
            ),
        )
    if max_val_rise is not None:
        guarded(
            "max_val_rise",
            f"validation {unit} rise after its best",
            lambda: _upper_check(
                "max_val_rise",
                f"validation {unit} rise after its best",
                _rise(fit),
                max_val_rise,
                "rise",
                "no finite validation values",
            ),
        )

    metric_series = None
    metric_info = None
    try:
        metric_series = _pick_metric(curves, metric, fit.primary_metric)
    except ConfigError as exc:
        if min_best_metric is not None or metric:
            results.append(
                CheckResult(
                    "min_best_metric", "best validation metric", Status.ERROR, message=str(exc)
                )
            )
    if metric_series is not None:
        metric_info = {
            "key": metric_series.key,
            "mode": metric_series.mode,
            "best": _best(metric_series.values, metric_series.mode),
        }
    if min_best_metric is not None and not any(r.id == "min_best_metric" for r in results):
        guarded(
            "min_best_metric",
            "best validation metric",
            lambda: _metric_check(metric_info, min_best_metric),
        )

    if base_record is not None:
        for res in _baseline_checks(base_record, fit, metric_info, tol, base_name):
            results.append(res)

    measurements = {
        "primary": fit.primary_key,
        "verdict": fit.verdict,
        "confidence": fit.confidence,
        "best_val": fit.best_value,
        "best_epoch": fit.best_epoch,
        "gap_end": fit.gap.get("end_abs"),
        "rel_gap_end": fit.gap.get("end_rel"),
        "val_rise": _rise(fit),
        "metric": metric_info,
    }
    return CheckReport(
        results=results,
        source=source,
        fit=fit,
        baseline=base_name,
        measurements=measurements,
        notes=list(curves.notes),
    )


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


def _baseline_checks(
    base: dict[str, Any], fit: Any, metric_info: dict[str, Any] | None, tol: float, name: str | None
) -> list[CheckResult]:
    out: list[CheckResult] = []
    if base.get("primary") != fit.primary_key:
        out.append(
            CheckResult(
                "baseline.best_val",
                "baseline: best validation value",
                Status.WARN,
                fit.primary_key,
                base.get("primary"),
                f"baseline {name} measured {base.get('primary')!r}, this run {fit.primary_key!r}: not compared "
                "(regenerate the baseline with --update-baseline)",
            )
        )
    else:
        out.append(
            _regression(
                "baseline.best_val",
                f"baseline: best {fit.primary_key}",
                fit.best_value,
                base.get("best_val"),
                base.get("mode", "min"),
                tol,
            )
        )
        bg, mg = base.get("gap_end"), fit.gap.get("end_abs")
        if bg is not None and mg is not None:
            # The gap may be near zero, so its slack is relative to the best value's size.
            slack = tol * max(abs(bg), abs(base.get("best_val") or 0.0), 1e-12)
            allowed = bg + slack
            status = Status.FAIL if mg > allowed else Status.PASS
            verb = "exceeds" if status is Status.FAIL else "within"
            out.append(
                CheckResult(
                    "baseline.gap",
                    "baseline: generalisation gap at end",
                    status,
                    mg,
                    allowed,
                    f"gap {mg:.4g} {verb} baseline {bg:.4g} + tolerance ({allowed:.4g})",
                )
            )
    bm = base.get("metric")
    if isinstance(bm, dict) and bm.get("best") is not None:
        if (
            metric_info is None
            or metric_info.get("key") != bm.get("key")
            or metric_info.get("best") is None
        ):
            out.append(
                CheckResult(
                    "baseline.best_metric",
                    f"baseline: best {bm.get('key')}",
                    Status.WARN,
                    None,
                    bm.get("best"),
                    f"not measured: this run has no validation {bm.get('key')!r}",
                )
            )
        else:
            out.append(
                _regression(
                    "baseline.best_metric",
                    f"baseline: best {bm['key']}",
                    metric_info["best"],
                    bm["best"],
                    bm.get("mode", "max"),
                    tol,
                )
            )
    return out


def _regression(
    cid: str, title: str, measured: float | None, base: float | None, mode: str, tol: float
) -> CheckResult:
    if measured is None or base is None:
        return CheckResult(
            cid,
            title,
            Status.WARN,
            measured,
            base,
            "not measured: value missing in the run or baseline",
        )
    slack = tol * max(abs(base), 1e-12)
    if mode == "max":
        allowed = base - slack
        worse = measured < allowed
        rel = (base - measured) / max(abs(base), 1e-12)
    else:
        allowed = base + slack
        worse = measured > allowed
        rel = (measured - base) / max(abs(base), 1e-12)
    if worse:
        return CheckResult(
            cid,
            title,
            Status.FAIL,
            measured,
            allowed,
            f"{measured:.4g} vs baseline {base:.4g}: {rel:+.1%} worse, beyond the {tol:.0%} tolerance",
        )
    change = "better" if rel < 0 else "worse"
    return CheckResult(
        cid,
        title,
        Status.PASS,
        measured,
        allowed,
        f"{measured:.4g} vs baseline {base:.4g} ({abs(rel):.1%} {change}, tolerance {tol:.0%})",
    )
