"""Search spaces of a plan's pieces: the catalogue's range, then the rules' ``search`` effects.

``set`` effects replace a parameter's range (in rule order), then every ``narrow`` effect
intersects what is there. ``clamp`` moves a starting value that ended up outside its range
to a round number inside it.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["clamp", "resolve_space"]


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


def _narrowed(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    low, high = max(old["low"], new["low"]), min(old["high"], new["high"])
    if low > high:  # disjoint: the narrowing rule's range wins
        return new
    out = {**old, "low": low, "high": high}
    if out.get("log") and low <= 0:
        out.pop("log")
    return out


def resolve_space(
    base: dict[str, dict[str, Any]], searches: list[tuple[Any, Any]], params: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """The final search space: ``base`` (a copy) with the rules' ``search`` effects applied.

    Args:
        base: the starting space (the catalogue's advised ranges, or a decay profile's).
        searches: ``(effect, rule)`` pairs of the ``search`` effects for this technique.
        params: the piece's starting parameters (to tell int from float ranges).
    """
    space = {name: dict(spec) for name, spec in base.items()}
    ordered = [s for s in searches if s[0].mode == "set"] + [
        s for s in searches if s[0].mode == "narrow"
    ]
    for effect, _rule in ordered:
        new = _space_of(effect, space.get(effect.param), params.get(effect.param))
        old = space.get(effect.param)
        numeric = old and old.get("type") in ("int", "float") and new["type"] == old["type"]
        space[effect.param] = _narrowed(old, new) if effect.mode == "narrow" and numeric else new
    return space


def clamp(params: dict[str, Any], space: dict[str, Any]) -> None:
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
            middle = float(f"{math.sqrt(low * high):.1g}")  # a round number inside the range
            params[name] = min(max(middle, low), high)
        else:
            params[name] = (low + high) / 2 if spec["type"] == "float" else (low + high) // 2
