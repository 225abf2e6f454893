"""The confidence table's fitting (benchmarks/calibrate_diagnosis.py): shrinkage and LODO scoring."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import calibrate_diagnosis as cal  # noqa: E402


def test_a_rule_seen_rarely_is_shrunk_towards_the_overall_accuracy():
    records = [("a", "common", 0.5, True)] * 90 + [("a", "common", 0.5, False)] * 10
    records += [("a", "rare", 0.5, False)] * 2
    table = cal.fit_table(records, weight=20.0, max_bins=1)
    prior = 90 / 102
    assert table["rare"]["accuracy"][0] == pytest.approx(20 * prior / 22, abs=1e-4)
    assert table["common"]["accuracy"][0] == pytest.approx((90 + 20 * prior) / 120, abs=1e-4)


def test_leave_one_dataset_out_never_scores_a_run_with_its_own_dataset():
    # Dataset "a" is always right and "b" always wrong: fitted on the other dataset alone,
    # every confidence points the wrong way, so the Brier score is far above in-sample's.
    records = [("a", "r", 0.5, True)] * 30 + [("b", "r", 0.5, False)] * 30
    lodo = cal.leave_one_dataset_out(records, weight=0.0, max_bins=1)
    assert lodo["brier"] > 0.9
    in_sample = cal.fit_table(records, weight=0.0, max_bins=1)
    assert cal.confidence_from(in_sample, "r", 0.5) == pytest.approx(0.5)


def test_the_held_out_part_is_refused(capsys):
    assert cal.main(["--parts", "dev,fresh"]) == 2
    assert "held out" in capsys.readouterr().err
