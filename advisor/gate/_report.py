"""The gate's results: ``Status``, one ``CheckResult`` per check, the ``CheckReport``.

The report owns the exit code (0 when nothing FAILed or ERRORed, else 1); renderers (text,
json, github, junit, sarif in ``_render``; HTML and Markdown in ``advisor.report``) only read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from advisor._display import Displayable

__all__ = ["CheckReport", "CheckResult", "Status"]


class Status(StrEnum):
    """The outcome of one check: ``PASS``, ``WARN`` (reported, exit 0), ``FAIL`` (exit 1) or
    ``ERROR`` (the check could not be evaluated).

    Example:
        >>> Status.FAIL == "FAIL"
        True
    """

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
        """The check as a JSON-ready dict (an item of ``checks`` in the JSON report)."""
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
        """1 when a check FAILed or ERRORed, else 0."""
        return 1 if any(r.status in (Status.FAIL, Status.ERROR) for r in self.results) else 0

    @property
    def passed(self) -> bool:
        """Whether no check FAILed or ERRORed (``exit_code`` is 0)."""
        return self.exit_code == 0

    def counts(self) -> dict[str, int]:
        """How many checks ended in each status: ``{"PASS": n, "WARN": n, "FAIL": n, ...}``."""
        out = {s.value: 0 for s in Status}
        for r in self.results:
            out[r.status.value] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (the object of ``advisor check --format json``)."""
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

        yield from text_renderables(self, width=options.max_width)
