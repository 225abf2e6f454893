"""Adjustments the catalogue and the facts make to a plan, beside the rules' own effects.

- ``starting_points``: the ``l2`` piece starts from the decay profile of the optimizer in
  effect (``advisor.catalogue.decay_range``: decoupled AdamW decay is about 100x coupled L2),
  lighter when fine-tuning (G4.6).
- ``floor_in_effect``: regularization already in effect is the floor of the advice for an
  overfitting model (G3.4: it needs more, not less; an unknown verdict is read the same way):
  the start is at least the value in effect and the search range reaches above it.
- ``lowers_in_effect``: for a model that does not (yet) fit its data (underfitting, not
  converged), a rule may confine a piece wholly below the value in effect (dropout 0.7 -> search
  0.0-0.35): that piece lowers what is there, it is not a new regularizer, so the veto and the
  deferral of new regularizers do not apply to it.
- ``drop_conflicts`` / ``reduce_conflicting``: the catalogue's ``CONFLICTS`` (techniques that
  never share a plan; one that weakens another).
"""

from __future__ import annotations

from typing import Any

from advisor.catalogue import CONFLICTS, TECHNIQUES, decay_range, exclusive_pairs, float_space
from advisor.engine._facts import Facts, format_value

__all__ = [
    "FLOOR_HEADROOM",
    "IN_EFFECT",
    "LINEAR_HEADROOM",
    "drop_conflicts",
    "floor_applies",
    "floor_in_effect",
    "lowers_in_effect",
    "reduce_conflicting",
    "starting_points",
]

# (technique, parameter) -> the fact holding the value already in effect.
IN_EFFECT: dict[tuple[str, str], str] = {
    ("l2", "weight_decay"): "weight_decay",
    ("dropout", "p"): "dropout_rate",
    ("label_smoothing", "smoothing"): "label_smoothing",
}
# A log range that ends at or below the value in effect gets one decade above it ...
FLOOR_HEADROOM = 10.0
# ... and a linear one (rates) this much, within the parameter's valid range.
LINEAR_HEADROOM = 0.2


def starting_points(facts: Facts) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """``{technique: (params, search space)}`` the catalogue sets from the facts.

    Example:
        >>> from advisor.engine import build_facts
        >>> params, space = starting_points(build_facts(declared={"optimizer": "sgd"}))["l2"]
        >>> params["weight_decay"], space["weight_decay"]["high"]
        (0.0001, 0.01)
    """
    decay = decay_range(facts["optimizer"], fine_tuning=bool(facts["pretrained"]))
    return {
        "l2": (
            {"weight_decay": decay.default},
            {"weight_decay": float_space(decay.low, decay.high, log=True)},
        )
    }


def _raise_top(spec: dict[str, Any], current: float, param_high: float | None) -> float:
    """The range's top, raised above ``current`` when the range stops at or below it."""
    if spec["high"] > current:
        return spec["high"]
    top = current * FLOOR_HEADROOM if spec.get("log") else round(current + LINEAR_HEADROOM, 6)
    return max(current, top if param_high is None else min(top, param_high))


# The verdicts for which what is in effect is the floor (issue 11: an overfitting model; the
# rules read an unknown verdict as possible overfitting, ``fit in ['overfitting', None]``).
_FLOOR_VERDICTS = ("overfitting", None)


def floor_applies(facts: Facts) -> bool:
    """What is in effect is the floor of the advice: the model overfits (or nobody said).

    Example:
        >>> from advisor.engine import build_facts
        >>> floor_applies(build_facts(declared={"fit": "not_converged"}))
        False
    """
    return facts["fit"] in _FLOOR_VERDICTS


def lowers_in_effect(technique: str, space: dict[str, Any], facts: Facts) -> str | None:
    """The fact in effect that ``technique``'s range lies wholly below (``None``: none).

    Only where the floor does not apply (a model that underfits or has not converged): there a
    rule's range below the value in effect makes the piece a way to lower that value.

    Example:
        >>> from advisor.engine import build_facts
        >>> facts = build_facts(declared={"fit": "not_converged", "dropout_rate": 0.7})
        >>> space = {"p": {"type": "float", "low": 0.0, "high": 0.35}}
        >>> lowers_in_effect("dropout", space, facts)
        'dropout_rate'
    """
    if floor_applies(facts):
        return None
    for (name, param), fact in IN_EFFECT.items():
        current, spec = facts[fact], space.get(param)
        if name != technique or not current or spec is None or spec["type"] != "float":
            continue
        if spec["high"] < current:
            return fact
    return None


def floor_in_effect(technique: str, params: dict[str, Any], space: dict[str, Any], facts: Facts):
    """Raise the start and the range of ``technique`` to the values already in effect.

    Only for an overfitting model (``floor_applies``). Returns the notes saying so (empty when
    nothing was in effect, nothing changed or the floor does not apply).
    """
    notes: list[str] = []
    if not floor_applies(facts):
        return notes
    for (name, param), fact in IN_EFFECT.items():
        current = facts[fact]
        spec = space.get(param)
        if name != technique or not current or spec is None or spec["type"] != "float":
            continue
        high = _raise_top(spec, current, TECHNIQUES[name].params[param].high)
        low = min(max(spec["low"], current), high)
        space[param] = {**spec, "low": low, "high": high}
        params[param] = min(max(params.get(param, low), low), high)
        notes.append(
            f"{param} {format_value(current)} is already in effect: the search starts there "
            "and only goes up (an overfitting model needs at least as much)"
        )
    return notes


def drop_conflicts(order: list[str], plan_notes: list[dict[str, str]]) -> list[str]:
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


def reduce_conflicting(items: list[Any], facts: Facts) -> None:
    """Weaken a technique when another in the plan already does part of its job.

    When the weakened technique is not in the plan but already in effect (label smoothing in
    the user's loss), the trigger's entry says to weaken it.
    """
    present = {r.technique: r for r in items}
    for conflict in CONFLICTS:
        if conflict.kind != "reduce":
            continue
        trigger, reduced = conflict.techniques
        if trigger not in present:
            continue
        rec = present.get(reduced)
        if rec is None:
            fact = IN_EFFECT.get((reduced, conflict.param or ""))
            current = facts[fact] if fact else None
            if current:
                present[trigger].notes.append(
                    f"{reduced} {format_value(current)} is already in effect: scale its "
                    f"{conflict.param} by {conflict.factor:g} with {trigger} ({conflict.reason})"
                )
            continue
        if conflict.param not in rec.params:
            continue
        _scale(rec, conflict.param, conflict.factor)
        rec.notes.append(
            f"{conflict.param} x{conflict.factor:g} because {trigger} is in the plan: "
            f"{conflict.reason}"
        )


def _scale(rec: Any, name: str, factor: float) -> None:
    value = rec.params[name]
    if isinstance(value, int | float) and not isinstance(value, bool):
        rec.params[name] = round(value * factor, 6)
    spec = rec.search_space.get(name)
    if spec and spec.get("type") in ("int", "float"):
        spec["high"] = max(spec["low"], round(spec["high"] * factor, 6))
        rec.params[name] = min(max(rec.params[name], spec["low"]), spec["high"])
