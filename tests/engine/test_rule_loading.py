"""User rule files: schema errors with file/id/field, overrides, lint."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from advisor.engine import lint_rules, load_rules, recommend
from advisor.errors import RuleError

GOOD = """
concern = "team rules"

[[rules]]
id = "TEAM-001"
slug = "tiny-data-mixup"
title = "Tiny image data: try mixup"
guidance = ["G2.6"]
when = "task == 'image' and samples < 1000"
effects = [{ recommend = "mixup", weight = 5 }]
rationale = "Our experience on tiny image sets: mixing pairs helps more than anything else."
fix = "Add mixup with alpha 0.2."
source = "team wiki"
cases.fire = [{ task = "image", samples = 500 }]
cases.no_fire = [{ task = "image", samples = 5000 }]
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_user_rule_is_loaded_and_used(tmp_path):
    write(tmp_path, "team.toml", GOOD)
    rules = load_rules([tmp_path])
    rule = rules.get("TEAM-001")
    assert rule is not None and not rule.builtin
    recs = recommend({"modality": "image", "samples": 500}, rules=rules)
    assert "mixup" in recs.techniques()
    assert recs.get("mixup").rules[0].rule.id == "TEAM-001"


def test_problems_name_file_rule_and_field(tmp_path):
    bad = GOOD.replace("weight = 5", "weight = -1").replace("G2.6", "G9.9")
    path = write(tmp_path, "team.toml", bad)
    with pytest.raises(RuleError) as info:
        load_rules([tmp_path])
    problems = info.value.problems
    assert any(p.startswith(f"{path}: rule TEAM-001: effects[0].weight:") for p in problems)
    assert any(p.startswith(f"{path}: rule TEAM-001: guidance:") and "G9.9" in p for p in problems)
    assert "\n" not in str(info.value)


def test_all_problems_of_all_files_are_collected(tmp_path):
    write(tmp_path, "a.toml", GOOD.replace("samples < 1000", "sampels < 1000"))
    write(
        tmp_path,
        "b.toml",
        GOOD.replace("TEAM-001", "TEAM-002")
        .replace("tiny-data-mixup", "x")
        .replace('recommend = "mixup"', 'recommend = "mixupp"'),
    )
    with pytest.raises(RuleError) as info:
        load_rules([tmp_path])
    text = "\n".join(info.value.problems)
    assert "a.toml: rule TEAM-001: when: unknown fact 'sampels' (did you mean 'samples'?)" in text
    assert "b.toml: rule TEAM-002: effects[0].recommend:" in text and "did you mean 'mixup'" in text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (('slug = "tiny-data-mixup"\n', ""), "slug"),
        (('id = "TEAM-001"', 'id = "team_1"'), "id"),
        (
            ('{ recommend = "mixup", weight = 5 }', '{ recommend = "mixup", veto = "l2" }'),
            "effects[0]",
        ),
        (
            (
                '{ recommend = "mixup", weight = 5 }',
                '{ search = "dropout", param = "rate", low = 0, high = 1 }',
            ),
            "effects[0].param",
        ),
        (
            (
                '{ recommend = "mixup", weight = 5 }',
                '{ search = "l2", param = "weight_decay", low = 0, high = 1, log = true }',
            ),
            "effects[0]",
        ),
        (
            ('{ recommend = "mixup", weight = 5 }', '{ transforms = "add", names = ["twirl"] }'),
            "effects[0].names",
        ),
        (('{ recommend = "mixup", weight = 5 }', '{ note = "{sampels} left" }'), "effects[0].note"),
        (
            (
                'cases.fire = [{ task = "image", samples = 500 }]',
                'cases.fire = [{ task = "image", size_class = "small" }]',
            ),
            "cases.fire[0]",
        ),
        (("rationale = ", 'colour = "red"\nrationale = '), "colour"),
        (
            (
                '{ recommend = "mixup", weight = 5 }',
                '{ set = "dropout", param = "p", value = "high" }',
            ),
            "effects[0].value",
        ),
    ],
)
def test_schema_problems_name_the_field(tmp_path, change, field):
    old, new = change
    assert old in GOOD
    write(tmp_path, "team.toml", GOOD.replace(old, new))
    with pytest.raises(RuleError) as info:
        load_rules([tmp_path])
    assert any(
        f": {field}:" in p or f": {field}" in p.split(": ", 3)[2] for p in info.value.problems
    ), info.value.problems


def test_invalid_toml_names_the_file(tmp_path):
    path = write(tmp_path, "broken.toml", "[[rules]\n")
    with pytest.raises(RuleError) as info:
        load_rules([tmp_path])
    assert info.value.problems[0].startswith(f"{path}: is not valid TOML")


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(RuleError) as info:
        load_rules([tmp_path / "nope"])
    assert "nope does not exist" in info.value.problems[0]


def test_duplicate_builtin_id_needs_explicit_override(tmp_path):
    write(tmp_path, "team.toml", GOOD.replace("TEAM-001", "FIT-001"))
    with pytest.raises(RuleError) as info:
        load_rules([tmp_path])
    assert any(
        "FIT-001: id: a built-in rule has this id; set override = true" in p
        for p in info.value.problems
    )


def test_explicit_override_replaces_builtin(tmp_path):
    text = GOOD.replace("TEAM-001", "FIT-001").replace(
        'slug = "tiny-data-mixup"', 'slug = "tiny-data-mixup"\noverride = true'
    )
    write(tmp_path, "team.toml", text)
    rules = load_rules([tmp_path])
    assert rules.get("FIT-001").source == "team wiki"
    assert "FIT-001" in rules.overridden
    assert len(rules) == len(load_rules())


def test_override_can_disable_a_builtin(tmp_path):
    text = GOOD.replace("TEAM-001", "TASK-002").replace(
        'slug = "tiny-data-mixup"', 'slug = "x"\noverride = true\nenabled = false'
    )
    write(tmp_path, "team.toml", text)
    rules = load_rules([tmp_path])
    recs = recommend(
        {"modality": "image", "samples": 2000, "fit": "overfitting", "no_flip": True}, rules=rules
    )
    assert "TASK-002" not in [r.id for r in recs.fired]
    augmentation = recs.get("data_augmentation")
    assert not any("mirroring is left out" in n for n in augmentation.notes)
    # The catalogue still never mirrors orientation-sensitive data, whatever the rules say.
    assert "flip" not in augmentation.params["transforms"]
    assert (
        "flip left out: it mirrors inputs whose orientation carries the label" in augmentation.notes
    )


def test_override_of_missing_builtin_is_an_error(tmp_path):
    write(
        tmp_path,
        "team.toml",
        GOOD.replace('slug = "tiny-data-mixup"', 'slug = "x"\noverride = true'),
    )
    with pytest.raises(RuleError) as info:
        load_rules([tmp_path])
    assert any("override: no built-in rule TEAM-001" in p for p in info.value.problems)


def test_duplicate_ids_across_user_files(tmp_path):
    write(tmp_path, "a.toml", GOOD)
    write(tmp_path, "b.toml", GOOD)
    with pytest.raises(RuleError) as info:
        load_rules([tmp_path])
    assert any("TEAM-001: id: duplicate" in p for p in info.value.problems)


def test_lint_runs_cases(tmp_path):
    write(tmp_path, "team.toml", GOOD.replace("samples = 5000", "samples = 50"))
    rules, problems = lint_rules(tmp_path)
    assert len(rules) == 1
    assert problems == [
        f"{tmp_path / 'team.toml'}: rule TEAM-001: cases.no_fire[0]: the rule fires on {{'task': 'image', 'samples': 50}}"
    ]


def test_lint_clean_and_require_cases(tmp_path):
    write(tmp_path, "team.toml", GOOD)
    assert lint_rules(tmp_path)[1] == []
    bare = GOOD.split("cases.fire")[0]
    write(tmp_path, "team.toml", bare)
    assert lint_rules(tmp_path)[1] == []
    problems = lint_rules(tmp_path, require_cases=True)[1]
    assert len(problems) == 2 and "cases.fire: needs at least one case" in problems[0]


def test_lint_single_file(tmp_path):
    path = write(tmp_path, "team.toml", GOOD)
    rules, problems = lint_rules(path)
    assert problems == [] and rules[0].id == "TEAM-001"


@pytest.mark.parametrize(
    ("technique", "param", "value", "problem"),
    [
        ("early_stopping", "patience", 5, None),
        ("early_stopping", "patience", 5.5, "an int >= 1"),
        ("early_stopping", "patience", -1, "an int >= 1"),
        ("dropout", "p", 1, "<= 0.95"),
        ("dropout", "p", -0.1, ">= 0"),
        ("l2", "weight_decay", "high", "a number"),
        ("data_augmentation", "no_flip", 1, "true or false"),
        ("data_augmentation", "transforms", ["rotation"], None),
        ("data_augmentation", "transforms", ["rotate"], "Did you mean 'rotation'"),
        ("early_stopping", "monitor", 3, "a metric name"),
    ],
)
def test_set_values_are_checked_by_the_catalogue(technique, param, value, problem):
    from advisor.catalogue import TECHNIQUES

    found = TECHNIQUES[technique].params[param].check_type(value)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize(
    ("when", "needle"),
    [
        ("9**9**9**9 > 1", "exponent of ** must be a number literal between -16 and 16"),
        ("samples ** samples > 1", "exponent of ** must be a number literal"),
        ("samples > 1e999", "beyond +-1e+18"),
        ("samples > 10**30", "raises to the power '30'"),
        ("task == 'image' and task * 100000000 == 'x'", "arithmetic needs numbers"),
        ("params" + " * 1e18" * 17 + " > 1", "too large"),
    ],
)
def test_lint_bounds_the_cost_of_every_condition(tmp_path, when, needle):
    """Conditions that would only fail (or hang) at evaluation are lint problems naming the rule."""
    bare = GOOD.split("cases.fire")[0].replace(
        "when = \"task == 'image' and samples < 1000\"", f'when = "{when}"'
    )
    write(tmp_path, "team.toml", bare)
    _rules, problems = lint_rules(tmp_path)
    assert len(problems) == 1, problems
    assert "rule TEAM-001: when:" in problems[0] and needle in problems[0]
    assert repr(when) in problems[0]  # the condition itself is quoted


def test_lint_evaluates_conditions_of_rules_with_cases(tmp_path):
    text = GOOD.replace(
        "when = \"task == 'image' and samples < 1000\"",
        "when = \"task == 'image' and samples < 1000 or no_flip * 'x' == 1\"",
    )
    write(tmp_path, "team.toml", text)
    problems = lint_rules(tmp_path)[1]
    assert problems and all("rule TEAM-001: when:" in p for p in problems)
