"""The engine's result: the ranked, explained plan (``Recommendations``), each technique's
entry (``Recommendation``) and the fired rules behind it (``RuleHit``); ``recommend`` in
``_recommend`` builds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from advisor._display import Displayable
from advisor.engine._facts import Fact, Facts
from advisor.engine._rule import Rule

__all__ = ["Recommendation", "Recommendations", "RuleHit"]


@dataclass(frozen=True)
class RuleHit:
    """One fired rule's contribution to one technique (the trace a user can follow)."""

    rule: Rule
    effect: str
    weight: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The hit as a JSON-ready dict (an item of a recommendation's ``rules``).

        Keys: the rule's ``id``, ``title``, ``rationale``, ``guidance`` and ``source``, and the
        ``effect`` it had here.
        """
        return {
            "id": self.rule.id,
            "title": self.rule.title,
            "effect": self.effect,
            "rationale": self.rule.rationale,
            "guidance": list(self.rule.guidance),
            "source": self.rule.source,
        }


@dataclass
class Recommendation:
    """One technique of the plan (or one discouraged technique) with its explanation.

    Attributes:
        technique: stable technique name (``"l2"``, ``"train_longer"`` ...).
        kind: ``"regularizer"`` or ``"action"``.
        score: summed weights of the rules that fired for it.
        stage: 1 = try first; ``None`` for discouraged techniques.
        rules: the rule hits, strongest first.
        rationale: one-line reason (from the strongest rule).
        evidence: the facts the hit rules read, with value and origin.
        params: starting parameters of the stack piece.
        search_space: Optuna search space (empty for actions).
        notes: extra advice lines from the rules (filled with fact values).
        vetoed: a rule forbids it (discouraged list only).
    """

    technique: str
    kind: str
    score: float
    stage: int | None
    rules: list[RuleHit]
    rationale: str
    evidence: dict[str, Fact]
    params: dict[str, Any] = field(default_factory=dict)
    search_space: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    vetoed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict (an item of ``recommendations`` or ``discouraged``).

        ``vetoed`` is present only for discouraged entries (``stage`` is ``None``); ``evidence``
        gives each fact's value and origin.
        """
        out = {
            "technique": self.technique,
            "kind": self.kind,
            "score": self.score,
            "stage": self.stage,
            "rationale": self.rationale,
            "rules": [hit.to_dict() for hit in self.rules],
            "evidence": {
                name: {"value": f.value, "origin": f.origin} for name, f in self.evidence.items()
            },
            "params": self.params,
            "search_space": self.search_space,
            "notes": list(self.notes),
        }
        if self.stage is None:
            out["vetoed"] = self.vetoed
        return out


class Recommendations(Displayable):
    """The ranked, explained plan: ``to_dict()`` for JSON, ``to_stack()`` for the tuner.

    Iterating gives the ``Recommendation`` objects in plan order (stage, then score).

    Example:
        >>> from advisor.engine import recommend
        >>> recs = recommend({"modality": "image", "samples": 2000, "fit": "overfitting"})
        >>> recs.techniques()[:2]
        ['early_stopping', 'data_augmentation']
        >>> [p["technique"] for p in recs.to_stack(max_stage=1)["pieces"]]
        ['early_stopping', 'data_augmentation', 'l2']
    """

    def __init__(
        self,
        items: list[Recommendation],
        *,
        facts: Facts,
        discouraged: list[Recommendation] | None = None,
        notes: list[dict[str, str]] | None = None,
        fired: list[Rule] | None = None,
        deferred: bool = False,
        setup: dict[str, Any] | None = None,
    ):
        self.items = items
        self.facts = facts
        self.discouraged = list(discouraged or [])
        self.notes = list(notes or [])
        self.fired = list(fired or [])
        self.deferred = deferred
        # The training set-up generated code is written for (objective, optimizer, lr).
        self.setup = dict(setup or {})

    def __iter__(self) -> Iterator[Recommendation]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Recommendation:
        return self.items[index]

    def __repr__(self) -> str:
        plan = ", ".join(f"{r.stage}:{r.technique}" for r in self.items)
        return f"Recommendations([{plan}])"

    def techniques(self) -> list[str]:
        """Technique names in plan order."""
        return [r.technique for r in self.items]

    def get(self, technique: str) -> Recommendation | None:
        """The recommendation (or discouraged entry) for ``technique``, if any."""
        return next((r for r in (*self.items, *self.discouraged) if r.technique == technique), None)

    def to_dict(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """The plan as a JSON-ready list, in order."""
        return [r.to_dict() for r in self.items]

    def details(self) -> dict[str, Any]:
        """Everything: plan, discouraged techniques, plan notes, the rules that fired and the
        training set-up (objective, optimizer, learning rate) the generated code is written for."""
        return {
            "recommendations": self.to_dict(),
            "discouraged": [r.to_dict() for r in self.discouraged],
            "notes": list(self.notes),
            "deferred": self.deferred,
            "fired": [r.id for r in self.fired],
            "setup": dict(self.setup),
        }

    def to_stack(self, *, max_stage: int | None = None) -> dict[str, Any]:
        """The stack spec (``docs/architecture.md``) of the recommended regularizers.

        Args:
            max_stage: keep only the pieces of stages ``<= max_stage`` (all when ``None``).
        """
        pieces = [
            {
                "technique": r.technique,
                "params": dict(r.params),
                "search_space": dict(r.search_space),
                "stage": r.stage,
            }
            for r in self.items
            if r.kind == "regularizer" and (max_stage is None or r.stage <= max_stage)
        ]
        return {"version": 1, "pieces": pieces}

    def __rich_console__(self, console, options):
        from advisor.engine._render import render_recommendations

        yield from render_recommendations(self)
