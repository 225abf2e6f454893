"""Model facts for the rules engine: size, architecture, and the regularisation already in place.

Facts come from the richest source available: a live ``nn.Module`` (actual Dropout and norm
modules with their rates), a Hugging Face ``config.json`` (layer count, dropout probabilities),
a Lightning checkpoint's optimizer and callback state, and otherwise the names and shapes of a
state_dict. A fact the file cannot tell is ``None`` with the reason in ``reasons``; nothing is
guessed.

This module holds ``ModelFacts`` and what every source shares; the sources are
``_facts_tensors`` (names and shapes), ``_facts_hf`` (``config.json``) and ``_facts_module``
(a live module).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KINDS", "RESIDUAL_RE", "ModelFacts", "count_nonfinite", "module_of"]

# At most this many layer names are listed in nonfinite_layer_names (the count is exact).
_MAX_NONFINITE_NAMES = 20

KINDS = ("linear", "conv", "recurrent", "attention", "embedding", "normalization")

# Names of residual paths, in state_dict keys and module names alike.
RESIDUAL_RE = re.compile(r"(downsample|shortcut|skip|residual|identity_proj)", re.I)


@dataclass
class ModelFacts:
    """Facts about a model (JSON key ``model``); ``reasons`` says why a fact is ``None``."""

    params_total: int | None = None
    params_trainable: int | None = None
    depth: int | None = None
    layers: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    family: str | None = None
    blocks: int | None = None
    residual: bool | None = None
    normalization: bool | None = None
    normalization_kinds: list[str] = field(default_factory=list)
    dropout: bool | None = None
    dropout_rates: dict[str, float] | None = None
    optimizer: str | None = None
    learning_rate: float | None = None
    weight_decay: float | None = None
    early_stopping: bool | None = None
    early_stopping_patience: int | None = None
    early_stopping_monitor: str | None = None
    input_channels: int | None = None
    input_features: int | None = None
    num_classes: int | None = None
    samples: int | None = None
    params_per_sample: float | None = None
    pretrained: bool | None = None
    model_type: str | None = None
    hidden_size: int | None = None
    vocab_size: int | None = None
    dtype: str | None = None
    # Layers (modules) with NaN/inf in any weight or buffer: a diverged run. None when unchecked.
    nonfinite_layers: int | None = None
    nonfinite_layer_names: list[str] = field(default_factory=list)
    evidence: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The facts as a JSON-ready dict; ``reasons`` only for the facts that are ``None``."""
        data = {k: v for k, v in self.__dict__.items() if k not in ("evidence", "reasons")}
        data["layers"] = dict(self.layers)
        data["evidence"] = dict(self.evidence)
        data["reasons"] = {k: v for k, v in self.reasons.items() if data.get(k) is None}
        return data

    def unknown(self, name: str, reason: str) -> None:
        """Set fact ``name`` to ``None`` and record ``reason``, why it is unknown."""
        setattr(self, name, None)
        self.reasons[name] = reason

    def finish(self, *, samples: int | None) -> None:
        """Derive the family and per-sample figures and explain every remaining ``None``."""
        c = self.layers
        if c["attention"]:
            self.family = "transformer"
        elif c["recurrent"]:
            self.family = "rnn"
        elif c["conv"]:
            self.family = "resnet" if self.residual else "cnn"
        elif c["linear"]:
            self.family = "mlp"
        else:
            self.unknown("family", "no linear, conv, recurrent or attention weights found")
        self.normalization = bool(c["normalization"])
        self.samples = samples
        if samples is not None and self.params_total is not None:
            self.params_per_sample = self.params_total / samples
        elif samples is None:
            self.reasons["params_per_sample"] = "dataset size unknown; pass --samples N"
        if self.early_stopping is None and "early_stopping" not in self.reasons:
            self.reasons["early_stopping"] = (
                "the file does not record the training loop's callbacks"
            )
        for name in ("early_stopping_patience", "early_stopping_monitor"):
            if getattr(self, name) is None and name not in self.reasons:
                self.reasons[name] = (
                    "no EarlyStopping configured"
                    if self.early_stopping is False
                    else self.reasons["early_stopping"]
                )
        for name in ("optimizer", "learning_rate", "weight_decay"):
            if getattr(self, name) is None and name not in self.reasons:
                self.reasons[name] = "the file holds no optimizer state"
        defaults = {
            "model_type": "only a Hugging Face config.json records the model type",
            "hidden_size": "only a Hugging Face config.json records the hidden size",
            "vocab_size": "the model has no token embedding",
            "blocks": "no repeated blocks found",
            "input_channels": "no conv or linear input layer found",
            "input_features": "no linear input layer found",
            "dtype": "the model has no floating-point parameters",
            "depth": "no weighted layers found",
            "samples": "dataset size unknown; pass --samples N",
        }
        for name, reason in defaults.items():
            if getattr(self, name) is None:
                self.reasons.setdefault(name, reason)
        if self.pretrained is None and "pretrained" not in self.reasons:
            self.reasons["pretrained"] = (
                "the file does not record where the weights started; pass --pretrained/--from-scratch"
            )


def count_nonfinite(facts: ModelFacts, tensors) -> None:
    """Record the layers whose weights or buffers hold NaN/inf (``nonfinite_layers``).

    ``tensors`` yields ``(name, tensor)``; a layer is the module part of the name
    (``fc.weight`` -> ``fc``). Non-floating tensors are skipped.
    """
    import torch

    layers: list[str] = []
    seen: set[str] = set()
    for name, tensor in tensors:
        if tensor is None or not tensor.is_floating_point() or tensor.numel() == 0:
            continue
        try:
            finite = bool(torch.isfinite(tensor).all())
        except (RuntimeError, TypeError, NotImplementedError):  # float8 has no isfinite kernel
            finite = bool(torch.isfinite(tensor.float()).all())
        if finite:
            continue
        layer = module_of(name) or name
        if layer not in seen:
            seen.add(layer)
            layers.append(layer)
    facts.nonfinite_layers = len(layers)
    facts.nonfinite_layer_names = layers[:_MAX_NONFINITE_NAMES]
    if layers:
        more = f" and {len(layers) - _MAX_NONFINITE_NAMES} more" if len(layers) > 20 else ""
        facts.evidence["nonfinite_layers"] = (
            f"NaN/inf weights in {len(layers)} layer(s) ({', '.join(layers[:3])}"
            f"{', ...' if len(layers) > 3 else ''}{more}): the run diverged"
        )


def module_of(name: str) -> str:
    """The parent module of a parameter name (``layer1.0.conv1.weight`` -> ``layer1.0.conv1``)."""
    return name.rsplit(".", 1)[0] if "." in name else ""
