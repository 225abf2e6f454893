"""Facts measured elsewhere: from a fit diagnosis (learning curves) and from model facts
(a checkpoint), read leniently from their dicts (missing or odd values are left unknown).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from advisor.engine._fact_specs import FACT_SPECS

__all__ = ["fit_values", "model_values", "number"]


def _first(mapping: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = mapping.get(key)
        if value is not None:
            return value
    return None


def number(value: Any) -> float | None:
    """``value`` as a finite float; ``None`` for booleans, ``None``, non-numbers, NaN and inf."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def fit_values(fit: Any) -> dict[str, Any]:
    """Facts from a ``FitDiagnosis`` (or its ``to_dict()``)."""
    data = fit.to_dict() if hasattr(fit, "to_dict") else dict(fit)
    values: dict[str, Any] = {}
    verdict = data.get("verdict")
    if verdict is not None:
        values["fit"] = str(verdict)
    confidence = data.get("confidence")
    if isinstance(confidence, str):
        confidence = {"low": 0.33, "medium": 0.66, "high": 0.9}.get(confidence.lower())
    values["fit_confidence"] = number(confidence)
    gap = data.get("gap")
    if isinstance(gap, Mapping):
        # FitDiagnosis gives {"best_abs", "best_rel", "end_abs", "end_rel", "final"}; the absolute
        # gap is in the metric's units, so only the relative one can carry a rule threshold.
        gap = gap.get("end_rel")
    values["gap"] = number(gap)
    values["epochs"] = number(_first(data, "n_epochs", "epochs"))
    values["best_epoch"] = number(data.get("best_epoch"))
    values["onset_epoch"] = number(data.get("onset_epoch"))
    noise = _first(data, "noise", "val_noise", "noise_level")
    if isinstance(noise, Mapping):
        noise = _first(noise, "val_rel", "val")
    values["noise"] = number(noise)
    severity = data.get("severity")
    if severity in ("mild", "strong"):
        values["fit_severity"] = severity
    # Regularization in effect read beside the curves (logged hyper-parameters, declared flags).
    reg = data.get("regularization")
    if isinstance(reg, Mapping):
        for name, fact in (
            ("weight_decay", "weight_decay"),
            ("dropout", "dropout_rate"),
            ("label_smoothing", "label_smoothing"),
        ):
            entry = reg.get(name)
            value = entry.get("value") if isinstance(entry, Mapping) else entry
            if number(value) is not None:
                values[fact] = number(value)
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


def model_values(model: Mapping[str, Any]) -> dict[str, Any]:
    """Facts from a ``ModelReport.model`` dict (``advisor.inspect.ModelFacts.to_dict()``)."""
    values: dict[str, Any] = {}
    values["params"] = number(
        _first(model, "params_trainable", "params_total", "params", "n_params")
    )
    depth = number(_first(model, "depth", "n_layers"))
    # No recognisable weight layer (a lone tensor) means the depth is unknown, not zero.
    values["depth"] = depth if depth is not None and depth >= 1 else None
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
        numbers = [r for r in (number(x) for x in rates) if r is not None]
        rates = max(numbers) if numbers else None
    rate = number(rates)
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
    values["weight_decay"] = number(model.get("weight_decay"))
    values["channels"] = number(_first(model, "input_channels", "channels"))
    classes = number(_first(model, "num_classes", "classes"))
    if classes is not None and 1 <= classes <= FACT_SPECS["classes"].maximum:
        values["classes"] = classes
    if values.get("has_batchnorm"):
        values["has_norm"] = True
    return {k: v for k, v in values.items() if v is not None}
