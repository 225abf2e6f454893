"""Optimizers and how they apply weight decay: the decay ranges and learning rates to start from.

Weight decay means two different strengths depending on how it is applied. Decoupled decay
(AdamW, Loshchilov & Hutter 2019) shrinks each weight by ``lr * wd`` per step, whatever the
gradient: published AdamW recipes use 0.01 (PyTorch's default, BERT fine-tuning) to 0.05
(DeiT, ConvNeXt) and up to 0.1 (GPT-style pretraining). Coupled L2 (the ``weight_decay`` of
``torch.optim.SGD`` and ``torch.optim.Adam``) adds ``wd * w`` to the gradient: 1e-4 (ResNet on
ImageNet, He et al. 2016) to 5e-4 (ResNets on CIFAR) is typical. This table is the one place
those numbers live: the engine starts its ``l2`` piece here, the catalogue's ``l2`` parameter
and the tuner's full space are derived from it, and generated code builds the optimizer named
here with the learning rate the user declared or a placeholder saying what to use.

Example:
    >>> decay_range("adamw").default, decay_range("sgd").default
    (0.01, 0.0001)
    >>> decay_range("adamw", fine_tuning=True).default
    0.01
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor.errors import ConfigError

__all__ = [
    "DECAY_PROFILES",
    "DEFAULT_OPTIMIZER",
    "OPTIMIZERS",
    "DecayProfile",
    "DecayRange",
    "Optimizer",
    "decay_range",
    "lr_hint",
    "optimizer_of",
]


@dataclass(frozen=True)
class DecayRange:
    """A starting weight decay and the log-scaled range to search around it."""

    default: float
    low: float
    high: float


@dataclass(frozen=True)
class DecayProfile:
    """How a weight decay is applied, and the strengths that work when applied that way.

    Attributes:
        name: ``"decoupled"`` (AdamW) or ``"coupled"`` (an L2 gradient term: SGD, Adam).
        scratch: training from scratch.
        fine_tuning: fine-tuning pretrained weights (lighter: G4.6).
        source: the recipes the numbers come from.
    """

    name: str
    scratch: DecayRange
    fine_tuning: DecayRange
    source: str


DECAY_PROFILES: dict[str, DecayProfile] = {
    "decoupled": DecayProfile(
        "decoupled",
        # 0.01 is PyTorch's AdamW default; the range reaches DeiT/ConvNeXt's 0.05 and
        # GPT-style 0.1 above, and the small decays tabular MLP searches use below.
        scratch=DecayRange(0.01, 1e-4, 0.3),
        # BERT fine-tuning uses 0.01 (Devlin et al. 2019); lighter than from scratch (G4.6).
        fine_tuning=DecayRange(0.01, 1e-4, 0.1),
        source="Loshchilov & Hutter 2019; Devlin et al. 2019; Touvron et al. 2021 (DeiT); "
        "https://pytorch.org/docs/stable/generated/torch.optim.AdamW.html",
    ),
    "coupled": DecayProfile(
        "coupled",
        # 1e-4 is the ImageNet ResNet value (He et al. 2016), 5e-4 the CIFAR one; the newer
        # torchvision recipe goes down to 2e-5.
        scratch=DecayRange(1e-4, 1e-5, 1e-2),
        fine_tuning=DecayRange(1e-5, 1e-6, 1e-3),
        source="He et al. 2016; Krizhevsky et al. 2012; "
        "https://github.com/pytorch/vision/tree/main/references/classification",
    ),
}


@dataclass(frozen=True)
class Optimizer:
    """An optimizer generated code may build.

    Attributes:
        name: the declared name (``--optimizer``).
        torch_class: the class in ``torch.optim``.
        decay: the key of its ``DECAY_PROFILES`` entry.
        arguments: extra constructor arguments written into generated code.
        lr_scratch, lr_fine_tuning: what learning rate to start from, in words.
    """

    name: str
    torch_class: str
    decay: str
    lr_scratch: str
    lr_fine_tuning: str
    arguments: str = ""


OPTIMIZERS: dict[str, Optimizer] = {
    "adamw": Optimizer(
        "adamw",
        "AdamW",
        "decoupled",
        "1e-3 (3e-4 for transformers)",
        "2e-5..5e-5 for a pretrained transformer (BERT), about 1e-4 otherwise",
    ),
    "adam": Optimizer(
        "adam",
        "Adam",
        "coupled",
        "1e-3 (3e-4 for transformers)",
        "2e-5..5e-5 for a pretrained transformer (BERT), about 1e-4 otherwise",
    ),
    "sgd": Optimizer(
        "sgd",
        "SGD",
        "coupled",
        "0.1 x batch size / 256 (Goyal et al. 2017)",
        "about a tenth of the from-scratch rate (1e-3..1e-2)",
        arguments="momentum=0.9",
    ),
}
# Generated code builds AdamW when the user declares no optimizer (the decay is then decoupled).
DEFAULT_OPTIMIZER = "adamw"


def optimizer_of(name: str | None) -> Optimizer:
    """The optimizer named ``name`` (``None``: the default, AdamW).

    Raises:
        ConfigError: an unknown name.
    """
    key = DEFAULT_OPTIMIZER if name is None else str(name).lower()
    if key not in OPTIMIZERS:
        raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}.")
    return OPTIMIZERS[key]


def decay_range(optimizer: str | None, *, fine_tuning: bool = False) -> DecayRange:
    """The weight decay to start from, and its search range, for this optimizer."""
    profile = DECAY_PROFILES[optimizer_of(optimizer).decay]
    return profile.fine_tuning if fine_tuning else profile.scratch


def lr_hint(optimizer: str | None, *, fine_tuning: bool = False) -> str:
    """What learning rate to use, in words, when the user has not declared one.

    Example:
        >>> lr_hint("adamw", fine_tuning=True)[:9]
        '2e-5..5e-'
    """
    chosen = optimizer_of(optimizer)
    return chosen.lr_fine_tuning if fine_tuning else chosen.lr_scratch
