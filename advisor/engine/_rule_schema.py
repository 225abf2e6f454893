"""The schema of a rule file: the effects a rule may have, a rule, a file (pydantic models).

A rule file looks like::

    concern = "fit state"
    description = "What the shape of the learning curves asks for."

    [[rules]]
    id = "FIT-001"
    slug = "overfitting-needs-regularization"
    title = "Overfitting: add regularization"
    guidance = ["G3.4", "G1.4"]
    when = "fit == 'overfitting'"
    effects = [
      { recommend = "l2", weight = 2 },
      { recommend = "early_stopping", weight = 2 },
    ]
    rationale = "Training keeps improving while validation does not: variance is the problem."
    fix = "Add the stack below one piece at a time and watch the validation curve."
    source = "G3.4"
    cases.fire = [{ fit = "overfitting" }]
    cases.no_fire = [{ fit = "underfitting" }]


The models check the shape and the names (techniques, transforms, guidance ids, with a "did
you mean"); ``advisor.engine._loader`` adds the checks that need the catalogue's parameters
and the facts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from advisor._validation import did_you_mean
from advisor.catalogue import TECHNIQUES, TRANSFORM_NAMES, technique_groups

__all__ = [
    "EFFECT_KINDS",
    "GUIDANCE_IDS",
    "Effect",
    "FileModel",
    "RuleModel",
    "describe_effect",
    "kind_of",
]

# Every id of ../shared/guidance.md; each must be cited by at least one built-in rule.
GUIDANCE_IDS: tuple[str, ...] = (
    *("G1.1", "G1.2", "G1.3", "G1.4"),
    *("G2.1", "G2.2", "G2.3", "G2.4", "G2.5", "G2.6", "G2.7", "G2.8", "G2.9"),
    *("G3.1", "G3.2", "G3.3", "G3.4", "G3.5"),
    *("G4.1", "G4.2", "G4.3", "G4.4", "G4.5", "G4.6"),
)
_GROUPS = technique_groups()


def _technique(value: str, *, groups: bool = False) -> str:
    allowed = list(TECHNIQUES) + (list(_GROUPS) if groups else [])
    if value not in allowed:
        raise ValueError(f"unknown technique '{value}'{did_you_mean(value, allowed, parens=True)}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Recommend(_Strict):
    """Add ``weight`` to the technique's score."""

    recommend: str
    weight: float = Field(gt=0)

    _check = field_validator("recommend")(lambda cls, v: _technique(v))


class Discourage(_Strict):
    """Subtract ``weight`` from the score of a technique (or of a group: ``regularizers``)."""

    discourage: str
    weight: float = Field(gt=0)

    _check = field_validator("discourage")(lambda cls, v: _technique(v, groups=True))


class Veto(_Strict):
    """Never recommend the technique (or group) while the rule fires, whatever the score."""

    veto: str

    _check = field_validator("veto")(lambda cls, v: _technique(v, groups=True))


class Search(_Strict):
    """Set (``mode = "set"``) or narrow (default) the search range of one parameter."""

    search: str
    param: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list[Any] | None = None
    mode: Literal["set", "narrow"] = "narrow"

    _check = field_validator("search")(lambda cls, v: _technique(v))


class SetParam(_Strict):
    """Set the starting value of one parameter of the technique's stack piece."""

    set: str
    param: str
    value: Any

    _check = field_validator("set")(lambda cls, v: _technique(v))


class Stage(_Strict):
    """Ask for the technique in stage ``at`` (1 = the first thing to try) or later."""

    stage: str
    at: int = Field(ge=1, le=9)

    _check = field_validator("stage")(lambda cls, v: _technique(v))


class Transforms(_Strict):
    """Add or remove data-augmentation transforms (``names`` from the catalogue's ``TRANSFORM_NAMES``)."""

    transforms: Literal["add", "remove"]
    names: list[str] = Field(min_length=1)

    @field_validator("names")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        for name in names:
            if name not in TRANSFORM_NAMES:
                raise ValueError(
                    f"unknown transform '{name}'{did_you_mean(name, TRANSFORM_NAMES, parens=True)};"
                    f" known: {', '.join(TRANSFORM_NAMES)}"
                )
        return names


class Note(_Strict):
    """A line of advice, on one technique (``on``) or on the plan; ``{fact}`` placeholders allowed."""

    note: str = Field(min_length=1)
    on: str | None = None

    _check = field_validator("on")(lambda cls, v: v if v is None else _technique(v))


class Defer(_Strict):
    """Move every regularizer after stage 1: fix training itself first."""

    defer: Literal["regularizers"]


EFFECT_KINDS = (
    "recommend",
    "discourage",
    "veto",
    "search",
    "set",
    "stage",
    "transforms",
    "note",
    "defer",
)


def _effect_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return kind_of(value)
    if isinstance(value, dict):
        present = [k for k in EFFECT_KINDS if k in value]
        return present[0] if len(present) == 1 else None
    return None


def kind_of(effect: BaseModel) -> str:
    """The kind of a validated effect: the ``EFFECT_KINDS`` key it holds (``"recommend"`` ...)."""
    return next(k for k in EFFECT_KINDS if k in type(effect).model_fields)


Effect = Annotated[
    Annotated[Recommend, Tag("recommend")]
    | Annotated[Discourage, Tag("discourage")]
    | Annotated[Veto, Tag("veto")]
    | Annotated[Search, Tag("search")]
    | Annotated[SetParam, Tag("set")]
    | Annotated[Stage, Tag("stage")]
    | Annotated[Transforms, Tag("transforms")]
    | Annotated[Note, Tag("note")]
    | Annotated[Defer, Tag("defer")],
    Discriminator(
        _effect_kind,
        custom_error_type="effect_kind",
        custom_error_message=f"an effect needs exactly one of the keys {', '.join(EFFECT_KINDS)}",
    ),
]


class Cases(_Strict):
    """A rule's test cases: fact sets it must fire on (``fire``) and must not (``no_fire``)."""

    fire: list[dict[str, Any]] = Field(default_factory=list)
    no_fire: list[dict[str, Any]] = Field(default_factory=list)


class RuleModel(_Strict):
    """The schema of one ``[[rules]]`` entry."""

    id: str = Field(pattern=r"^[A-Z]{2,6}-\d{3}$")
    slug: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    title: str = Field(min_length=3)
    guidance: list[str] = Field(default_factory=list)
    when: str = Field(min_length=1)
    effects: list[Effect] = Field(min_length=1)
    rationale: str = Field(min_length=10)
    fix: str = Field(min_length=5)
    source: str = Field(min_length=2)
    override: bool = False
    enabled: bool = True
    cases: Cases = Field(default_factory=Cases)

    @field_validator("guidance")
    @classmethod
    def _guidance_ids(cls, ids: list[str]) -> list[str]:
        for gid in ids:
            if gid not in GUIDANCE_IDS:
                raise ValueError(
                    f"unknown guidance id '{gid}'; ids run G1.1-G1.4, G2.1-G2.9, G3.1-G3.5, G4.1-G4.6"
                )
        return ids


class FileModel(_Strict):
    """The schema of a rule file's top level: ``concern``, ``description`` and ``[[rules]]``.

    Each ``[[rules]]`` entry is kept as a raw dict here and checked with ``RuleModel`` on its own.
    """

    concern: str = Field(min_length=2)
    description: str = ""
    rules: list[dict[str, Any]] = Field(default_factory=list)


def describe_effect(effect: Any) -> str:
    """One effect in a few words: ``+2 l2``, ``veto regularizers``, ``dropout.p set [0, 0.2]``."""
    kind = kind_of(effect)
    if kind == "recommend":
        return f"+{effect.weight:g} {effect.recommend}"
    if kind == "discourage":
        return f"-{effect.weight:g} {effect.discourage}"
    if kind == "veto":
        return f"veto {effect.veto}"
    if kind == "search":
        if effect.choices is not None:
            return f"{effect.search}.{effect.param} in {effect.choices}"
        log = " (log)" if effect.log else ""
        return (
            f"{effect.search}.{effect.param} {effect.mode} [{effect.low:g}, {effect.high:g}]{log}"
        )
    if kind == "set":
        return f"{effect.set}.{effect.param} = {effect.value!r}"
    if kind == "stage":
        return f"{effect.stage} at stage {effect.at}"
    if kind == "transforms":
        return f"transforms {effect.transforms} {', '.join(effect.names)}"
    if kind == "note":
        return f"note on {effect.on or 'plan'}"
    return "defer regularizers"
