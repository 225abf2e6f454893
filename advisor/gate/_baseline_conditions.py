"""Baseline conditions: one per measure of a baseline fingerprint (``_fingerprint``).

A measure fails only when the run is worse than the baseline mean beyond its run-to-run
spread and curve noise (a one-sided prediction interval, ``k`` from ``gate_k``); a diagnostic
measure (gap, rise) only WARNs when the run is better on the primary measure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from advisor.gate._conditions import Condition, GateContext
from advisor.gate._fingerprint import DEFAULT_FALSE_ALARM, MEASURES, gate_k, legacy_measures
from advisor.gate._report import CheckResult, Status

__all__ = ["BASELINE_IDS", "BaselineCondition", "baseline_conditions"]


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
        """One sentence saying when this measure fails (the prediction interval and tolerance)."""
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
        """The scale a difference from the baseline mean is measured in.

        ``sqrt(std^2 (1 + 1/n) + noise^2 / m)`` from the baseline entry (the curve noise stands in
        for ``std`` below two baseline runs); the noise of ``cand``, the run's measure, is used when
        a version-1 baseline stored none. Never below a tiny fraction (1e-6) of the mean.
        """
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
        """Compare the run's measure with the baseline mean.

        Returns:
            FAIL when the run is worse by more than ``k`` spreads (plus the tolerance), WARN instead
            for a diagnostic measure when the run is better on the primary measure, else PASS; FAIL
            when the run does not log the series the baseline measured.
        """
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


def baseline_conditions(
    record: dict[str, Any], name: str | None, tol: float, false_alarm: float | None
) -> tuple[list[BaselineCondition], dict[str, Any], bool]:
    """The conditions comparing a run with a baseline record (single run or fingerprint), the
    measures and whether the record is legacy.
    """
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
