"""The technique catalogue: every technique's parameters, defaults, ranges, checks, conflicts,
and the optimizers (how each applies weight decay, which learning rate to start from).

Knowledge written once. The rules engine starts its plan from these defaults and advised
ranges, ``advisor.regularizers.Stack`` validates pieces with these checks, the tuner's full
space reads the full ranges, and the CLI offers these names. Nothing else defines a default,
a range or a transform list. Torch-free and cheap to import (it imports nothing from advisor
but ``advisor.errors`` and ``advisor._validation``).

Example:
    >>> from advisor.catalogue import TECHNIQUES
    >>> TECHNIQUES["dropout"].params["p"].default, TECHNIQUES["dropout"].params["p"].reason[:14]
    (0.3, 'the middle of ')
"""

from advisor.catalogue._conflicts import CONFLICTS, Conflict, conflicts_of, exclusive_pairs
from advisor.catalogue._optimizers import (
    DECAY_PROFILES,
    DEFAULT_OPTIMIZER,
    OPTIMIZERS,
    DecayProfile,
    DecayRange,
    Optimizer,
    decay_range,
    lr_hint,
    optimizer_of,
)
from advisor.catalogue._param import Param, float_space
from advisor.catalogue._techniques import (
    ACTIONS,
    APPLY_ORDER,
    BASELINE,
    REGULARIZERS,
    TECHNIQUES,
    Technique,
    technique_groups,
)
from advisor.catalogue._transforms import (
    AUGMENT_KINDS,
    COLOR,
    DEFAULT_TRANSFORMS,
    TRANSFORM_NAMES,
    TRANSFORMS,
    Transform,
    check_transforms,
    expand_transforms,
    fit_transforms,
    transforms_for,
)

__all__ = [
    "ACTIONS",
    "APPLY_ORDER",
    "AUGMENT_KINDS",
    "BASELINE",
    "COLOR",
    "CONFLICTS",
    "DECAY_PROFILES",
    "DEFAULT_OPTIMIZER",
    "DEFAULT_TRANSFORMS",
    "OPTIMIZERS",
    "REGULARIZERS",
    "TECHNIQUES",
    "TRANSFORMS",
    "TRANSFORM_NAMES",
    "Conflict",
    "DecayProfile",
    "DecayRange",
    "Optimizer",
    "Param",
    "Technique",
    "Transform",
    "check_transforms",
    "conflicts_of",
    "decay_range",
    "exclusive_pairs",
    "expand_transforms",
    "fit_transforms",
    "float_space",
    "lr_hint",
    "optimizer_of",
    "technique_groups",
    "transforms_for",
]
