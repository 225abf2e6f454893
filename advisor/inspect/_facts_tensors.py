"""Model facts from a state_dict's names and shapes (no module, no code): parameter count,
layer kinds, blocks, attention, normalisation and residual paths, the output size; a Hugging
Face ``config.json`` beside the weights adds what the names cannot tell (``_facts_hf``).
"""

from __future__ import annotations

import re

from advisor.inspect._facts import KINDS, ModelFacts, module_of
from advisor.inspect._facts import RESIDUAL_RE as _RESIDUAL_RE
from advisor.inspect._facts_hf import apply_hf_config, has_head

__all__ = ["facts_from_tensors"]

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
_BLOCK_RE = re.compile(
    r"(?:^|\.)(layers?|blocks?|h|encoder\.layer|decoder\.layer|stages?)\.(\d+)\."
)


def _param_like(name: str, shape: tuple[int, ...], dtype: str) -> bool:
    if not dtype.startswith(("float", "bfloat")):
        return False
    if name.endswith(_BUFFER_SUFFIXES):
        return False
    # GPT-2 style causal-mask buffers ("attn.bias" of shape (1, 1, n, n)).
    return not (name.endswith("attn.bias") and len(shape) == 4)


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
                modules.setdefault(module_of(name), {})[name.rsplit(".", 1)[-1]] = shape
            continue
        numel = 1
        for s in shape:
            numel *= s
        total += numel
        dtypes[dtype] = dtypes.get(dtype, 0) + numel
        modules.setdefault(module_of(name), {})[name.rsplit(".", 1)[-1]] = shape
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
    if last_linear is not None and not (config and not has_head(config)):
        facts.num_classes = int(last_linear[1][0])
        facts.evidence["num_classes"] = f"out_features of the last linear layer {last_linear[0]}"
    else:
        facts.unknown("num_classes", "no output layer outside the attention blocks")
    if config is not None:
        apply_hf_config(facts, config)
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
