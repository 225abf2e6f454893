"""advisor.regularizers: every technique the advisor recommends, as code one call applies.

The stack (``Stack``, torch-free) is what the rules engine recommends and the tuner tunes;
``apply(model, stack)`` returns an ``Applied`` with the model, optimizer parameter groups,
loss, batch transform, early-stopping controller, penalty and post-step hook. The parts are
typed data as well as callables (``Penalty``, ``ProximalStep``, ``PostStep``, ``LossSpec``), so
another loop (the tuner's stacked folds) reads what to do instead of probing callables.

Functional pieces (pure tensor functions, usable with ``torch.func.functional_call`` and,
where noted, inside ``torch.func.vmap(..., randomness="different")`` over stacked folds):

- ``l2_penalty(params, names, *, weight_decay)``, ``l1_penalty(params, names, *, strength)``,
  ``elastic_net_penalty(...)``: penalties over a ``{name: tensor}`` dict (vmap-safe);
  ``decayed_names(model)`` gives the names (biases/norm parameters excluded);
  ``param_groups(model, weight_decay=...)`` the optimizer groups; ``soft_threshold`` and
  ``l1_proximal_step`` the proximal L1 step; ``sparsity(model)`` the fraction of zeros.
- ``dropout(x, p, *, training, generator=None)`` and ``drop_path(x, p, *, training)``
  (vmap-safe without a generator).
- ``label_smoothing_loss(logits, target, *, smoothing)`` and ``soft_cross_entropy`` (vmap-safe).
- ``augment(x, *, magnitude, transforms, generator)`` and ``augment_images``,
  ``augment_sequences``, ``augment_tabular``; ``mixup_batch`` / ``cutmix_batch``: batch
  transforms with an optional ``torch.Generator`` (not under vmap: apply them to the batch
  before the vmapped step).
- ``EarlyStopping``: one controller per run or fold (``reset()`` between folds); the same
  class serves users, the tuner and ``Stack.to_code()``.
- ``ExponentialMovingAverage``: the EMA of a model's weights (stack piece ``ema``);
  ``StochasticWeightAveraging``: the equal-weight average of the last epochs' weights (``swa``,
  on ``torch.optim.swa_utils``).
- ``Extension``, ``BuildContext``, ``extension_of``, ``extensions_in``: the seam through which a
  technique the built-in parts do not cover plugs into ``apply()``, ``Stack.to_code()`` and
  the tuner (its module defines ``EXTENSION``; its catalogue entry names the module).

Importing this package does not import torch; names load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from advisor.regularizers._stack import DEFAULT_PARAMS, TECHNIQUES, Piece, Stack

_LAZY: dict[str, str] = {
    "apply": "advisor.regularizers._apply",
    "Applied": "advisor.regularizers._apply",
    "BatchTransform": "advisor.regularizers._batch_transform",
    "LossSpec": "advisor.regularizers._parts",
    "Penalty": "advisor.regularizers._parts",
    "PostStep": "advisor.regularizers._parts",
    "ProximalStep": "advisor.regularizers._parts",
    "EarlyStopping": "advisor.regularizers._early_stopping",
    "ExponentialMovingAverage": "advisor.regularizers._averaging",
    "StochasticWeightAveraging": "advisor.regularizers._swa",
    "BuildContext": "advisor.regularizers._extensions",
    "Extension": "advisor.regularizers._extensions",
    "extension_of": "advisor.regularizers._extensions",
    "extensions_in": "advisor.regularizers._extensions",
    "DEFAULT_EXCLUDE": "advisor.regularizers._penalties",
    "decayed_names": "advisor.regularizers._penalties",
    "param_groups": "advisor.regularizers._penalties",
    "l1_penalty": "advisor.regularizers._penalties",
    "l2_penalty": "advisor.regularizers._penalties",
    "elastic_net_penalty": "advisor.regularizers._penalties",
    "soft_threshold": "advisor.regularizers._penalties",
    "l1_proximal_step": "advisor.regularizers._penalties",
    "sparsity": "advisor.regularizers._penalties",
    "dropout": "advisor.regularizers._surgery",
    "set_dropout": "advisor.regularizers._surgery",
    "insert_dropout": "advisor.regularizers._surgery",
    "insert_batch_norm": "advisor.regularizers._surgery",
    "LastDimBatchNorm": "advisor.regularizers._surgery",
    "drop_path": "advisor.regularizers._stochastic_depth",
    "DropPath": "advisor.regularizers._stochastic_depth",
    "add_stochastic_depth": "advisor.regularizers._stochastic_depth",
    "label_smoothing_loss": "advisor.regularizers._losses",
    "soft_cross_entropy": "advisor.regularizers._losses",
    "SmoothedCrossEntropy": "advisor.regularizers._losses",
    "mixup_batch": "advisor.regularizers._mix",
    "cutmix_batch": "advisor.regularizers._mix",
    "one_hot": "advisor.regularizers._mix",
    "augment": "advisor.regularizers._augment",
    "augment_images": "advisor.regularizers._augment",
    "augment_sequences": "advisor.regularizers._augment",
    "augment_tabular": "advisor.regularizers._augment",
    "BatchAugment": "advisor.regularizers._augment",
}

__all__ = ["DEFAULT_PARAMS", "TECHNIQUES", "Piece", "Stack", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'advisor.regularizers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
