"""Renderers of the CI gate: text, json, github annotations + step summary, junit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from advisor.curves import Curves, Series
from advisor.errors import ConfigError
from advisor.gate import check, render, render_github, render_json, render_junit, render_text

E = np.arange(60, dtype=float)
OVER = 0.5 + 2 * np.exp(-E / 8) + 0.004 * np.maximum(E - 20, 0) ** 1.3


@pytest.fixture()
def failing():
    curves = Curves(
        {
            ("train", "loss"): Series("train", "loss", "train_loss", E, 2 * np.exp(-E / 10) + 0.05),
            ("val", "loss"): Series("val", "loss", "val_loss", E, OVER),
        },
        "csv",
        source=None,
    )
    report = check(curves, max_gap=10.0, max_val_rise=0.01)
    report.source = "runs/v0/metrics.csv"
    return report


def test_text_lists_every_check_with_status(failing):
    text = render_text(failing)
    assert "fit verdict" in text and "FAIL" in text and "PASS" in text
    assert "FAILED" in text and "exit 1" in text


def test_json_is_one_object(failing):
    data = json.loads(render_json(failing))
    assert data["exit_code"] == 1
    assert [c["status"] for c in data["checks"]] == ["FAIL", "PASS", "FAIL"]


def test_github_annotations_and_summary(failing, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = render_github(failing)
    lines = out.splitlines()
    errors = [line for line in lines if line.startswith("::error ")]
    assert len(errors) == 2
    assert all(
        line.startswith("::error file=runs/v0/metrics.csv,title=advisor check%3A ")
        for line in errors
    )
    assert lines[-1].startswith("::notice file=runs/v0/metrics.csv,title=advisor check::FAILED")
    md = summary.read_text()
    assert md.startswith("### advisor check FAILED") and "| fit verdict | ❌ FAIL |" in md
    render_github(failing)  # appends, as GitHub expects from several steps
    assert summary.read_text().count("### advisor check") == 2


def test_github_without_summary_env_writes_nothing(failing, monkeypatch, tmp_path):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.chdir(tmp_path)
    render_github(failing)
    assert list(tmp_path.iterdir()) == []


def test_github_escapes_newlines_and_percent(failing):
    failing.results[0].message = "50% worse\nsecond line"
    out = render_github(failing)
    assert "50%25 worse%0Asecond line" in out


def test_junit_is_valid_xml_with_failures(failing):
    root = ET.fromstring(render_junit(failing).split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "2" and suite.get("errors") == "0"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["verdict", "max_gap", "max_val_rise"]
    assert cases[0].find("failure") is not None and cases[1].find("failure") is None


def test_render_dispatch_and_bad_format(failing):
    assert render(failing, "json").startswith("{")
    with pytest.raises(ConfigError, match="format of advisor check must be one of"):
        render(failing, "xml")


def test_sarif_is_valid_sarif_2_1_0(failing):
    """Validated against a reduced, hand-written SARIF 2.1.0 schema (tests/data/schemas/)."""
    jsonschema = pytest.importorskip("jsonschema")
    from pathlib import Path

    schema_path = (
        Path(__file__).resolve().parents[1] / "data" / "schemas" / "sarif-2.1.0-reduced.schema.json"
    )
    schema = json.loads(schema_path.read_text())
    failing.results[1].status = failing.results[1].status.__class__.WARN
    log = json.loads(render(failing, "sarif"))
    jsonschema.validate(log, schema)
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "advisor" and driver["version"]
    assert [r["id"] for r in driver["rules"]] == ["verdict", "max_gap", "max_val_rise"]
    assert all(r["fullDescription"]["text"] for r in driver["rules"])
    results = log["runs"][0]["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("verdict", "error"),
        ("max_gap", "warning"),
        ("max_val_rise", "error"),
    ]
    loc = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert loc == "runs/v0/metrics.csv"
    assert results[0]["message"]["text"].startswith("FAIL fit verdict")
    # A misspelt property is caught by the schema.
    bad = json.loads(render(failing, "sarif"))
    bad["runs"][0]["results"][0]["levle"] = "error"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_sarif_of_a_passing_run_has_no_results(failing):
    for r in failing.results:
        r.status = r.status.__class__.PASS
    log = json.loads(render(failing, "sarif"))
    assert log["runs"][0]["results"] == []
