"""The catalogue is the one source: Stack, engine, tuner and CLI agree with it by construction."""

from __future__ import annotations

import itertools

import click
import pytest

from advisor._validation import MODALITIES, OBJECTIVES
from advisor.catalogue import (
    APPLY_ORDER,
    CONFLICTS,
    DEFAULT_TRANSFORMS,
    REGULARIZERS,
    TECHNIQUES,
    TRANSFORM_NAMES,
    decay_range,
    exclusive_pairs,
    fit_transforms,
    transforms_for,
)
from advisor.curves import VERDICTS
from advisor.errors import ConfigError


def test_every_parameter_has_a_one_line_reason_and_a_valid_default():
    for technique in TECHNIQUES.values():
        for name, param in technique.params.items():
            assert param.name == name
            assert param.reason and "\n" not in param.reason, (technique.name, name)
            assert param.check(param.default, of=technique.name) == param.default


def test_ranges_hold_the_default_and_stay_valid():
    for technique in TECHNIQUES.values():
        for param in technique.params.values():
            for spec in (param.advised, param.full):
                if spec is None:
                    continue
                param.check(spec["low"], of=technique.name)
                param.check(spec["high"], of=technique.name)
                assert spec["low"] <= param.default <= spec["high"], (technique.name, param.name)


def test_stack_defaults_and_checks_are_the_catalogues():
    from advisor.regularizers import DEFAULT_PARAMS, Stack
    from advisor.regularizers import TECHNIQUES as STACK_TECHNIQUES

    assert STACK_TECHNIQUES == APPLY_ORDER and set(APPLY_ORDER) == set(REGULARIZERS)
    for name in APPLY_ORDER:
        assert DEFAULT_PARAMS[name] == TECHNIQUES[name].defaults()
        assert Stack.of(name)[name].params == TECHNIQUES[name].check({})
    with pytest.raises(ConfigError, match=r"p of dropout must be a number >= 0 and <= 0.95"):
        Stack.of(dropout={"p": 0.96})


def test_engine_reads_the_catalogue():
    import advisor.engine as engine

    assert engine.TECHNIQUES is TECHNIQUES and engine.TRANSFORMS == TRANSFORM_NAMES
    recs = engine.recommend({"modality": "image", "samples": 500_000, "fit": "overfitting"})
    for rec in recs:
        technique = TECHNIQUES[rec.technique]
        assert set(rec.params) == set(technique.default_params())
        for name, spec in rec.search_space.items():
            # Rules narrow the advised range or set one inside the catalogue's full range.
            param = technique.params[name]
            known = (param.advised, param.full)
            if rec.technique == "l2":  # from the decay profile of the optimizer (AdamW here)
                decay = decay_range(None)
                known = ({"low": decay.low, "high": decay.high},)
            low, high = min(k["low"] for k in known), max(k["high"] for k in known)
            assert low <= spec["low"] <= spec["high"] <= high, (rec.technique, name)


def test_full_tuning_space_is_the_catalogues():
    from advisor.tuning._space import full_stack

    for piece in full_stack("classification", input_ndim=4):
        assert piece.search_space == TECHNIQUES[piece.technique].full_space()


def test_cli_choices_are_the_shared_names():
    from advisor.cli._diagnose import diagnose
    from advisor.cli._recommend import recommend

    for command in (recommend, diagnose):
        choices = {
            p.name: tuple(p.type.choices)
            for p in command.params
            if isinstance(p.type, click.Choice)
        }
        assert choices["modality"] == MODALITIES
        assert choices["objective"] == OBJECTIVES
    assert tuple(next(p for p in recommend.params if p.name == "fit").type.choices) == VERDICTS


def test_transform_tables_agree():
    assert {t for names in DEFAULT_TRANSFORMS.values() for t in names} <= set(TRANSFORM_NAMES)
    assert transforms_for("image", channels=3) == DEFAULT_TRANSFORMS["image"]
    assert "saturation" not in transforms_for("image", channels=1)
    assert "flip" not in transforms_for("image", no_flip=True)
    assert transforms_for("audio") == DEFAULT_TRANSFORMS["sequence"]
    assert transforms_for("text") == ()
    assert fit_transforms(["color"], channels=1) == (
        ["brightness", "contrast"],
        ["saturation", "hue"],
    )


def test_conflicts_name_known_techniques_and_parameters():
    for conflict in CONFLICTS:
        assert set(conflict.techniques) <= set(REGULARIZERS) and conflict.reason
        if conflict.kind == "reduce":
            assert conflict.param in TECHNIQUES[conflict.techniques[1]].params
        else:
            assert conflict.kind == "exclusive"


FACT_GRID = {
    "modality": [None, "image", "tabular", "sequence"],
    "samples": [500, 50_000],
    "fit": ["overfitting", None],
    "classes": [None, 10],
}


@pytest.mark.parametrize(
    "values", [dict(zip(FACT_GRID, combo)) for combo in itertools.product(*FACT_GRID.values())]
)
def test_no_plan_holds_two_conflicting_techniques(values):
    from advisor.engine import recommend

    recs = recommend({k: v for k, v in values.items() if v is not None})
    assert exclusive_pairs(recs.techniques()) == []
    assert [r.stage for r in recs] == sorted(r.stage for r in recs)
    assert {r.stage for r in recs} == set(range(1, len({r.stage for r in recs}) + 1))


def test_engine_keeps_the_higher_ranked_and_notes_the_dropped(tmp_path):
    from advisor.engine import load_rules, recommend

    (tmp_path / "team.toml").write_text(
        'concern = "team"\n[[rules]]\nid = "TEAM-001"\nslug = "l1"\ntitle = "L1 please"\n'
        'when = "fit == \'overfitting\'"\neffects = [{ recommend = "l1", weight = 1 }]\n'
        'rationale = "We like sparse weights here."\nfix = "Add L1."\nsource = "team"\n',
        encoding="utf-8",
    )
    recs = recommend({"fit": "overfitting"}, rules=load_rules([tmp_path]))
    assert "l2" in recs.techniques() and "l1" not in recs.techniques()
    note = next(n for n in recs.notes if n["rule"] == "catalogue")
    assert note["text"].startswith("l1 left out: it conflicts with l2")


def test_mixup_halves_label_smoothing():
    from advisor.engine import recommend

    recs = recommend({"modality": "image", "samples": 50_000, "classes": 10, "fit": "overfitting"})
    assert "mixup" in recs.techniques()
    smoothing = recs.get("label_smoothing")
    assert smoothing.params["smoothing"] == pytest.approx(0.05)
    assert smoothing.search_space["smoothing"]["high"] == pytest.approx(0.1)
    assert any("mixup is in the plan" in n for n in smoothing.notes)


def test_grey_images_get_no_colour_transforms():
    from advisor.engine import build_facts, recommend

    facts = build_facts(
        model={"input_channels": 1},
        declared={"modality": "image", "samples": 2000, "fit": "overfitting"},
    )
    augmentation = recommend(facts).get("data_augmentation")
    assert "saturation" not in augmentation.params["transforms"]
    assert "rotation" in augmentation.params["transforms"]
    assert any("saturation left out" in n for n in augmentation.notes)


def test_lint_reports_a_rule_recommending_conflicting_techniques(tmp_path):
    from advisor.engine import lint_rules

    path = tmp_path / "team.toml"
    path.write_text(
        'concern = "team"\n[[rules]]\nid = "TEAM-001"\nslug = "both"\ntitle = "Both penalties"\n'
        "when = \"fit == 'overfitting'\"\n"
        'effects = [{ recommend = "l1", weight = 1 }, { recommend = "elastic_net", weight = 1 }]\n'
        'rationale = "We like sparse weights here."\nfix = "Add both."\nsource = "team"\n',
        encoding="utf-8",
    )
    _, problems = lint_rules(path)
    assert len(problems) == 1
    assert (
        "rule TEAM-001: effects: recommends l1 and elastic_net, which never share a plan"
        in (problems[0])
    )
