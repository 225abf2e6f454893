"""The engine's behaviour on the situations a user will check (issue 4)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from rich.console import Console

from advisor.catalogue import decay_range
from advisor.engine import REGULARIZERS, TECHNIQUES, build_facts, recommend


def plan(**declared):
    return recommend(declared)


def test_small_image_dataset_overfitting_cnn():
    recs = plan(modality="image", samples=2000, params=11e6, arch="cnn", fit="overfitting")
    assert set(recs.techniques()[:2]) == {"data_augmentation", "early_stopping"}
    augmentation = recs.get("data_augmentation")
    assert augmentation.stage == 1
    assert {"flip", "rotation", "crop"} <= set(augmentation.params["transforms"])


def test_no_flip_removes_horizontal_flip():
    recs = plan(modality="image", samples=2000, fit="overfitting", no_flip=True)
    params = recs.get("data_augmentation").params
    assert "flip" not in params["transforms"] and "vflip" not in params["transforms"]
    assert params["no_flip"] is True
    assert "rotation" in params["transforms"]
    assert any("mirroring" in n for n in recs.get("data_augmentation").notes)


def test_large_dataset_deep_network():
    recs = plan(
        modality="image", samples=500_000, params=25e6, depth=50, arch="resnet", fit="overfitting"
    )
    order = recs.techniques()
    assert order.index("l2") < order.index("data_augmentation")
    # G3.3: images want augmentation first; a ResNet's convolutions train without dropout.
    assert order.index("data_augmentation") < order.index("dropout")
    # A ResNet has BatchNorm by construction (assumed until declared otherwise).
    assert "batch_norm" not in order
    assert recs.facts.fact("has_batchnorm").origin == "default"
    with_declared = plan(
        modality="image", samples=500_000, depth=50, arch="resnet", fit="overfitting", norm="none"
    )
    assert "batch_norm" in with_declared.techniques()


def test_large_dataset_with_batchnorm_does_not_add_it():
    recs = plan(samples=500_000, depth=50, fit="overfitting", has_batchnorm=True)
    assert "batch_norm" not in recs.techniques()
    vetoed = recs.get("batch_norm")
    assert vetoed.stage is None and vetoed.vetoed
    assert any(h.rule.id == "CPLX-003" for h in vetoed.rules)


@pytest.mark.parametrize(
    "declared",
    [
        {"modality": "sequence", "arch": "rnn"},
        {"modality": "text", "arch": "transformer"},
        {"modality": "sequence", "arch": "transformer", "samples": 50_000},
    ],
)
def test_sequence_model_dropout_and_l2_first(declared):
    recs = plan(fit="overfitting", **declared)
    assert set(recs.techniques()[:2]) == {"dropout", "l2"}


def test_underfitting_with_existing_regularization():
    recs = plan(
        fit="underfitting", has_dropout=0.5, weight_decay=0.01, modality="image", samples=2000
    )
    # EXP-016 (advice-lift benchmark): dropout 0.5 or more is searched below the rate in
    # effect; no other regularizer is added.
    assert recs.techniques() == ["reduce_regularization", "dropout", "increase_capacity"]
    reduce = recs.get("reduce_regularization")
    text = " ".join(reduce.notes)
    assert "0.5" in text and "0.01" in text
    assert [r.technique for r in recs if r.kind == "regularizer"] == ["dropout"]
    assert recs.get("dropout").search_space["p"]["high"] < 0.5
    assert [p["technique"] for p in recs.to_stack()["pieces"]] == ["dropout"]
    # the small image dataset wanted augmentation; the veto wins and says why
    assert recs.get("data_augmentation") is None or recs.get("data_augmentation").stage is None


def test_underfitting_without_existing_regularization():
    recs = plan(fit="underfitting")
    assert recs.techniques() == ["increase_capacity"]


def test_fine_tuning_uses_light_ranges():
    scratch = plan(modality="image", samples=20_000, params=25e6, fit="overfitting")
    tuned = plan(modality="image", samples=20_000, params=25e6, fit="overfitting", pretrained=True)
    for technique, param in (("dropout", "p"), ("l2", "weight_decay")):
        light = tuned.get(technique).search_space[param]
        full = scratch.get(technique).search_space[param]
        assert light["high"] < full["high"]
        low, high = light["low"], light["high"]
        assert low <= tuned.get(technique).params[param] <= high
    assert tuned.get("dropout").search_space["p"]["high"] <= 0.2
    light = decay_range(None, fine_tuning=True)
    assert tuned.get("l2").params["weight_decay"] == light.default
    assert tuned.get("l2").search_space["weight_decay"] == {
        "type": "float",
        "low": light.low,
        "high": light.high,
        "log": True,
    }
    assert "batch_norm" not in tuned.techniques()


def test_low_budget_ranks_early_stopping_up_and_dropout_down():
    base = dict(modality="image", samples=20_000, params=25e6, fit="overfitting")
    medium = plan(**base)
    low = plan(budget="low", **base)
    assert low.get("early_stopping").score > medium.get("early_stopping").score
    assert low.techniques()[0] == "early_stopping"
    assert low.get("dropout").score < medium.get("dropout").score
    assert low.techniques().index("dropout") >= medium.techniques().index("dropout")
    hit = next(h for h in low.get("dropout").rules if h.rule.id == "BUD-002")
    assert hit.weight < 0 and "longer" in hit.rule.rationale
    assert any("budget" in n for n in low.get("dropout").notes)
    assert (
        low.get("early_stopping").params["patience"]
        < medium.get("early_stopping").params["patience"]
    )


def test_gpu_hours_act_like_budget():
    recs = plan(gpu_hours=0.5, fit="overfitting")
    assert any(h.rule.id == "BUD-001" for h in recs.get("early_stopping").rules)


def test_not_converged_trains_longer_first():
    recs = plan(fit="not_converged", modality="image", samples=2000)
    assert recs.techniques()[0] == "train_longer"
    assert recs[0].stage == 1 and recs.deferred


def test_diverging_lowers_learning_rate_and_defers():
    recs = plan(fit="diverging", modality="image", samples=2000, params=25e6)
    assert recs.techniques()[0] == "lower_learning_rate"
    assert recs.deferred
    assert all(r.stage >= 2 for r in recs if r.kind == "regularizer")
    assert recs.to_stack(max_stage=1)["pieces"] == []
    # The plan shows the stabilising steps it talks about, and promises nothing "below".
    steps = " ".join(recs.get("lower_learning_rate").notes)
    assert "clip" in steps and "warm" in steps
    assert not any("below is provisional" in n["text"] for n in recs.notes)
    with_lr = plan(fit="diverging", lr=0.1)
    assert any("0.1" in n for n in with_lr.get("lower_learning_rate").notes)


def test_defer_moves_pinned_regularizers_after_the_fix(tmp_path):
    # A user rule pins weight decay to stage 1 even when diverging: defer still wins.
    (tmp_path / "r.toml").write_text(
        'concern = "team"\n[[rules]]\nid = "TEAM-001"\nslug = "x"\ntitle = "pin l2"\n'
        'when = "fit == \'diverging\'"\neffects = [{ recommend = "l2", weight = 9 }, { stage = "l2", at = 1 }]\n'
        'rationale = "pinned for the test of deferral"\nfix = "none."\nsource = "test"\n',
        encoding="utf-8",
    )
    from advisor.engine import load_rules

    recs = recommend({"fit": "diverging"}, rules=load_rules([tmp_path]))
    assert recs.techniques() == ["lower_learning_rate", "l2"]
    assert recs.get("l2").stage == 2


def test_good_fit_changes_little():
    recs = plan(fit="good_fit", modality="image", samples=2000)
    assert recs.techniques() == ["early_stopping"]


def test_every_recommendation_is_explained():
    recs = plan(modality="image", samples=2000, params=11e6, fit="overfitting", classes=10)
    data = recs.to_dict()
    assert [d["technique"] for d in data] == recs.techniques()
    for item in data:
        assert {
            "technique",
            "score",
            "stage",
            "rules",
            "rationale",
            "search_space",
            "evidence",
            "params",
        } <= set(item)
        assert item["technique"] in TECHNIQUES
        assert item["score"] > 0 and item["stage"] >= 1
        assert item["rules"] and all(
            {"id", "rationale", "effect", "source"} <= set(r) for r in item["rules"]
        )
        assert item["rationale"] and "\n" not in item["rationale"]
        assert item["evidence"]
    assert data[0]["evidence"]["size_class"] == {"value": "small", "origin": "derived"}
    assert recs.get("data_augmentation").to_dict()["evidence"]["task"] == {
        "value": "image",
        "origin": "declared",
    }
    stages = [d["stage"] for d in data]
    assert stages == sorted(stages)
    json.dumps(data)


def test_stage_one_is_the_baseline_and_later_stages_one_at_a_time():
    recs = plan(
        modality="image", samples=500_000, params=25e6, depth=50, arch="resnet", fit="overfitting"
    )
    stage1 = {r.technique for r in recs if r.stage == 1}
    assert stage1 == {"l2", "early_stopping"}
    later = [r.stage for r in recs if r.stage > 1]
    assert later == sorted(later) and len(later) == len(set(later))


def test_to_stack_matches_the_spec():
    recs = plan(modality="image", samples=2000, params=11e6, fit="overfitting")
    stack = recs.to_stack()
    assert stack["version"] == 1
    names = [p["technique"] for p in stack["pieces"]]
    assert names == [r.technique for r in recs if r.kind == "regularizer"]
    assert set(names) <= set(REGULARIZERS)
    l2 = next(p for p in stack["pieces"] if p["technique"] == "l2")
    decay = decay_range("adamw")  # no optimizer declared: the snippet's AdamW
    assert l2["params"] == {"weight_decay": decay.default}
    assert l2["search_space"]["weight_decay"] == {
        "type": "float",
        "low": decay.low,
        "high": decay.high,
        "log": True,
    }
    assert [p["technique"] for p in recs.to_stack(max_stage=1)["pieces"]] == [
        r.technique for r in recs if r.stage == 1 and r.kind == "regularizer"
    ]


def test_to_stack_is_accepted_by_the_regularizers_package():
    regularizers = pytest.importorskip("advisor.regularizers")
    for declared in (
        dict(
            modality="image", samples=2000, params=11e6, fit="overfitting", no_flip=True, classes=10
        ),
        dict(
            modality="image",
            samples=500_000,
            params=25e6,
            depth=50,
            arch="resnet",
            fit="overfitting",
        ),
        dict(modality="tabular", samples=5000, fit="overfitting"),
        dict(modality="audio", samples=3000, fit="overfitting", pretrained=True, budget="low"),
        dict(modality="sequence", arch="rnn", fit="overfitting"),
    ):
        stack = regularizers.Stack.from_dict(plan(**declared).to_stack())
        assert stack.to_code()


def test_search_spaces_are_valid_everywhere():
    for declared in (
        {},
        {"fit": "overfitting", "pretrained": True},
        {"modality": "tabular", "fit": "overfitting"},
        {"modality": "image", "samples": 50_000, "classes": 10, "fit": "overfitting"},
    ):
        for rec in plan(**declared):
            for name, spec in rec.search_space.items():
                assert name in rec.params
                if spec["type"] != "categorical":
                    assert spec["low"] <= rec.params[name] <= spec["high"]
                    assert not spec.get("log") or spec["low"] > 0


def test_unknown_fit_recommends_baseline_and_asks_for_curves():
    recs = plan(modality="image", samples=2000)
    assert {"early_stopping", "data_augmentation", "l2"} <= set(recs.techniques())
    assert any(n["rule"] == "PRC-004" for n in recs.notes)


def test_tabular_gets_l2_and_no_augmentation():
    recs = plan(modality="tabular", samples=2_000, fit="overfitting")
    assert recs.get("l2").stage == 1
    assert not {"elastic_net", "l1"} & set(recs.techniques())
    # TASK-009 vetoes input noise, whatever the dataset-size rules want.
    assert "data_augmentation" not in recs.techniques() and recs.get("data_augmentation").vetoed


def test_sparsity_asked_for_puts_elastic_net_in_l2s_place():
    recs = plan(modality="tabular", samples=50_000, fit="overfitting", sparsity=True)
    # Elastic net already is L1 + L2: it replaces plain L2 in stage 1 (never beside it).
    assert recs.get("elastic_net").stage == 1
    assert "l2" not in recs.techniques() and recs.get("l2").vetoed


def test_small_batch_vetoes_batchnorm():
    recs = plan(depth=30, batch_size=4, fit="overfitting")
    assert "batch_norm" not in recs.techniques()


def test_regression_vetoes_label_smoothing():
    fit = {"verdict": "overfitting", "onset_epoch": 1, "n_epochs": 50}
    assert (
        "label_smoothing" in recommend(build_facts(fit=fit, declared={"classes": 10})).techniques()
    )
    recs = recommend(build_facts(fit=fit, declared={"classes": 1}))
    assert "label_smoothing" not in recs.techniques()


def test_measured_facts_feed_the_engine():
    facts = build_facts(
        fit={"verdict": "overfitting", "onset_epoch": 2, "n_epochs": 40},
        model={"params": 3e6, "depth": 12, "has_batchnorm": False},
        declared={"classes": 10, "modality": "image"},
    )
    recs = recommend(facts)
    assert "label_smoothing" in recs.techniques()
    assert recs.get("label_smoothing").evidence["onset_fraction"].origin == "derived"
    assert recs.get("batch_norm").evidence["depth"].origin == "measured"


def test_dict_facts_errors_are_config_errors():
    from advisor.errors import ConfigError

    with pytest.raises(ConfigError):
        recommend({"budget": "huge"})


def test_report_renders_facts_plan_and_snippet():
    recs = plan(modality="image", samples=2000, params=11e6, fit="overfitting", budget="low")
    console = Console(width=140, record=True)
    console.print(recs)
    text = console.export_text()
    for expected in (
        "Verdict: overfitting",
        "Key facts",
        "samples",
        "declared",
        "Plan",
        "early_stopping",
        "Stage 1 in PyTorch",
        "AdamW",
        "DATA-001",
        "ranked down",
    ):
        assert expected in text, expected


def test_report_without_plan():
    recs = plan(fit="underfitting")
    console = Console(width=120, record=True)
    console.print(recs)
    text = console.export_text()
    assert "increase_capacity" in text and "Stage 1 in PyTorch" not in text


def test_engine_imports_no_heavy_library():
    code = (
        "import sys, advisor.engine, advisor.cli._recommend, advisor.cli._rules;"
        "from advisor.engine import recommend; recommend({'modality': 'image', 'fit': 'overfitting'});"
        "print([m for m in ('torch', 'optuna', 'sklearn', 'matplotlib') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_stages_are_numbered_from_one(tmp_path):
    (tmp_path / "r.toml").write_text(
        'concern = "team"\n[[rules]]\nid = "TEAM-001"\nslug = "x"\ntitle = "pin late"\n'
        'when = "fit == \'underfitting\'"\neffects = [{ recommend = "increase_capacity", weight = 1 }, '
        '{ stage = "increase_capacity", at = 5 }]\n'
        'rationale = "pinned late for the numbering test"\nfix = "none."\nsource = "test"\n',
        encoding="utf-8",
    )
    from advisor.engine import load_rules

    recs = recommend({"fit": "underfitting"}, rules=load_rules([tmp_path]))
    assert [r.stage for r in recs] == [1]


def test_augmentation_without_task_leaves_transforms_to_the_data():
    recs = plan(samples=2000, fit="overfitting", no_flip=True)
    augmentation = recs.get("data_augmentation")
    assert augmentation.params["transforms"] is None and augmentation.params["no_flip"] is True
    assert any("no task declared" in n for n in augmentation.notes)
    regularizers = pytest.importorskip("advisor.regularizers")
    regularizers.Stack.from_dict(recs.to_stack())
