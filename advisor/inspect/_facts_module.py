"""Model facts from a live (or TorchScript) ``nn.Module``: the actual Dropout and norm modules
with their rates, layer kinds by class, residual paths, parameter counts and dtypes.
"""

from __future__ import annotations

import re
from typing import Any

from advisor.inspect._facts import KINDS, ModelFacts
from advisor.inspect._facts import RESIDUAL_RE as _RESIDUAL_RE

__all__ = ["facts_from_module"]


_LINEAR = {"Linear", "LazyLinear", "NonDynamicallyQuantizableLinear", "Bilinear", "Conv1D"}
_RECURRENT = {"LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell"}
_EMBEDDING = {"Embedding", "EmbeddingBag"}
_DROPOUT = {
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "AlphaDropout",
    "FeatureAlphaDropout",
    "DropPath",
    "StochasticDepth",
    "DropBlock2d",
}
_RESIDUAL_CLASS_RE = re.compile(
    r"(Block|Bottleneck|Residual|ResNet|EncoderLayer|DecoderLayer)", re.I
)


def _class_name(module) -> str:
    # TorchScript modules keep the eager class name in original_name.
    return getattr(module, "original_name", None) or type(module).__name__


def facts_from_module(module) -> tuple[ModelFacts, list[tuple[str, str, Any]]]:
    """Facts from a live (or TorchScript) module; also returns ``(name, kind, weight)`` to analyse."""
    facts = ModelFacts()
    seen: set[int] = set()
    total = trainable = 0
    dtypes: dict[str, int] = {}
    for p in module.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
        key = str(p.dtype).replace("torch.", "")
        dtypes[key] = dtypes.get(key, 0) + p.numel()
    facts.params_total, facts.params_trainable = total, trainable
    facts.dtype = max(dtypes, key=dtypes.get) if dtypes else None

    counts = dict.fromkeys(KINDS, 0)
    norm_kinds: set[str] = set()
    rates: dict[str, float] = {}
    analysable: list[tuple[str, str, Any]] = []
    residual_evidence: str | None = None
    first: tuple[str, str, Any] | None = None
    last_linear: tuple[str, Any] | None = None
    attention_names: list[str] = []
    for name, mod in module.named_modules():
        cls = _class_name(mod)
        weight = getattr(mod, "weight", None)
        shape = tuple(weight.shape) if weight is not None and hasattr(weight, "shape") else ()
        inside_attention = any(name.startswith(a + ".") for a in attention_names)
        if cls in _LINEAR or (cls.startswith("Linear") and len(shape) == 2):
            counts["linear"] += 1
            if len(shape) == 2:
                analysable.append((name, "linear", weight))
                first = first or (name, "linear", shape)
                if not inside_attention:
                    last_linear = (name, shape)
        elif cls.startswith(("Conv", "LazyConv")) and len(shape) >= 3:
            counts["conv"] += 1
            analysable.append((name, "conv", weight))
            first = first or (name, "conv", shape)
        elif cls in _RECURRENT:
            counts["recurrent"] += int(getattr(mod, "num_layers", 1) or 1)
        elif cls in _EMBEDDING:
            counts["embedding"] += 1
            if len(shape) == 2:
                analysable.append((name, "embedding", weight))
                first = first or (name, "embedding", shape)
        elif cls == "MultiheadAttention" or cls.endswith("Attention"):
            counts["attention"] += 1
            attention_names.append(name)
        elif cls.endswith("Norm") or ("Norm" in cls and cls.rstrip("123d").endswith("Norm")):
            counts["normalization"] += 1
            norm_kinds.add(re.sub(r"(?<!^)(?=[A-Z])", "_", cls.rstrip("123d")).lower())
        elif cls in _DROPOUT:
            p = getattr(mod, "p", None)
            if p is None:
                p = getattr(mod, "drop_prob", None)
            if isinstance(p, int | float):
                rates[name or cls] = float(p)
        if (
            residual_evidence is None
            and name
            and (_RESIDUAL_CLASS_RE.search(cls) or _RESIDUAL_RE.search(name.rsplit(".", 1)[-1]))
        ):
            residual_evidence = f"{cls} module {name}"
    facts.layers = counts
    facts.normalization_kinds = sorted(norm_kinds)
    facts.depth = counts["linear"] + counts["conv"] + counts["recurrent"]
    facts.evidence["depth"] = "weighted layers (linear, conv, recurrent) among the modules"
    if counts["attention"] and not facts.blocks:
        facts.blocks = counts["attention"]
    if residual_evidence:
        facts.residual = True
        facts.evidence["residual"] = residual_evidence
    else:
        facts.residual = False
        facts.evidence["residual"] = (
            "no residual block, shortcut or downsample module found (class and attribute names)"
        )
    facts.dropout = any(v > 0 for v in rates.values())
    facts.dropout_rates = rates or None
    if not rates:
        facts.reasons["dropout_rates"] = "the module has no Dropout layers"
    if first is not None:
        name, kind, shape = first
        if kind == "conv":
            facts.input_channels = int(shape[1])
            facts.reasons["input_features"] = (
                "the model starts with a conv layer (see input_channels)"
            )
        elif kind == "linear":
            facts.input_features = int(shape[1])
            facts.reasons["input_channels"] = (
                "the model starts with a linear layer (see input_features)"
            )
        else:
            vocab = max(int(w.shape[0]) for _, k, w in analysable if k == "embedding")
            facts.vocab_size = vocab
            facts.reasons["input_features"] = (
                f"the model reads token ids through an embedding (vocabulary {vocab})"
            )
            facts.reasons["input_channels"] = facts.reasons["input_features"]
    if last_linear is not None:
        facts.num_classes = int(last_linear[1][0])
        facts.evidence["num_classes"] = f"out_features of the last linear layer {last_linear[0]}"
    else:
        facts.unknown("num_classes", "the module has no linear output layer")
    return facts, analysable
