"""The optimizer table is the one source of weight-decay ranges; transforms fit the input."""

from __future__ import annotations

import doctest
import importlib

import pytest

from advisor.catalogue import (
    DECAY_PROFILES,
    OPTIMIZERS,
    TECHNIQUES,
    decay_range,
    lr_hint,
    optimizer_of,
    transforms_for,
)
from advisor.errors import ConfigError


def test_every_optimizer_has_a_decay_profile_and_a_torch_class():
    for name, optimizer in OPTIMIZERS.items():
        assert optimizer.name == name and optimizer.decay in DECAY_PROFILES
        assert optimizer.torch_class in {"AdamW", "Adam", "SGD"}
        assert lr_hint(name) and lr_hint(name, fine_tuning=True)


def test_profiles_hold_their_defaults_and_fine_tuning_is_lighter():
    for profile in DECAY_PROFILES.values():
        for decay in (profile.scratch, profile.fine_tuning):
            assert 0 < decay.low <= decay.default <= decay.high
        assert profile.fine_tuning.high <= profile.scratch.high


def test_decoupled_decay_is_at_published_adamw_levels():
    scratch, tuning = decay_range("adamw"), decay_range("adamw", fine_tuning=True)
    assert 0.01 <= scratch.default <= 0.05 and scratch.low <= 1e-3 and scratch.high >= 0.3
    assert tuning.default == 0.01  # BERT fine-tuning
    coupled = decay_range("sgd")
    assert 1e-4 <= coupled.default <= 5e-4 and coupled.low <= 1e-5 and coupled.high >= 1e-2


def test_l2_parameter_and_full_space_read_the_table():
    param = TECHNIQUES["l2"].params["weight_decay"]
    coupled = DECAY_PROFILES["coupled"].scratch
    assert (param.default, param.advised["low"], param.advised["high"]) == (
        coupled.default,
        coupled.low,
        coupled.high,
    )
    ranges = [r for p in DECAY_PROFILES.values() for r in (p.scratch, p.fine_tuning)]
    assert param.full["low"] == min(r.low for r in ranges)
    assert param.full["high"] == max(r.high for r in ranges)


def test_unknown_optimizer_is_one_line():
    with pytest.raises(
        ConfigError, match=r"optimizer must be one of adamw, adam, sgd, got 'rmsprop'"
    ):
        optimizer_of("rmsprop")
    assert optimizer_of(None).name == "adamw"


def test_greyscale_gets_no_colour_and_no_flip_no_mirror():
    assert set(transforms_for("image", channels=1)) & {"saturation", "hue"} == set()
    assert {"brightness", "contrast"} <= set(transforms_for("image", channels=1))
    assert "flip" not in transforms_for("image", channels=3, no_flip=True)
    assert transforms_for("text") == ()


def test_full_tuning_space_fits_the_input():
    from advisor.tuning._space import full_stack

    grey = full_stack("classification", input_ndim=4, channels=1, no_flip=True)
    assert grey["data_augmentation"].params["transforms"] == list(
        transforms_for("image", channels=1, no_flip=True)
    )
    assert grey["data_augmentation"].params["no_flip"] is True
    colour = full_stack("classification", input_ndim=4, channels=3)
    assert "saturation" in colour["data_augmentation"].params["transforms"]


@pytest.mark.parametrize(
    "module",
    [
        "advisor.catalogue",
        "advisor.catalogue._optimizers",
        "advisor.catalogue._transforms",
        "advisor.catalogue._conflicts",
        "advisor.engine._adjust",
        "advisor.engine._stages",
        "advisor.engine._setup",
        "advisor.engine._recommend",
        "advisor.engine._plan",
    ],
)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
