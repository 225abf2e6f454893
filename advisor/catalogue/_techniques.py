"""The techniques: each with its parameters, their defaults and why, checks and search ranges.

Technique names are stable (they appear in JSON and in the stack spec). Regularizers become
pieces of a stack; actions (``reduce_regularization`` ...) are advice only and never appear in
a stack. Defaults are moderate starting points (G4.4: start moderate, move from the
evidence); advised ranges span about two orders of magnitude around log-scaled strengths;
full ranges cover the literature's usual values for someone tuning without advice.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from advisor._validation import did_you_mean
from advisor.catalogue._optimizers import DECAY_PROFILES
from advisor.catalogue._param import Param, float_space, int_space
from advisor.errors import ConfigError

__all__ = [
    "ACTIONS",
    "APPLY_ORDER",
    "BASELINE",
    "REGULARIZERS",
    "TECHNIQUES",
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
        params: ``{name: Param}`` in the order the stack piece lists them.
        source: the paper it comes from.
        impl: for a technique ``apply()`` does not build in, the module defining its
            ``EXTENSION`` (``advisor.regularizers._extensions``); empty for the others.
    """

    name: str
    kind: str
    title: str
    params: dict[str, Param] = field(default_factory=dict)
    source: str = ""
    impl: str = ""

    def defaults(self) -> dict[str, Any]:
        """Every parameter's default (what ``Stack`` fills in)."""
        return {n: copy.deepcopy(p.default) for n, p in self.params.items()}

    def default_params(self) -> dict[str, Any]:
        """The defaults of the parameters the engine's plan writes."""
        return {n: copy.deepcopy(p.default) for n, p in self.params.items() if p.planned}

    def default_space(self) -> dict[str, dict[str, Any]]:
        """The advised search space the engine's plan starts from (rules narrow it)."""
        return {n: dict(p.advised) for n, p in self.params.items() if p.advised is not None}

    def full_space(self) -> dict[str, dict[str, Any]]:
        """The wide search space of the tuner's ``space="full"``."""
        return {n: dict(p.full) for n, p in self.params.items() if p.full is not None}

    def check(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Every parameter, checked, defaults filled in.

        Raises:
            ConfigError: an unknown parameter (with a did-you-mean) or a bad value.

        Example:
            >>> TECHNIQUES["dropout"].check({"p": 0.2})["where"]
            'auto'
        """
        unknown = [k for k in params if k not in self.params]
        if unknown:
            raise ConfigError(
                f"{self.name} has no parameter {unknown[0]!r}; allowed: "
                f"{', '.join(self.params)}." + did_you_mean(unknown[0], self.params)
            )
        merged = {**self.defaults(), **params}
        return {n: self.params[n].check(v, of=self.name) for n, v in merged.items()}


# The l2 parameter reads the optimizer table: its default and advised range are the coupled
# L2 of SGD/Adam from scratch, its full range spans every profile (decoupled and coupled).
_COUPLED = DECAY_PROFILES["coupled"].scratch
_DECAY_SPAN = (
    min(r.low for p in DECAY_PROFILES.values() for r in (p.scratch, p.fine_tuning)),
    max(r.high for p in DECAY_PROFILES.values() for r in (p.scratch, p.fine_tuning)),
)


def _rate(name: str, default: float, reason: str, **kw: Any) -> Param:
    return Param(name, default, reason, low=0.0, high=0.95, **kw)


def _exclude() -> Param:
    return Param(
        "exclude",
        None,
        "biases, norm parameters, pos_embed and cls_token are excluded already",
        kind="patterns",
        planned=False,
    )


def _proximal() -> Param:
    return Param(
        "proximal",
        True,
        "soft-threshold after each step, which gives exact zeros (a loss term only shrinks)",
        kind="bool",
        planned=False,
    )


_CATALOGUE = (
    Technique(
        "l2",
        "regularizer",
        "weight decay (L2) on the weights, in the optimizer's parameter groups",
        {
            "weight_decay": Param(
                "weight_decay",
                _COUPLED.default,
                "the coupled-L2 value of ResNet recipes (SGD, Adam); plans for AdamW start "
                "from the decoupled profile instead (advisor.catalogue.DECAY_PROFILES)",
                low=0.0,
                advised=float_space(_COUPLED.low, _COUPLED.high, log=True),
                full=float_space(*_DECAY_SPAN, log=True),
            ),
            "decoupled": Param(
                "decoupled",
                True,
                "decay in the optimizer groups (AdamW, SGD) rather than a loss term",
                kind="bool",
                planned=False,
            ),
            "exclude": _exclude(),
        },
        "Krogh & Hertz 1992; Loshchilov & Hutter 2019",
    ),
    Technique(
        "l1",
        "regularizer",
        "L1 penalty on weights (sparsity)",
        {
            "strength": Param(
                "strength",
                1e-5,
                "L1 gradients do not shrink with the weight, so useful strengths are 10x below L2's",
                low=0.0,
                advised=float_space(1e-7, 1e-3, log=True),
                full=float_space(1e-7, 1e-2, log=True),
            ),
            "proximal": _proximal(),
            "exclude": _exclude(),
        },
        "Tibshirani 1996; Beck & Teboulle 2009",
    ),
    Technique(
        "elastic_net",
        "regularizer",
        "L1 and L2 penalties together",
        {
            "strength": Param(
                "strength",
                1e-4,
                # The engine said 1e-5 and Stack 1e-4; 1e-4 keeps both halves near the l1 and l2
                # defaults, 1e-5 made the L2 half 20x weaker than l2's default.
                "at l1_ratio 0.5 the L1 half (5e-5) and L2 half (5e-5 decay) sit near the l1 "
                "and l2 defaults, so switching to elastic net keeps the strength",
                low=0.0,
                advised=float_space(1e-6, 1e-2, log=True),
                full=float_space(1e-7, 1e-1, log=True),
            ),
            "l1_ratio": Param(
                "l1_ratio",
                0.5,
                "an even split; scikit-learn's ElasticNet default",
                low=0.0,
                high=1.0,
                advised=float_space(0.1, 0.9),
                full=float_space(0.0, 1.0),
            ),
            "proximal": _proximal(),
            "exclude": _exclude(),
        },
        "Zou & Hastie 2005",
    ),
    Technique(
        "dropout",
        "regularizer",
        "dropout on hidden units",
        {
            "p": _rate(
                "p",
                0.3,
                "the middle of the 0.1-0.5 band Srivastava et al. (2014) found useful (G2.4)",
                advised=float_space(0.1, 0.5),
                full=float_space(0.0, 0.8),
            ),
            "where": Param(
                "where",
                "auto",
                "existing Dropout modules if the model has any, else insert them",
                kind="choice",
                choices=("auto", "existing", "insert"),
                planned=False,
            ),
            "spatial_p": _rate(
                "spatial_p",
                0.1,
                "channel dropout on conv features is harsher, so a lower rate",
                planned=False,
            ),
        },
        "Srivastava et al. 2014; Tompson et al. 2015",
    ),
    Technique(
        "early_stopping",
        "regularizer",
        "stop when validation stops improving, keep the best weights",
        {
            "monitor": Param(
                "monitor", "val_loss", "the validation loss is logged by every loop", kind="text"
            ),
            "mode": Param(
                "mode",
                "min",
                "lower is better for a loss",
                kind="choice",
                choices=("min", "max"),
                planned=False,
            ),
            "patience": Param(
                "patience",
                10,
                "tolerates the epoch-to-epoch noise of most validation curves",
                kind="int",
                low=1,
                full=int_space(2, 30),
            ),
            "min_delta": Param(
                "min_delta", 0.0, "any improvement counts; noise is handled by patience", low=0.0
            ),
            "restore_best": Param(
                "restore_best",
                True,
                "put the best weights back when training stops",
                kind="bool",
                planned=False,
            ),
        },
        "Prechelt 1998",
    ),
    Technique(
        "data_augmentation",
        "regularizer",
        "random label-preserving input transforms",
        {
            "magnitude": Param(
                "magnitude",
                0.3,
                "one knob in [0, 1] (0 is the identity); 0.3 keeps images recognisable",
                low=0.0,
                high=1.0,
                advised=float_space(0.0, 1.0),
                full=float_space(0.0, 1.0),
            ),
            "transforms": Param(
                "transforms",
                None,
                "None: every transform that fits the input; the task rules choose them",
                kind="transforms",
            ),
            "modality": Param(
                "modality",
                "auto",
                "image (N,C,H,W), sequence (N,C,T) or tabular (N,F), read from the batch's ndim",
                kind="choice",
                choices=("auto", "image", "sequence", "tabular"),
                planned=False,
            ),
            "no_flip": Param(
                "no_flip",
                False,
                "mirrored inputs keep their label unless the user says orientation matters",
                kind="bool",
            ),
        },
        "Simard et al. 2003; Cubuk et al. 2020",
    ),
    Technique(
        "batch_norm",
        "regularizer",
        "batch normalisation after linear/conv layers",
        {
            "momentum": Param(
                "momentum",
                0.1,
                "torch's default running-statistics momentum",
                low=0.0,
                high=1.0,
                low_open=True,
            ),
            "linear": Param(
                "linear",
                True,
                "also normalise hidden Linear layers, not only convolutions",
                kind="bool",
                planned=False,
            ),
        },
        "Ioffe & Szegedy 2015",
    ),
    Technique(
        "label_smoothing",
        "regularizer",
        "soft targets instead of one-hot labels",
        {
            "smoothing": Param(
                "smoothing",
                0.1,
                "the value used since Inception-v3 (Szegedy et al. 2016)",
                low=0.0,
                high=0.99,
                advised=float_space(0.0, 0.2),
                full=float_space(0.0, 0.3),
            ),
        },
        "Szegedy et al. 2016",
    ),
    Technique(
        "stochastic_depth",
        "regularizer",
        "randomly skip residual blocks while training",
        {
            "p": _rate(
                "p",
                0.1,
                "Huang et al. (2016) reach 0.5 at the last of 110 layers; 0.1 is safer for ResNet-50",
                advised=float_space(0.0, 0.3),
                full=float_space(0.0, 0.5),
            ),
        },
        "Huang et al. 2016",
    ),
    Technique(
        "mixup",
        "regularizer",
        "train on convex combinations of example pairs",
        {
            "alpha": Param(
                "alpha",
                0.2,
                "Beta(0.2, 0.2), the ImageNet value of Zhang et al. (2018)",
                low=0.0,
                low_open=True,
                advised=float_space(0.1, 1.0, log=True),
                full=float_space(0.05, 1.0, log=True),
            ),
        },
        "Zhang et al. 2018",
    ),
    Technique(
        "cutmix",
        "regularizer",
        "paste a patch of one image into another, mixing labels",
        {
            "alpha": Param(
                "alpha",
                1.0,
                "Beta(1, 1) = uniform box area, the default of Yun et al. (2019)",
                low=0.0,
                low_open=True,
                advised=float_space(0.2, 2.0, log=True),
                full=float_space(0.1, 2.0, log=True),
            ),
        },
        "Yun et al. 2019",
    ),
    Technique(
        "ema",
        "regularizer",
        "evaluate an exponential moving average of the weights",
        {
            "decay": Param(
                "decay",
                0.999,
                "averages about the last 1000 steps; 0.99 suits runs of a few hundred steps",
                low=0.0,
                high=1.0,
                low_open=True,
                high_open=True,
                advised=float_space(0.99, 0.9999),
                # ImageNet recipes average over tens of thousands of steps (torchvision: about
                # 0.99997 per step), so the full range reaches 0.99999.
                full=float_space(0.9, 0.99999),
            ),
        },
        "Polyak & Juditsky 1992; Tarvainen & Valpola 2017",
    ),
    Technique(
        "swa",
        "regularizer",
        "evaluate the equal-weight average of the weights of the last epochs (SWA)",
        {
            "start_fraction": Param(
                "start_fraction",
                0.75,
                "Izmailov et al. (2018) average over the last 25% of the training budget",
                low=0.0,
                high=1.0,
                high_open=True,
                advised=float_space(0.5, 0.9),
                full=float_space(0.25, 0.9),
            ),
            "lr": Param(
                "lr",
                None,
                "None keeps the optimizer's learning rate (a constant one suits SWA as it is)",
                low=0.0,
                low_open=True,
                planned=False,
            ),
            "anneal_epochs": Param(
                "anneal_epochs",
                5,
                "torch's SWALR reaches the SWA learning rate over a few epochs (cosine)",
                kind="int",
                low=0,
                planned=False,
            ),
        },
        "Izmailov et al. 2018",
        impl="advisor.regularizers._swa",
    ),
    Technique("reduce_regularization", "action", "lower the regularization already in place"),
    Technique(
        "increase_capacity", "action", "make the model larger (width, depth) or less constrained"
    ),
    Technique("train_longer", "action", "train for more epochs before judging regularization"),
    Technique(
        "lower_learning_rate", "action", "lower the learning rate (or add warm-up / clipping)"
    ),
)

# In plan order of ties (the engine sorts equal scores by this order).
TECHNIQUES: dict[str, Technique] = {t.name: t for t in _CATALOGUE}
REGULARIZERS: tuple[str, ...] = tuple(t.name for t in _CATALOGUE if t.kind == "regularizer")
ACTIONS: tuple[str, ...] = tuple(t.name for t in _CATALOGUE if t.kind == "action")
# The order advisor.regularizers.apply() composes the pieces: model surgery first (norm,
# dropout, drop-path), then the penalties, the loss, the batch transforms, the controllers.
APPLY_ORDER: tuple[str, ...] = (
    "batch_norm",
    "dropout",
    "stochastic_depth",
    "l2",
    "l1",
    "elastic_net",
    "label_smoothing",
    "data_augmentation",
    "mixup",
    "cutmix",
    "early_stopping",
    "ema",
    "swa",
)


# The guide's baseline (G4.1: start with L2 + early stopping). A penalty that never shares a
# plan with l2 (l1, elastic_net: see CONFLICTS) takes l2's place in it.
BASELINE: tuple[str, ...] = ("l2", "early_stopping")


def technique_groups() -> dict[str, tuple[str, ...]]:
    """Names a rule may use instead of one technique in ``veto``/``discourage`` effects.

    Example:
        >>> "swa" in technique_groups()["regularizers"]
        True
    """
    return {"regularizers": REGULARIZERS, "actions": ACTIONS}
