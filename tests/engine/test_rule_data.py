"""The built-in knowledge base: schema, ids, guidance coverage, and every rule's own cases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from advisor.engine import GUIDANCE_IDS, builtin_rules_dir, lint_rules, load_rules
from advisor.engine._facts import facts_from_case

RULES = load_rules()
GUIDANCE_FILE = Path(__file__).resolve().parents[3] / "shared" / "guidance.md"


def test_builtin_rules_lint_clean():
    rules, problems = lint_rules(builtin_rules_dir(), require_cases=True)
    assert problems == []
    assert len(rules) == len(RULES)


def test_rule_ids_are_unique_and_well_formed():
    ids = RULES.ids()
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Z]{2,6}-\d{3}", i) for i in ids)
    slugs = [r.slug for r in RULES]
    assert len(slugs) == len(set(slugs))


def test_one_file_per_concern():
    stems = {p.stem for p in builtin_rules_dir().glob("*.toml")}
    assert stems == {
        "fit_state",
        "dataset_size",
        "model_complexity",
        "task_type",
        "compute_budget",
        "fine_tuning",
        "practice",
        "expert",
    }
    assert len({r.concern for r in RULES}) == len(stems)


def test_every_guidance_id_is_cited():
    cited = {g for r in RULES for g in r.guidance}
    assert set(GUIDANCE_IDS) - cited == set()


def test_guidance_ids_match_the_guide():
    if not GUIDANCE_FILE.is_file():
        pytest.skip(f"{GUIDANCE_FILE} is absent (it sits beside the checkout in CI)")
    in_guide = set(re.findall(r"\*\*(G\d\.\d)\b", GUIDANCE_FILE.read_text(encoding="utf-8")))
    assert in_guide == set(GUIDANCE_IDS)


def test_every_rule_has_both_kinds_of_case():
    for rule in RULES:
        assert rule.cases["fire"], rule.id
        assert rule.cases["no_fire"], rule.id


def test_every_rule_has_a_source_and_rationale():
    for rule in RULES:
        assert rule.source and len(rule.rationale) > 40, rule.id
        assert rule.guidance or "et al" in rule.source or "&" in rule.source, rule.id


def _cases(kind: str):
    for rule in RULES:
        for i, case in enumerate(rule.cases[kind]):
            yield pytest.param(rule, case, id=f"{rule.id}-{kind}-{i}")


@pytest.mark.parametrize(("rule", "case"), list(_cases("fire")))
def test_rule_fires_on_its_fire_cases(rule, case):
    facts = facts_from_case(case, where=rule.id)
    assert rule.fires(facts.namespace())


@pytest.mark.parametrize(("rule", "case"), list(_cases("no_fire")))
def test_rule_does_not_fire_on_its_no_fire_cases(rule, case):
    facts = facts_from_case(case, where=rule.id)
    assert not rule.fires(facts.namespace())


def test_rules_ship_inside_the_wheel_config():
    import tomllib

    root = builtin_rules_dir().parent
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    force = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert force["rules"] == "advisor/rules"
