"""Linting rule files: the schema and conditions (as loading does), every rule's test cases,
conditions probed at the ends of every fact's range, and conflicts between the techniques a
rule recommends (``advisor.catalogue.CONFLICTS``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advisor.catalogue import exclusive_pairs
from advisor.engine._expr import ConditionError
from advisor.engine._facts import FACT_SPECS, facts_from_case
from advisor.engine._loader import _builtin, _merge, builtin_rules_dir, load_rule_files, rule_files
from advisor.engine._rule import Rule
from advisor.engine._rule_schema import kind_of
from advisor.errors import RuleError

__all__ = ["conflict_problems", "lint_rules", "run_cases"]


def _probe_namespaces() -> list[dict[str, Any]]:
    """Fact sets every condition is evaluated on by lint, cases or not: nothing known, every
    number fact at the low and at the high end of its range (the cost bound), and every fact
    known (text and yes/no facts too)."""
    unknown = dict.fromkeys(FACT_SPECS)
    low, high = dict(unknown), dict(unknown)
    for name, spec in FACT_SPECS.items():
        if spec.kind in ("int", "float"):
            low[name] = spec.minimum if spec.minimum is not None else 0
            high[name] = spec.maximum if spec.maximum is not None else 1e12
            if spec.kind == "int":
                low[name], high[name] = int(low[name]), int(high[name])
    known = dict(high)
    for name, spec in FACT_SPECS.items():
        if spec.kind == "enum":
            known[name] = spec.choices[0]
        elif spec.kind == "bool":
            known[name] = True
    return [unknown, low, high, known]


def run_cases(rule: Rule) -> list[str]:
    """Run a rule's test cases; return a problem per case that does not behave as declared.

    The condition is also evaluated on unknown facts and on every number fact at both ends of
    its range, so a condition that cannot be evaluated (``9**9**9**9 > 1``, a string in
    arithmetic) is a lint problem even for a rule without cases.
    """
    problems = []
    for namespace in _probe_namespaces():
        try:
            rule.condition.evaluate(namespace)
        except ConditionError as exc:
            problems.append(f"{rule.path}: rule {rule.id}: when: {exc}")
            return problems
    for kind, expected in (("fire", True), ("no_fire", False)):
        for j, case in enumerate(rule.cases.get(kind, [])):
            facts = facts_from_case(case, where=f"{rule.path}: rule {rule.id}: cases.{kind}[{j}]")
            try:
                fired = rule.condition.evaluate(facts.namespace())
            except ConditionError as exc:
                problems.append(f"{rule.path}: rule {rule.id}: when: {exc}")
                continue
            if fired != expected:
                verb = "does not fire" if expected else "fires"
                problems.append(
                    f"{rule.path}: rule {rule.id}: cases.{kind}[{j}]: the rule {verb} on {case}"
                )
    return problems


def lint_rules(
    directory: str | Path, *, require_cases: bool = False
) -> tuple[list[Rule], list[str]]:
    """Check the rule files of ``directory`` (a folder or one file) without raising.

    Checks the schema, the conditions, overrides against the built-in ids, runs each rule's
    test cases and flags rules recommending techniques that conflict. Returns the valid rules and the problems found (empty when clean).

    Example:
        >>> rules, problems = lint_rules(builtin_rules_dir(), require_cases=True)
        >>> problems
        []
    """
    path = Path(directory)
    try:
        files = rule_files(path)
    except RuleError as exc:
        return [], [str(exc)]
    builtin_dir = builtin_rules_dir()
    is_builtin = path.resolve() == builtin_dir.resolve()
    rules, problems = load_rule_files(files, builtin=is_builtin)
    if not is_builtin:
        base, _ = _builtin()
        _merge(base, rules, problems)
    for rule in rules:
        if require_cases or is_builtin:
            for kind in ("fire", "no_fire"):
                if not rule.cases.get(kind):
                    problems.append(
                        f"{rule.path}: rule {rule.id}: cases.{kind}: needs at least one case"
                    )
        problems.extend(run_cases(rule))
        problems.extend(conflict_problems(rule))
    return rules, problems


def conflict_problems(rule: Rule) -> list[str]:
    """A problem per pair of techniques the rule recommends that never share a plan.

    Only what one rule says can be determined without facts: two of its ``recommend``
    effects naming an exclusive pair (``l1`` and ``elastic_net``). The engine would keep the
    higher-ranked one and drop the other, so the rule should name one.

    Example:
        >>> from advisor.engine import load_rules
        >>> [conflict_problems(r) for r in load_rules() if conflict_problems(r)]
        []
    """
    named = [e.recommend for e in rule.effects if kind_of(e) == "recommend"]
    return [
        f"{rule.path}: rule {rule.id}: effects: recommends {a} and {b}, which never share a "
        f"plan ({conflict.reason}); the engine keeps the higher-ranked one, so name one of them"
        for a, b, conflict in exclusive_pairs(named)
    ]
