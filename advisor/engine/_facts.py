"""The facts every rule reads: what was measured, what the user declared, what follows from both.

``build_facts`` merges the fit diagnosis of the learning curves (``advisor.curves``), the
model facts of a checkpoint (``advisor.inspect``) and the user's declarations (CLI flags or
``[tool.advisor]``) into one ``Facts`` object. Each value records its origin (measured,
declared, derived, default) and a source text, so a report can say where every number came
from. A declaration wins over a measurement of the same fact (the user knows the task and
the data better than a guess from weights can); the disagreement is kept in the source text.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from advisor._display import Displayable
from advisor.errors import ConfigError

__all__ = [
    "COMPLEXITY_THRESHOLDS",
    "DECLARED_KEYS",
    "FACT_SPECS",
    "SIZE_THRESHOLDS",
    "Fact",
    "FactSpec",
    "Facts",
    "build_facts",
    "validate_declared",
]

Origin = Literal["measured", "declared", "derived", "default"]

VERDICTS = ("overfitting", "underfitting", "good_fit", "not_converged", "diverging")
TASKS = ("image", "sequence", "text", "tabular", "audio")
ARCHS = ("mlp", "cnn", "resnet", "rnn", "transformer")
BUDGETS = ("low", "medium", "high")
CLASSES3 = ("low", "medium", "high")
SIZES = ("small", "medium", "large")


@dataclass(frozen=True)
class FactSpec:
    """What one fact holds: its type, allowed values and meaning.

    ``kind`` is ``"enum"``, ``"int"``, ``"float"`` or ``"bool"``; ``base`` facts are
    measured or declared, the others are derived from them.
    """

    name: str
    kind: str
    description: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    base: bool = True
    # Largest physically sensible value (declared facts outside [minimum, maximum] are errors).
    maximum: float | None = None

    def coerce(self, value: Any, *, where: str) -> Any:
        """Return ``value`` converted to this fact's type, or raise ``ConfigError``."""
        if value is None:
            return None
        if self.kind == "enum":
            text = str(value).strip().lower().replace("-", "_")
            if text not in self.choices:
                close = difflib.get_close_matches(text, self.choices, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(
                    f"{where}: {self.name} must be one of {', '.join(self.choices)}, got {value!r}{hint}."
                )
            return text
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in {
                "true",
                "yes",
                "1",
                "false",
                "no",
                "0",
            }:
                return value.strip().lower() in {"true", "yes", "1"}
            raise ConfigError(f"{where}: {self.name} must be true or false, got {value!r}.")
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: {self.name} must be a number, got {value!r}.") from None
        if not math.isfinite(number):
            raise ConfigError(f"{where}: {self.name} must be a finite number, got {value!r}.")
        if self.kind == "int":
            if number != int(number):
                raise ConfigError(f"{where}: {self.name} must be a whole number, got {value!r}.")
            number = int(number)
        low, high = self.minimum, self.maximum
        if (low is not None and number < low) or (high is not None and number > high):
            raise ConfigError(
                f"{where}: {self.name} ({self.description}) must be {self.allowed()}, got {value!r}."
            )
        return number

    def allowed(self) -> str:
        """The allowed range in words: ``between 1 and 1e+13`` or ``>= 0``."""

        def show(bound: float) -> str:
            if self.kind == "int" or float(bound).is_integer():
                return f"{int(bound):,}" if abs(bound) < 1e7 else f"{bound:g}"
            return f"{bound:g}"

        if self.minimum is not None and self.maximum is not None:
            return f"between {show(self.minimum)} and {show(self.maximum)}"
        if self.minimum is not None:
            return f">= {show(self.minimum)}"
        return f"<= {show(self.maximum)}"


def _specs(*items: FactSpec) -> dict[str, FactSpec]:
    return {s.name: s for s in items}


FACT_SPECS: dict[str, FactSpec] = _specs(
    # measured from the learning curves (or declared with --fit)
    FactSpec("fit", "enum", "fit verdict of the learning curves", VERDICTS),
    FactSpec(
        "fit_severity",
        "enum",
        "severity of an overfitting verdict: mild (small rise or large gap) or strong",
        ("mild", "strong"),
    ),
    FactSpec("fit_confidence", "float", "confidence of the fit verdict, 0-1", minimum=0),
    FactSpec(
        "gap",
        "float",
        "relative generalisation gap at the end: (validation - train) / train; 1.0 = twice as bad",
    ),
    FactSpec("epochs", "int", "number of epochs logged", minimum=0),
    FactSpec("best_epoch", "float", "epoch with the best validation value"),
    FactSpec(
        "onset_epoch", "float", "epoch where validation starts to get worse while train improves"
    ),
    FactSpec("noise", "float", "relative epoch-to-epoch noise of the validation curve", minimum=0),
    # measured from the checkpoint (or declared)
    FactSpec("params", "float", "number of trainable parameters", minimum=1, maximum=1e13),
    FactSpec(
        "depth",
        "int",
        "number of weight layers (conv/linear/recurrent/attention)",
        minimum=1,
        maximum=100_000,
    ),
    FactSpec("arch", "enum", "architecture family", ARCHS),
    FactSpec("has_dropout", "bool", "the model already has dropout"),
    FactSpec(
        "dropout_rate", "float", "largest dropout rate already in the model", minimum=0, maximum=1
    ),
    FactSpec("has_batchnorm", "bool", "the model already has batch normalisation"),
    FactSpec("has_norm", "bool", "the model has any normalisation layer (batch, layer, group ...)"),
    FactSpec("has_residual", "bool", "the model has residual (skip) connections"),
    FactSpec("weight_decay", "float", "weight decay already used by the optimizer", minimum=0),
    FactSpec("early_stopping", "bool", "training already stops early on a validation metric"),
    FactSpec("pretrained", "bool", "the model starts from pretrained weights (fine-tuning)"),
    # declared by the user
    FactSpec("task", "enum", "kind of input data", TASKS),
    FactSpec("samples", "int", "number of training examples", minimum=2, maximum=1e12),
    FactSpec(
        "classes",
        "int",
        "number of classes (classification); 1 for regression",
        minimum=1,
        maximum=1_000_000,
    ),
    FactSpec("budget", "enum", "compute budget", BUDGETS),
    FactSpec(
        "gpu_hours",
        "float",
        "GPU hours available for training and tuning",
        minimum=0,
        maximum=1e9,
    ),
    FactSpec("batch_size", "int", "training batch size", minimum=1, maximum=10_000_000),
    FactSpec(
        "no_flip", "bool", "orientation carries the label: mirrored inputs change their class"
    ),
    # derived
    FactSpec("params_per_sample", "float", "parameters per training example", base=False),
    FactSpec("samples_per_class", "float", "training examples per class", base=False),
    FactSpec("size_class", "enum", "dataset size class (see SIZE_THRESHOLDS)", SIZES, base=False),
    FactSpec(
        "complexity_class",
        "enum",
        "model complexity class (see COMPLEXITY_THRESHOLDS)",
        CLASSES3,
        base=False,
    ),
    FactSpec(
        "onset_fraction",
        "float",
        "overfitting onset as a fraction of the epochs logged",
        base=False,
    ),
    FactSpec("classification", "bool", "the task is classification (classes >= 2)", base=False),
    FactSpec(
        "sequence",
        "bool",
        "sequence data (text, time series) or a recurrent/attention model on it",
        base=False,
    ),
    FactSpec(
        "has_regularization", "bool", "the model already has dropout or weight decay", base=False
    ),
)

# Keys accepted in ``declared`` (CLI flags and [tool.advisor]); dashes are accepted too.
DECLARED_KEYS: tuple[str, ...] = (
    "task",
    "samples",
    "classes",
    "params",
    "depth",
    "arch",
    "fit",
    "pretrained",
    "budget",
    "gpu_hours",
    "batch_size",
    "no_flip",
    "has_dropout",
    "dropout_rate",
    "has_batchnorm",
    "weight_decay",
    "early_stopping",
)

# samples < 10,000 is small (a few hundred examples per class at most for typical class
# counts); >= 100,000 is large (ImageNet-scale subsets and up).
SIZE_THRESHOLDS = {"small": 10_000, "large": 100_000}
# A model is "high" complexity from 10M parameters or 20 weight layers, "low" under 100k
# parameters and 5 layers; the higher of the two classes wins.
COMPLEXITY_THRESHOLDS = {"params": (1e5, 1e7), "depth": (5, 20)}
# gpu_hours -> budget when no budget is declared: < 2 h low, < 24 h medium, else high.
BUDGET_HOURS = (2.0, 24.0)

_DEFAULTS: dict[str, tuple[Any, str]] = {
    "budget": ("medium", "assumed when neither --budget nor --gpu-hours is given"),
    "no_flip": (False, "assumed: mirrored inputs keep their label (pass --no-flip if not)"),
    "pretrained": (False, "assumed: trained from scratch (pass --pretrained when fine-tuning)"),
}


@dataclass(frozen=True)
class Fact:
    """One fact: its value, where it came from (``origin``) and a source text for humans."""

    name: str
    value: Any
    origin: Origin
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "origin": self.origin, "source": self.source}


class Facts(Displayable, Mapping[str, Any]):
    """The facts of one model and dataset, read-only; ``facts["samples"]`` gives the value.

    Iterating gives the names of the known facts; ``facts[name]`` of any fact name gives its
    value (``None`` when unknown); ``facts.fact(name)`` gives the ``Fact`` with its origin;
    ``facts.namespace()`` maps every fact name to its value (what rule conditions read).

    Example:
        >>> facts = build_facts(declared={"task": "image", "samples": 2000})
        >>> facts["size_class"], facts.fact("size_class").origin
        ('small', 'derived')
    """

    def __init__(self, facts: Mapping[str, Fact]):
        self._facts = dict(facts)

    def __getitem__(self, name: str) -> Any:
        if name not in FACT_SPECS:
            raise KeyError(name)
        fact = self._facts.get(name)
        return None if fact is None else fact.value

    def __contains__(self, name: object) -> bool:
        return name in self._facts

    def __iter__(self) -> Iterator[str]:
        return iter(self._facts)

    def __len__(self) -> int:
        return len(self._facts)

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={f.value!r}" for k, f in self._facts.items())
        return f"Facts({body})"

    def fact(self, name: str) -> Fact | None:
        """The ``Fact`` named ``name`` (value, origin, source), or ``None`` when unknown."""
        return self._facts.get(name)

    def namespace(self) -> dict[str, Any]:
        """Every fact name (known or not) mapped to its value; unknown facts are ``None``.

        Example:
            >>> build_facts(declared={"samples": 10}).namespace()["params"] is None
            True
        """
        return {name: self[name] for name in FACT_SPECS}

    def to_dict(self) -> dict[str, Any]:
        """``{name: {"value", "origin", "source"}}`` for every known fact."""
        return {name: fact.to_dict() for name, fact in self._facts.items()}

    def _repr_html_(self) -> str:
        # A plain table: facts are a part of other reports, not a report of their own.
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(n)}</td><td>{escape(format_value(f.value))}</td>"
            f"<td>{escape(f.origin)}</td><td>{escape(f.source)}</td></tr>"
            for n, f in self._facts.items()
        )
        head = "<tr><th>fact</th><th>value</th><th>origin</th><th>source</th></tr>"
        return f'<table class="advisor-facts">{head}{rows}</table>'

    def __rich_console__(self, console, options):
        from rich.table import Table

        table = Table(title="Facts", title_justify="left", show_edge=False)
        table.add_column("fact")
        table.add_column("value")
        table.add_column("origin")
        table.add_column("source", overflow="fold")
        for name, fact in self._facts.items():
            table.add_row(name, format_value(fact.value), fact.origin, fact.source)
        yield table


def format_value(value: Any) -> str:
    """Short human form of a fact value (11000000.0 -> '11M')."""
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "unknown"}[value]
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
            for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
                if abs(value) >= scale:
                    return f"{value / scale:.3g}{unit}"
            return f"{value:.2g}"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:,}"
    return str(value)


# ---------------------------------------------------------------------------- measured facts


def _first(mapping: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = mapping.get(key)
        if value is not None:
            return value
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _fit_values(fit: Any) -> dict[str, Any]:
    """Facts from a ``FitDiagnosis`` (or its ``to_dict()``)."""
    data = fit.to_dict() if hasattr(fit, "to_dict") else dict(fit)
    values: dict[str, Any] = {}
    verdict = data.get("verdict")
    if verdict is not None:
        values["fit"] = str(verdict)
    confidence = data.get("confidence")
    if isinstance(confidence, str):
        confidence = {"low": 0.33, "medium": 0.66, "high": 0.9}.get(confidence.lower())
    values["fit_confidence"] = _number(confidence)
    gap = data.get("gap")
    if isinstance(gap, Mapping):
        # FitDiagnosis gives {"best_abs", "best_rel", "end_abs", "end_rel", "final"}; the absolute
        # gap is in the metric's units, so only the relative one can carry a rule threshold.
        gap = gap.get("end_rel")
    values["gap"] = _number(gap)
    values["epochs"] = _number(_first(data, "n_epochs", "epochs"))
    values["best_epoch"] = _number(data.get("best_epoch"))
    values["onset_epoch"] = _number(data.get("onset_epoch"))
    noise = _first(data, "noise", "val_noise", "noise_level")
    if isinstance(noise, Mapping):
        noise = _first(noise, "val_rel", "val")
    values["noise"] = _number(noise)
    severity = data.get("severity")
    if severity in ("mild", "strong"):
        values["fit_severity"] = severity
    # Regularization in effect read beside the curves (logged hyper-parameters, declared flags).
    reg = data.get("regularization")
    if isinstance(reg, Mapping):
        for name, fact in (("weight_decay", "weight_decay"), ("dropout", "dropout_rate")):
            entry = reg.get(name)
            value = entry.get("value") if isinstance(entry, Mapping) else entry
            if _number(value) is not None:
                values[fact] = _number(value)
        if "dropout_rate" in values:
            values["has_dropout"] = values["dropout_rate"] > 0
    return {k: v for k, v in values.items() if v is not None}


_ARCH_WORDS = {
    "resnet": "resnet",
    "residual": "resnet",
    "convnext": "cnn",
    "cnn": "cnn",
    "conv": "cnn",
    "vgg": "cnn",
    "mlp": "mlp",
    "linear": "mlp",
    "rnn": "rnn",
    "lstm": "rnn",
    "gru": "rnn",
    "recurrent": "rnn",
    "transformer": "transformer",
    "attention": "transformer",
    "vit": "transformer",
    "bert": "transformer",
    "gpt": "transformer",
}


def _model_values(model: Mapping[str, Any]) -> dict[str, Any]:
    """Facts from a ``ModelReport.model`` dict (``advisor.inspect.ModelFacts.to_dict()``)."""
    values: dict[str, Any] = {}
    values["params"] = _number(
        _first(model, "params_trainable", "params_total", "params", "n_params")
    )
    values["depth"] = _number(_first(model, "depth", "n_layers"))
    family = _first(model, "family", "arch", "architecture")
    if isinstance(family, str):
        key = family.strip().lower()
        values["arch"] = _ARCH_WORDS.get(key) or next(
            (v for w, v in _ARCH_WORDS.items() if w in key), None
        )
    rates = _first(model, "dropout_rates", "dropout_rate")
    if isinstance(rates, Mapping):
        rates = list(rates.values())
    if isinstance(rates, list | tuple):
        numbers = [r for r in (_number(x) for x in rates) if r is not None]
        rates = max(numbers) if numbers else None
    rate = _number(rates)
    dropout = model.get("dropout", model.get("has_dropout"))
    if rate is not None:
        values["dropout_rate"] = rate
        values["has_dropout"] = rate > 0
    elif isinstance(dropout, bool):
        values["has_dropout"] = dropout
    norm = _first(model, "normalization", "has_norm")
    kinds = model.get("normalization_kinds")
    if isinstance(norm, bool):
        values["has_norm"] = norm
        if not norm:
            values["has_batchnorm"] = False
    if isinstance(kinds, list | tuple) and kinds:
        values["has_batchnorm"] = any("batch" in str(k).lower() for k in kinds)
        values["has_norm"] = True
    for key, names in (
        ("has_batchnorm", ("has_batchnorm", "batch_norm")),
        ("has_residual", ("residual", "has_residual")),
        ("pretrained", ("pretrained",)),
        ("early_stopping", ("early_stopping",)),
    ):
        value = _first(model, *names)
        if isinstance(value, bool):
            values[key] = value
    values["weight_decay"] = _number(model.get("weight_decay"))
    classes = _number(_first(model, "num_classes", "classes"))
    if classes is not None and 1 <= classes <= FACT_SPECS["classes"].maximum:
        values["classes"] = classes
    if values.get("has_batchnorm"):
        values["has_norm"] = True
    return {k: v for k, v in values.items() if v is not None}


# ---------------------------------------------------------------------------- derivation


def _class3(value: float | None, bounds: tuple[float, float]) -> int | None:
    if value is None:
        return None
    return 0 if value < bounds[0] else (1 if value < bounds[1] else 2)


def _derive(base: dict[str, Fact]) -> dict[str, Fact]:
    def val(name: str) -> Any:
        fact = base.get(name)
        return None if fact is None else fact.value

    out: dict[str, Fact] = {}

    def put(name: str, value: Any, source: str) -> None:
        if value is not None:
            out[name] = Fact(name, value, "derived", source)

    params, samples, classes = val("params"), val("samples"), val("classes")
    if params is not None and samples:
        put("params_per_sample", params / samples, "params / samples")
    if samples is not None and classes:
        put("samples_per_class", samples / classes, "samples / classes")
    if samples is not None:
        small, large = SIZE_THRESHOLDS["small"], SIZE_THRESHOLDS["large"]
        size = "small" if samples < small else ("medium" if samples < large else "large")
        put(
            "size_class",
            size,
            f"samples {samples:,}: small < {small:,} <= medium < {large:,} <= large",
        )
    levels = [
        c
        for c in (
            _class3(params, COMPLEXITY_THRESHOLDS["params"]),
            _class3(val("depth"), COMPLEXITY_THRESHOLDS["depth"]),
        )
        if c is not None
    ]
    if levels:
        put(
            "complexity_class",
            CLASSES3[max(levels)],
            "higher of: params (<100k low, >=10M high) and depth (<5 low, >=20 high)",
        )
    onset, epochs = val("onset_epoch"), val("epochs")
    if onset is not None and epochs:
        put("onset_fraction", onset / epochs, "onset_epoch / epochs")
    if classes is not None:
        put("classification", classes >= 2, "classes >= 2")
    task, arch = val("task"), val("arch")
    if task is not None or arch is not None:
        sequence = task in ("sequence", "text") or (task is None and arch in ("rnn", "transformer"))
        put(
            "sequence",
            sequence,
            "task is sequence/text, or an rnn/transformer with no task declared",
        )
    rate, decay = val("dropout_rate"), val("weight_decay")
    has_dropout = val("has_dropout")
    if has_dropout is not None or rate is not None or decay is not None:
        existing = bool(has_dropout) or bool(rate) or bool(decay)
        put("has_regularization", existing, "has_dropout or dropout_rate > 0 or weight_decay > 0")
    return out


def _normalise_declared(
    declared: Mapping[str, Any], sources: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Validate the declared keys and values (types and physical ranges); drop ``None``.

    Every command that takes declared facts (recommend, diagnose, tune, the Python API) goes
    through here, so a value outside its range (``params`` 1..1e13, ``samples`` 2..1e12,
    ``classes`` 1..1e6 with 1 meaning regression, ``batch_size`` >= 1, ``gpu_hours`` 0..1e9,
    fewer samples than classes) is one ``ConfigError`` naming the allowed range.
    """
    where_of = dict(sources or {})

    def where(key: str) -> str:
        flag = where_of.get(key) or where_of.get(key.replace("_", "-"))
        return f"{flag} (declared {key})" if flag else f"declared {key}"

    out: dict[str, Any] = {}
    for raw_key, value in declared.items():
        key = str(raw_key).replace("-", "_")
        if key not in DECLARED_KEYS:
            close = difflib.get_close_matches(key, DECLARED_KEYS, n=1)
            hint = (
                f" Did you mean '{close[0]}'?"
                if close
                else f" Allowed: {', '.join(DECLARED_KEYS)}."
            )
            raise ConfigError(f"declared fact '{raw_key}' is unknown.{hint}")
        if value is None:
            continue
        if key == "has_dropout" and not isinstance(value, bool) and _number(value) is not None:
            # --has-dropout RATE: the rate says both that dropout exists and how strong it is.
            out["dropout_rate"] = FACT_SPECS["dropout_rate"].coerce(
                value, where=where("has_dropout")
            )
            out["has_dropout"] = out["dropout_rate"] > 0
            continue
        out[key] = FACT_SPECS[key].coerce(value, where=where(key))
    samples, classes = out.get("samples"), out.get("classes")
    if samples is not None and classes is not None and classes >= 2 and samples < classes:
        raise ConfigError(
            f"{where('samples')}: {samples} training examples cannot cover {classes} classes; "
            "samples must be >= classes (check --samples and --classes)."
        )
    return out


def validate_declared(
    declared: Mapping[str, Any], sources: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Check declared facts (names, types, physical ranges) before any work is done.

    Returns the normalised values; raises ``ConfigError`` (one line naming the allowed range)
    for an unknown name or a value outside its range. ``build_facts`` runs the same checks;
    commands call this first so that nothing is read or written for an impossible declaration.

    Example:
        >>> validate_declared({"samples": 2000, "classes": 10})
        {'samples': 2000, 'classes': 10}
    """
    return _normalise_declared(declared, sources)


def build_facts(
    *,
    fit: Any = None,
    model: Mapping[str, Any] | None = None,
    declared: Mapping[str, Any] | None = None,
    sources: Mapping[str, str] | None = None,
) -> Facts:
    """Merge measured and declared facts and derive the rest.

    Args:
        fit: a ``FitDiagnosis`` (or its ``to_dict()``) from the learning curves.
        model: a ``ModelReport.model`` dict from a checkpoint.
        declared: what the user declared (keys in ``DECLARED_KEYS``; dashes allowed).
        sources: optional text per declared key saying where it was declared
            (``{"samples": "--samples"}``); the default is "declared by the user".

    Returns:
        ``Facts`` whose every value carries its origin and source.

    Raises:
        ConfigError: an unknown declared key or an invalid value (one line, with the fix).

    Example:
        >>> facts = build_facts(declared={"task": "image", "samples": 2000, "params": 11e6})
        >>> round(facts["params_per_sample"])
        5500
    """
    base: dict[str, Fact] = {}
    measured: dict[str, tuple[Any, str]] = {}
    if fit is not None:
        for name, value in _fit_values(fit).items():
            measured[name] = (
                FACT_SPECS[name].coerce(value, where="fit diagnosis"),
                "learning curves (fit diagnosis)",
            )
    if model is not None:
        for name, value in _model_values(model).items():
            measured[name] = (
                FACT_SPECS[name].coerce(value, where="model facts"),
                "checkpoint (model inspection)",
            )
    for name, (value, source) in measured.items():
        base[name] = Fact(name, value, "measured", source)

    given = _normalise_declared(declared or {}, sources)
    where = dict(sources or {})
    for name, value in given.items():
        source = where.get(name) or where.get(name.replace("_", "-")) or "declared by the user"
        old = base.get(name)
        if old is not None and old.value != value:
            source = f"{source} (overrides measured {format_value(old.value)})"
        base[name] = Fact(name, value, "declared", source)

    return _complete(base)


def _complete(base: dict[str, Fact]) -> Facts:
    """Fill what follows from the base facts (budget from hours, defaults) and derive the rest."""
    if "budget" not in base and "gpu_hours" in base:
        hours = base["gpu_hours"].value
        budget = (
            "low" if hours < BUDGET_HOURS[0] else ("medium" if hours < BUDGET_HOURS[1] else "high")
        )
        base["budget"] = Fact(
            "budget", budget, "derived", f"gpu_hours {hours:g}: < 2 low, < 24 medium, else high"
        )
    if "has_dropout" not in base and "dropout_rate" in base:
        rate = base["dropout_rate"]
        base["has_dropout"] = Fact("has_dropout", rate.value > 0, "derived", "dropout_rate > 0")
    for name, (value, why) in _DEFAULTS.items():
        if name not in base:
            base[name] = Fact(name, value, "default", why)
    ordered = {name: base[name] for name in FACT_SPECS if name in base}
    ordered.update(_derive(ordered))
    return Facts({name: ordered[name] for name in FACT_SPECS if name in ordered})


def facts_from_case(case: Mapping[str, Any], *, where: str) -> Facts:
    """Facts from a rule's test case: any base fact may be given; derived facts follow.

    Raises ``ConfigError`` for a derived or unknown name, or an invalid value.
    """
    base: dict[str, Fact] = {}
    for name, value in case.items():
        spec = FACT_SPECS.get(name)
        if spec is None or not spec.base:
            known = [n for n, s in FACT_SPECS.items() if s.base]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            what = "is derived; give the facts it comes from" if spec else f"is not a fact{hint}"
            raise ConfigError(f"{where}: '{name}' {what}.")
        base[name] = Fact(name, spec.coerce(value, where=where), "declared", "rule test case")
    return _complete(base)
