"""Model facts for the rules engine: size, architecture, and the regularisation already in place.

Facts come from the richest source available: a live ``nn.Module`` (actual Dropout and norm
modules with their rates), a Hugging Face ``config.json`` (layer count, dropout probabilities),
a Lightning checkpoint's optimizer and callback state, and otherwise the names and shapes of a
state_dict. A fact the file cannot tell is ``None`` with the reason in ``reasons``; nothing is
guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ModelFacts", "count_nonfinite", "facts_from_module", "facts_from_tensors"]

# At most this many layer names are listed in nonfinite_layer_names (the count is exact).
_MAX_NONFINITE_NAMES = 20

KINDS = ("linear", "conv", "recurrent", "attention", "embedding", "normalization")

# Buffers a state_dict holds that are not parameters.
_BUFFER_SUFFIXES = (
    "running_mean",
    "running_var",
    "num_batches_tracked",
    "position_ids",
    "token_type_ids",
    "masked_bias",
    "inv_freq",
)
_EMBED_RE = re.compile(r"(emb|wte|wpe|shared)", re.I)
_ATTN_RE = re.compile(r"(attn|attention|self_attn|cross_attn|mha)", re.I)
_NORM_RE = re.compile(r"(norm|ln_?\d*|bn\d*|layernorm|batchnorm|groupnorm)$", re.I)
_RNN_RE = re.compile(r"^(.*?)\.?weight_ih_l(\d+)(_reverse)?$")
_RESIDUAL_RE = re.compile(r"(downsample|shortcut|skip|residual|identity_proj)", re.I)
_BLOCK_RE = re.compile(
    r"(?:^|\.)(layers?|blocks?|h|encoder\.layer|decoder\.layer|stages?)\.(\d+)\."
)

_HF_DROPOUT_RE = re.compile(r"(dropout|_pdrop|drop_rate|drop_path)", re.I)


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
        data = {k: v for k, v in self.__dict__.items() if k not in ("evidence", "reasons")}
        data["layers"] = dict(self.layers)
        data["evidence"] = dict(self.evidence)
        data["reasons"] = {k: v for k, v in self.reasons.items() if data.get(k) is None}
        return data

    def unknown(self, name: str, reason: str) -> None:
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
        layer = _module_of(name) or name
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


def _param_like(name: str, shape: tuple[int, ...], dtype: str) -> bool:
    if not dtype.startswith(("float", "bfloat")):
        return False
    if name.endswith(_BUFFER_SUFFIXES):
        return False
    # GPT-2 style causal-mask buffers ("attn.bias" of shape (1, 1, n, n)).
    return not (name.endswith("attn.bias") and len(shape) == 4)


def _module_of(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else ""


def _attention_block(module: str) -> str | None:
    parts = module.split(".")
    for i, part in enumerate(parts):
        if _ATTN_RE.search(part):
            return ".".join(parts[: i + 1])
    return None


def facts_from_tensors(
    source, *, config: dict | None = None
) -> tuple[ModelFacts, list[tuple[str, str, str]]]:
    """Facts from names and shapes; also returns ``(name, kind, key)`` of the analysable weights."""
    facts = ModelFacts()
    names = source.names()
    total = 0
    dtypes: dict[str, int] = {}
    modules: dict[str, dict[str, tuple[int, ...]]] = {}
    for name in names:
        shape, dtype = source.shape(name), source.dtype(name)
        if not _param_like(name, shape, dtype):
            if name.endswith(("running_mean", "running_var")):
                modules.setdefault(_module_of(name), {})[name.rsplit(".", 1)[-1]] = shape
            continue
        numel = 1
        for s in shape:
            numel *= s
        total += numel
        dtypes[dtype] = dtypes.get(dtype, 0) + numel
        modules.setdefault(_module_of(name), {})[name.rsplit(".", 1)[-1]] = shape
    facts.params_total = total
    facts.dtype = max(dtypes, key=dtypes.get) if dtypes else None
    facts.unknown(
        "params_trainable",
        "a state_dict does not record which parameters were frozen (requires_grad)",
    )

    analysable: list[tuple[str, str, str]] = []
    attention_blocks: set[str] = set()
    recurrent_layers: set[tuple[str, str]] = set()
    norm_kinds: set[str] = set()
    first_weight: tuple[str, str, tuple[int, ...]] | None = None
    last_linear: tuple[str, tuple[int, ...]] | None = None
    counts = dict.fromkeys(KINDS, 0)
    for module, params in modules.items():
        weight = params.get("weight")
        if "running_mean" in params:
            counts["normalization"] += 1
            norm_kinds.add("batch_norm")
            continue
        for pname in params:
            match = _RNN_RE.match(pname)
            if match:
                recurrent_layers.add((module, match.group(2)))
        if "in_proj_weight" in params:
            counts["linear"] += 1
            attention_blocks.add(module)
            analysable.append((f"{module}.in_proj_weight", "linear", f"{module}.in_proj_weight"))
        if weight is None:
            continue
        key = f"{module}.weight" if module else "weight"
        leaf = module.rsplit(".", 1)[-1]
        if len(weight) == 1:
            if _NORM_RE.search(leaf) or "norm" in module.lower():
                counts["normalization"] += 1
                norm_kinds.add(
                    "layer_norm"
                    if "bias" in params or "ln" in leaf.lower() or "layer" in leaf.lower()
                    else "norm"
                )
            continue
        if len(weight) >= 3:
            counts["conv"] += 1
            analysable.append((module, "conv", key))
            first_weight = first_weight or (module, "conv", weight)
            continue
        if len(weight) == 2:
            if _EMBED_RE.search(leaf) or (_EMBED_RE.search(module) and "proj" not in leaf):
                counts["embedding"] += 1
                analysable.append((module, "embedding", key))
                first_weight = first_weight or (module, "embedding", weight)
                continue
            counts["linear"] += 1
            analysable.append((module, "linear", key))
            first_weight = first_weight or (module, "linear", weight)
            block = _attention_block(module)
            if block is not None:
                attention_blocks.add(block)
            else:
                last_linear = (module, weight)
    counts["attention"] = len(attention_blocks)
    counts["recurrent"] = len(recurrent_layers)
    facts.layers = counts
    facts.normalization_kinds = sorted(norm_kinds)
    facts.depth = counts["linear"] + counts["conv"] + counts["recurrent"]
    facts.evidence["depth"] = (
        "weighted layers (linear, conv, recurrent) counted from state_dict keys"
    )

    blocks = _count_blocks(names)
    if blocks:
        facts.blocks = blocks
    else:
        facts.reasons["blocks"] = (
            "no repeated block pattern (layers.N., blocks.N., ...) in the keys"
        )
    residual_keys = [n for n in names if _RESIDUAL_RE.search(n)]
    if residual_keys:
        facts.residual = True
        facts.evidence["residual"] = f"shortcut weights such as {residual_keys[0]}"
    elif attention_blocks and counts["normalization"]:
        facts.residual = True
        facts.evidence["residual"] = (
            "transformer blocks with normalisation are residual by construction"
        )
    else:
        facts.unknown(
            "residual",
            "a state_dict holds no forward graph and no shortcut/downsample weights were found",
        )

    facts.unknown(
        "dropout", "dropout has no weights, so a state_dict cannot tell whether or how much is used"
    )
    facts.unknown("dropout_rates", facts.reasons["dropout"])

    if first_weight is not None:
        module, kind, shape = first_weight
        if kind == "conv":
            facts.input_channels = int(shape[1])
            facts.evidence["input_channels"] = f"in_channels of the first conv {module}"
            facts.reasons["input_features"] = (
                "the model starts with a conv layer (see input_channels)"
            )
        elif kind == "linear":
            facts.input_features = int(shape[1])
            facts.evidence["input_features"] = f"in_features of the first linear layer {module}"
            facts.reasons["input_channels"] = (
                "the model starts with a linear layer (see input_features)"
            )
        else:
            vocab = max(
                source.shape(f"{n}.weight")[0] for n, k, _ in analysable if k == "embedding"
            )
            facts.vocab_size = int(vocab)
            facts.reasons["input_features"] = (
                f"the model reads token ids through an embedding (vocabulary {vocab})"
            )
            facts.reasons["input_channels"] = facts.reasons["input_features"]
    if last_linear is not None and not (config and not _has_head(config)):
        facts.num_classes = int(last_linear[1][0])
        facts.evidence["num_classes"] = f"out_features of the last linear layer {last_linear[0]}"
    else:
        facts.unknown("num_classes", "no output layer outside the attention blocks")
    if config is not None:
        _apply_hf_config(facts, config)
    return facts, analysable


def _count_blocks(names: list[str]) -> int | None:
    found: dict[str, set[int]] = {}
    for name in names:
        for match in _BLOCK_RE.finditer(name):
            container = name[: match.start(2)]
            found.setdefault(container, set()).add(int(match.group(2)))
    if not found:
        return None
    return max(len(v) for v in found.values())


def _has_head(config: dict) -> bool:
    archs = config.get("architectures") or []
    return any(
        re.search(r"For(Sequence|Token|Image|Audio|Multiple)?Classification|ForMultipleChoice", a)
        for a in archs
    )


def _apply_hf_config(facts: ModelFacts, config: dict) -> None:
    facts.model_type = config.get("model_type")
    layers = config.get("num_hidden_layers") or config.get("n_layer") or config.get("num_layers")
    if isinstance(layers, int):
        facts.blocks = layers
        facts.evidence["blocks"] = "num_hidden_layers in config.json"
    hidden = config.get("hidden_size") or config.get("n_embd") or config.get("d_model")
    if isinstance(hidden, int):
        facts.hidden_size = hidden
    if isinstance(config.get("vocab_size"), int):
        facts.vocab_size = config["vocab_size"]
    rates = {
        k: float(v)
        for k, v in config.items()
        if _HF_DROPOUT_RE.search(k) and isinstance(v, int | float) and not isinstance(v, bool)
    }
    if rates:
        facts.dropout_rates = rates
        facts.dropout = any(v > 0 for v in rates.values())
        facts.evidence["dropout"] = "dropout probabilities in config.json"
        facts.reasons.pop("dropout", None)
        facts.reasons.pop("dropout_rates", None)
    if _has_head(config):
        labels = config.get("id2label") or {}
        n = config.get("num_labels") or (len(labels) if labels else None)
        if isinstance(n, int):
            facts.num_classes = n
            facts.evidence["num_classes"] = "num_labels / id2label in config.json"
    else:
        facts.unknown(
            "num_classes",
            f"{'/'.join(config.get('architectures') or ['the model'])} is a base model without a classification head",
        )
    facts.pretrained = True
    facts.evidence["pretrained"] = (
        "a Hugging Face model directory (config.json beside published weights)"
    )


# ---------------------------------------------------------------- live modules

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
