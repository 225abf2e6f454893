"""The engine: evaluate every rule on the facts, combine the effects, order a staged plan.

Scoring is additive: each fired rule adds (``recommend``) or subtracts (``discourage``)
weight per technique; a ``veto`` removes a technique whatever its score (underfitting vetoes
every regularizer, even on a small dataset; an existing BatchNorm vetoes ``batch_norm``; a
task that cannot augment its inputs vetoes ``data_augmentation``). Techniques with a positive
score and no veto are recommended.

Stages follow the practice of the guidance (G4.1, G4.5; see ``_stages``): stage 1 is the
baseline (L2 + early stopping) plus at most one technique a rule pins there; every other
technique gets a stage of its own, in score order. The catalogue's starting points, the
regularization already in effect and the conflicts between techniques adjust the result
(``_adjust``). A piece a rule confines below a value already in effect, for a model that
underfits or has not converged, lowers that value: the veto and deferral of *new* regularizers
do not apply to it (a veto naming the technique still does). The result types are in ``_plan``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from advisor.catalogue import TECHNIQUES, TRANSFORMS, fit_transforms, technique_groups
from advisor.engine._adjust import (
    drop_conflicts,
    floor_in_effect,
    lowers_in_effect,
    reduce_conflicting,
    starting_points,
)
from advisor.engine._facts import Fact, Facts, build_facts, format_value
from advisor.engine._loader import load_rules
from advisor.engine._plan import Recommendation, Recommendations, RuleHit
from advisor.engine._rule import Rule, RuleSet
from advisor.engine._rule_schema import describe_effect, kind_of
from advisor.engine._setup import plan_setup
from advisor.engine._space import clamp, resolve_space
from advisor.engine._stages import assign_stages

# The result types are re-exported here for code that imported them from this module.
__all__ = ["Recommendation", "Recommendations", "RuleHit", "recommend"]

_GROUPS = technique_groups()
_ORDER = {name: i for i, name in enumerate(TECHNIQUES)}  # equal scores keep catalogue order


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


@dataclass
class _Effects:
    """Every fired rule's effects, gathered per technique."""

    params: dict[str, dict[str, Any]]
    base_spaces: dict[str, dict[str, Any]]
    scores: dict[str, float] = field(default_factory=dict)
    hits: dict[str, list[RuleHit]] = field(default_factory=dict)
    vetoes: dict[str, list[RuleHit]] = field(default_factory=dict)
    stage_hints: dict[str, int] = field(default_factory=dict)
    searches: dict[str, list[tuple[Any, Rule]]] = field(default_factory=dict)
    adds: list[str] = field(default_factory=list)
    removes: set[str] = field(default_factory=set)
    notes: dict[str, list[str]] = field(default_factory=dict)
    plan_notes: list[dict[str, str]] = field(default_factory=list)
    deferred: bool = False
    explicit: set[str] = field(default_factory=set)  # named by a discourage/veto, not a group
    named_vetoes: set[str] = field(default_factory=set)  # vetoed by name, not through a group

    def hit(self, name: str, rule: Rule, text: str, weight: float = 0.0) -> None:
        self.hits.setdefault(name, []).append(RuleHit(rule, text, weight))

    def add(self, rule: Rule, effect: Any, formatter: _FactFormat) -> None:
        kind = kind_of(effect)
        text = describe_effect(effect)
        if kind == "recommend":
            name = effect.recommend
            self.scores[name] = self.scores.get(name, 0.0) + effect.weight
            self.hit(name, rule, text, effect.weight)
        elif kind == "discourage":
            self.explicit.add(effect.discourage)
            for name in _expand(effect.discourage):
                self.scores[name] = self.scores.get(name, 0.0) - effect.weight
                self.hit(name, rule, f"-{effect.weight:g} {name}", -effect.weight)
        elif kind == "veto":
            self.explicit.add(effect.veto)
            if effect.veto in TECHNIQUES:
                self.named_vetoes.add(effect.veto)
            for name in _expand(effect.veto):
                self.vetoes.setdefault(name, []).append(RuleHit(rule, f"veto {name}"))
        elif kind == "search":
            self.searches.setdefault(effect.search, []).append((effect, rule))
            self.hit(effect.search, rule, text)
        elif kind == "set":
            self.params[effect.set][effect.param] = effect.value
            self.hit(effect.set, rule, text)
        elif kind == "stage":
            old = self.stage_hints.get(effect.stage, effect.at)
            self.stage_hints[effect.stage] = min(old, effect.at)
        elif kind == "transforms":
            if effect.transforms == "add":
                self.adds.extend(n for n in effect.names if n not in self.adds)
            else:
                self.removes.update(effect.names)
            self.hit("data_augmentation", rule, text)
        elif kind == "note":
            line = effect.note.format_map(formatter)
            if effect.on:
                self.notes.setdefault(effect.on, []).append(line)
            else:
                self.plan_notes.append({"rule": rule.id, "text": line})
        elif kind == "defer":
            self.deferred = True


def _collect(fired: list[Rule], facts: Facts) -> _Effects:
    params = {t: TECHNIQUES[t].default_params() for t in TECHNIQUES}
    spaces: dict[str, dict[str, Any]] = {}
    for name, (start, space) in starting_points(facts).items():
        params[name].update(start)
        spaces[name] = {**TECHNIQUES[name].default_space(), **space}
    effects = _Effects(params=params, base_spaces=spaces)
    formatter = _FactFormat(facts)
    for rule in fired:
        for effect in rule.effects:
            effects.add(rule, effect, formatter)
    return effects


def _choose_transforms(effects: _Effects, facts: Facts) -> None:
    """The transforms the rules chose, less those the input does not allow (catalogue)."""
    chosen = [n for n in effects.adds if n not in effects.removes]
    channels, no_flip = facts["channels"], bool(facts["no_flip"])
    kept, dropped = fit_transforms(chosen, channels=channels, no_flip=no_flip)
    augmentation = effects.params["data_augmentation"]
    augmentation["transforms"] = kept
    if no_flip:
        augmentation["no_flip"] = True
    for name in dropped:
        why = (
            "it mirrors inputs whose orientation carries the label"
            if TRANSFORMS[name].mirrors and no_flip
            else f"it needs 3 colour channels and the input has {channels}"
        )
        effects.notes.setdefault("data_augmentation", []).append(f"{name} left out: {why}")


def _transforms_left_to_input(effects: _Effects, facts: Facts) -> None:
    # No task rule chose transforms (task unknown): None lets advisor.regularizers use every
    # transform that fits the input's shape (no_flip still applies); say so, since the user
    # may know which transforms keep the label.
    augmentation = effects.params["data_augmentation"]
    if augmentation["transforms"]:
        return
    augmentation["transforms"] = None
    modality = facts["modality"]
    why = "no task declared" if modality is None else f"no rule names transforms for '{modality}'"
    effects.notes.setdefault("data_augmentation", []).append(
        f"transforms left to the input shape ({why}): keep only transforms that leave the "
        "label unchanged"
    )


class _Builder:
    """Turns the gathered effects of one technique into its ``Recommendation``."""

    def __init__(self, effects: _Effects, facts: Facts):
        self.effects, self.facts = effects, facts

    def _trace(self, name: str) -> list[RuleHit]:
        hits = self.effects.hits.get(name, []) + self.effects.vetoes.get(name, [])
        return sorted(hits, key=lambda h: (-abs(h.weight), h.rule.id))

    def _evidence(self, trace: list[RuleHit]) -> dict[str, Fact]:
        evidence: dict[str, Fact] = {}
        for hit in trace:
            for fact_name in sorted(hit.rule.condition.names):
                fact = self.facts.fact(fact_name)
                if fact is not None:
                    evidence[fact_name] = fact
        return evidence

    def __call__(self, name: str, score: float, stage: int | None) -> Recommendation:
        effects = self.effects
        trace = self._trace(name)
        if stage is None:
            vetoes = (h for h in trace if h.effect.startswith("veto"))
            lead = next(vetoes, None) or min(trace, key=lambda h: h.weight)
        else:
            lead = max(trace, key=lambda h: h.weight)
        notes = list(effects.notes.get(name, []))
        params = effects.params[name] if TECHNIQUES[name].kind == "regularizer" else {}
        space: dict[str, Any] = {}
        if params:
            base = effects.base_spaces.get(name) or TECHNIQUES[name].default_space()
            space = resolve_space(base, effects.searches.get(name, []), params)
            if stage is not None:
                notes += floor_in_effect(name, params, space, self.facts)
            clamp(params, space)
        return Recommendation(
            technique=name,
            kind=TECHNIQUES[name].kind,
            score=round(score, 3),
            stage=stage,
            rules=trace,
            rationale=_first_sentence(lead.rule.rationale),
            evidence=self._evidence(trace),
            params=params,
            search_space=space,
            notes=notes,
            vetoed=name in effects.vetoes,
        )


def _lowered(effects: _Effects, facts: Facts) -> dict[str, str]:
    """``{technique: fact}``: the recommended pieces whose range lies below a value in effect.

    Such a piece lowers what the model already has (the dropout of an underfitting model), so
    a veto of the "regularizers" group (no *new* regularizer) and a deferral of regularizers
    do not apply to it; a veto naming the technique does. Each gets a note saying so.
    """
    lowered: dict[str, str] = {}
    for name, score in effects.scores.items():
        if score <= 0 or TECHNIQUES[name].kind != "regularizer" or name in effects.named_vetoes:
            continue
        base = effects.base_spaces.get(name) or TECHNIQUES[name].default_space()
        space = resolve_space(base, effects.searches.get(name, []), dict(effects.params[name]))
        fact = lowers_in_effect(name, space, facts)
        if fact is None:
            continue
        lowered[name] = fact
        lifted = sorted({h.rule.id for h in effects.vetoes.pop(name, [])})
        why = [f"the veto of new regularizers ({', '.join(lifted)})"] if lifted else []
        if effects.deferred:
            why.append("the deferral of regularizers")
        text = f"{fact} {format_value(facts[fact])} is in effect and this piece searches below it"
        if why:
            verb = "do" if len(why) > 1 else "does"
            text += f": it lowers what is there, so {' and '.join(why)} {verb} not apply to it"
        effects.notes.setdefault(name, []).append(text)
    return lowered


def _discouraged(effects: _Effects, candidates: list[str], build: _Builder):
    scores, vetoes, hits = effects.scores, effects.vetoes, effects.hits
    touched = [t for t in TECHNIQUES if (t in scores or t in vetoes) and t not in candidates]
    entries = [build(t, scores.get(t, 0.0), None) for t in touched if hits.get(t) or vetoes.get(t)]
    # Discouraged techniques nobody recommended are noise unless a rule vetoed or scored them.
    # A group veto (underfitting: no new regularizer) would list every technique; show those
    # some rule wanted or that a rule named.
    return [
        d for d in entries if d.technique in effects.explicit or any(h.weight > 0 for h in d.rules)
    ]


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
        >>> recs.techniques()[:3]
        ['dropout', 'l2', 'early_stopping']
    """
    if not isinstance(facts, Facts):
        facts = build_facts(declared=dict(facts or {}))
    ruleset = rules if rules is not None else load_rules()
    fired = [r for r in ruleset if r.enabled and r.fires(facts.namespace())]
    effects = _collect(fired, facts)
    _choose_transforms(effects, facts)
    lowered = _lowered(effects, facts)
    scores = effects.scores
    candidates = [t for t, s in scores.items() if s > 0 and t not in effects.vetoes]
    if "data_augmentation" in candidates:
        _transforms_left_to_input(effects, facts)

    def hint(name: str) -> int | None:
        pinned = effects.stage_hints.get(name)
        if effects.deferred and TECHNIQUES[name].kind == "regularizer" and name not in lowered:
            return max(pinned or 2, 2)
        return pinned

    stages = assign_stages(candidates, scores, hint)
    order = sorted(candidates, key=lambda t: (stages[t], -scores[t], _ORDER[t]))
    order = drop_conflicts(order, effects.plan_notes)
    renumber = {stage: i + 1 for i, stage in enumerate(sorted({stages[t] for t in order}))}
    build = _Builder(effects, facts)
    items = [build(t, scores[t], renumber[stages[t]]) for t in order]
    reduce_conflicting(items, facts)
    return Recommendations(
        items,
        facts=facts,
        discouraged=_discouraged(effects, candidates, build),
        notes=effects.plan_notes,
        fired=fired,
        deferred=effects.deferred,
        setup=plan_setup(facts),
    )
