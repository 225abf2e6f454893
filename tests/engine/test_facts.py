"""Facts: declared values, measurements, derivations, origins."""

from __future__ import annotations

import pytest

from advisor.engine import SIZE_THRESHOLDS, build_facts
from advisor.errors import ConfigError


def test_declared_facts_carry_origin_and_source():
    facts = build_facts(
        declared={"modality": "image", "samples": 2000}, sources={"samples": "--samples"}
    )
    assert facts["modality"] == "image"
    assert facts.fact("samples").origin == "declared"
    assert facts.fact("samples").source == "--samples"
    assert facts.fact("modality").source == "declared by the user"


def test_task_is_a_deprecated_alias_of_modality_and_objective():
    with pytest.warns(DeprecationWarning, match="use modality='image'"):
        facts = build_facts(declared={"task": "image"}, sources={"task": "--task"})
    # The old name still reads the new fact (rules written with `task` keep working).
    assert facts["modality"] == facts["task"] == "image"
    assert facts.fact("task").source == facts.fact("modality").source == "--task"
    assert "task" in facts.to_dict() and "<td>task</td>" not in facts._repr_html_()
    with pytest.warns(DeprecationWarning, match="use objective='forecasting'"):
        facts = build_facts(declared={"task": "timeseries"})
    assert facts["objective"] == "forecasting" and facts["sequence"] is True
    with (
        pytest.raises(ConfigError, match="contradicts modality 'text'"),
        pytest.warns(DeprecationWarning),
    ):
        build_facts(declared={"task": "image", "modality": "text"})


def test_objective_decides_classification():
    facts = build_facts(declared={"modality": "tabular", "objective": "regression", "classes": 5})
    assert facts["classification"] is False and facts["objective"] == "regression"
    assert build_facts(declared={"classes": 5})["classification"] is True


def test_channels_are_measured_from_the_model():
    facts = build_facts(model={"input_channels": 1})
    assert facts["channels"] == 1 and facts.fact("channels").origin == "measured"


def test_unknown_facts_read_as_none():
    facts = build_facts()
    assert facts["samples"] is None
    assert facts.fact("samples") is None
    assert facts.namespace()["params"] is None


def test_defaults_are_marked_default():
    facts = build_facts()
    assert facts["budget"] == "medium"
    assert facts.fact("budget").origin == "default"
    assert facts["pretrained"] is False and facts.fact("pretrained").origin == "default"


def test_derived_facts():
    facts = build_facts(declared={"samples": 2000, "classes": 10, "params": 11e6, "depth": 18})
    assert facts["params_per_sample"] == pytest.approx(5500)
    assert facts["samples_per_class"] == pytest.approx(200)
    assert facts["size_class"] == "small"
    assert facts["complexity_class"] == "high"
    assert facts["classification"] is True
    assert facts.fact("size_class").origin == "derived"


@pytest.mark.parametrize(
    ("samples", "size"),
    [
        (2, "small"),  # the fewest samples allowed
        (SIZE_THRESHOLDS["small"] - 1, "small"),
        (SIZE_THRESHOLDS["small"], "medium"),
        (SIZE_THRESHOLDS["large"] - 1, "medium"),
        (SIZE_THRESHOLDS["large"], "large"),
    ],
)
def test_size_class_thresholds(samples, size):
    assert build_facts(declared={"samples": samples})["size_class"] == size


@pytest.mark.parametrize(
    ("declared", "cls"),
    [
        ({"params": 5e4}, "low"),
        ({"params": 5e6}, "medium"),
        ({"params": 5e4, "depth": 30}, "high"),
        ({"depth": 3}, "low"),
        ({"params": 2e7, "depth": 3}, "high"),
    ],
)
def test_complexity_class_takes_the_higher(declared, cls):
    assert build_facts(declared=declared)["complexity_class"] == cls


@pytest.mark.parametrize(
    ("hours", "budget"), [(0.5, "low"), (2, "medium"), (23.9, "medium"), (24, "high")]
)
def test_gpu_hours_give_budget(hours, budget):
    facts = build_facts(declared={"gpu_hours": hours})
    assert facts["budget"] == budget
    assert facts.fact("budget").origin == "derived"


def test_declared_budget_wins_over_hours():
    assert build_facts(declared={"gpu_hours": 100, "budget": "low"})["budget"] == "low"


def test_has_dropout_rate_and_dashed_keys():
    facts = build_facts(declared={"has-dropout": 0.5, "weight-decay": 0.01})
    assert facts["has_dropout"] is True
    assert facts["dropout_rate"] == 0.5
    assert facts["has_regularization"] is True


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({"budget": "huge"}, r"budget must be one of low, medium, high, got 'huge'"),
        ({"task": "imag"}, r"did you mean 'image'"),
        (
            {"samples": 0},
            r"samples \(number of training examples\) must be between 2 and 1e\+12, got 0",
        ),
        ({"samples": 2.5}, r"whole number"),
        ({"samples": "many"}, r"must be a number"),
        ({"pretrained": "maybe"}, r"true or false"),
        ({"sampels": 10}, r"Did you mean 'samples'"),
        ({"params": float("nan")}, r"finite"),
    ],
)
def test_invalid_declarations_are_one_line_config_errors(declared, message):
    with pytest.raises(ConfigError, match=message) as info:
        build_facts(declared=declared)
    assert "\n" not in str(info.value)


def test_fit_diagnosis_dict_is_measured():
    fit = {
        "verdict": "overfitting",
        "gap": 0.7,
        "confidence": 0.8,
        "onset_epoch": 4,
        "n_epochs": 40,
        "best_epoch": 4,
        "evidence": ["val loss rises"],
    }
    facts = build_facts(fit=fit)
    assert facts["fit"] == "overfitting"
    assert facts.fact("fit").origin == "measured"
    assert facts["gap"] == 0.7
    assert facts["onset_fraction"] == pytest.approx(0.1)


def test_fit_object_with_to_dict():
    class Fake:
        def to_dict(self):
            return {"verdict": "underfitting"}

    assert build_facts(fit=Fake())["fit"] == "underfitting"


def test_model_dict_is_measured():
    # the shape of advisor.inspect's ModelFacts.to_dict()
    model = {
        "params_total": 11_200_000,
        "params_trainable": 11_000_000,
        "depth": 18,
        "family": "resnet",
        "residual": True,
        "dropout": True,
        "dropout_rates": {"fc.1": 0.1, "head.0": 0.5},
        "normalization": True,
        "normalization_kinds": ["batch_norm"],
        "weight_decay": None,
        "num_classes": 10,
        "pretrained": None,
    }
    facts = build_facts(model=model)
    assert facts["arch"] == "resnet"
    assert facts["dropout_rate"] == 0.5 and facts["has_dropout"] is True
    assert facts["has_batchnorm"] is True and facts["has_norm"] is True
    assert facts.fact("params").origin == "measured" and facts["params"] == 11_000_000
    assert facts["has_residual"] is True and facts["classes"] == 10
    assert facts["weight_decay"] is None and facts.fact("pretrained").origin == "default"


def test_model_with_layer_norm_only():
    facts = build_facts(
        model={
            "family": "transformer",
            "normalization": True,
            "normalization_kinds": ["layer_norm"],
            "dropout": False,
            "dropout_rates": {},
        }
    )
    assert facts["has_batchnorm"] is False and facts["has_norm"] is True
    assert facts["has_dropout"] is False and facts["sequence"] is True


def test_declared_wins_over_measured_and_says_so():
    facts = build_facts(model={"params": 1e6}, declared={"params": 2e6})
    assert facts["params"] == 2e6
    assert facts.fact("params").origin == "declared"
    assert "overrides measured" in facts.fact("params").source


def test_to_dict_and_render():
    from rich.console import Console

    facts = build_facts(declared={"samples": 2000})
    data = facts.to_dict()
    assert data["samples"] == {
        "value": 2000,
        "origin": "declared",
        "source": "declared by the user",
    }
    console = Console(width=120, record=True)
    console.print(facts)
    assert "size_class" in console.export_text()
    assert "samples" in facts.to_json()


def test_facts_html_table():
    html = build_facts(declared={"modality": "image", "samples": 2000})._repr_html_()
    assert html.startswith("<table") and "<td>size_class</td><td>small</td><td>derived</td>" in html


def test_mapping_protocol_lists_known_facts_only():
    facts = build_facts(declared={"samples": 2000})
    assert "samples" in facts and "params" not in facts
    assert dict(facts)["samples"] == 2000
    assert set(facts.values()) >= {2000, "small"}
    with pytest.raises(KeyError):
        facts["nonsense"]


def test_fit_gap_dict_uses_relative_end_gap():
    fit = {
        "verdict": "overfitting",
        "gap": {"best_abs": 0.2, "best_rel": 0.4, "end_abs": 3.0, "end_rel": 1.5, "final": 3.0},
        "noise": {"val": 0.02, "train": 0.01, "val_rel": 0.2},
    }
    facts = build_facts(fit=fit)
    assert facts["gap"] == 1.5 and facts["noise"] == 0.2


@pytest.mark.parametrize(
    ("declared", "needle"),
    [
        ({"params": 1e300}, "params (number of trainable parameters) must be between 1 and 1e+13"),
        ({"params": 0.5}, "between 1 and 1e+13"),
        ({"samples": 1}, "samples (number of training examples) must be between 2 and 1e+12"),
        ({"classes": 0}, "must be between 1 and 1,000,000"),
        ({"classes": 2_000_000}, "must be between 1 and 1,000,000"),
        ({"batch_size": 0}, "batch_size (training batch size) must be between 1 and"),
        ({"gpu_hours": -1}, "gpu_hours"),
        ({"gpu_hours": 1e12}, "between 0 and 1e+09"),
        ({"depth": 10**7}, "depth"),
        ({"samples": 10, "classes": 1000}, "samples must be >= classes"),
    ],
)
def test_declared_facts_outside_physical_range_are_one_line_errors(declared, needle):
    from advisor.engine import validate_declared

    for check in (validate_declared, lambda d: build_facts(declared=d)):
        with pytest.raises(ConfigError) as info:
            check(declared)
        assert needle in str(info.value) and "\n" not in str(info.value)


def test_declared_range_edges_are_accepted():
    from advisor.engine import validate_declared

    ok = {"params": 1e13, "samples": 2, "classes": 2, "batch_size": 1, "gpu_hours": 0}
    assert validate_declared(ok) == ok
    # classes = 1 declares regression and needs no more samples than that.
    assert build_facts(declared={"samples": 2, "classes": 1})["classification"] is False


def test_declared_range_error_names_the_flag():
    with pytest.raises(ConfigError, match=r"^--samples \(declared samples\)"):
        build_facts(declared={"samples": 1}, sources={"samples": "--samples"})


def test_a_model_without_weight_layers_has_an_unknown_depth_not_zero():
    from advisor.engine._measured import model_values

    assert model_values({"depth": 0, "params_total": 4}).get("depth") is None
    assert model_values({"depth": 3})["depth"] == 3
