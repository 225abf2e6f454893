"""The gate as a statistician tests it, on real runs committed under tests/data/gate/digits/.

``benchmarks/bench_gate.py`` trained them (MLP on scikit-learn's digits, 30 epochs, dropout 0.3,
AdamW weight decay 0.1; seeds in the file names). Here the rates are re-checked from the files,
without training: the fingerprint of the 20 baseline seeds passes >= 19 of 20 new seeds of the
same configuration and fails >= 19 of 20 runs of each real regression.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.curves import load_curves
from advisor.gate import check, fingerprint_from_runs

DATA = Path(__file__).resolve().parents[1] / "data" / "gate" / "digits"
REGRESSIONS = ("no_dropout", "no_regularisation", "half_data")


def runs(group: str):
    files = sorted((DATA / group).glob("seed*.csv"))
    assert len(files) == 20, f"{group}: expected 20 committed runs, found {len(files)}"
    return [load_curves(p) for p in files]


@pytest.fixture(scope="module")
def fingerprint():
    return fingerprint_from_runs(runs("baseline"))


def failures(fp, group: str) -> int:
    return sum(check(c, baseline=fp, fail_on="none").exit_code != 0 for c in runs(group))


def test_fingerprint_of_20_seeds(fingerprint):
    assert fingerprint["n_runs"] == 20
    assert fingerprint["measures"]["best_val"]["n"] == 20
    assert fingerprint["measures"]["best_val"]["key"] == "val_loss"


def test_same_configuration_passes_at_least_19_of_20(fingerprint):
    assert failures(fingerprint, "candidate") <= 1


@pytest.mark.parametrize("group", REGRESSIONS)
def test_each_regression_fails_at_least_19_of_20(fingerprint, group):
    assert failures(fingerprint, group) >= 19


def test_single_run_fingerprint_false_alarm_rate_is_at_most_1_in_20():
    singles = [fingerprint_from_runs([c]) for c in runs("baseline")[:5]]
    candidates = runs("candidate")
    alarms = sum(
        check(c, baseline=s, fail_on="none").exit_code != 0 for s in singles for c in candidates
    )
    assert alarms <= 0.05 * len(singles) * len(candidates)
