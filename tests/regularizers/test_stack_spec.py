"""Stack: JSON round trip, validation messages, with_params, and torch-free import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from advisor.errors import AdvisorError, ConfigError
from advisor.regularizers import DEFAULT_PARAMS, TECHNIQUES, Stack

ARCH_EXAMPLE = {
    "version": 1,
    "pieces": [
        {
            "technique": "l2",
            "params": {"weight_decay": 1e-4},
            "search_space": {
                "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True}
            },
        },
        {
            "technique": "dropout",
            "params": {"p": 0.3},
            "search_space": {"p": {"type": "float", "low": 0.1, "high": 0.5}},
        },
        {
            "technique": "data_augmentation",
            "params": {"magnitude": 0.3, "transforms": ["rotation", "crop"]},
            "search_space": {"magnitude": {"type": "float", "low": 0.0, "high": 1.0}},
        },
        {
            "technique": "early_stopping",
            "params": {"patience": 10, "min_delta": 0.0, "monitor": "val_loss"},
            "search_space": {},
        },
    ],
}


def test_technique_names_are_the_contract():
    assert set(TECHNIQUES) == {
        "l1", "l2", "elastic_net", "dropout", "early_stopping", "data_augmentation",
        "batch_norm", "label_smoothing", "stochastic_depth", "mixup", "cutmix", "ema", "swa",
    }  # fmt: skip


def test_architecture_example_round_trips():
    stack = Stack.from_dict(ARCH_EXAMPLE)
    assert stack.techniques == ["l2", "dropout", "data_augmentation", "early_stopping"]
    assert Stack.from_json(stack.to_json()) == stack
    assert Stack.from_dict(json.loads(stack.to_json())).to_dict() == stack.to_dict()
    assert stack["l2"].search_space["weight_decay"]["log"] is True
    assert stack["dropout"].params["where"] == "auto"  # defaults filled in


def test_every_technique_with_defaults_round_trips():
    stack = Stack.of(*TECHNIQUES)
    assert Stack.from_json(stack.to_json()) == stack
    for piece in stack:
        assert piece.params == DEFAULT_PARAMS[piece.technique]


def test_extra_engine_keys_are_kept():
    d = {
        "version": 1,
        "pieces": [{"technique": "l2", "params": {}, "score": 0.8, "rationale": "why"}],
    }
    assert Stack.from_dict(d).to_dict()["pieces"][0]["score"] == 0.8


def test_bare_list_and_recommendations_like_objects():
    assert Stack.from_dict([{"technique": "mixup"}]).techniques == ["mixup"]

    class Recs:
        def to_stack(self):
            return ARCH_EXAMPLE

    assert Stack.from_dict(Recs()).techniques[0] == "l2"


def test_with_params_nested_and_optuna_flat_names():
    stack = Stack.from_dict(ARCH_EXAMPLE)
    new = stack.with_params({"l2": {"weight_decay": 1e-3}, "dropout.p": 0.1})
    assert new["l2"].params["weight_decay"] == 1e-3
    assert new["dropout"].params["p"] == 0.1
    assert stack["l2"].params["weight_decay"] == 1e-4  # immutable original
    assert new["l2"].search_space == stack["l2"].search_space


def test_with_params_int_patience_from_float():
    stack = Stack.of("early_stopping").with_params({"early_stopping": {"patience": 7.0}})
    assert stack["early_stopping"].params["patience"] == 7
    assert isinstance(stack["early_stopping"].params["patience"], int)


@pytest.mark.parametrize(
    ("stack", "fragment"),
    [
        ({"version": 2, "pieces": []}, "version 2"),
        ({"version": 1}, "no 'pieces'"),
        ({"version": 1, "pieces": [{"technique": "l3"}]}, "unknown technique 'l3'"),
        ({"version": 1, "pieces": [{"technique": "dropuot"}]}, "Did you mean 'dropout'"),
        (
            {"version": 1, "pieces": [{"technique": "dropout", "params": {"rate": 0.2}}]},
            "no parameter 'rate'",
        ),
        (
            {"version": 1, "pieces": [{"technique": "dropout", "params": {"p": 1.5}}]},
            "p of dropout must be",
        ),
        (
            {"version": 1, "pieces": [{"technique": "l2", "params": {"weight_decay": -1}}]},
            "weight_decay of l2",
        ),
        (
            {"version": 1, "pieces": [{"technique": "l2", "params": {"weight_decay": "x"}}]},
            "must be a number",
        ),
        (
            {"version": 1, "pieces": [{"technique": "early_stopping", "params": {"patience": 0}}]},
            "patience of early_stopping must be an int >= 1, got 0.",
        ),
        (
            {"version": 1, "pieces": [{"technique": "early_stopping", "params": {"mode": "up"}}]},
            "mode of early_stopping",
        ),
        (
            {
                "version": 1,
                "pieces": [
                    {"technique": "data_augmentation", "params": {"transforms": ["rotate"]}}
                ],
            },
            "Did you mean 'rotation'",
        ),
        ({"version": 1, "pieces": [{"technique": "l2"}, {"technique": "l2"}]}, "twice"),
        (
            {
                "version": 1,
                "pieces": [
                    {
                        "technique": "l2",
                        "search_space": {"wd": {"type": "float", "low": 0, "high": 1}},
                    }
                ],
            },
            "names no parameter",
        ),
        (
            {
                "version": 1,
                "pieces": [
                    {
                        "technique": "l2",
                        "search_space": {
                            "weight_decay": {"type": "float", "low": 0, "high": 1, "log": True}
                        },
                    }
                ],
            },
            "log-scaled",
        ),
        (
            {
                "version": 1,
                "pieces": [
                    {"technique": "l2", "search_space": {"weight_decay": {"type": "normal"}}}
                ],
            },
            "type float, int or categorical",
        ),
        (
            {
                "version": 1,
                "pieces": [
                    {
                        "technique": "dropout",
                        "search_space": {"p": {"type": "float", "low": 0.5, "high": 0.1}},
                    }
                ],
            },
            "swap them",
        ),
        ({"version": 1, "pieces": "l2"}, "must be a list"),
    ],
)
def test_bad_stacks_give_one_line_config_errors(stack, fragment):
    with pytest.raises(ConfigError) as info:
        Stack.from_dict(stack)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    assert isinstance(info.value, AdvisorError)


def test_bad_json_and_with_params_errors():
    with pytest.raises(ConfigError, match="not valid JSON"):
        Stack.from_json("{")
    with pytest.raises(ConfigError, match="not in the stack"):
        Stack.of("l2").with_params({"dropout": {"p": 0.2}})
    with pytest.raises(ConfigError, match="p of dropout"):
        Stack.of("dropout").with_params({"dropout": {"p": 2.0}})


def test_stack_and_to_code_do_not_import_torch():
    code = (
        "import sys\n"
        "from advisor.regularizers import Stack, TECHNIQUES\n"
        "s = Stack.of(*TECHNIQUES)\n"
        "s.to_code(); s.to_json()\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lazy_exports():
    import advisor
    import advisor.regularizers as regs

    assert advisor.Stack is Stack
    assert callable(regs.apply) and callable(advisor.apply)
    for name in regs.__all__:
        assert getattr(regs, name) is not None
    with pytest.raises(AttributeError):
        regs.no_such_name  # noqa: B018


def test_transforms_empty_means_default_and_color_alias():
    assert (
        Stack.of(data_augmentation={"transforms": []})["data_augmentation"].params["transforms"]
        is None
    )
    tr = Stack.of(data_augmentation={"transforms": ["rotation", "color"]})[
        "data_augmentation"
    ].params["transforms"]
    assert tr == ["rotation", "brightness", "contrast", "saturation", "hue"]
