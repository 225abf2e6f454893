"""Stages of the plan: the guide's baseline first, one technique at a time after it.

Stage 1 is what G4.1 ("start simple") starts with: L2 + early stopping (``BASELINE``; a penalty
that replaces L2, such as elastic net, takes its place), advice-only actions pinned to stage 1
(lower the learning rate, train longer ...), and at most ``STAGE_ONE_EXTRAS`` other technique:
the best-scored one a rule pins to stage 1 (augmentation for a small image dataset, dropout for
a sequence model). Every other technique gets a stage of its own after it, in score order, so
that each addition is tested alone (G4.5). A ``defer`` (diverging or unfinished training) moves
every regularizer after stage 1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from advisor.catalogue import BASELINE, TECHNIQUES, conflicts_of

__all__ = ["STAGE_ONE_EXTRAS", "assign_stages", "in_baseline"]

# G4.1: the baseline plus one addition the facts call for most; the rest one stage each.
STAGE_ONE_EXTRAS = 1
_ORDER = {name: i for i, name in enumerate(TECHNIQUES)}


def in_baseline(technique: str) -> bool:
    """The technique is a baseline piece, or never shares a plan with one (it takes its place).

    Example:
        >>> in_baseline("elastic_net"), in_baseline("dropout")
        (True, False)
    """
    if technique in BASELINE:
        return True
    return any(
        c.kind == "exclusive" and any(b in c.techniques for b in BASELINE)
        for c in conflicts_of(technique)
    )


def _stage_one(pinned: list[str], scores: Mapping[str, float]) -> list[str]:
    """The techniques pinned to stage 1 that stay there; the others are ranked with the rest."""
    kept = [t for t in pinned if in_baseline(t) or TECHNIQUES[t].kind == "action"]
    extras = sorted((t for t in pinned if t not in kept), key=lambda t: (-scores[t], _ORDER[t]))
    return kept + extras[:STAGE_ONE_EXTRAS]


def assign_stages(
    candidates: list[str],
    scores: Mapping[str, float],
    hint: Callable[[str], int | None],
) -> dict[str, int]:
    """Stage of every candidate, numbered 1, 2, 3 ... without gaps.

    Args:
        candidates: the recommended techniques.
        scores: their summed rule weights.
        hint: the stage a rule asks for (``None``: none), deferral already applied.
    """
    first = _stage_one([t for t in candidates if hint(t) == 1], scores)
    pinned = {t: hint(t) for t in candidates if hint(t) not in (None, 1)}
    stages = {t: 1 for t in first} | pinned
    free = sorted((t for t in candidates if t not in stages), key=lambda t: (-scores[t], _ORDER[t]))
    next_stage = max(stages.values(), default=0) + 1
    for offset, name in enumerate(free):
        stages[name] = next_stage + offset
    # Number the stages 1, 2, 3 ... whatever the pins were (a user rule may pin "at = 3" alone).
    renumber = {stage: i + 1 for i, stage in enumerate(sorted(set(stages.values())))}
    return {t: renumber[stage] for t, stage in stages.items()}
