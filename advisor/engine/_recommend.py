"""The engine: evaluate every rule on the facts, combine the effects, order a staged plan.

Scoring is additive: each fired rule adds (``recommend``) or subtracts (``discourage``)
weight per technique; a ``veto`` removes a technique whatever its score (underfitting vetoes
every regularizer, even on a small dataset; an existing BatchNorm vetoes ``batch_norm``).
Techniques with a positive score and no veto are recommended.

Stages follow the practice of the guidance (G4.1, G4.5): rules may pin a technique to a
stage (stage 1 is the baseline: L2 + early stopping, plus what the facts make essential);
every other technique gets a stage of its own, in score order, so that each addition can
be tested alone. A ``defer`` effect (diverging or unfinished training) moves every
regularizer after stage 1, which then holds the training fix only. The result types are in
``_plan``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from advisor.catalogue import (
    CONFLICTS,
    TECHNIQUES,
    TRANSFORMS,
    exclusive_pairs,
    fit_transforms,
    technique_groups,
)
from advisor.engine._facts import Fact, Facts, build_facts, format_value
from advisor.engine._loader import load_rules
from advisor.engine._plan import Recommendation, Recommendations, RuleHit
from advisor.engine._rule import Rule, RuleSet
from advisor.engine._rule_schema import describe_effect, kind_of

# The result types are re-exported here for code that imported them from this module.
__all__ = ["Recommendation", "Recommendations", "RuleHit", "recommend"]

_ORDER = {name: i for i, name in enumerate(TECHNIQUES)}
_GROUPS = technique_groups()


class _FactFormat(dict):
    def __init__(self, facts: Facts):
        super().__init__()
        self._facts = facts

    def __missing__(self, key: str) -> str:
        return format_value(self._facts[key])


def _first_sentence(text: str) -> str:
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return match.group(1) if match else text


def _expand(name: str) -> tuple[str, ...]:
    return _GROUPS.get(name, (name,))


def _space_of(effect: Any, current: dict[str, Any] | None, default_value: Any) -> dict[str, Any]:
    if effect.choices is not None:
        return {"type": "categorical", "choices": list(effect.choices)}
    is_int = (current or {}).get("type") == "int" or (
        isinstance(default_value, int)
        and float(effect.low).is_integer()
        and float(effect.high).is_integer()
    )
    low, high = (
        (int(effect.low), int(effect.high)) if is_int else (float(effect.low), float(effect.high))
    )
    space: dict[str, Any] = {"type": "int" if is_int else "float", "low": low, "high": high}
    if effect.log:
        space["log"] = True
    return space


def _resolve_space(
    technique: str, searches: list[tuple[Any, Rule]], params: dict[str, Any]
) -> dict[str, Any]:
    space = TECHNIQUES[technique].default_space()
    # "set" effects first (in rule order), then every "narrow" intersects what is there.
    ordered = [s for s in searches if s[0].mode == "set"] + [
        s for s in searches if s[0].mode == "narrow"
    ]
    for effect, _rule in ordered:
        new = _space_of(effect, space.get(effect.param), params.get(effect.param))
        old = space.get(effect.param)
        if (
            effect.mode == "narrow"
            and old
            and old.get("type") in ("int", "float")
            and new["type"] == old["type"]
        ):
            low, high = max(old["low"], new["low"]), min(old["high"], new["high"])
            if low <= high:
                new = {**old, "low": low, "high": high}
                if new.get("log") and low <= 0:
                    new.pop("log")
        space[effect.param] = new
    return space


def _clamp(params: dict[str, Any], space: dict[str, Any]) -> None:
    """Move a starting value that lies outside its final range to the middle of the range."""
    for name, spec in space.items():
        value = params.get(name)
        if spec.get("type") == "categorical":
            if value not in spec["choices"]:
                params[name] = spec["choices"][0]
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        low, high = spec["low"], spec["high"]
        if low <= value <= high:
            continue
        if spec.get("log") and low > 0:
            middle = math.sqrt(low * high)
            middle = float(f"{middle:.1g}")  # a round number inside the range
            params[name] = min(max(middle, low), high)
        else:
            params[name] = (low + high) / 2 if spec["type"] == "float" else (low + high) // 2


def _drop_conflicts(order: list[str], plan_notes: list[dict[str, str]]) -> list[str]:
    """Keep the higher-ranked of two techniques that never share a plan; note the dropped one."""
    kept: list[str] = []
    for name in order:
        clash = next(((a, c) for a, b, c in exclusive_pairs([*kept, name]) if b == name), None)
        if clash is None:
            kept.append(name)
            continue
        winner, conflict = clash
        plan_notes.append(
            {
                "rule": "catalogue",
                "text": f"{name} left out: it conflicts with {winner}, which ranks higher "
                f"({conflict.reason}); try {name} in {winner}'s place, not beside it",
            }
        )
    return kept


def _reduce_conflicting(items: list[Recommendation]) -> None:
    """Weaken a technique when another in the plan already does part of its job."""
    present = {r.technique: r for r in items}
    for conflict in CONFLICTS:
        if conflict.kind != "reduce":
            continue
        trigger, reduced = conflict.techniques
        rec = present.get(reduced)
        if trigger not in present or rec is None or conflict.param not in rec.params:
            continue
        name, factor = conflict.param, conflict.factor
        value = rec.params[name]
        if isinstance(value, int | float) and not isinstance(value, bool):
            rec.params[name] = round(value * factor, 6)
        spec = rec.search_space.get(name)
        if spec and spec.get("type") in ("int", "float"):
            spec["high"] = max(spec["low"], round(spec["high"] * factor, 6))
            rec.params[name] = min(max(rec.params[name], spec["low"]), spec["high"])
        rec.notes.append(f"{name} x{factor:g} because {trigger} is in the plan: {conflict.reason}")


def recommend(
    facts: Facts | Mapping[str, Any] | None = None, *, rules: RuleSet | None = None
) -> Recommendations:
    """Evaluate the rules on ``facts`` and return the staged, explained plan.

    Args:
        facts: a ``Facts`` object, or a dict of declared facts (passed to ``build_facts``).
        rules: the rules to evaluate; the built-in rules when ``None``.

    Returns:
        ``Recommendations`` in plan order.

    Raises:
        ConfigError: ``facts`` is a dict with an unknown key or an invalid value.

    Example:
        >>> recs = recommend({"modality": "sequence", "fit": "overfitting"})
        >>> recs.techniques()[:2]
        ['l2', 'dropout']
    """
    if not isinstance(facts, Facts):
        facts = build_facts(declared=dict(facts or {}))
    ruleset = rules if rules is not None else load_rules()
    values = facts.namespace()
    fired = [r for r in ruleset if r.enabled and r.fires(values)]

    scores: dict[str, float] = {}
    hits: dict[str, list[RuleHit]] = {}
    vetoes: dict[str, list[RuleHit]] = {}
    stage_hints: dict[str, int] = {}
    searches: dict[str, list[tuple[Any, Rule]]] = {}
    params: dict[str, dict[str, Any]] = {t: TECHNIQUES[t].default_params() for t in TECHNIQUES}
    adds: list[str] = []
    removes: set[str] = set()
    notes: dict[str, list[str]] = {}
    plan_notes: list[dict[str, str]] = []
    deferred = False
    explicit: set[str] = set()  # discouraged or vetoed by name, not through a group
    formatter = _FactFormat(facts)

    for rule in fired:
        for effect in rule.effects:
            kind = kind_of(effect)
            text = describe_effect(effect)
            if kind == "recommend":
                scores[effect.recommend] = scores.get(effect.recommend, 0.0) + effect.weight
                hits.setdefault(effect.recommend, []).append(RuleHit(rule, text, effect.weight))
            elif kind == "discourage":
                explicit.add(effect.discourage)
                for name in _expand(effect.discourage):
                    scores[name] = scores.get(name, 0.0) - effect.weight
                    hits.setdefault(name, []).append(
                        RuleHit(rule, f"-{effect.weight:g} {name}", -effect.weight)
                    )
            elif kind == "veto":
                explicit.add(effect.veto)
                for name in _expand(effect.veto):
                    vetoes.setdefault(name, []).append(RuleHit(rule, f"veto {name}"))
            elif kind == "search":
                searches.setdefault(effect.search, []).append((effect, rule))
                hits.setdefault(effect.search, []).append(RuleHit(rule, text))
            elif kind == "set":
                params[effect.set][effect.param] = effect.value
                hits.setdefault(effect.set, []).append(RuleHit(rule, text))
            elif kind == "stage":
                stage_hints[effect.stage] = min(stage_hints.get(effect.stage, effect.at), effect.at)
            elif kind == "transforms":
                if effect.transforms == "add":
                    adds.extend(n for n in effect.names if n not in adds)
                else:
                    removes.update(effect.names)
                hits.setdefault("data_augmentation", []).append(RuleHit(rule, text))
            elif kind == "note":
                line = effect.note.format_map(formatter)
                if effect.on:
                    notes.setdefault(effect.on, []).append(line)
                else:
                    plan_notes.append({"rule": rule.id, "text": line})
            elif kind == "defer":
                deferred = True
    chosen = [n for n in adds if n not in removes]
    # The catalogue says which transforms the input allows: colour needs 3 channels, mirrors
    # never go on orientation-sensitive data (whatever the rules added).
    channels, no_flip = facts["channels"], bool(facts["no_flip"])
    kept, dropped = fit_transforms(chosen, channels=channels, no_flip=no_flip)
    params["data_augmentation"]["transforms"] = kept
    if no_flip:
        params["data_augmentation"]["no_flip"] = True
    for name in dropped:
        why = (
            "it mirrors inputs whose orientation carries the label"
            if TRANSFORMS[name].mirrors and no_flip
            else f"it needs 3 colour channels and the input has {channels}"
        )
        notes.setdefault("data_augmentation", []).append(f"{name} left out: {why}")

    def build(name: str, score: float, stage: int | None) -> Recommendation:
        trace = sorted(
            hits.get(name, []) + vetoes.get(name, []), key=lambda h: (-abs(h.weight), h.rule.id)
        )
        if stage is None:
            lead = next((h for h in trace if h.effect.startswith("veto")), None) or min(
                trace, key=lambda h: h.weight
            )
        else:
            lead = max(trace, key=lambda h: h.weight)
        evidence: dict[str, Fact] = {}
        for hit in trace:
            for fact_name in sorted(hit.rule.condition.names):
                fact = facts.fact(fact_name)
                if fact is not None:
                    evidence[fact_name] = fact
        piece_params = params[name] if TECHNIQUES[name].kind == "regularizer" else {}
        space = _resolve_space(name, searches.get(name, []), piece_params) if piece_params else {}
        _clamp(piece_params, space)
        return Recommendation(
            technique=name,
            kind=TECHNIQUES[name].kind,
            score=round(score, 3),
            stage=stage,
            rules=trace,
            rationale=_first_sentence(lead.rule.rationale),
            evidence=evidence,
            params=piece_params,
            search_space=space,
            notes=notes.get(name, []),
            vetoed=name in vetoes,
        )

    candidates = [t for t, s in scores.items() if s > 0 and t not in vetoes]
    # No task rule chose transforms (task unknown): None lets advisor.regularizers use every
    # transform that fits the input's shape (no_flip still applies); say so, since the user
    # may know which transforms keep the label.
    if "data_augmentation" in candidates and not params["data_augmentation"]["transforms"]:
        params["data_augmentation"]["transforms"] = None
        modality = facts["modality"]
        why = (
            "no task declared"
            if modality is None
            else f"no rule names transforms for task '{modality}'"
        )
        notes.setdefault("data_augmentation", []).append(
            f"transforms left to the input shape ({why}): keep only transforms that leave the "
            "label unchanged"
        )

    def hinted(name: str) -> int | None:
        hint = stage_hints.get(name)
        if deferred and TECHNIQUES[name].kind == "regularizer":
            return max(hint or 2, 2)
        return hint

    pinned = sorted(
        (t for t in candidates if hinted(t) is not None),
        key=lambda t: (hinted(t), -scores[t], _ORDER[t]),
    )
    free = sorted(
        (t for t in candidates if hinted(t) is None), key=lambda t: (-scores[t], _ORDER[t])
    )
    next_stage = max((hinted(t) for t in pinned), default=0) + 1
    stages = {t: hinted(t) for t in pinned}
    for offset, name in enumerate(free):
        stages[name] = next_stage + offset
    # Number the stages 1, 2, 3 ... whatever the pins were (a user rule may pin "at = 3" alone).
    renumber = {stage: i + 1 for i, stage in enumerate(sorted(set(stages.values())))}
    stages = {t: renumber[stage] for t, stage in stages.items()}
    order = sorted(candidates, key=lambda t: (stages[t], -scores[t], _ORDER[t]))
    order = _drop_conflicts(order, plan_notes)
    renumber = {stage: i + 1 for i, stage in enumerate(sorted({stages[t] for t in order}))}
    items = [build(t, scores[t], renumber[stages[t]]) for t in order]
    _reduce_conflicting(items)

    touched = [t for t in TECHNIQUES if (t in scores or t in vetoes) and t not in candidates]
    discouraged = [
        build(t, scores.get(t, 0.0), None) for t in touched if hits.get(t) or vetoes.get(t)
    ]
    # Discouraged techniques nobody recommended are noise unless a rule vetoed or scored them.
    # A group veto (underfitting: no new regularizer) would list every technique; show those
    # some rule wanted or that a rule named.
    discouraged = [
        d for d in discouraged if d.technique in explicit or any(h.weight > 0 for h in d.rules)
    ]
    return Recommendations(
        items,
        facts=facts,
        discouraged=discouraged,
        notes=plan_notes,
        fired=fired,
        deferred=deferred,
    )
