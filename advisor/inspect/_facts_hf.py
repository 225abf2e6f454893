"""Model facts from a Hugging Face ``config.json``: model type, layer count, hidden size,
vocabulary, dropout probabilities, the classification head and its labels, and that the
weights are published (pretrained) ones.
"""

from __future__ import annotations

import re

from advisor.inspect._facts import ModelFacts

__all__ = ["apply_hf_config", "has_head"]

_HF_DROPOUT_RE = re.compile(r"(dropout|_pdrop|drop_rate|drop_path)", re.I)


def has_head(config: dict) -> bool:
    """Whether a Hugging Face config names a classification head in its ``architectures``."""
    archs = config.get("architectures") or []
    return any(
        re.search(r"For(Sequence|Token|Image|Audio|Multiple)?Classification|ForMultipleChoice", a)
        for a in archs
    )


def apply_hf_config(facts: ModelFacts, config: dict) -> None:
    """Copy what a Hugging Face ``config.json`` says (model type, layers, width, dropout) into
    ``facts``.
    """
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
    if has_head(config):
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
