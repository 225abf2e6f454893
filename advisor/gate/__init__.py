"""The CI gate: measure a run, compare it with conditions and a committed baseline.

A check measures one value; its condition compares it with a threshold; each result is
PASS, WARN, FAIL or ERROR (a check that raised becomes ERROR, it does not crash the gate).
The ``CheckReport`` owns the exit code (0 all hold, 1 a condition failed); renderers for
text, json, github and junit are separate from the results (``advisor.gate._render``).

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
from advisor.gate._gate import DEFAULT_FAIL_ON, CheckReport, CheckResult, Status, check
from advisor.gate._render import render, render_github, render_json, render_junit, render_text

__all__ = [
    "BASELINE_VERSION",
    "DEFAULT_FAIL_ON",
    "CheckReport",
    "CheckResult",
    "Status",
    "baseline_from_fit",
    "check",
    "read_baseline",
    "render",
    "render_github",
    "render_json",
    "render_junit",
    "render_text",
    "write_baseline",
]
