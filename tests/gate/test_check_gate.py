"""Conditions of the CI gate on curves built in memory: each condition passes, warns and fails."""

from __future__ import annotations

import numpy as np
import pytest

from advisor.curves import Curves, Series
from advisor.errors import ConfigError
from advisor.gate import CheckReport, Status, check

E = np.arange(60, dtype=float)
RNG = np.random.default_rng(0)
TRAIN = 2 * np.exp(-E / 10) + 0.05 + RNG.normal(0, 0.005, 60)
GOOD = 0.12 + 2 * np.exp(-E / 5) + RNG.normal(0, 0.01, 60)
OVER = 0.5 + 2 * np.exp(-E / 8) + 0.004 * np.maximum(E - 20, 0) ** 1.3 + RNG.normal(0, 0.02, 60)
ACC = 0.5 + 0.4 * (1 - np.exp(-E / 8))


def make(val, train=TRAIN, acc=ACC) -> Curves:
    s = {
        ("train", "loss"): Series("train", "loss", "train_loss", E, train),
        ("val", "loss"): Series("val", "loss", "val_loss", E, val),
    }
    if acc is not None:
        s[("val", "accuracy")] = Series("val", "accuracy", "val_acc", E, acc, mode="max")
    return Curves(s, "csv")


def by_id(report: CheckReport) -> dict[str, Status]:
    return {r.id: r.status for r in report.results}


def test_good_run_passes_default_gate():
    report = check(make(GOOD))
    assert by_id(report) == {"verdict": Status.PASS}
    assert report.exit_code == 0 and report.passed


def test_overfitting_fails_default_gate():
    report = check(make(OVER))
    assert by_id(report)["verdict"] is Status.FAIL
    assert report.exit_code == 1


def test_fail_on_none_and_custom_verdicts():
    assert check(make(OVER), fail_on="none").exit_code == 0
    assert check(make(GOOD), fail_on=["good_fit"]).exit_code == 1
    assert check(make(GOOD), fail_on="underfitting,good_fit").exit_code == 1


def test_unknown_verdict_is_config_error():
    with pytest.raises(ConfigError, match="fail_on of advisor check must name verdicts.*'overfit'"):
        check(make(GOOD), fail_on=["overfit"])


def test_max_gap_pass_warn_fail():
    gap = check(make(GOOD), max_gap=10.0).fit.gap["end_abs"]
    assert by_id(check(make(GOOD), max_gap=gap * 2))["max_gap"] is Status.PASS
    assert by_id(check(make(GOOD), max_gap=gap * 1.05))["max_gap"] is Status.WARN
    report = check(make(GOOD), max_gap=gap * 0.5)
    assert by_id(report)["max_gap"] is Status.FAIL and report.exit_code == 1


def test_max_rel_gap():
    assert by_id(check(make(OVER), fail_on="none", max_rel_gap=0.5))["max_rel_gap"] is Status.FAIL
    assert by_id(check(make(OVER), fail_on="none", max_rel_gap=1e6))["max_rel_gap"] is Status.PASS


def test_max_val_rise():
    report = check(make(OVER), fail_on="none", max_val_rise=0.05)
    result = next(r for r in report.results if r.id == "max_val_rise")
    assert result.status is Status.FAIL and result.measured > 0.05
    assert by_id(check(make(GOOD), max_val_rise=0.05))["max_val_rise"] is Status.PASS


def test_gap_without_train_is_warn_not_measured():
    curves = Curves({("val", "loss"): Series("val", "loss", "val_loss", E, GOOD)}, "csv")
    report = check(curves, max_gap=0.1)
    result = next(r for r in report.results if r.id == "max_gap")
    assert result.status is Status.WARN and "not measured" in result.message
    assert report.exit_code == 0


def test_min_best_metric():
    assert by_id(check(make(GOOD), min_best_metric=0.8))["min_best_metric"] is Status.PASS
    report = check(make(GOOD), min_best_metric=0.95)
    assert by_id(report)["min_best_metric"] is Status.FAIL
    assert report.measurements["metric"]["key"] == "val_acc"


def test_min_best_metric_without_metric_warns_and_bad_name_errors():
    assert by_id(check(make(GOOD, acc=None), min_best_metric=0.5))["min_best_metric"] is Status.WARN
    report = check(make(GOOD), min_best_metric=0.5, metric="f1")
    assert by_id(report)["min_best_metric"] is Status.ERROR
    assert report.exit_code == 1


def test_bad_threshold_is_config_error():
    with pytest.raises(ConfigError, match="max_gap of advisor check must be a number, got 'big'"):
        check(make(GOOD), max_gap="big")
    with pytest.raises(ConfigError, match="baseline_tolerance"):
        check(make(GOOD), baseline_tolerance=-1)


def test_to_dict_has_checks_and_exit_code():
    d = check(make(OVER), max_gap=0.1).to_dict()
    assert d["exit_code"] == 1 and d["passed"] is False
    assert {c["id"] for c in d["checks"]} == {"verdict", "max_gap"}
    assert d["fit"]["verdict"] == "overfitting"


def test_advisor_check_is_the_gate_function_even_after_importing_the_subpackage():
    import advisor
    import advisor.gate

    assert advisor.check(make(GOOD)).exit_code == 0
