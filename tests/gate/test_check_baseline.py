"""Baseline file: written atomically, read back, regressions found, bad files rejected."""

from __future__ import annotations

import json

import numpy as np
import pytest

from advisor.curves import Curves, Series
from advisor.errors import ConfigError
from advisor.gate import Status, baseline_from_fit, check, read_baseline, write_baseline

E = np.arange(40, dtype=float)


def make(level: float, acc_top: float = 0.9) -> Curves:
    val = level + 2 * np.exp(-E / 5)
    return Curves(
        {
            ("train", "loss"): Series("train", "loss", "train_loss", E, val - 0.05),
            ("val", "loss"): Series("val", "loss", "val_loss", E, val),
            ("val", "accuracy"): Series(
                "val", "accuracy", "val_acc", E, acc_top - 0.4 * np.exp(-E / 5), mode="max"
            ),
        },
        "csv",
    )


@pytest.fixture()
def baseline_file(tmp_path):
    report = check(make(0.3))
    record = baseline_from_fit(report.fit, metric=report.measurements["metric"], source="run.csv")
    return write_baseline(tmp_path / "advisor-baseline.json", record)


def test_written_baseline_is_valid_json_with_the_measured_values(baseline_file):
    data = json.loads(baseline_file.read_text())
    assert data["advisor_baseline"] == 1 and data["primary"] == "val_loss"
    assert data["best_val"] == pytest.approx(0.3, abs=0.01)
    assert data["metric"]["key"] == "val_acc"
    assert read_baseline(baseline_file) == data
    assert not list(baseline_file.parent.glob(".*tmp"))  # no temporary file left behind


def test_same_run_passes_baseline(baseline_file):
    report = check(make(0.3), baseline=baseline_file)
    statuses = {r.id: r.status for r in report.results}
    assert statuses["baseline.best_val"] is Status.PASS
    assert statuses["baseline.gap"] is Status.PASS
    assert statuses["baseline.best_metric"] is Status.PASS
    assert report.exit_code == 0


def test_worse_loss_is_a_regression(baseline_file):
    report = check(make(0.4), baseline=baseline_file)
    assert {r.id: r.status for r in report.results}["baseline.best_val"] is Status.FAIL
    assert report.exit_code == 1


def test_worse_metric_is_a_regression_and_tolerance_widens(baseline_file):
    report = check(make(0.3, acc_top=0.8), baseline=baseline_file)
    assert {r.id: r.status for r in report.results}["baseline.best_metric"] is Status.FAIL
    loose = check(make(0.3, acc_top=0.8), baseline=baseline_file, baseline_tolerance=0.2)
    assert {r.id: r.status for r in loose.results}["baseline.best_metric"] is Status.PASS


def test_missing_and_malformed_baseline(tmp_path):
    with pytest.raises(ConfigError, match="baseline file not found.*--update-baseline"):
        read_baseline(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_baseline(bad)
    bad.write_text('{"hello": 1}')
    with pytest.raises(ConfigError, match="not an advisor baseline"):
        read_baseline(bad)


def test_baseline_series_matched_by_normalised_name(baseline_file):
    data = json.loads(baseline_file.read_text())
    data["primary"] = "eval_loss"  # the same (val, loss) series under another logged name
    report = check(make(0.3), baseline=data)
    assert {r.id: r.status for r in report.results}["baseline.best_val"] is Status.PASS
    data["primary"] = "val_f1"  # a series this run does not log: FAIL, not a silent pass
    report = check(make(0.3), baseline=data)
    result = next(r for r in report.results if r.id == "baseline.best_val")
    assert (
        result.status is Status.FAIL
        and "'val_f1'" in result.message
        and "val_loss" in result.message
    )
