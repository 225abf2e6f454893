"""Renderers of a ``CheckReport``: text (rich), json, github (annotations + step summary), junit.

They only read the report; none decides anything. GitHub workflow commands follow
https://docs.github.com/actions/reference/workflow-commands-for-github-actions (``::error
file=...,title=...::message``; ``%``, CR and LF escaped in the message, ``,`` and ``:`` too in
properties). JUnit XML follows the common Jenkins/GitLab schema: one ``testsuite`` whose
``testcase`` elements carry ``failure`` (FAIL), ``error`` (ERROR) or pass. SARIF follows
the OASIS SARIF 2.1.0 standard (https://docs.oasis-open.org/sarif/sarif/v2.1.0/): one ``run``
whose ``tool.driver.rules`` are the gate's conditions, one ``result`` per WARN/FAIL/ERROR.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from advisor.gate._gate import CheckReport, Status

__all__ = [
    "render",
    "render_github",
    "render_json",
    "render_junit",
    "render_sarif",
    "render_text",
    "text_renderables",
]

FORMATS = ("text", "json", "github", "junit", "sarif")
_STYLE = {
    Status.PASS: "green",
    Status.WARN: "yellow",
    Status.FAIL: "bold red",
    Status.ERROR: "bold magenta",
}


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def text_renderables(report: CheckReport, *, width: int = 120):
    """The gate report as rich renderables: one table row per check, then the notes.

    ``width`` is the console's: a long source path loses leading folders, not its file name.
    """
    from rich.table import Table
    from rich.text import Text

    from advisor._terminal import fit_path

    source = fit_path(str(report.source), max(width - 16, 12)) if report.source else "curves"
    table = Table(title=f"advisor check - {source}", title_justify="left")
    table.add_column("check")
    table.add_column("status", no_wrap=True)
    table.add_column("measured", justify="right")
    table.add_column("threshold", justify="right")
    table.add_column("detail", overflow="fold")
    for r in report.results:
        table.add_row(
            r.title,
            Text(r.status.value, style=_STYLE[r.status]),
            _fmt(r.measured),
            _fmt(r.threshold),
            r.message,
        )
    yield table
    for note in report.notes:
        yield Text(f"note: {note}", style="dim")
    c = report.counts()
    summary = Text()
    summary.append(
        "PASSED" if report.passed else "FAILED", style="bold green" if report.passed else "bold red"
    )
    summary.append(
        f"  {c['PASS']} pass, {c['WARN']} warn, {c['FAIL']} fail, {c['ERROR']} error  (exit {report.exit_code})"
    )
    yield summary


def render_text(report: CheckReport, *, width: int = 120) -> str:
    """The text report as a plain string (no colour)."""
    from rich.console import Console

    console = Console(width=width, record=True, color_system=None, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(report)
    return console.export_text()


def render_json(report: CheckReport) -> str:
    """The report as one JSON object (``report.to_dict()``; NaN written as ``null``).

    Example:
        >>> text = render_json(report)  # doctest: +SKIP
        >>> json.loads(text)["exit_code"]  # doctest: +SKIP
        0
    """
    from advisor._jsonutil import dumps

    return dumps(report.to_dict())


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def github_summary_markdown(report: CheckReport) -> str:
    """The markdown table written to ``$GITHUB_STEP_SUMMARY``."""
    icon = {Status.PASS: "✅", Status.WARN: "⚠️", Status.FAIL: "❌", Status.ERROR: "💥"}
    head = "passed" if report.passed else "FAILED"
    lines = [
        f"### advisor check {head}: `{report.source or 'curves'}`",
        "",
        "| check | status | measured | threshold | detail |",
        "|---|---|---|---|---|",
    ]
    for r in report.results:
        detail = r.message.replace("|", "\\|")
        lines.append(
            f"| {r.title} | {icon[r.status]} {r.status.value} | {_fmt(r.measured)} | {_fmt(r.threshold)} | {detail} |"
        )
    if report.fit is not None:
        lines += [
            "",
            f"Fit verdict: **{report.fit.verdict}** (confidence {report.fit.confidence:.2f})",
            "",
        ]
        lines += [f"- {e}" for e in report.fit.evidence]
    return "\n".join(lines) + "\n"


def render_github(report: CheckReport, *, summary_path: str | Path | None = None) -> str:
    """Workflow-command annotations (one per non-passing check, plus a notice) as a string.

    The markdown summary is appended to ``summary_path`` (default: ``$GITHUB_STEP_SUMMARY``
    when set), as GitHub expects several steps to add to the same file.
    """
    file_prop = f"file={_escape_prop(report.source)}," if report.source else ""
    lines = []
    for r in report.results:
        kind = {Status.FAIL: "error", Status.ERROR: "error", Status.WARN: "warning"}.get(r.status)
        if kind is None:
            continue
        title = _escape_prop(f"advisor check: {r.title}")
        lines.append(
            f"::{kind} {file_prop}title={title}::{_escape_data(f'{r.status.value} {r.message}')}"
        )
    c = report.counts()
    verdict = f"; fit {report.fit.verdict}" if report.fit is not None else ""
    lines.append(
        f"::notice {file_prop}title=advisor check::"
        + _escape_data(
            f"{'passed' if report.passed else 'FAILED'}: {c['PASS']} pass, {c['WARN']} warn, "
            f"{c['FAIL']} fail, {c['ERROR']} error{verdict}"
        )
    )
    target = summary_path if summary_path is not None else os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(github_summary_markdown(report))
    return "\n".join(lines)


def render_junit(report: CheckReport) -> str:
    """JUnit XML: one testsuite 'advisor check', one testcase per check."""
    c = report.counts()
    suite = ET.Element(
        "testsuite",
        name="advisor check",
        tests=str(len(report.results)),
        failures=str(c["FAIL"]),
        errors=str(c["ERROR"]),
        skipped="0",
    )
    classname = f"advisor.check.{Path(report.source).name if report.source else 'curves'}"
    for r in report.results:
        case = ET.SubElement(suite, "testcase", classname=classname, name=r.id)
        text = f"{r.title}: measured {_fmt(r.measured)}, threshold {_fmt(r.threshold)}. {r.message}"
        if r.status is Status.FAIL:
            ET.SubElement(case, "failure", message=r.message, type="advisor.check.FAIL").text = text
        elif r.status is Status.ERROR:
            ET.SubElement(case, "error", message=r.message, type="advisor.check.ERROR").text = text
        else:
            ET.SubElement(case, "system-out").text = f"{r.status.value}: {text}"
    suites = ET.Element(
        "testsuites",
        name="advisor",
        tests=suite.get("tests"),
        failures=suite.get("failures"),
        errors=suite.get("errors"),
    )
    suites.append(suite)
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {Status.FAIL: "error", Status.ERROR: "error", Status.WARN: "warning"}


def _advisor_version() -> str:
    try:
        from importlib.metadata import version

        return version("advisor")
    except Exception:
        return "0+unknown"


def _artifact_uri(source: str) -> str:
    """A relative path as a URI reference (forward slashes), an absolute one as ``file://``."""
    p = Path(source)
    if p.is_absolute():
        try:
            return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
        except ValueError:
            return p.as_uri()
    return p.as_posix()


def render_sarif(report: CheckReport) -> str:
    """SARIF 2.1.0 log for code-scanning annotations (GitHub ``upload-sarif`` and others).

    One run; ``tool.driver.rules`` are the gate's conditions (id, name, description); one
    result per WARN (level ``warning``), FAIL or ERROR (``error``), located at the checked log.
    """
    rules = []
    index: dict[str, int] = {}
    for cond in report.conditions or [{"id": r.id, "name": r.title} for r in report.results]:
        if cond["id"] in index:
            continue
        index[cond["id"]] = len(rules)
        desc = cond.get("description") or cond.get("name") or cond["id"]
        rules.append(
            {
                "id": cond["id"],
                "name": cond.get("name") or cond["id"],
                "shortDescription": {"text": cond.get("name") or cond["id"]},
                "fullDescription": {"text": desc},
                "defaultConfiguration": {"level": "error"},
            }
        )
    results = []
    for r in report.results:
        level = _SARIF_LEVEL.get(r.status)
        if level is None:
            continue
        if r.id not in index:
            index[r.id] = len(rules)
            rules.append({"id": r.id, "name": r.title, "shortDescription": {"text": r.title}})
        res: dict[str, Any] = {
            "ruleId": r.id,
            "ruleIndex": index[r.id],
            "level": level,
            "message": {"text": f"{r.status.value} {r.title}: {r.message}"},
            "properties": {
                "status": r.status.value,
                "measured": r.measured,
                "threshold": r.threshold,
            },
        }
        if report.source:
            res["locations"] = [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _artifact_uri(report.source)},
                        "region": {"startLine": 1},
                    }
                }
            ]
        results.append(res)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "advisor",
                "version": _advisor_version(),
                "rules": rules,
            }
        },
        "results": results,
        "properties": {
            "passed": report.passed,
            "exitCode": report.exit_code,
            "counts": report.counts(),
        },
    }
    if report.source:
        run["artifacts"] = [{"location": {"uri": _artifact_uri(report.source)}}]
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    from advisor._jsonutil import to_jsonable

    return json.dumps(to_jsonable(log), indent=2, allow_nan=False)


def render(report: CheckReport, fmt: str = "text") -> str:
    """Render ``report`` in one of text, json, github, junit, sarif."""
    if fmt == "text":
        return render_text(report)
    if fmt == "json":
        return render_json(report)
    if fmt == "github":
        return render_github(report)
    if fmt == "junit":
        return render_junit(report)
    if fmt == "sarif":
        return render_sarif(report)
    from advisor.errors import ConfigError

    raise ConfigError(f"format of advisor check must be one of {', '.join(FORMATS)}, got {fmt!r}.")
