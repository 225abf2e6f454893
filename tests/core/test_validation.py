"""The shared argument checks and the modality/objective vocabulary."""

from __future__ import annotations

import pytest

from advisor._validation import (
    check_choice,
    check_flag,
    check_number,
    did_you_mean,
    resolve_vocabulary,
    split_task,
)
from advisor.errors import ConfigError


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            dict(value=0, low=1, integer=True),
            "patience of early_stopping must be an int >= 1, got 0.",
        ),
        (dict(value=True, low=1, integer=True), "must be an int >= 1, got True."),
        (dict(value=float("nan"), low=0), "must be a number >= 0, got nan."),
        (dict(value=1.0, low=0, high=1, high_open=True), "must be a number >= 0 and < 1, got 1.0."),
        (dict(value="x"), "patience of early_stopping must be a number, got 'x'."),
    ],
)
def test_check_number_messages(kwargs, message):
    value = kwargs.pop("value")
    with pytest.raises(ConfigError) as exc:
        check_number("patience", value, of="early_stopping", **kwargs)
    assert str(exc.value).endswith(message)


def test_check_number_accepts_integral_floats_as_ints():
    assert check_number("patience", 10.0, of="x", low=1, integer=True) == 10


def test_check_choice_and_flag():
    assert check_choice("mode", "min", ("min", "max"), of="early_stopping") == "min"
    with pytest.raises(
        ConfigError, match=r"must be one of 'min', 'max', got 'mni'. Did you mean 'min'\?"
    ):
        check_choice("mode", "mni", ("min", "max"), of="early_stopping")
    with pytest.raises(ConfigError, match="must be true or false, got 1"):
        check_flag("no_flip", 1, of="data_augmentation")


def test_did_you_mean_styles():
    assert did_you_mean("dropuot", ["dropout"]) == " Did you mean 'dropout'?"
    assert did_you_mean("dropuot", ["dropout"], parens=True) == " (did you mean 'dropout'?)"
    assert did_you_mean("zzz", ["dropout"]) == ""


def test_task_splits_into_modality_or_objective_with_a_warning():
    with pytest.warns(DeprecationWarning, match="use objective='classification'"):
        assert split_task("classification") == (None, "classification")
    assert split_task("timeseries", warn=False) == (None, "forecasting")
    assert split_task("audio", warn=False) == ("audio", None)
    with pytest.raises(ConfigError, match="Did you mean 'image'"):
        split_task("imag", warn=False)


def test_resolve_vocabulary_merges_and_refuses_contradictions():
    assert resolve_vocabulary(modality="image", task="classification", warn=False) == (
        "image",
        "classification",
    )
    assert resolve_vocabulary(objective="timeseries") == (None, "forecasting")
    with pytest.raises(ConfigError, match="contradicts objective 'regression'"):
        resolve_vocabulary(objective="regression", task="classification", warn=False)
    with pytest.raises(ConfigError, match="modality of task must be one of"):
        resolve_vocabulary(modality="video")
