"""The regularizer stack: a serialisable, ordered list of configured techniques.

A ``Stack`` is what the rules engine recommends (``Recommendations.to_stack()``), what the
tuner tunes (each piece carries its Optuna search space) and what :func:`advisor.apply`
turns into training-loop pieces. It round-trips to JSON (``{"version": 1, "pieces": [...]}``,
see ``docs/architecture.md``) and prints itself as copy-paste PyTorch (``to_code``).
``from_dict``/``from_json`` also read the whole output of ``advisor recommend --format json``
and ``advisor diagnose --format json`` (the plan inside them), so a saved plan is a stack file.
The engine's pieces carry the plan's ``stage`` (1 = try first); ``at_stages`` keeps some.

This module must not import torch: the report and the rules engine use it without torch.

Example:
    >>> stack = Stack.from_dict({"version": 1, "pieces": [
    ...     {"technique": "l2", "params": {"weight_decay": 1e-4}}]})
    >>> stack.with_params({"l2": {"weight_decay": 1e-3}}).pieces[0].params["weight_decay"]
    0.001
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from advisor._validation import did_you_mean
from advisor.catalogue import APPLY_ORDER, TRANSFORM_NAMES
from advisor.catalogue import TECHNIQUES as CATALOGUE
from advisor.errors import ConfigError

__all__ = ["DEFAULT_PARAMS", "TECHNIQUES", "Piece", "Stack"]

STACK_VERSION = 1

# Every technique, in the order apply() composes them, with its default hyper-parameters.
# The defaults, their reasons and their checks live in advisor.catalogue.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {t: CATALOGUE[t].defaults() for t in APPLY_ORDER}

TECHNIQUES: tuple[str, ...] = APPLY_ORDER
ALL_TRANSFORMS = TRANSFORM_NAMES

_SPACE_TYPES = ("float", "int", "categorical")


def _validate_params(technique: str, params: dict[str, Any]) -> dict[str, Any]:
    """Check every hyper-parameter of one piece; return them completed with the defaults."""
    return CATALOGUE[technique].check(params)


def _validate_space(technique: str, space: Any) -> dict[str, dict[str, Any]]:
    if space is None:
        return {}
    if not isinstance(space, Mapping):
        raise ConfigError(f"search_space of {technique} must be an object, got {space!r}.")
    out: dict[str, dict[str, Any]] = {}
    for name, spec in space.items():
        where = f"search_space.{name} of {technique}"
        if name not in DEFAULT_PARAMS[technique]:
            raise ConfigError(
                f"{where} names no parameter of {technique}; allowed: "
                f"{', '.join(DEFAULT_PARAMS[technique])}."
                + did_you_mean(name, DEFAULT_PARAMS[technique])
            )
        if not isinstance(spec, Mapping) or spec.get("type") not in _SPACE_TYPES:
            raise ConfigError(
                f"{where} must be an object with type float, int or categorical, got {spec!r}."
            )
        spec = dict(spec)
        if spec["type"] == "categorical":
            if not isinstance(spec.get("choices"), list | tuple) or not spec["choices"]:
                raise ConfigError(f"{where} of type categorical needs a non-empty list 'choices'.")
            spec["choices"] = list(spec["choices"])
        else:
            low, high = spec.get("low"), spec.get("high")
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
                raise ConfigError(
                    f"{where} needs numeric 'low' and 'high', got {low!r} and {high!r}."
                )
            if low > high:
                raise ConfigError(f"{where} has low {low!r} > high {high!r}; swap them.")
            if spec.get("log") and low <= 0:
                raise ConfigError(f"{where} is log-scaled, so low must be > 0, got {low!r}.")
        out[str(name)] = spec
    return out


def _plan_inside(d: Mapping[str, Any]) -> Any:
    """The stack inside a plan document, or None when ``d`` is not one.

    ``advisor recommend --format json`` writes the stack under ``"stack"``; ``advisor diagnose
    --format json`` writes the plan's entries under ``"recommendations"`` (actions such as
    ``train_longer`` are advice, not pieces, and are left out).
    """
    if isinstance(d.get("stack"), Mapping):
        return d["stack"]
    entries = d.get("recommendations")
    if isinstance(entries, list):
        keys = ("technique", "params", "search_space", "stage")
        return {
            "version": STACK_VERSION,
            "pieces": [
                {k: e[k] for k in keys if k in e}
                for e in entries
                if isinstance(e, Mapping) and e.get("kind", "regularizer") == "regularizer"
            ],
        }
    return None


@dataclass(frozen=True)
class Piece:
    """One configured technique: its name, hyper-parameters and Optuna search space.

    ``params`` always holds every hyper-parameter of the technique (defaults filled in), and
    ``to_dict()`` writes them all, so the JSON says exactly what will be applied.
    """

    technique: str
    params: dict[str, Any] = field(default_factory=dict)
    search_space: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, index: int = 0) -> Piece:
        """Build and validate a piece from its JSON object."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"pieces[{index}] of the stack must be an object, got {d!r}.")
        technique = d.get("technique")
        if technique not in DEFAULT_PARAMS:
            raise ConfigError(
                f"pieces[{index}] of the stack has unknown technique {technique!r}; allowed: "
                f"{', '.join(TECHNIQUES)}." + did_you_mean(technique, TECHNIQUES)
            )
        params = d.get("params") or {}
        if not isinstance(params, Mapping):
            raise ConfigError(f"params of {technique} must be an object, got {params!r}.")
        # Keys the engine may add for display (score, rationale, rules...) are kept verbatim.
        extra = {k: v for k, v in d.items() if k not in ("technique", "params", "search_space")}
        return cls(
            technique=technique,
            params=_validate_params(technique, dict(params)),
            search_space=_validate_space(technique, d.get("search_space")),
            extra=extra,
        )

    @property
    def stage(self) -> int | None:
        """The plan's stage of this piece (1 = try first); None for a piece written by hand."""
        stage = self.extra.get("stage")
        return stage if isinstance(stage, int) and not isinstance(stage, bool) else None

    def to_dict(self) -> dict[str, Any]:
        """The piece's JSON object: ``technique``, ``params``, ``search_space``, extra keys."""
        return {
            "technique": self.technique,
            "params": dict(self.params),
            "search_space": {k: dict(v) for k, v in self.search_space.items()},
            **self.extra,
        }


@dataclass(frozen=True)
class Stack:
    """An ordered, validated list of regularization pieces (at most one per technique).

    Example:
        >>> s = Stack.from_dict({"version": 1, "pieces": [{"technique": "dropout"}]})
        >>> s["dropout"].params["p"]
        0.3
        >>> Stack.from_json(s.to_json()) == s
        True
    """

    pieces: tuple[Piece, ...] = ()
    version: int = STACK_VERSION

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | Iterable[Any]) -> Stack:
        """Build a stack from its JSON object (a bare list of pieces is accepted too)."""
        if isinstance(d, Stack):
            return d
        if hasattr(d, "to_stack") and not isinstance(d, Mapping):  # Recommendations
            return cls.from_dict(d.to_stack())
        if isinstance(d, Mapping) and "pieces" not in d:
            plan = _plan_inside(d)
            if plan is not None:
                return cls.from_dict(plan)
        if isinstance(d, Mapping):
            version = d.get("version", STACK_VERSION)
            if version != STACK_VERSION:
                raise ConfigError(
                    f"stack version {version!r} is not supported; this advisor reads version {STACK_VERSION}."
                )
            raw = d.get("pieces")
            if raw is None:
                raise ConfigError(
                    "the stack object has no 'pieces' list; expected a stack "
                    '{"version": 1, "pieces": [...]} or the output of `advisor recommend --format json`.'
                )
        else:
            raw = d
        if isinstance(raw, str | bytes) or not isinstance(raw, Iterable):
            raise ConfigError(f"pieces of the stack must be a list, got {raw!r}.")
        pieces: list[Piece] = []
        for i, item in enumerate(raw):
            piece = item if isinstance(item, Piece) else Piece.from_dict(item, index=i)
            if any(p.technique == piece.technique for p in pieces):
                raise ConfigError(
                    f"the stack lists {piece.technique} twice (pieces[{i}]); keep one and merge its params."
                )
            pieces.append(piece)
        return cls(pieces=tuple(pieces))

    @classmethod
    def from_json(cls, text: str | bytes) -> Stack:
        """Parse the JSON text of a stack."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"the stack is not valid JSON: {err}.") from None
        return cls.from_dict(data)

    @classmethod
    def of(cls, *techniques: str, **params: Mapping[str, Any]) -> Stack:
        """Shortcut: ``Stack.of("l2", "dropout", dropout={"p": 0.2})``."""
        names = list(techniques) + [t for t in params if t not in techniques]
        return cls.from_dict(
            {
                "version": STACK_VERSION,
                "pieces": [{"technique": t, "params": dict(params.get(t, {}))} for t in names],
            }
        )

    # -- access ---------------------------------------------------------------------------
    @property
    def techniques(self) -> list[str]:
        """The technique names of the pieces, in order."""
        return [p.technique for p in self.pieces]

    def __contains__(self, technique: object) -> bool:
        return any(p.technique == technique for p in self.pieces)

    def __getitem__(self, technique: str) -> Piece:
        for p in self.pieces:
            if p.technique == technique:
                return p
        raise KeyError(technique)

    def get(self, technique: str) -> Piece | None:
        """The piece of ``technique``, or ``None`` when the stack has none."""
        return next((p for p in self.pieces if p.technique == technique), None)

    @property
    def stages(self) -> list[int]:
        """The plan's stages its pieces carry, in order (empty for a stack written by hand)."""
        return sorted({p.stage for p in self.pieces if p.stage is not None})

    def at_stages(self, stages: Iterable[int]) -> Stack:
        """The pieces of the plan's ``stages``; pieces without a stage (added by hand) stay.

        Example:
            >>> plan = Stack.from_dict([{"technique": "l2", "stage": 1},
            ...                         {"technique": "dropout", "stage": 2}])
            >>> plan.at_stages([1]).techniques
            ['l2']
        """
        keep = set(stages)
        return Stack(
            pieces=tuple(p for p in self.pieces if p.stage is None or p.stage in keep),
            version=self.version,
        )

    def __len__(self) -> int:
        return len(self.pieces)

    def __iter__(self):
        return iter(self.pieces)

    # -- serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The stack's JSON object: ``{"version": ..., "pieces": [...]}``."""
        return {"version": self.version, "pieces": [p.to_dict() for p in self.pieces]}

    def to_json(self, *, indent: int | None = 2) -> str:
        """The stack as JSON text (``Stack.from_json`` reads it); NaN/inf raise ``ValueError``."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def with_params(self, values: Mapping[str, Mapping[str, Any]]) -> Stack:
        """A copy with some hyper-parameters replaced, e.g. an Optuna trial's values.

        Args:
            values: ``{technique: {param: value}}``; a technique not in the stack is an error.
                Flat keys ``"technique.param"`` (Optuna's parameter names) are accepted too.
        """
        nested: dict[str, dict[str, Any]] = {}
        for key, val in values.items():
            if isinstance(val, Mapping):
                nested.setdefault(key, {}).update(val)
            elif isinstance(key, str) and "." in key:
                tech, _, name = key.partition(".")
                nested.setdefault(tech, {})[name] = val
            else:
                raise ConfigError(
                    f"with_params expects {{technique: {{param: value}}}} or 'technique.param' keys, got {key!r}."
                )
        for tech in nested:
            if tech not in self:
                raise ConfigError(
                    f"with_params names {tech!r}, which is not in the stack ({', '.join(self.techniques) or 'empty'})."
                )
        pieces = []
        for p in self.pieces:
            if p.technique in nested:
                params = _validate_params(p.technique, {**p.params, **nested[p.technique]})
                p = Piece(p.technique, params, p.search_space, p.extra)
            pieces.append(p)
        return Stack(pieces=tuple(pieces), version=self.version)

    def to_code(
        self,
        *,
        model: str = "model",
        lr: float | None = None,
        setup: Mapping[str, Any] | None = None,
    ) -> str:
        """The stack as a copy-paste PyTorch snippet (see ``_codegen``).

        Args:
            model: the variable name of the user's model in the snippet.
            lr: the learning rate in effect; ``None`` writes a named ``lr`` with a comment
                saying what to use.
            setup: the plan's set-up (``Recommendations.setup``: objective, optimizer ...), so
                the loss and the optimizer match the user's run.
        """
        from advisor.regularizers._codegen import stack_to_code

        return stack_to_code(self, model=model, lr=lr, setup=setup)

    def __str__(self) -> str:
        parts = [
            f"{p.technique}({', '.join(f'{k}={v!r}' for k, v in p.params.items() if v is not None)})"
            for p in self.pieces
        ]
        return "Stack[" + ", ".join(parts) + "]"
