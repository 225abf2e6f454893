"""The facts every rule reads: what was measured, what the user declared, what follows from both.

``build_facts`` merges the fit diagnosis of the learning curves (``advisor.curves``), the
model facts of a checkpoint (``advisor.inspect``) and the user's declarations (CLI flags or
``[tool.advisor]``) into one ``Facts`` object. Each value records its origin (measured,
declared, derived, default) and a source text, so a report can say where every number came
from. A declaration wins over a measurement of the same fact (the user knows the task and
the data better than a guess from weights can); the disagreement is kept in the source text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from advisor._display import Displayable
from advisor._validation import (
    MODALITIES,
    OBJECTIVES,
    TASK_WORDS,
    did_you_mean,
    resolve_vocabulary,
)
from advisor.engine._fact_specs import (  # noqa: F401 (ARCHS ... re-exported for old imports)
    ALIASES,
    ARCHS,
    BUDGET_HOURS,
    BUDGETS,
    CLASSES3,
    COMPLEXITY_THRESHOLDS,
    DECLARED_KEYS,
    FACT_SPECS,
    SIZE_THRESHOLDS,
    TASKS,
    VERDICTS,
    FactSpec,
    Origin,
)
from advisor.engine._measured import fit_values, model_values, number
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

# What a declared normalisation says about the two norm facts the rules read.
_NORM_FACTS: dict[str, dict[str, bool]] = {
    "batch": {"has_norm": True, "has_batchnorm": True},
    "layer": {"has_norm": True, "has_batchnorm": False},
    "group": {"has_norm": True, "has_batchnorm": False},
    "none": {"has_norm": False, "has_batchnorm": False},
}
# What an architecture family has by construction, assumed until measured or declared.
_ARCH_ASSUMPTIONS: dict[str, tuple[dict[str, bool], str]] = {
    "resnet": (
        {"has_batchnorm": True, "has_norm": True, "has_residual": True},
        "assumed: ResNets have BatchNorm and skip connections (He et al. 2016); "
        "pass --norm if yours differs",
    ),
    "transformer": (
        {"has_batchnorm": False, "has_norm": True, "has_residual": True},
        "assumed: transformers use LayerNorm and residual connections (Vaswani et al. 2017); "
        "pass --norm if yours differs",
    ),
}

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
        """``{"value", "origin", "source"}``; ``Facts.to_dict`` files it under the name."""
        return {"value": self.value, "origin": self.origin, "source": self.source}


class Facts(Displayable, Mapping[str, Any]):
    """The facts of one model and dataset, read-only; ``facts["samples"]`` gives the value.

    Iterating gives the names of the known facts; ``facts[name]`` of any fact name gives its
    value (``None`` when unknown); ``facts.fact(name)`` gives the ``Fact`` with its origin;
    ``facts.namespace()`` maps every fact name to its value (what rule conditions read).

    Example:
        >>> facts = build_facts(declared={"modality": "image", "samples": 2000})
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

    def _shown(self) -> dict[str, Fact]:
        # People read the facts once: the alias "task" repeats "modality", so only JSON has it.
        return {n: f for n, f in self._facts.items() if n not in ALIASES}

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
            for n, f in self._shown().items()
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
        for name, fact in self._shown().items():
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
    objective = val("objective")
    if objective is not None:
        put("classification", objective == "classification", "objective == classification")
    elif classes is not None:
        put("classification", classes >= 2, "classes >= 2")
    modality, arch = val("modality"), val("arch")
    if modality is not None or arch is not None or objective == "forecasting":
        sequence = modality in ("sequence", "text") or (
            modality is None and (arch in ("rnn", "transformer") or objective == "forecasting")
        )
        put(
            "sequence",
            sequence,
            "modality is sequence/text, or forecasting or an rnn/transformer with no modality "
            "declared",
        )
    rate, decay = val("dropout_rate"), val("weight_decay")
    has_dropout = val("has_dropout")
    if has_dropout is not None or rate is not None or decay is not None:
        existing = bool(has_dropout) or bool(rate) or bool(decay)
        put("has_regularization", existing, "has_dropout or dropout_rate > 0 or weight_decay > 0")
    return out


def _vocabulary_word(key: str, value: Any, where: str) -> str:
    """Check one of modality/objective/task in the facts' message style; return it normalised."""
    word = str(value).strip().lower().replace("-", "_")
    allowed = {"modality": MODALITIES, "objective": (*OBJECTIVES, "timeseries")}.get(
        key, tuple(TASK_WORDS)
    )
    if word not in allowed:
        hint = did_you_mean(word, allowed, parens=True)
        raise ConfigError(
            f"{where}: {key} must be one of {', '.join(allowed)}, got {value!r}{hint}."
        )
    return word


def _normalise_declared(
    declared: Mapping[str, Any], sources: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Validate the declared keys and values (types and physical ranges); drop ``None``.

    Every command that takes declared facts (recommend, diagnose, tune, the Python API) goes
    through here, so a value outside its range (``params`` 1..1e13, ``samples`` 2..1e12,
    ``classes`` 1..1e6 with 1 meaning regression, ``batch_size`` >= 1, ``gpu_hours`` 0..1e9,
    fewer samples than classes) is one ``ConfigError`` naming the allowed range. The
    deprecated ``task`` is split into ``modality``/``objective`` with a ``DeprecationWarning``.
    """
    where_of = dict(sources or {})

    def where(key: str) -> str:
        flag = where_of.get(key) or where_of.get(key.replace("_", "-"))
        return f"{flag} (declared {key})" if flag else f"declared {key}"

    out: dict[str, Any] = {}
    words: dict[str, Any] = {}
    for raw_key, value in declared.items():
        key = str(raw_key).replace("-", "_")
        if key not in DECLARED_KEYS:
            hint = did_you_mean(key, DECLARED_KEYS) or f" Allowed: {', '.join(DECLARED_KEYS)}."
            raise ConfigError(f"declared fact '{raw_key}' is unknown.{hint}")
        if value is None:
            continue
        if key in ("modality", "objective", "task"):
            words[key] = _vocabulary_word(key, value, where(key))
            continue
        if key == "has_dropout" and not isinstance(value, bool) and number(value) is not None:
            # --has-dropout RATE: the rate says both that dropout exists and how strong it is.
            out["dropout_rate"] = FACT_SPECS["dropout_rate"].coerce(
                value, where=where("has_dropout")
            )
            out["has_dropout"] = out["dropout_rate"] > 0
            continue
        out[key] = FACT_SPECS[key].coerce(value, where=where(key))
    if words:
        modality, objective = resolve_vocabulary(**words, of="the declared facts", stacklevel=5)
        out.update({k: v for k, v in (("modality", modality), ("objective", objective)) if v})
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
        >>> facts = build_facts(declared={"modality": "image", "samples": 2000, "params": 11e6})
        >>> round(facts["params_per_sample"])
        5500
    """
    base: dict[str, Fact] = {}
    measured: dict[str, tuple[Any, str]] = {}
    if fit is not None:
        for name, value in fit_values(fit).items():
            measured[name] = (
                FACT_SPECS[name].coerce(value, where="fit diagnosis"),
                "learning curves (fit diagnosis)",
            )
    if model is not None:
        for name, value in model_values(model).items():
            measured[name] = (
                FACT_SPECS[name].coerce(value, where="model facts"),
                "checkpoint (model inspection)",
            )
    for name, (value, source) in measured.items():
        base[name] = Fact(name, value, "measured", source)

    given = _normalise_declared(declared or {}, sources)
    where = dict(sources or {})
    for name, value in given.items():
        source = (
            where.get(name)
            or where.get(name.replace("_", "-"))
            or (where.get("task") if name in ("modality", "objective") else None)
            or "declared by the user"
        )
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
    _complete_structure(base)
    for name, (value, why) in _DEFAULTS.items():
        if name not in base:
            base[name] = Fact(name, value, "default", why)
    for alias, name in ALIASES.items():
        if name in base:  # the old name reads the new fact: same value, origin and source
            fact = base[name]
            base[alias] = Fact(alias, fact.value, fact.origin, fact.source)
    ordered = {name: base[name] for name in FACT_SPECS if name in base}
    ordered.update(_derive(ordered))
    return Facts({name: ordered[name] for name in FACT_SPECS if name in ordered})


def _complete_structure(base: dict[str, Fact]) -> None:
    """Norm and residual facts from a declared ``norm``, then from the architecture family."""
    norm = base.get("norm")
    if norm is not None:
        for name, value in _NORM_FACTS[norm.value].items():
            base.setdefault(name, Fact(name, value, "derived", f"norm {norm.value}"))
    arch = base.get("arch")
    assumed = _ARCH_ASSUMPTIONS.get(arch.value) if arch is not None else None
    if assumed is not None:
        values, why = assumed
        for name, value in values.items():
            base.setdefault(name, Fact(name, value, "default", why))


def facts_from_case(case: Mapping[str, Any], *, where: str) -> Facts:
    """Facts from a rule's test case: any base fact may be given; derived facts follow.

    Raises ``ConfigError`` for a derived or unknown name, or an invalid value.
    """
    base: dict[str, Fact] = {}
    for alias, value in case.items():
        name = ALIASES.get(alias, alias)  # user rules written with "task" keep working
        spec = FACT_SPECS.get(name)
        if spec is None or not spec.base:
            known = [n for n, s in FACT_SPECS.items() if s.base]
            hint = did_you_mean(name, known, parens=True)
            what = "is derived; give the facts it comes from" if spec else f"is not a fact{hint}"
            raise ConfigError(f"{where}: '{name}' {what}.")
        base[name] = Fact(name, spec.coerce(value, where=where), "declared", "rule test case")
    return _complete(base)
