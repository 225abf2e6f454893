"""The CI gate: measure a run, compare it with conditions and a committed baseline.

A check measures one value; its condition compares it with a threshold; each result is
PASS, WARN, FAIL or ERROR (a check that raised becomes ERROR, it does not crash the gate).
The ``CheckReport`` owns the exit code (0 all hold, 1 a condition failed); renderers for
text, json, github, junit and sarif are separate from the results (``render``).
Each condition is a small object (``Condition``: id, name, measure, ``evaluate``, ``explain``).
Modules: ``_gate`` (``check``), ``_report`` (results, exit code), ``_conditions`` and
``_baseline_conditions``, ``_fingerprint`` (measures and the noise-aware test), ``_baseline``
(the file), ``_render``.
A baseline is the fingerprint of one or several runs of a configuration
(``fingerprint_from_runs``): a measure fails only when the run is
worse than the baseline beyond its run-to-run spread and curve noise.

Example:
    >>> import advisor
    >>> report = advisor.check("metrics.csv", max_gap=0.3)   # doctest: +SKIP
    >>> report.exit_code                                     # doctest: +SKIP
    0
"""

from __future__ import annotations

from advisor.gate._baseline import (
    BASELINE_VERSION,
    baseline_from_fit,
    read_baseline,
    write_baseline,
)
from advisor.gate._baseline_conditions import BaselineCondition
from advisor.gate._conditions import (
    DEFAULT_FAIL_ON,
    Condition,
    GateContext,
    LimitCondition,
    MinBestMetricCondition,
    VerdictCondition,
)
from advisor.gate._fingerprint import fingerprint_from_runs, measure_run
from advisor.gate._gate import check
from advisor.gate._render import (
    render,
    render_github,
    render_json,
    render_junit,
    render_sarif,
    render_text,
)
from advisor.gate._report import CheckReport, CheckResult, Status

__all__ = [
    "BASELINE_VERSION",
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
    "baseline_from_fit",
    "check",
    "fingerprint_from_runs",
    "measure_run",
    "read_baseline",
    "render",
    "render_github",
    "render_json",
    "render_junit",
    "render_sarif",
    "render_text",
    "write_baseline",
]
