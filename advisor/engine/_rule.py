"""A validated rule, ready to evaluate, and the set of rules the engine reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.engine._expr import Condition, ConditionError
from advisor.engine._rule_schema import kind_of
from advisor.errors import RuleError

__all__ = ["Rule", "RuleSet"]


@dataclass(frozen=True)
class Rule:
    """A validated rule, ready to evaluate.

    Attributes:
        id, slug, title, guidance, rationale, fix, source: as in the file.
        condition: the compiled ``when`` expression.
        effects: validated effect models.
        concern: the concern of its file ("fit state", "dataset size" ...).
        path: the file it came from.
        builtin: shipped with advisor (False for user rules).
        cases: ``{"fire": [...], "no_fire": [...]}`` test fact sets.
    """

    id: str
    slug: str
    title: str
    guidance: tuple[str, ...]
    condition: Condition
    effects: tuple[Any, ...]
    rationale: str
    fix: str
    source: str
    concern: str
    path: Path
    builtin: bool
    enabled: bool = True
    override: bool = False
    cases: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def when(self) -> str:
        """The rule's ``when`` condition, as written in the file."""
        return self.condition.text

    @property
    def techniques(self) -> tuple[str, ...]:
        """Techniques this rule acts on, in order of first mention."""
        seen: dict[str, None] = {}
        for effect in self.effects:
            kind = kind_of(effect)
            target = getattr(effect, kind) if kind not in ("transforms", "note", "defer") else None
            if kind == "transforms":
                target = "data_augmentation"
            if kind == "note":
                target = effect.on
            if kind == "defer":
                target = "regularizers"
            if target:
                seen[target] = None
        return tuple(seen)

    def fires(self, values: dict[str, Any]) -> bool:
        """Whether the rule's condition holds for these fact values."""
        try:
            return self.condition.evaluate(values)
        except ConditionError as exc:
            raise RuleError(
                f"{self.path.name}: rule {self.id}: when: {exc}",
                [f"{self.path}: rule {self.id}: when: {exc}"],
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """The rule as a JSON-ready dict (what ``advisor rules show --format json`` prints)."""
        return {
            "id": self.id,
            "slug": self.slug,
            "title": self.title,
            "concern": self.concern,
            "guidance": list(self.guidance),
            "when": self.when,
            "effects": [e.model_dump(exclude_defaults=False) for e in self.effects],
            "rationale": self.rationale,
            "fix": self.fix,
            "source": self.source,
            "file": str(self.path),
            "builtin": self.builtin,
            "enabled": self.enabled,
            "override": self.override,
            "cases": self.cases,
        }


@dataclass
class RuleSet:
    """The rules the engine evaluates, built-ins first, then user rules (which may override).

    Example:
        >>> from advisor.engine import load_rules
        >>> rules = load_rules()
        >>> rules.get("FIT-001").title  # doctest: +ELLIPSIS
        'Overfitting...'
    """

    rules: list[Rule]
    files: list[Path] = field(default_factory=list)
    overridden: dict[str, Rule] = field(default_factory=dict)

    def __iter__(self):
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> Rule | None:
        """The rule with id ``rule_id`` (``"FIT-001"``), or ``None``."""
        return next((r for r in self.rules if r.id == rule_id), None)

    def ids(self) -> list[str]:
        """The ids of the rules, in the order they are evaluated."""
        return [r.id for r in self.rules]
