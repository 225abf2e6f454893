"""The technique catalogue: every technique's parameters, defaults, ranges, checks, conflicts.

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
from advisor.catalogue._param import Param
from advisor.catalogue._techniques import (
    ACTIONS,
    APPLY_ORDER,
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
    "COLOR",
    "CONFLICTS",
    "DEFAULT_TRANSFORMS",
    "REGULARIZERS",
    "TECHNIQUES",
    "TRANSFORMS",
    "TRANSFORM_NAMES",
    "Conflict",
    "Param",
    "Technique",
    "Transform",
    "check_transforms",
    "conflicts_of",
    "exclusive_pairs",
    "expand_transforms",
    "fit_transforms",
    "technique_groups",
    "transforms_for",
]
