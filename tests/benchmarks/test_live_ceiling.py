"""The live-warning ceiling (benchmarks/bench_live_ceiling.py): its detectors and its counting."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_live_ceiling as ceiling  # noqa: E402

from advisor.curves import Curves, Series  # noqa: E402


def _curves(val, train):
    e = np.arange(len(val), dtype=float)
    return Curves(
        {
            ("val", "loss"): Series("val", "loss", "val_loss", e, np.asarray(val, float)),
            ("train", "loss"): Series("train", "loss", "train_loss", e, np.asarray(train, float)),
        },
        "csv",
    )


def test_statistics_see_a_clear_rise_and_not_a_flat_noisy_curve():
    rng = np.random.default_rng(0)
    e = np.arange(40)
    train = np.exp(-e / 8)
    rising = 0.5 + 0.02 * np.maximum(e - 20, 0) + rng.normal(0, 0.002, 40)
    flat = 0.5 + rng.normal(0, 0.01, 40)
    _, up = ceiling.statistics(_curves(rising, train))
    _, level = ceiling.statistics(_curves(flat, train))
    assert np.nanmax(up["slope 6"][30:]) > 8 and np.nanmax(up["level 3"][30:]) > 8
    assert np.nanmax(level["slope 6"]) < 8


def test_sweep_counts_timely_and_false_warnings():
    ep = np.arange(30, dtype=float)

    def run(label, onset, stat):
        return ceiling.Run("dev", label, label, onset, ep, {"s": np.asarray(stat, float)})

    fires_at_12 = np.where(ep >= 12, 10.0, 0.0)
    fires_at_25 = np.where(ep >= 25, 10.0, 0.0)
    quiet = np.zeros(30)
    runs = [
        run("overfitting", 10.0, fires_at_12),  # within 5 epochs: timely
        run("overfitting", 10.0, fires_at_25),  # 15 epochs late
        run("good_fit", None, quiet),
        run("good_fit", None, fires_at_25),  # a false warning
    ]
    best, most = ceiling.sweep(runs, "s")
    # every threshold that warns at all gives a false warning on 1 good run in 2 (50 % > 5 %)
    assert best is not None and best[1] == 0.0 and best[2] == 0.0
    assert most[1] == pytest.approx(0.5) and most[2] == pytest.approx(0.5)
    assert ceiling.first_warning(runs[0], "s", 5.0) == 12.0
    assert ceiling.first_warning(runs[2], "s", 5.0) is None
