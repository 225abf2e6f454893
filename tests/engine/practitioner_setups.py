"""Realistic training set-ups (issue 11's sweep), shared by the snippet, recipe and sweep tests.

Each set-up is the facts a practitioner would declare, and the techniques that must never be
in its plan, with the reason a practitioner would give.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Setup:
    facts: dict[str, Any]
    # technique -> why it must not be in the plan
    forbidden: dict[str, str] = field(default_factory=dict)
    # the batch layout of a tiny stand-in model: image, text, tabular, sequence
    data: str = "tabular"


_NO_BN_TRANSFORMER = "transformers use LayerNorm, not BatchNorm"
_NO_AUG_TEXT = "token ids cannot be augmented by input transforms"
_NO_AUG_TABLE = "input noise corrupts one-hot columns"
_NO_SOFT_LABELS = "a regression target has no classes"

SETUPS: dict[str, Setup] = {
    "resnet18-cifar10": Setup(
        dict(
            modality="image",
            arch="resnet",
            samples=50_000,
            classes=10,
            params=11e6,
            depth=18,
            optimizer="sgd",
            fit="overfitting",
        ),
        {"batch_norm": "a ResNet already has BatchNorm"},
        data="image",
    ),
    "vit-s-imagenet": Setup(
        dict(
            modality="image",
            arch="transformer",
            samples=1_281_167,
            classes=1000,
            params=22e6,
            optimizer="adamw",
            fit="overfitting",
        ),
        {"batch_norm": _NO_BN_TRANSFORMER},
        data="image",
    ),
    "bert-base-finetune": Setup(
        dict(
            modality="text",
            arch="transformer",
            pretrained=True,
            samples=67_349,
            classes=2,
            params=110e6,
            optimizer="adamw",
            has_dropout=0.1,
            fit="overfitting",
        ),
        {"batch_norm": _NO_BN_TRANSFORMER, "data_augmentation": _NO_AUG_TEXT},
        data="text",
    ),
    "gpt-style-lm": Setup(
        dict(
            modality="text",
            arch="transformer",
            samples=1_000_000,
            params=124e6,
            classes=50_257,
            fit="overfitting",
        ),
        {"batch_norm": _NO_BN_TRANSFORMER, "data_augmentation": _NO_AUG_TEXT},
        data="text",
    ),
    "tabular-mlp-small": Setup(
        dict(
            modality="tabular",
            arch="mlp",
            samples=5_000,
            classes=2,
            params=2e5,
            depth=3,
            fit="overfitting",
        ),
        {"data_augmentation": _NO_AUG_TABLE},
    ),
    "tabular-mlp-large": Setup(
        dict(
            modality="tabular",
            arch="mlp",
            samples=500_000,
            classes=2,
            params=2e6,
            depth=4,
            fit="overfitting",
        ),
        {"data_augmentation": _NO_AUG_TABLE},
    ),
    "gru-forecaster": Setup(
        dict(
            modality="sequence",
            arch="rnn",
            objective="forecasting",
            samples=5_000,
            params=5e4,
            depth=2,
            fit="overfitting",
        ),
        {"label_smoothing": _NO_SOFT_LABELS, "mixup": "mixes unrelated series and targets"},
        data="sequence",
    ),
    "regression-mlp": Setup(
        dict(
            modality="tabular",
            arch="mlp",
            samples=1_000,
            classes=1,
            params=2e5,
            depth=4,
            fit="overfitting",
        ),
        {
            "label_smoothing": _NO_SOFT_LABELS,
            "cutmix": _NO_SOFT_LABELS,
            "data_augmentation": _NO_AUG_TABLE,
        },
    ),
    "digits-cnn-greyscale": Setup(
        dict(
            modality="image",
            arch="cnn",
            channels=1,
            no_flip=True,
            samples=1_797,
            classes=10,
            params=5e4,
            depth=3,
            fit="overfitting",
        ),
        {"batch_norm": "not asked for by a shallow model"},
        data="image",
    ),
    "audio-cnn": Setup(
        dict(
            modality="audio",
            arch="cnn",
            samples=8_000,
            classes=35,
            params=5e5,
            depth=6,
            fit="overfitting",
        ),
        data="sequence",
    ),
}
