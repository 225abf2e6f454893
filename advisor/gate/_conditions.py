"""The gate's conditions: each a small object with an id, a name, what it measures,
``evaluate(ctx) -> CheckResult`` and ``explain()`` (one sentence for SARIF and the README).

A measured value within 10 % below an upper limit (gap, rise) is a WARN, so that a gate about
to fail is visible before it does; a check whose input is missing (no train curve for the
gap, no accuracy for ``min_best_metric``) is a WARN "not measured". The baseline conditions
live in ``_baseline_conditions``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from advisor.curves import Curves
from advisor.gate._report import CheckResult, Status

__all__ = [
    "DEFAULT_FAIL_ON",
    "Condition",
    "GateContext",
    "LimitCondition",
    "MinBestMetricCondition",
    "VerdictCondition",
    "upper_check",
]

# Overfitting and divergence are regressions a CI run should stop; not_converged and
# underfitting are often expected in short smoke-test runs, so they do not fail by default.
DEFAULT_FAIL_ON: tuple[str, ...] = ("overfitting", "diverging")
# A measured value this close to its threshold (fraction of the threshold) is a WARN.
_WARN_FRACTION = 0.9


def _near(measured: float, threshold: float) -> bool:
    """True when ``measured`` passes an upper limit but lies within 10 % of it."""
    margin = (1 - _WARN_FRACTION) * max(abs(threshold), 1e-12)
    return threshold - margin < measured <= threshold


def upper_check(
    cid: str, title: str, measured: float | None, limit: float, what: str, missing: str
) -> CheckResult:
    """PASS when ``measured`` is at most ``limit``, FAIL above it, WARN when it was not
    measured.
    """
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
        """The ``CheckResult`` of this condition on the run in ``ctx`` (subclasses implement it)."""
        raise NotImplementedError

    def explain(self) -> str:  # pragma: no cover - abstract
        """One sentence saying what fails (each subclass implements it)."""
        raise NotImplementedError

    def rule(self) -> dict[str, str]:
        """The condition as a rule description: ``id``, ``name``, ``measure``, ``description``."""
        return {
            "id": self.id,
            "name": self.name,
            "measure": self.measure,
            "description": self.explain(),
        }


@dataclass
class VerdictCondition(Condition):
    """Fails when the fit verdict is one of ``failing`` (overfitting and diverging by default)."""

    failing: tuple[str, ...] = DEFAULT_FAIL_ON
    id: str = "verdict"
    name: str = "fit verdict"
    measure: str = "fit verdict of the learning curves"

    def evaluate(self, ctx: GateContext) -> CheckResult:
        """FAIL when the fit verdict is one of ``failing``, else PASS."""
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
        """One sentence listing the failing verdicts."""
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
        """Check the value ``getter`` reads from the fit against ``limit`` (``upper_check``)."""
        return upper_check(
            self.id, self.name, self.getter(ctx.fit), self.limit, self.what, self.missing
        )

    def explain(self) -> str:
        """One sentence giving the limit and the WARN band just below it."""
        return f"Fails when the {self.measure} exceeds {self.limit:g}; WARN within 10 % below it."


@dataclass
class MinBestMetricCondition(Condition):
    """Fails when the best validation metric logged is below ``limit``."""

    limit: float = 0.0
    id: str = "min_best_metric"
    name: str = "best validation metric"
    measure: str = "best logged value of the validation metric"

    def evaluate(self, ctx: GateContext) -> CheckResult:
        """Check the best validation metric against ``limit``.

        Returns:
            FAIL when the best value is below ``limit`` (above it for a lower-is-better metric),
            WARN when no accuracy-like metric was logged, ERROR when the metric could not be
            chosen.
        """
        if ctx.metric_error is not None:
            return CheckResult(self.id, self.name, Status.ERROR, message=ctx.metric_error)
        return _metric_check(ctx.metric_info, self.limit)

    def explain(self) -> str:
        """One sentence giving the lowest allowed best metric."""
        return (
            f"Fails when the best validation metric is below {self.limit:g} "
            "(above it for a lower-is-better metric)."
        )


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
    return upper_check("min_best_metric", title, best, limit, f"best {key}", "no finite values")
