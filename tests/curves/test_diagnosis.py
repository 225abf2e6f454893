"""Unit tests of the fit diagnosis on curves built in memory (one regime per test)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from advisor.curves import Curves, Series
from advisor.curves._diagnosis import VERDICTS, FitDiagnosis, diagnose_fit
from advisor.errors import CurveFormatError
from advisor.report._fit_view import sparkline

E = np.arange(60, dtype=float)
RNG = np.random.default_rng(0)


def make(train=None, val=None, *, acc=None, train_acc=None, hparams=None, epochs=None) -> Curves:
    series = {}
    if train is not None:
        te = np.arange(len(train), dtype=float) if epochs is None else epochs[: len(train)]
        series[("train", "loss")] = Series(
            "train", "loss", "train_loss", te, np.asarray(train, float)
        )
    if val is not None:
        ve = np.arange(len(val), dtype=float) if epochs is None else epochs[: len(val)]
        series[("val", "loss")] = Series("val", "loss", "val_loss", ve, np.asarray(val, float))
    if acc is not None:
        series[("val", "accuracy")] = Series(
            "val",
            "accuracy",
            "val_acc",
            np.arange(len(acc), dtype=float),
            np.asarray(acc, float),
            mode="max",
        )
    if train_acc is not None:
        series[("train", "accuracy")] = Series(
            "train",
            "accuracy",
            "train_acc",
            np.arange(len(train_acc), dtype=float),
            np.asarray(train_acc, float),
            mode="max",
        )
    return Curves(series, "csv", hparams=hparams or {})


def noisy(x, s=0.01, seed=0):
    return x + np.random.default_rng(seed).normal(0, s, len(x))


TRAIN = noisy(2 * np.exp(-E / 10) + 0.05, 0.005)
OVERFIT_VAL = noisy(0.5 + 2 * np.exp(-E / 8) + 0.004 * np.maximum(E - 20, 0) ** 1.3, 0.02)
GOOD_VAL = noisy(0.12 + 2 * np.exp(-E / 5), 0.01)
SLOW_VAL = noisy(0.4 + 2 * np.exp(-E / 40), 0.01)


def test_overfitting_has_onset_after_best_and_before_end():
    fit = diagnose_fit(make(TRAIN, OVERFIT_VAL))
    assert fit.verdict == "overfitting"
    assert fit.onset_index is not None and 15 <= fit.onset_index <= 40
    assert fit.onset_index == fit.best_index
    assert fit.gap["end_abs"] > fit.gap["best_abs"] > 0
    assert fit.confidence > 0.5
    assert any("Onset of overfitting" in e for e in fit.evidence)


def test_good_fit_has_no_onset():
    fit = diagnose_fit(make(noisy(2 * np.exp(-E / 10) + 0.08, 0.005), GOOD_VAL))
    assert fit.verdict == "good_fit"
    assert fit.onset_index is None


def test_still_improving_is_not_converged():
    fit = diagnose_fit(make(noisy(2 * np.exp(-E / 40) + 0.1, 0.005), SLOW_VAL))
    assert fit.verdict == "not_converged"
    assert fit.best_index >= 50
    assert fit.trend["val_direction"] == "improving"


def test_persistent_nan_is_diverging_with_first_nan_epoch():
    val = GOOD_VAL.copy()
    val[40:] = np.nan
    train = TRAIN.copy()
    train[41:] = np.inf
    fit = diagnose_fit(make(train, val))
    assert fit.verdict == "diverging"
    assert fit.first_nonfinite_epoch == 40
    assert fit.best_index is not None and fit.best_index < 40
    assert any("non-finite" in e for e in fit.evidence)


def test_isolated_nan_that_recovers_is_not_diverging():
    val = GOOD_VAL.copy()
    val[30] = np.nan
    fit = diagnose_fit(make(noisy(2 * np.exp(-E / 10) + 0.08, 0.005), val))
    assert fit.verdict != "diverging"
    assert any("isolated non-finite" in e for e in fit.evidence)


def test_spike_that_recovers_is_not_diverging():
    val = GOOD_VAL.copy()
    val[35] = 60.0
    train = noisy(2 * np.exp(-E / 10) + 0.08, 0.005)
    train[35] = 50.0
    fit = diagnose_fit(make(train, val))
    assert fit.verdict == "good_fit"


def test_exploding_loss_is_diverging():
    train = np.array([0.5, 0.3, 0.19, 2.0, 9.0, 22.8])
    val = np.array([0.45, 0.3, 0.25, 3.0, 12.0, 25.0])
    fit = diagnose_fit(make(train, val))
    assert fit.verdict == "diverging"


def test_extreme_first_value_does_not_hide_overfitting():
    train, val = TRAIN.copy(), OVERFIT_VAL.copy()
    train[0], val[0] = 2.7e6, 5e5
    fit = diagnose_fit(make(train, val))
    assert fit.verdict == "overfitting"


def test_dead_network_at_chance_is_diverging():
    level = math.log(6)
    val = level + np.random.default_rng(1).normal(0, 0.002, 40)
    fit = diagnose_fit(make(val + 0.001, val), classes=6)
    assert fit.verdict == "diverging"
    assert fit.rule == "dead-at-chance"
    assert fit.chance == {"classes": 6, "loss": pytest.approx(level), "source": "--classes"}


def test_slow_descent_from_chance_is_not_converged():
    e = np.arange(40.0)
    val = math.log(6) - 0.01 * e
    fit = diagnose_fit(make(val + 0.02, val), classes=6)
    assert fit.verdict == "not_converged"


def test_chance_inferred_from_plateau_and_hparams():
    e = np.arange(30.0)
    val = np.where(e < 5, math.log(10), math.log(10) - 0.05 * (e - 5))
    fit = diagnose_fit(make(val + 0.01, val))
    assert fit.chance is not None and fit.chance["classes"] == 10
    fit2 = diagnose_fit(make(TRAIN, GOOD_VAL, hparams={"num_classes": 7}))
    assert fit2.chance["classes"] == 7 and "hparams" in fit2.chance["source"]


def test_no_chance_inferred_for_ordinary_levels():
    fit = diagnose_fit(make(TRAIN, GOOD_VAL))
    assert fit.chance is None


def test_train_worse_than_val_is_not_underfitting():
    # Dropout: the train loss is measured with dropout on, so it sits above validation.
    val = noisy(0.12 + 2 * np.exp(-E / 5), 0.003)
    fit = diagnose_fit(make(val + 0.3, val))
    assert fit.verdict == "good_fit"
    assert fit.gap["end_abs"] < 0
    assert any("dropout" in e for e in fit.evidence)


def test_flat_curves_that_learned_nothing_are_underfitting():
    val = noisy(np.full(40, 1.2) - 0.001 * np.arange(40), 0.003)
    fit = diagnose_fit(make(val + 0.05, val))
    assert fit.verdict == "underfitting"


def test_loss_up_accuracy_up_reports_both_readings():
    acc = noisy(0.5 + 0.4 * (1 - np.exp(-E / 25)), 0.002)
    base = diagnose_fit(make(TRAIN, OVERFIT_VAL))
    fit = diagnose_fit(make(TRAIN, OVERFIT_VAL, acc=acc))
    assert fit.verdict == base.verdict == "overfitting"
    # The stop follows accuracy (still improving at the end), the verdict the loss; both are said.
    assert fit.stop_metric == "accuracy" and fit.stop_epoch > base.stop_epoch
    assert any("Loss and accuracy disagree" in e for e in fit.evidence)


def test_val_only_run_has_a_caveat_and_no_gap():
    val_only = diagnose_fit(make(None, OVERFIT_VAL))
    assert val_only.verdict == "overfitting"
    assert val_only.gap["best_abs"] is None
    assert any("No matching train series" in c for c in val_only.caveats)


def test_training_series_only_is_judged_with_a_caveat():
    fit = diagnose_fit(make(noisy(2 * np.exp(-E / 5) + 0.05, 0.005), None))
    assert fit.train_only and fit.verdict == "good_fit"
    assert any("need a validation series" in c for c in fit.caveats)
    still = diagnose_fit(make(SLOW_VAL, None))
    assert still.verdict == "not_converged"


def test_all_nan_training_loss_without_validation_is_diverging():
    fit = diagnose_fit(make(np.full(20, np.nan), None))
    assert fit.verdict == "diverging" and fit.first_nonfinite_epoch == 0


def test_one_epoch_is_a_clear_error():
    with pytest.raises(CurveFormatError, match="fewer than 2"):
        diagnose_fit(make([0.5], [0.6]))


def test_bad_classes_argument():
    with pytest.raises(CurveFormatError, match="classes must be an int >= 2, got 1"):
        diagnose_fit(make(TRAIN, GOOD_VAL), classes=1)


def test_metric_only_run_uses_its_mode():
    acc = noisy(0.5 + 0.4 * (1 - np.exp(-E / 8)), 0.003)
    acc[30:] -= 0.004 * (E[30:] - 30)
    train_acc = np.clip(0.5 + 0.45 * (1 - np.exp(-E / 8)) + 0.001 * E, 0, 1)
    fit = diagnose_fit(make(None, None, acc=acc, train_acc=train_acc))
    assert fit.mode == "max" and fit.primary_metric == "accuracy"
    assert fit.verdict == "overfitting"
    assert fit.best_value == pytest.approx(
        float(np.max(acc[fit.stop_index - 3 : fit.stop_index + 4])), abs=0.02
    )


def test_two_head_losses_are_summed():
    series = {}
    for split, key_prefix, scale in (("train", "train", 1.0), ("val", "val", 1.3)):
        for part, level in (("classification_loss", 1.0), ("regression_loss", 0.5)):
            v = scale * level * np.exp(-E / 10) + 0.1
            series[(split, part)] = Series(split, part, f"{key_prefix}_{part}", E, v)
    fit = diagnose_fit(Curves(series, "lightning"))
    assert fit.primary_key == "val_classification_loss+val_regression_loss"
    assert "sum of 2 validation loss components" in fit.evidence[0]
    assert fit.train_key == "train_classification_loss+train_regression_loss"


def test_metric_argument_selects_series_or_errors():
    acc = noisy(0.5 + 0.4 * (1 - np.exp(-E / 8)), 0.003)
    fit = diagnose_fit(make(TRAIN, GOOD_VAL, acc=acc), metric="accuracy")
    assert fit.primary_key == "val_loss" and fit.stop_key == "val_acc"
    by_loss = diagnose_fit(make(TRAIN, GOOD_VAL, acc=acc), metric="loss")
    assert by_loss.stop_key == "val_loss"
    with pytest.raises(CurveFormatError, match="no validation series named 'f1'"):
        diagnose_fit(make(TRAIN, GOOD_VAL), metric="f1")


def test_to_dict_schema_and_json():
    fit = diagnose_fit(make(TRAIN, OVERFIT_VAL))
    d = fit.to_dict()
    for key in (
        "verdict",
        "best_index",
        "best_epoch",
        "onset_index",
        "gap",
        "evidence",
        "confidence",
        "stop_epoch",
    ):
        assert key in d
    assert d["verdict"] in VERDICTS
    assert isinstance(d["best_index"], int) and isinstance(d["evidence"], list)
    assert set(d["gap"]) >= {"best_abs", "best_rel", "end_abs", "end_rel"}
    assert '"verdict": "overfitting"' in fit.to_json()


def test_fractional_epochs_are_kept_as_logged():
    epochs = np.round(np.linspace(0.1, 2.9, 60), 2)
    fit = diagnose_fit(make(TRAIN, OVERFIT_VAL, epochs=epochs))
    assert fit.best_epoch == pytest.approx(epochs[fit.best_index])


def test_rich_rendering_shows_verdict_curves_and_evidence():
    val = GOOD_VAL.copy()
    val[0] = 1e6
    val[50:] = np.nan
    fit = diagnose_fit(make(TRAIN, val))
    console = Console(width=100, record=True, color_system=None)
    console.print(fit)
    text = console.export_text()
    assert "DIVERGING" in text and "evidence" in text and "×" in text
    assert "train" in text and "val" in text


def test_sparkline_scales_handles_nan_and_clips():
    line = sparkline(
        np.arange(5.0), np.array([0.0, 1.0, np.nan, 1e9, 0.5]), lo=0.0, hi=1.0, x0=0, x1=4, width=5
    )
    assert line == "▁█×█▅"


def test_fitdiagnosis_is_displayable():
    from advisor._display import Displayable

    assert issubclass(FitDiagnosis, Displayable)


_values = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.just(float("nan")),
    st.just(float("inf")),
    st.just(0.0),
)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    val=st.lists(_values, min_size=2, max_size=40),
    train=st.one_of(st.none(), st.lists(_values, min_size=1, max_size=40)),
    classes=st.one_of(st.none(), st.integers(min_value=2, max_value=1000)),
)
def test_any_curve_gives_a_verdict_or_a_clear_error(val, train, classes):
    try:
        fit = diagnose_fit(make(train, val), classes=classes)
    except CurveFormatError as exc:
        assert "\n" not in str(exc)
        return
    assert fit.verdict in VERDICTS
    assert 0.0 <= fit.confidence <= 1.0
    fit.to_json()
    Console(width=80, file=open("/dev/null", "w")).print(fit)  # noqa: SIM115
