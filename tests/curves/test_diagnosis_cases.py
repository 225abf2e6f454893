"""The misses a new user met, one test each (issue: a fit diagnosis you can trust on unseen runs)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from advisor.curves import Curves, Series
from advisor.curves._diagnosis import diagnose_fit


def series(split, metric, values, *, key=None, mode="min", epochs=None):
    values = np.asarray(values, float)
    ep = np.arange(values.size, dtype=float) if epochs is None else np.asarray(epochs, float)
    return Series(split, metric, key or f"{split}_{metric}", ep, values, mode=mode)


def run(*parts, hparams=None):
    return Curves({(s.split, s.metric): s for s in parts}, "csv", hparams=hparams or {})


def noise(n, s, seed=0):
    return np.random.default_rng(seed).normal(0, s, n)


def test_nan_loss_at_every_epoch_with_accuracy_at_chance_is_diverging():
    n = 20
    curves = run(
        series("train", "loss", np.full(n, np.nan)),
        series("val", "loss", np.full(n, np.nan)),
        series("val", "accuracy", 0.1 + noise(n, 0.005), mode="max"),
    )
    fit = diagnose_fit(curves, classes=10)
    assert fit.verdict == "diverging" and fit.first_nonfinite_epoch == 0
    assert any("non-finite" in e for e in fit.evidence)
    assert any("provisional" in c for c in fit.caveats)


def test_nan_late_in_training_loss_names_the_first_nonfinite_epoch():
    e = np.arange(40)
    train = 2 * np.exp(-e / 8) + 0.1
    train[25:] = np.nan
    val = 2 * np.exp(-e / 8) + 0.2
    fit = diagnose_fit(run(series("train", "loss", train), series("val", "loss", val)))
    assert fit.verdict == "diverging" and fit.first_nonfinite_epoch == 25


def test_training_loss_all_nan_without_validation_is_diverging_not_an_error():
    fit = diagnose_fit(run(series("train", "loss", np.full(12, np.nan))))
    assert fit.verdict == "diverging" and fit.train_only


def test_over_regularised_plateau_is_underfitting_and_names_the_regularization():
    # Strong weight decay: both curves flat and together at 70 % of ln 10.
    e = np.arange(50)
    level = 0.7 * math.log(10)
    train = level + 0.6 * np.exp(-e / 3) + noise(50, 0.004, 1)
    val = level + 0.55 * np.exp(-e / 3) + noise(50, 0.004, 2) - 0.01
    curves = run(
        series("train", "loss", train), series("val", "loss", val), hparams={"weight_decay": 0.5}
    )
    fit = diagnose_fit(curves, classes=10)
    assert fit.verdict == "underfitting"
    assert any("weight_decay 0.5" in e for e in fit.evidence)
    assert fit.regularization["weight_decay"]["value"] == 0.5


def test_val_jumps_with_training_spikes_are_instability_not_overfitting():
    e = np.arange(80)
    train = 1.5 * np.exp(-e / 10) + 0.2 + noise(80, 0.005, 3)
    val = 1.5 * np.exp(-e / 10) + 0.3 + noise(80, 0.008, 4)
    for s in (45, 60, 72, 77):  # learning-rate spikes: training and validation jump together
        train[s] += 1.2
        val[s] += 1.5
    fit = diagnose_fit(run(series("train", "loss", train), series("val", "loss", val)))
    assert fit.verdict != "overfitting"
    assert fit.unstable_epochs and any("instability" in ev for ev in fit.evidence)


def test_large_gap_with_level_validation_is_mild_overfitting():
    # Small CNN, no regularization: train 0.001, validation levels off at 0.25.
    e = np.arange(60)
    train = 2.0 * np.exp(-e / 4) + 0.001
    val = 2.0 * np.exp(-e / 5) + 0.25 + noise(60, 0.004, 5)
    fit = diagnose_fit(run(series("train", "loss", train), series("val", "loss", val)))
    assert fit.verdict == "overfitting" and fit.severity == "mild"
    assert not any("no variance problem" in ev for ev in fit.evidence)


def test_small_rise_within_noise_is_not_overfitting():
    e = np.arange(100)
    train = 1.0 * np.exp(-e / 8) + 0.2
    val = 1.0 * np.exp(-e / 8) + 0.35 + noise(100, 0.03, 6)
    val[70:] += 0.004  # a rise far inside the noise
    fit = diagnose_fit(run(series("train", "loss", train), series("val", "loss", val)))
    assert fit.verdict != "overfitting"
    assert fit.severity is None


def test_clear_rise_is_strong_overfitting():
    e = np.arange(80)
    train = 2 * np.exp(-e / 8) + 0.05
    val = 2 * np.exp(-e / 8) + 0.4 + 0.01 * np.maximum(e - 25, 0) + noise(80, 0.01, 7)
    fit = diagnose_fit(run(series("train", "loss", train), series("val", "loss", val)))
    assert fit.verdict == "overfitting" and fit.severity == "strong"
    assert fit.onset_epoch is not None and 15 <= fit.onset_epoch <= 35


def test_multipart_loss_with_an_early_spike_still_falling_is_not_converged():
    e = np.arange(100)
    parts = []
    for name, level in (("box_loss", 1.2), ("cls_loss", 0.9), ("dfl_loss", 1.0)):
        v = level * (1.0 - 0.5 * e / 100) + noise(100, 0.005, len(parts))
        if name == "cls_loss":
            v[3] += 6.0  # one early spike
        parts.append(series("val", name, v, key=f"val/{name}"))
        parts.append(
            series("train", name, 0.9 * level * (1.0 - 0.6 * e / 100), key=f"train/{name}")
        )
    fit = diagnose_fit(run(*parts))
    assert fit.primary_key.count("+") == 2
    assert fit.verdict == "not_converged"


def test_stop_on_a_long_noisy_run_is_not_a_lucky_late_stretch():
    # 2,000 epochs whose validation loss swings widely around a flat level after epoch ~300.
    n = 2000
    e = np.arange(n)
    rng = np.random.default_rng(8)
    val = 0.9 + 1.5 * np.exp(-e / 100) + np.abs(rng.standard_t(2, n)) * 0.25
    val[1980:1990] = 0.35  # a lucky stretch near the end
    train = 0.5 + 1.5 * np.exp(-e / 100) + noise(n, 0.01, 9)
    fit = diagnose_fit(run(series("train", "loss", train), series("val", "loss", val)))
    assert fit.stop_epoch < 1000


def test_stop_is_the_earliest_epoch_within_noise_of_the_optimum():
    # 200 epochs: the raw minimum at 28 and a flat noisy level after it.
    e = np.arange(200)
    val = 0.5 + 1.5 * np.exp(-e / 6) + noise(200, 0.02, 10)
    train = 0.3 + 1.5 * np.exp(-e / 6)
    fit = diagnose_fit(run(series("train", "loss", train), series("val", "loss", val)))
    assert fit.stop_epoch <= 60


def test_loss_and_accuracy_disagree_stop_follows_accuracy_and_says_so():
    e = np.arange(30)
    val_loss = 0.8 + 0.02 * e + noise(30, 0.01, 11)  # lowest at epoch 0
    acc = 0.5 + 0.3 * (1 - np.exp(-e / 5)) + noise(30, 0.003, 12)  # climbs to ~15
    train = 0.8 * np.exp(-e / 5) + 0.05
    curves = run(
        series("train", "loss", train),
        series("val", "loss", val_loss),
        series("val", "accuracy", acc, mode="max"),
    )
    fit = diagnose_fit(curves)
    assert fit.stop_metric == "accuracy" and fit.stop_epoch >= 8
    assert any("disagree" in ev for ev in fit.evidence)
    by_loss = diagnose_fit(curves, metric="loss")
    assert by_loss.stop_epoch <= 3


@pytest.mark.parametrize("name", ["top1", "accuracy_top1", "metrics/accuracy_top1"])
def test_metric_names_are_found_by_normalised_name_or_key(name):
    e = np.arange(20)
    acc = 0.3 + 0.5 * (1 - np.exp(-e / 4))
    curves = run(
        series("train", "loss", np.exp(-e / 4)),
        series("val", "loss", np.exp(-e / 4) + 0.1),
        series("val", "top1", acc, key="metrics/accuracy_top1", mode="max"),
    )
    fit = diagnose_fit(curves, metric=name)
    assert fit.stop_key == "metrics/accuracy_top1"


def test_stop_is_the_best_logged_epoch_inside_the_window_not_outside_it():
    # A V-shaped validation loss with noise: the stop is the best logged point of the window
    # around the earliest near-optimal stretch, and a far lucky point (epoch 95) cannot pull it.
    e = np.arange(100)
    val = 0.5 + 0.004 * (e - 40) ** 2 / 40 + noise(100, 0.01, 13)
    val[95] = 0.2
    train = 1.5 * np.exp(-e / 10) + 0.05
    fit = diagnose_fit(run(series("train", "loss", train), series("val", "loss", val)))
    i = fit.stop_index
    assert 25 <= i <= 45
    assert val[i] <= min(val[i - 1], val[i + 1])  # a logged best, not a point on a slope
    assert any("best logged" in ev for ev in fit.evidence)


def test_a_still_improving_run_is_told_to_train_on_not_to_stop_earlier():
    # A long, slow, noisy descent: the earliest stretch within noise of the best lies ~25
    # epochs before the end, but the run is still improving, so the stop is its last epoch.
    e = np.arange(1500)
    val = 1.0 - 1e-4 * e + noise(1500, 0.02, 14)
    train = 0.9 - 1.2e-4 * e
    fit = diagnose_fit(run(series("train", "loss", train), series("val", "loss", val)))
    assert fit.verdict == "not_converged"
    assert fit.stop_index == 1499
    assert any("still improving" in ev and "train longer" in ev for ev in fit.evidence)
