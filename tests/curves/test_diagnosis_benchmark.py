"""Floors under the diagnosis benchmark (benchmarks/bench_diagnosis.py), so a regression fails.

The figures are measured on the held-out TEST part of the labelled corpus (datasets no
threshold was tuned on) and on the public logs against the hand-written labels; each floor sits
a little under the figure measured when the thresholds were last set (README, "Diagnosing the
fit", benchmark table).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import diagnosis_eval as ev  # noqa: E402

# Measured figures minus a small margin (see the module docstring).
# Measured (2-core CPU): test-part accuracy 0.907, ECE 0.054, median regret 0.013 (the issue's
# target is 0.025); public logs 0.879.
TEST_ACCURACY_FLOOR = 0.88
TEST_ECE_CEILING = 0.08
TEST_REGRET_CEILING = 0.02
REAL_ACCURACY_FLOOR = 0.85


@pytest.fixture(scope="module")
def test_part():
    if not (ev.CORPUS / "labels.jsonl").exists():
        pytest.skip("no corpus (benchmarks/corpus/labels.jsonl)")
    runs = ev.corpus_runs("test")
    return runs, [ev.diagnose_run(r) for r in runs]


@pytest.mark.slow
def test_verdicts_on_the_held_out_test_part(test_part):
    _runs, outcomes = test_part
    s = ev.score(outcomes)
    assert s["n"] >= 80
    assert s["accuracy"] >= TEST_ACCURACY_FLOOR, s["per_label"]
    assert s["ece"] <= TEST_ECE_CEILING
    assert s["regret_median"] <= TEST_REGRET_CEILING


@pytest.mark.slow
def test_no_harmful_verdicts_on_non_finite_runs(test_part):
    runs, outcomes = test_part
    for run, out in zip(runs, outcomes):
        if run.get("first_nonfinite_epoch") is not None:
            assert out.verdict not in ("underfitting", "good_fit"), run["id"]


@pytest.mark.slow
def test_agreement_with_hand_labels_on_public_logs(real_curves_dir):
    labels = ev.real_labels()
    if not labels:
        pytest.skip("no benchmarks/real_labels.toml")
    s = ev.score([ev.diagnose_real(e, real_curves_dir) for e in labels])
    assert s["n"] >= 150
    assert s["accuracy"] >= REAL_ACCURACY_FLOOR
