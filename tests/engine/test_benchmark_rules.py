"""Rules the advice-lift benchmark asked for (issue 11: where the guide's ordering lost, an expert
rule citing the scenario and its figure): EXP-015 (label smoothing early for small-data
classifiers), EXP-016 (dropout set too strong on a model that does not fit: search below it),
EXP-017 (overfitting regression MLP on small data: light decay, dropout in stage 1).

The facts are those ``benchmarks/bench_advice_lift.py`` declares to ``advisor.diagnose`` for
the scenario (samples = the 75 % training part), with the verdict its baseline got.
"""

from __future__ import annotations

import pytest

import advisor
from advisor.catalogue import decay_range
from advisor.engine import build_facts, load_rules, recommend

RULES = {r.id: r for r in load_rules()}


def _stages(recs) -> dict[str, int]:
    return {r.technique: r.stage for r in recs}


def _cites_the_benchmark(rule_id: str, scenario: str) -> None:
    source = RULES[rule_id].source
    assert "benchmarks/bench_advice_lift.py" in source and scenario in source


# ------------------------------------------------ EXP-015: label smoothing right after stage 1


def test_small_image_classifier_tries_label_smoothing_right_after_the_baseline():
    # digits_cnn_overfit: 200 digits as 1x8x8 images (150 to train), small CNN, overfitting.
    recs = advisor.recommend(
        modality="image", samples=150, classes=10, arch="cnn", fit="overfitting", no_flip=True
    )
    stages = _stages(recs)
    assert stages["label_smoothing"] == 2
    assert {"early_stopping", "l2"} <= {t for t, s in stages.items() if s == 1}
    assert "EXP-015" in [h.rule.id for h in recs.get("label_smoothing").rules]
    _cites_the_benchmark("EXP-015", "digits_cnn_overfit")


@pytest.mark.parametrize("samples", [300, 426])  # digits_tabular_overfit, breast_cancer_overfit
def test_small_tabular_classifier_ranks_label_smoothing_before_dropout(samples):
    recs = advisor.recommend(
        modality="tabular", samples=samples, classes=10, arch="mlp", fit="overfitting"
    )
    stages = _stages(recs)
    assert stages["label_smoothing"] == 2
    assert stages["dropout"] > stages["label_smoothing"]


def test_label_smoothing_order_is_unchanged_beyond_small_data():
    recs = advisor.recommend(
        modality="tabular", samples=50_000, classes=10, arch="mlp", fit="overfitting"
    )
    assert "EXP-015" not in [r.id for r in recs.fired]


# --------------------------------------- EXP-016: dropout too strong, searched below the rate


@pytest.mark.parametrize("fit", ["not_converged", "underfitting"])
def test_strong_dropout_gets_a_stage_one_piece_below_the_rate_in_effect(fit):
    # digits_tabular_dropout: 400 digits as 64 features (300 to train), 3x64 MLP, Dropout(0.7).
    recs = advisor.recommend(
        modality="tabular", samples=300, classes=10, arch="mlp", fit=fit, dropout_rate=0.7
    )
    dropout = recs.get("dropout")
    assert dropout is not None and dropout.stage == 1 and not dropout.vetoed
    space = dropout.search_space["p"]
    assert dropout.params["p"] == pytest.approx(0.2)
    assert space["low"] == 0.0 and space["high"] == pytest.approx(0.35) and space["high"] < 0.7
    assert any("0.7 is in effect" in n for n in dropout.notes)
    # ranked ahead of the action of that verdict, and in the stage-1 stack
    order = recs.techniques()
    action = "train_longer" if fit == "not_converged" else "reduce_regularization"
    assert order.index("dropout") < order.index(action)
    pieces = recs.to_stack(max_stage=1)["pieces"]
    assert [(p["technique"], p["params"]["p"]) for p in pieces] == [("dropout", 0.2)]
    _cites_the_benchmark("EXP-016", "digits_tabular_dropout")


def test_strong_dropout_read_from_the_diagnosis_and_the_model():
    # As the benchmark builds them: the verdict from the curves, dropout from the model.
    facts = build_facts(
        fit={"verdict": "not_converged"},
        model={"arch": "mlp", "has_dropout": True, "dropout_rate": 0.7, "params": 9_000},
        declared={"modality": "tabular", "samples": 300, "classes": 10},
    )
    dropout = recommend(facts).get("dropout")
    assert dropout.stage == 1 and dropout.search_space["p"]["high"] < 0.7


def test_lowering_lifts_only_the_veto_of_new_regularizers():
    recs = advisor.recommend(fit="underfitting", dropout_rate=0.7, modality="tabular")
    # every other regularizer stays vetoed
    assert [r.technique for r in recs if r.kind == "regularizer"] == ["dropout"]
    # a veto naming dropout holds (billion-parameter language models train without it)
    llm = advisor.recommend(
        fit="underfitting", dropout_rate=0.7, arch="transformer", modality="text", params=7e9
    )
    assert "dropout" not in llm.techniques()


@pytest.mark.parametrize(("fit", "rate"), [("not_converged", 0.3), ("overfitting", 0.7)])
def test_moderate_dropout_or_overfitting_is_not_lowered(fit, rate):
    recs = advisor.recommend(
        modality="tabular", samples=300, classes=10, arch="mlp", fit=fit, dropout_rate=rate
    )
    dropout = recs.get("dropout")
    if fit == "not_converged":
        assert dropout is None
    else:  # an overfitting model: the rate in effect is the floor (issue 11)
        assert dropout.params["p"] >= rate and dropout.search_space["p"]["low"] >= rate


# ------------------------------------ EXP-017: regression MLP, light decay and dropout early


def test_small_regression_mlp_searches_light_decay_with_dropout_in_stage_one():
    # diabetes_overfit: 442 patients (331 to train), 2x256 MLP, regression, overfitting.
    recs = advisor.recommend(
        modality="tabular", objective="regression", samples=331, arch="mlp", fit="overfitting"
    )
    stages = _stages(recs)
    assert stages["dropout"] == 1 and stages["l2"] == 1 and stages["early_stopping"] == 1
    l2 = recs.get("l2")
    space = l2.search_space["weight_decay"]
    assert space["low"] == pytest.approx(1e-5) and space["log"] is True
    assert space["low"] <= 4e-5 and space["high"] >= 2.4e-4  # the full search's winners
    assert space["low"] <= l2.params["weight_decay"] <= space["high"]
    assert l2.params["weight_decay"] < decay_range("adamw").default
    # coupled L2 (Adam, SGD): the same range is that profile's own
    coupled = decay_range("adam")
    adam = advisor.recommend(
        modality="tabular", objective="regression", samples=331, arch="mlp",
        fit="overfitting", optimizer="adam",
    ).get("l2")  # fmt: skip
    assert adam.search_space["weight_decay"]["low"] == coupled.low
    assert adam.search_space["weight_decay"]["high"] == coupled.high
    _cites_the_benchmark("EXP-017", "diabetes_overfit")


@pytest.mark.parametrize(
    "declared",
    [
        {"objective": "classification", "classes": 10},  # a classifier
        {"objective": "regression", "pretrained": True},  # fine-tuning keeps its profile
        {"objective": "regression", "samples": 50_000},  # not small
    ],
)
def test_other_setups_keep_the_decay_profile(declared):
    facts = {"modality": "tabular", "samples": 331, "arch": "mlp", "fit": "overfitting"}
    recs = advisor.recommend(**{**facts, **declared})
    assert "EXP-017" not in [r.id for r in recs.fired]
