"""The techniques the engine can recommend: names, kinds, default parameters and search spaces.

Technique names are stable (they appear in JSON and in the stack spec read by
``advisor.regularizers`` and ``advisor.tuning``). Regularizers become pieces of a
stack; actions (``reduce_regularization`` ...) are advice only and never appear in a
stack. Rules start from the defaults below and set or narrow them from the facts.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ACTIONS",
    "REGULARIZERS",
    "TECHNIQUES",
    "TRANSFORMS",
    "Technique",
    "technique_groups",
]


@dataclass(frozen=True)
class Technique:
    """One technique of the catalogue.

    Attributes:
        name: the stable name used in JSON.
        kind: ``"regularizer"`` (a stack piece) or ``"action"`` (advice only).
        title: a few words for humans.
        params: default parameters of the stack piece.
        search_space: default Optuna search space, ``{param: {"type", "low", "high", "log"?}}``.
    """

    name: str
    kind: str
    title: str
    params: dict[str, Any] = field(default_factory=dict)
    search_space: dict[str, dict[str, Any]] = field(default_factory=dict)

    def default_params(self) -> dict[str, Any]:
        return copy.deepcopy(self.params)

    def default_space(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self.search_space)


def _float(low: float, high: float, *, log: bool = False) -> dict[str, Any]:
    space: dict[str, Any] = {"type": "float", "low": low, "high": high}
    if log:
        space["log"] = True
    return space


def _int(low: int, high: int, *, step: int | None = None) -> dict[str, Any]:
    space: dict[str, Any] = {"type": "int", "low": low, "high": high}
    if step:
        space["step"] = step
    return space


# Defaults are moderate starting points (G4.4: start moderate, move from the evidence);
# the ranges span roughly two orders of magnitude around them for log-scaled strengths.
_CATALOGUE = [
    Technique(
        "l2",
        "regularizer",
        "L2 penalty as decoupled weight decay (AdamW style)",
        # 1e-4 is a common first value for decoupled decay on mid-size networks.
        {"weight_decay": 1e-4},
        {"weight_decay": _float(1e-6, 1e-2, log=True)},
    ),
    Technique(
        "l1",
        "regularizer",
        "L1 penalty on weights (sparsity)",
        # L1 gradients do not shrink with the weight, so the useful strengths are smaller.
        {"strength": 1e-5},
        {"strength": _float(1e-7, 1e-3, log=True)},
    ),
    Technique(
        "elastic_net",
        "regularizer",
        "L1 and L2 penalties together",
        {"strength": 1e-5, "l1_ratio": 0.5},
        {"strength": _float(1e-7, 1e-3, log=True), "l1_ratio": _float(0.1, 0.9)},
    ),
    Technique(
        "dropout",
        "regularizer",
        "dropout on hidden units",
        # 0.3 sits in the middle of the usual 0.2-0.5 band (G2.4).
        {"p": 0.3},
        {"p": _float(0.1, 0.5)},
    ),
    Technique(
        "early_stopping",
        "regularizer",
        "stop when validation stops improving, keep the best weights",
        # patience 10 tolerates the epoch-to-epoch noise of most validation curves.
        {"patience": 10, "min_delta": 0.0, "monitor": "val_loss"},
        {},
    ),
    Technique(
        "data_augmentation",
        "regularizer",
        "random label-preserving input transforms",
        # transforms are chosen by the task rules; no_flip protects orientation-sensitive labels.
        {"magnitude": 0.3, "transforms": [], "no_flip": False},
        {"magnitude": _float(0.0, 1.0)},
    ),
    Technique(
        "batch_norm",
        "regularizer",
        "batch normalisation after linear/conv layers",
        {"momentum": 0.1},
        {},
    ),
    Technique(
        "label_smoothing",
        "regularizer",
        "soft targets instead of one-hot labels",
        # 0.1 is the value used since Inception-v3 (Szegedy et al., 2016).
        {"smoothing": 0.1},
        {"smoothing": _float(0.0, 0.2)},
    ),
    Technique(
        "stochastic_depth",
        "regularizer",
        "randomly skip residual blocks while training",
        # Huang et al. (2016) use a linear decay to 0.5 at the last block for very deep nets;
        # 0.1 is a safer first value for ResNet-50 scale models.
        {"p": 0.1},
        {"p": _float(0.0, 0.3)},
    ),
    Technique(
        "mixup",
        "regularizer",
        "train on convex combinations of example pairs",
        # alpha 0.2 is the ImageNet value of Zhang et al. (2018).
        {"alpha": 0.2},
        {"alpha": _float(0.1, 1.0, log=True)},
    ),
    Technique(
        "cutmix",
        "regularizer",
        "paste a patch of one image into another, mixing labels",
        # alpha 1.0 (uniform patch area) is the default of Yun et al. (2019).
        {"alpha": 1.0},
        {"alpha": _float(0.2, 2.0, log=True)},
    ),
    Technique(
        "ema",
        "regularizer",
        "evaluate an exponential moving average of the weights",
        # 0.999 averages about the last 1000 steps; 0.99 suits runs of a few hundred steps.
        {"decay": 0.999},
        {"decay": _float(0.99, 0.9999)},
    ),
    Technique("reduce_regularization", "action", "lower the regularization already in place"),
    Technique(
        "increase_capacity", "action", "make the model larger (width, depth) or less constrained"
    ),
    Technique("train_longer", "action", "train for more epochs before judging regularization"),
    Technique(
        "lower_learning_rate", "action", "lower the learning rate (or add warm-up / clipping)"
    ),
]

TECHNIQUES: dict[str, Technique] = {t.name: t for t in _CATALOGUE}
REGULARIZERS: tuple[str, ...] = tuple(t.name for t in _CATALOGUE if t.kind == "regularizer")
ACTIONS: tuple[str, ...] = tuple(t.name for t in _CATALOGUE if t.kind == "action")

# Transform vocabulary of data_augmentation (params["transforms"]), the names that
# advisor.regularizers implements: image transforms follow the guide (G2.6; "color" is
# brightness/contrast/saturation/hue), then sequence/audio (jitter, scaling, time_mask) and
# tabular (noise) ones.
TRANSFORMS: tuple[str, ...] = (
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
    "jitter",
    "scaling",
    "time_mask",
    "noise",
)


def technique_groups() -> dict[str, tuple[str, ...]]:
    """Names a rule may use instead of one technique in ``veto``/``discourage`` effects."""
    return {"regularizers": REGULARIZERS, "actions": ACTIONS}
