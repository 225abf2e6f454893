"""Advice a practitioner would sign (issue 11): what is in effect, how decay is applied,
vetoes that hold, coherent stages."""

from __future__ import annotations

import pytest

from advisor.catalogue import decay_range, exclusive_pairs
from advisor.engine import build_facts, recommend
from advisor.engine._stages import in_baseline

OVERFITTING_IMAGE = {"modality": "image", "samples": 20_000, "params": 11e6, "fit": "overfitting"}


# ---------------------------------------------------------------- what is already in effect


@pytest.mark.parametrize("current", [5e-4, 0.05, 0.5])
def test_weight_decay_in_effect_is_the_floor(current):
    l2 = recommend({**OVERFITTING_IMAGE, "weight_decay": current}).get("l2")
    space = l2.search_space["weight_decay"]
    assert l2.params["weight_decay"] >= current
    assert space["low"] >= current and space["high"] > current
    assert any("already in effect" in n for n in l2.notes)


def test_dropout_in_effect_is_the_floor():
    dropout = recommend({**OVERFITTING_IMAGE, "arch": "mlp", "has_dropout": 0.5}).get("dropout")
    space = dropout.search_space["p"]
    assert dropout.params["p"] >= 0.5 and space["low"] >= 0.5 and space["high"] > 0.5


def test_label_smoothing_in_effect_is_not_recommended_again():
    declared = {**OVERFITTING_IMAGE, "classes": 10}
    assert "label_smoothing" in recommend(declared).techniques()
    recs = recommend({**declared, "label_smoothing": 0.1})
    assert "label_smoothing" not in recs.techniques()
    assert recs.get("label_smoothing").vetoed
    assert any("0.1" in n for n in recs.get("label_smoothing").notes)


def test_label_smoothing_in_effect_is_reduced_beside_mixup():
    declared = {**OVERFITTING_IMAGE, "samples": 50_000, "classes": 10, "label_smoothing": 0.1}
    mixup = recommend(declared).get("mixup")
    assert any("label_smoothing 0.1 is already in effect" in n for n in mixup.notes)


def test_label_smoothing_is_read_from_the_fit_diagnosis():
    fit = {"verdict": "overfitting", "regularization": {"label_smoothing": {"value": 0.1}}}
    assert build_facts(fit=fit)["label_smoothing"] == 0.1


@pytest.mark.parametrize(
    ("norm", "has_norm", "has_batchnorm"),
    [("batch", True, True), ("layer", True, False), ("group", True, False), ("none", False, False)],
)
def test_declared_norm_sets_the_norm_facts(norm, has_norm, has_batchnorm):
    facts = build_facts(declared={"norm": norm})
    assert (facts["has_norm"], facts["has_batchnorm"]) == (has_norm, has_batchnorm)


def test_layer_norm_model_gets_no_batch_norm():
    recs = recommend({"depth": 30, "samples": 500_000, "fit": "overfitting", "norm": "layer"})
    assert "batch_norm" not in recs.techniques()


def test_architecture_assumptions_yield_to_declarations():
    facts = build_facts(declared={"arch": "resnet", "has_residual": False})
    assert facts["has_batchnorm"] is True and facts.fact("has_batchnorm").origin == "default"
    assert facts["has_residual"] is False
    assert build_facts(declared={"arch": "transformer"})["has_batchnorm"] is False


# ---------------------------------------------------------------- how decay is applied


@pytest.mark.parametrize("optimizer", ["adamw", "adam", "sgd", None])
@pytest.mark.parametrize("pretrained", [False, True])
def test_weight_decay_range_follows_the_optimizer(optimizer, pretrained):
    declared = {**OVERFITTING_IMAGE, "pretrained": pretrained}
    if optimizer:
        declared["optimizer"] = optimizer
    l2 = recommend(declared).get("l2")
    decay = decay_range(optimizer, fine_tuning=pretrained)
    assert l2.params["weight_decay"] == decay.default
    assert l2.search_space["weight_decay"]["low"] == decay.low
    assert l2.search_space["weight_decay"]["high"] == decay.high


def test_decoupled_decay_reaches_published_adamw_values():
    space = recommend({**OVERFITTING_IMAGE, "optimizer": "adamw"}).get("l2").search_space
    for value in (0.01, 0.05, 0.1):  # PyTorch default, DeiT, GPT-style
        assert space["weight_decay"]["low"] <= value <= space["weight_decay"]["high"]
    coupled = recommend({**OVERFITTING_IMAGE, "optimizer": "sgd"}).get("l2").search_space
    for value in (1e-4, 5e-4):  # ResNet on ImageNet, on CIFAR
        assert coupled["weight_decay"]["low"] <= value <= coupled["weight_decay"]["high"]


def test_setup_carries_objective_optimizer_and_learning_rate():
    recs = recommend({"classes": 1, "optimizer": "sgd", "lr": 0.05, "fit": "overfitting"})
    assert recs.setup == {
        "objective": "regression",
        "optimizer": "sgd",
        "lr": 0.05,
        "lr_hint": None,
    }
    assert recs.details()["setup"] == recs.setup


# ---------------------------------------------------------------- vetoes hold


@pytest.mark.parametrize("modality", ["text", "tabular"])
@pytest.mark.parametrize("samples", [500, 2_000, 50_000])
def test_task_veto_beats_dataset_size(modality, samples):
    recs = recommend({"modality": modality, "samples": samples, "fit": "overfitting"})
    assert "data_augmentation" not in recs.techniques()
    assert recs.get("data_augmentation").vetoed


@pytest.mark.parametrize("arch", ["transformer"])
@pytest.mark.parametrize("modality", ["image", "text"])
def test_transformers_never_get_batch_norm(arch, modality):
    recs = recommend({"arch": arch, "modality": modality, "depth": 48, "samples": 500_000})
    assert "batch_norm" not in recs.techniques()


# ---------------------------------------------------------------- coherent plans


def test_no_l1_or_elastic_net_without_a_wish_for_sparsity():
    for modality in ("tabular", "image", "sequence", None):
        recs = recommend({"modality": modality, "samples": 5_000, "fit": "overfitting"})
        assert not {"l1", "elastic_net"} & set(recs.techniques())


def test_mixup_and_cutmix_never_share_a_plan(tmp_path):
    # A user rule asks for both: the catalogue's conflict keeps the higher-ranked one.
    (tmp_path / "r.toml").write_text(
        'concern = "team"\n[[rules]]\nid = "TEAM-001"\nslug = "both"\ntitle = "both mixes"\n'
        "when = \"task == 'image'\"\n"
        'effects = [{ recommend = "cutmix", weight = 3 }, { recommend = "mixup", weight = 1 }]\n'
        'rationale = "the team mixes images both ways"\nfix = "none."\nsource = "team"\n',
        encoding="utf-8",
    )
    from advisor.engine import load_rules

    recs = recommend({**OVERFITTING_IMAGE, "classes": 10}, rules=load_rules([tmp_path]))
    assert "cutmix" in recs.techniques() and "mixup" not in recs.techniques()
    assert any("mixup left out" in n["text"] for n in recs.notes)


def test_label_smoothing_is_reduced_when_mixup_is_on():
    recs = recommend({**OVERFITTING_IMAGE, "samples": 50_000, "classes": 10})
    assert "mixup" in recs.techniques()
    smoothing = recs.get("label_smoothing")
    assert smoothing.params["smoothing"] < 0.1
    assert smoothing.search_space["smoothing"]["high"] <= 0.1


def test_lint_flags_a_rule_recommending_conflicting_techniques(tmp_path):
    from advisor.engine import lint_rules

    (tmp_path / "r.toml").write_text(
        'concern = "team"\n[[rules]]\nid = "TEAM-001"\nslug = "pens"\ntitle = "two penalties"\n'
        'when = "samples > 0"\n'
        'effects = [{ recommend = "l1", weight = 1 }, { recommend = "elastic_net", weight = 1 }]\n'
        'rationale = "two penalties at once for the test"\nfix = "none."\nsource = "team"\n'
        "cases.fire = [{ samples = 10 }]\ncases.no_fire = [{}]\n",
        encoding="utf-8",
    )
    _, problems = lint_rules(tmp_path)
    assert any("never share a plan" in p for p in problems)


# ---------------------------------------------------------------- start simple (G4.1)


@pytest.mark.parametrize(
    "declared",
    [
        {"modality": "image", "samples": 2_000, "params": 11e6, "fit": "overfitting"},
        {"modality": "sequence", "samples": 2_000, "arch": "rnn", "fit": "overfitting"},
        {"modality": "audio", "samples": 2_000, "pretrained": True, "fit": "overfitting"},
        {"modality": "tabular", "samples": 2_000, "sparsity": True, "fit": "overfitting"},
        {"samples": 2_000},
    ],
)
def test_stage_one_is_the_baseline_plus_at_most_one(declared):
    recs = recommend(declared)
    stage_one = [r.technique for r in recs if r.stage == 1]
    assert len([t for t in stage_one if not in_baseline(t)]) <= 1
    assert exclusive_pairs(recs.techniques()) == []


def test_the_strongest_pinned_technique_keeps_stage_one():
    # A small sequence dataset pins both augmentation (DATA-001) and dropout (TASK-003).
    recs = recommend({"modality": "sequence", "samples": 2_000, "fit": "overfitting"})
    assert recs.get("dropout").stage == 1
    assert recs.get("data_augmentation").stage == 2
