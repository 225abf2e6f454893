"""The regularizer stack: a serialisable, ordered list of configured techniques.

A ``Stack`` is what the rules engine recommends (``Recommendations.to_stack()``), what the
tuner tunes (each piece carries its Optuna search space) and what :func:`advisor.apply`
turns into training-loop pieces. It round-trips to JSON (``{"version": 1, "pieces": [...]}``,
see ``docs/architecture.md``) and prints itself as copy-paste PyTorch (``to_code``).

This module must not import torch: the report and the rules engine use it without torch.

Example:
    >>> stack = Stack.from_dict({"version": 1, "pieces": [
    ...     {"technique": "l2", "params": {"weight_decay": 1e-4}}]})
    >>> stack.with_params({"l2": {"weight_decay": 1e-3}}).pieces[0].params["weight_decay"]
    0.001
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from advisor.errors import ConfigError

__all__ = ["DEFAULT_PARAMS", "TECHNIQUES", "Piece", "Stack"]

STACK_VERSION = 1

# Every technique, in the order apply() composes them, with its default hyper-parameters.
# Each default has its reason beside it.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "batch_norm": {
        "momentum": 0.1,  # torch's default running-statistics momentum
        "linear": True,  # also normalise hidden Linear layers, not only convolutions
    },
    "dropout": {
        "p": 0.3,  # middle of the 0.1-0.5 range Srivastava et al. (2014) found useful for FC layers
        "where": "auto",  # existing Dropout modules if the model has any, else insert them
        "spatial_p": 0.1,  # channel dropout on conv features is harsher, so a lower rate
    },
    "stochastic_depth": {
        "p": 0.1,  # drop rate of the deepest block (Huang et al. 2016 use 0.5 for 110 layers)
    },
    "l2": {
        "weight_decay": 1e-4,  # common default for SGD/AdamW on vision models
        "decoupled": True,  # weight decay in the optimizer groups (AdamW, SGD), not a loss term
        "exclude": None,  # extra fnmatch patterns of parameter names not to decay
    },
    "l1": {
        "strength": 1e-5,  # lambda of lambda * sum |w|; larger values zero most weights
        "proximal": True,  # soft-threshold after each step, which gives exact zeros
        "exclude": None,
    },
    "elastic_net": {
        "strength": 1e-4,  # total lambda, split by l1_ratio (scikit-learn's convention)
        "l1_ratio": 0.5,
        "proximal": True,
        "exclude": None,
    },
    "label_smoothing": {
        "smoothing": 0.1,  # Szegedy et al. (2016) used 0.1 on ImageNet
    },
    "data_augmentation": {
        "magnitude": 0.3,  # one knob in [0, 1]; 0 is the identity
        "transforms": None,  # None or []: every transform that fits the data; "color" = 4 photometric
        "modality": "auto",  # image (N,C,H,W), sequence (N,C,T), tabular (N,F); auto from ndim
        "no_flip": False,  # orientation-sensitive data (digits, text, maps): never flip
    },
    "mixup": {
        "alpha": 0.2,  # Beta(alpha, alpha); Zhang et al. (2018) used 0.1-0.4 on ImageNet
    },
    "cutmix": {
        "alpha": 1.0,  # Beta(1, 1) = uniform box area, as in Yun et al. (2019)
    },
    "early_stopping": {
        "monitor": "val_loss",
        "mode": "min",
        "patience": 10,  # epochs without improvement before stopping
        "min_delta": 0.0,
        "restore_best": True,  # put the best weights back when training stops
    },
    "ema": {
        "decay": 0.999,  # averages about the last 1000 steps (timm uses 0.9998 for long ImageNet runs)
    },
}

TECHNIQUES: tuple[str, ...] = tuple(DEFAULT_PARAMS)

_IMAGE_TRANSFORMS = (
    "rotation",
    "flip",
    "vflip",
    "scale",
    "crop",
    "translate",
    "brightness",
    "contrast",
    "saturation",
    "hue",
)
_SEQUENCE_TRANSFORMS = ("jitter", "scaling", "time_mask")
_TABULAR_TRANSFORMS = ("noise",)
_COLOR = ("brightness", "contrast", "saturation", "hue")
ALL_TRANSFORMS = _IMAGE_TRANSFORMS + _SEQUENCE_TRANSFORMS + _TABULAR_TRANSFORMS

_SPACE_TYPES = ("float", "int", "categorical")


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _number(
    technique: str,
    name: str,
    value: Any,
    *,
    low: float,
    high: float | None = None,
    low_open: bool = False,
    integer: bool = False,
) -> float | int:
    """Validate one numeric hyper-parameter with the project's one-line message template."""
    kind = "an int" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type or not math.isfinite(value):
        raise ConfigError(f"{name} of {technique} must be {kind}, got {value!r}.")
    too_low = value <= low if low_open else value < low
    too_high = high is not None and value > high
    if too_low or too_high:
        bound = (">" if low_open else ">=") + f" {low:g}"
        if high is not None:
            bound += f" and <= {high:g}"
        raise ConfigError(f"{name} of {technique} must be {kind} {bound}, got {value!r}.")
    return value


def _patterns(technique: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(
        f"exclude of {technique} must be a list of fnmatch patterns like ['*.bias'], got {value!r}."
    )


def _choice(technique: str, name: str, value: Any, choices: tuple[Any, ...]) -> Any:
    if value not in choices:
        raise ConfigError(
            f"{name} of {technique} must be one of {', '.join(map(repr, choices))}, got {value!r}."
        )
    return value


def _flag(technique: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} of {technique} must be true or false, got {value!r}.")
    return value


def _validate_params(technique: str, params: dict[str, Any]) -> dict[str, Any]:
    """Check every hyper-parameter of one piece; return them completed with the defaults."""
    unknown = [k for k in params if k not in DEFAULT_PARAMS[technique]]
    if unknown:
        allowed = ", ".join(DEFAULT_PARAMS[technique])
        raise ConfigError(
            f"{technique} has no parameter {unknown[0]!r}; allowed: {allowed}."
            + _did_you_mean(unknown[0], DEFAULT_PARAMS[technique])
        )
    p = {**DEFAULT_PARAMS[technique], **params}
    t = technique
    if t == "l2":
        _number(t, "weight_decay", p["weight_decay"], low=0.0)
        _flag(t, "decoupled", p["decoupled"])
        p["exclude"] = _patterns(t, p["exclude"])
    elif t == "l1":
        _number(t, "strength", p["strength"], low=0.0)
        _flag(t, "proximal", p["proximal"])
        p["exclude"] = _patterns(t, p["exclude"])
    elif t == "elastic_net":
        _number(t, "strength", p["strength"], low=0.0)
        _number(t, "l1_ratio", p["l1_ratio"], low=0.0, high=1.0)
        _flag(t, "proximal", p["proximal"])
        p["exclude"] = _patterns(t, p["exclude"])
    elif t == "dropout":
        _number(t, "p", p["p"], low=0.0, high=0.95)
        _number(t, "spatial_p", p["spatial_p"], low=0.0, high=0.95)
        _choice(t, "where", p["where"], ("auto", "existing", "insert"))
    elif t == "stochastic_depth":
        _number(t, "p", p["p"], low=0.0, high=0.95)
    elif t == "batch_norm":
        _number(t, "momentum", p["momentum"], low=0.0, high=1.0, low_open=True)
        _flag(t, "linear", p["linear"])
    elif t == "label_smoothing":
        _number(t, "smoothing", p["smoothing"], low=0.0, high=0.99)
    elif t == "data_augmentation":
        _number(t, "magnitude", p["magnitude"], low=0.0, high=1.0)
        _choice(t, "modality", p["modality"], ("auto", "image", "sequence", "tabular"))
        _flag(t, "no_flip", p["no_flip"])
        tr = p["transforms"]
        if tr is not None:
            if isinstance(tr, str):
                tr = [tr]
            if not isinstance(tr, list | tuple) or not all(isinstance(x, str) for x in tr):
                raise ConfigError(
                    f"transforms of data_augmentation must be a list of names, got {tr!r}."
                )
            # "color" is the guide's word for the four photometric transforms.
            tr = [t for name in tr for t in (_COLOR if name == "color" else (name,))]
            for name in tr:
                if name not in ALL_TRANSFORMS:
                    raise ConfigError(
                        f"transforms of data_augmentation has unknown transform {name!r}; "
                        f"allowed: {', '.join(ALL_TRANSFORMS)}."
                        + _did_you_mean(name, ALL_TRANSFORMS)
                    )
            # An empty list means "not chosen" (the engine's default), like null: every
            # transform that fits the batch, rather than a silent no-op.
            p["transforms"] = list(dict.fromkeys(tr)) or None
    elif t in ("mixup", "cutmix"):
        _number(t, "alpha", p["alpha"], low=0.0, low_open=True)
    elif t == "ema":
        decay = _number(t, "decay", p["decay"], low=0.0, high=1.0, low_open=True)
        if decay >= 1.0:
            raise ConfigError(f"decay of ema must be a number > 0 and < 1, got {decay!r}.")
    elif t == "early_stopping":
        patience = p["patience"]
        if isinstance(patience, float) and patience.is_integer():
            p["patience"] = patience = int(patience)  # Optuna/JSON may hand back 10.0
        _number(t, "patience", patience, low=1, integer=True)
        _number(t, "min_delta", p["min_delta"], low=0.0)
        _choice(t, "mode", p["mode"], ("min", "max"))
        _flag(t, "restore_best", p["restore_best"])
        if not isinstance(p["monitor"], str) or not p["monitor"]:
            raise ConfigError(
                f"monitor of early_stopping must be a metric name, got {p['monitor']!r}."
            )
    return p


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
                + _did_you_mean(name, DEFAULT_PARAMS[technique])
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
                f"{', '.join(TECHNIQUES)}." + _did_you_mean(str(technique), TECHNIQUES)
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

    def to_dict(self) -> dict[str, Any]:
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
        if isinstance(d, Mapping):
            version = d.get("version", STACK_VERSION)
            if version != STACK_VERSION:
                raise ConfigError(
                    f"stack version {version!r} is not supported; this advisor reads version {STACK_VERSION}."
                )
            raw = d.get("pieces")
            if raw is None:
                raise ConfigError(
                    'the stack object has no \'pieces\' list; expected {"version": 1, "pieces": [...]}.'
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
        return [p.technique for p in self.pieces]

    def __contains__(self, technique: object) -> bool:
        return any(p.technique == technique for p in self.pieces)

    def __getitem__(self, technique: str) -> Piece:
        for p in self.pieces:
            if p.technique == technique:
                return p
        raise KeyError(technique)

    def get(self, technique: str) -> Piece | None:
        return next((p for p in self.pieces if p.technique == technique), None)

    def __len__(self) -> int:
        return len(self.pieces)

    def __iter__(self):
        return iter(self.pieces)

    # -- serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "pieces": [p.to_dict() for p in self.pieces]}

    def to_json(self, *, indent: int | None = 2) -> str:
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

    def to_code(self, *, model: str = "model", lr: float = 1e-3) -> str:
        """The stack as a copy-paste PyTorch snippet (see ``_codegen``)."""
        from advisor.regularizers._codegen import stack_to_code

        return stack_to_code(self, model=model, lr=lr)

    def __str__(self) -> str:
        parts = [
            f"{p.technique}({', '.join(f'{k}={v!r}' for k, v in p.params.items() if v is not None)})"
            for p in self.pieces
        ]
        return "Stack[" + ", ".join(parts) + "]"
