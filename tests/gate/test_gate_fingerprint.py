"""The noise-aware baseline: fingerprints of several runs, renamed series, better runs, old files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from advisor.curves import Curves, Series
from advisor.errors import ConfigError
from advisor.gate import Status, baseline_from_fit, check, fingerprint_from_runs, write_baseline
from advisor.gate._fingerprint import curve_noise, gate_k
from advisor.gate._student_t import t_quantile

E = np.arange(30, dtype=float)


def run(
    level: float = 0.1,
    *,
    seed: int = 0,
    noise: float = 0.004,
    acc_top: float = 0.97,
    gap: float = 0.05,
    keys: tuple[str, str, str] = ("train_loss", "val_loss", "val_acc"),
    acc: bool = True,
) -> Curves:
    rng = np.random.default_rng(seed)
    val = level + 2 * np.exp(-E / 4) + rng.normal(0, noise, E.size)
    train = level - gap + 2 * np.exp(-E / 4) + rng.normal(0, noise, E.size)
    s = {
        ("train", "loss"): Series("train", "loss", keys[0], E, train),
        ("val", "loss"): Series("val", "loss", keys[1], E, val),
    }
    if acc:
        a = acc_top - 0.5 * np.exp(-E / 4) + rng.normal(0, noise / 4, E.size)
        s[("val", "accuracy")] = Series("val", "accuracy", keys[2], E, a, mode="max")
    return Curves(s, "csv")


def by_id(report):
    return {r.id: r for r in report.results}


def test_fingerprint_of_several_runs_stores_mean_spread_and_noise():
    fp = fingerprint_from_runs([run(seed=s) for s in range(8)])
    assert fp["advisor_baseline"] == 2 and fp["n_runs"] == 8
    best = fp["measures"]["best_val"]
    assert best["split"] == "val" and best["metric"] == "loss" and best["key"] == "val_loss"
    assert best["n"] == 8 and len(best["values"]) == 8
    assert best["std"] == pytest.approx(np.std(best["values"], ddof=1))
    assert best["noise"] == pytest.approx(0.004, rel=0.5)  # MAD of second differences / sqrt(6)
    assert set(fp["measures"]) >= {
        "best_val",
        "final_val",
        "best_metric",
        "gap_end",
        "val_rise",
        "best_epoch",
    }
    # Version-1 keys are kept for old readers.
    assert fp["primary"] == "val_loss" and fp["metric"]["key"] == "val_acc"
    assert fp["test"]["measures_gated"] == 5
    assert fp["test"]["k"] == pytest.approx(gate_k(8, 5))


def test_single_run_fingerprint_uses_its_curve_noise_as_spread():
    fp = fingerprint_from_runs([run()])
    best = fp["measures"]["best_val"]
    assert best["n"] == 1 and best["std"] is None and best["noise"] > 0
    # k is the normal quantile at 1 - 0.05 / 5
    assert fp["test"]["k"] == pytest.approx(2.3263, abs=1e-3)


def test_same_configuration_passes_and_clear_regression_fails():
    fp = fingerprint_from_runs([run(seed=s) for s in range(10)])
    assert check(run(seed=99), baseline=fp).exit_code == 0
    worse = check(run(level=0.16, seed=98), baseline=fp)
    assert by_id(worse)["baseline.best_val"].status is Status.FAIL and worse.exit_code == 1


def test_renamed_columns_are_still_compared():
    """val_loss/val_acc baseline, valid_loss/val_accuracy run 3x worse: must fail (issue 1)."""
    fp = fingerprint_from_runs([run(seed=s) for s in range(5)])
    renamed = run(level=0.3, seed=7, keys=("train_loss", "valid_loss", "val_accuracy"), acc_top=0.8)
    report = check(renamed, baseline=fp, fail_on="none")
    res = by_id(report)
    assert res["baseline.best_val"].status is Status.FAIL
    assert res["baseline.best_metric"].status is Status.FAIL
    assert "baseline 'val_acc', this run 'val_accuracy'" in res["baseline.best_metric"].message
    assert report.exit_code == 1
    # ... and an equally good renamed run passes.
    same = run(seed=8, keys=("train_loss", "valid_loss", "val_accuracy"))
    assert check(same, baseline=fp).exit_code == 0


def test_series_missing_from_the_run_fails_naming_both():
    fp = fingerprint_from_runs([run(seed=s) for s in range(3)])
    report = check(run(seed=4, acc=False), baseline=fp)
    res = by_id(report)["baseline.best_metric"]
    assert res.status is Status.FAIL and report.exit_code == 1
    assert "'val_acc' (val accuracy)" in res.message and "no val accuracy" in res.message
    assert "val_loss" in res.message  # what the run does log


def test_old_baseline_file_is_read_and_renamed_series_compared(tmp_path):
    base = check(run(seed=1))
    record = baseline_from_fit(base.fit, metric=base.measurements["metric"], source="run.csv")
    assert record["advisor_baseline"] == 1
    path = write_baseline(tmp_path / "old.json", record)
    assert check(run(seed=2), baseline=path).exit_code == 0
    worse = run(level=0.3, seed=3, keys=("train_loss", "valid_loss", "val_accuracy"))
    report = check(worse, baseline=path, fail_on="none")
    assert by_id(report)["baseline.best_val"].status is Status.FAIL


def test_better_run_does_not_fail_on_a_wider_gap():
    """28 % better validation loss, higher accuracy, gap -0.028 -> +0.016: passes (issue 2)."""
    baseline = run(level=0.0348, gap=-0.028, noise=0.001, acc_top=0.985)
    better = run(level=0.025, gap=0.016, noise=0.001, acc_top=0.99, seed=5)
    fp = fingerprint_from_runs([baseline])
    report = check(better, baseline=fp)
    res = by_id(report)
    assert res["baseline.best_val"].status is Status.PASS
    assert res["baseline.gap"].status is Status.WARN
    assert "better on the primary measure" in res["baseline.gap"].message
    assert report.exit_code == 0
    # The same gap growth on a run that is not better on the primary measure fails.
    not_better = run(level=0.0348, gap=0.016, noise=0.001, acc_top=0.985, seed=6)
    assert by_id(check(not_better, baseline=fp))["baseline.gap"].status is Status.FAIL


def test_tolerance_adds_relative_slack():
    fp = fingerprint_from_runs([run(seed=s) for s in range(5)])
    worse = run(level=0.13, seed=9)
    assert by_id(check(worse, baseline=fp))["baseline.best_val"].status is Status.FAIL
    loose = check(worse, baseline=fp, baseline_tolerance=0.5)
    assert by_id(loose)["baseline.best_val"].status is Status.PASS


def test_runs_with_different_primary_series_are_refused():
    other = Curves(
        {
            ("val", "accuracy"): Series(
                "val", "accuracy", "val_acc", E, 0.9 - np.exp(-E), mode="max"
            )
        },
        "csv",
    )
    with pytest.raises(ConfigError, match="same validation series"):
        fingerprint_from_runs([run(), other])
    with pytest.raises(ConfigError, match="no runs"):
        fingerprint_from_runs([])


def test_conditions_are_small_objects_listed_in_the_report():
    fp = fingerprint_from_runs([run(seed=s) for s in range(3)])
    report = check(run(seed=3), baseline=fp, max_gap=1.0)
    ids = [c["id"] for c in report.conditions]
    assert ids[:2] == ["verdict", "max_gap"] and "baseline.final_val" in ids
    assert all(c["description"] for c in report.conditions)
    d = report.to_dict()
    assert d["conditions"] == report.conditions
    assert d["measurements"]["baseline_test"]["k"] == pytest.approx(fp["test"]["k"])
    json.dumps(d)


def test_t_quantile_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 3, 4, 9, 19, 100):
        for p in (0.95, 0.99, 0.995):
            assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=2e-3), (p, df)
    assert t_quantile(0.99, math.inf) == pytest.approx(stats.norm.ppf(0.99))


def test_curve_noise_is_robust_to_a_smooth_trend():
    rng = np.random.default_rng(3)
    x = np.linspace(0, 1, 200)
    assert curve_noise(5 * x**2) < 1e-9
    assert curve_noise(5 * x**2 + rng.normal(0, 0.1, 200)) == pytest.approx(0.1, rel=0.2)
