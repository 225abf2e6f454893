"""Conflicts between techniques, as data: which never share a plan, which weaken another.

``exclusive`` groups never go into one plan: the engine keeps the highest-ranked member and
notes the others; ``advisor rules lint`` flags a rule that recommends two members. A stack
written by hand may still combine them (the user asked; ``apply`` supports it).
``reduce`` conflicts keep both techniques but scale one parameter of the second when the
first is in the plan.

Example:
    >>> [c.techniques for c in conflicts_of("l1")]
    [('l1', 'l2', 'elastic_net')]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["CONFLICTS", "Conflict", "conflicts_of", "exclusive_pairs"]


@dataclass(frozen=True)
class Conflict:
    """Two or more techniques that do not combine as they are.

    Attributes:
        techniques: the techniques concerned; for ``reduce``, ``(trigger, reduced)``.
        kind: ``"exclusive"`` (at most one in a plan) or ``"reduce"``.
        reason: one line, shown in the plan's notes and by ``rules lint``.
        param: for ``reduce``, the parameter of the reduced technique.
        factor: for ``reduce``, what its starting value and range top are multiplied by.
    """

    techniques: tuple[str, ...]
    kind: str
    reason: str
    param: str | None = None
    factor: float = 1.0


CONFLICTS: tuple[Conflict, ...] = (
    Conflict(
        ("l1", "l2", "elastic_net"),
        "exclusive",
        "elastic net already is L1 + L2; two of them penalise the same weights twice with "
        "strengths tuned apart",
    ),
    Conflict(
        ("mixup", "cutmix"),
        "exclusive",
        "both mix pairs of examples and their labels; together they alternate and each gets "
        "half the batches (combine them only in a stack written by hand)",
    ),
    Conflict(
        ("ema", "swa"),
        "exclusive",
        "both evaluate an average of the weights instead of the weights; one average is "
        "enough, and two would each be tuned for a model nobody evaluates",
    ),
    Conflict(
        ("mixup", "label_smoothing"),
        "reduce",
        "mixup's mixed targets are already soft; full label smoothing on top over-smooths",
        param="smoothing",
        factor=0.5,
    ),
)


def conflicts_of(technique: str) -> list[Conflict]:
    """The conflicts a technique takes part in."""
    return [c for c in CONFLICTS if technique in c.techniques]


def exclusive_pairs(techniques: Iterable[str]) -> list[tuple[str, str, Conflict]]:
    """Pairs of ``techniques`` that must not share a plan, in the order given.

    Example:
        >>> [(a, b) for a, b, _ in exclusive_pairs(["l2", "dropout", "l1"])]
        [('l2', 'l1')]
    """
    names = list(dict.fromkeys(techniques))
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            for c in CONFLICTS:
                if c.kind == "exclusive" and a in c.techniques and b in c.techniques:
                    pairs.append((a, b, c))
                    break
    return pairs
