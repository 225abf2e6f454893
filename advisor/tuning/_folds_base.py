"""What both fold modes share: building a fold's model through ``advisor.apply``, the metrics,
the divergence check, and the per-fold random streams that make the two modes train alike.

Both modes (``_folds_sequential.SequentialFolds``, ``_folds_vectorised.VectorizedFolds``) train
every fold of one configuration in lock-step and answer ``train_epoch(active)`` and
``evaluate(active)``; ``_cv.cross_validate`` drives them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from advisor.errors import ConfigError
from advisor.tuning._config import TrainConfig

__all__ = [
    "CHECK_EACH_STEP",
    "TrialDiverged",
    "align_output",
    "apply_stack",
    "as_stack",
    "build_model",
    "checks_each_step",
    "eval_metrics",
    "fold_rng",
    "has_batchnorm",
    "metric_info",
]

# Device types whose step loops check the loss for NaN/inf after every step. Elsewhere (CUDA)
# reading the check back would make every step wait for the device, so it is made once per
# epoch: a diverged trial then fails at the end of that epoch instead of mid-way.
CHECK_EACH_STEP = ("cpu",)


class TrialDiverged(RuntimeError):
    """The training loss became NaN or inf (the trial is recorded as failed, the study goes on)."""


def checks_each_step(device) -> bool:
    """Whether the step loops on ``device`` read the NaN/inf check back after every step."""
    return device.type in CHECK_EACH_STEP


def as_stack(stack: Any):
    """A ``Stack`` from a stack, its dict, or None (no regularization: the baseline)."""
    from advisor.regularizers import Stack

    return Stack.from_dict(stack if stack is not None else {"version": 1, "pieces": []})


def build_model(model_fn: Callable[..., Any], params: dict[str, dict[str, Any]]):
    """Call ``model_fn()`` or ``model_fn(params)`` (when it takes an argument) and check the result."""
    import torch

    try:
        # Only a required positional parameter receives the trial's params (a class with
        # defaulted constructor arguments, like hidden=32, is built with no argument).
        wants_config = any(
            p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            for p in inspect.signature(model_fn).parameters.values()
        )
    except (TypeError, ValueError):
        wants_config = False
    model = model_fn(params) if wants_config else model_fn()
    if not isinstance(model, torch.nn.Module):
        raise ConfigError(f"model_fn must return a torch.nn.Module, got {type(model).__name__}.")
    return model


def apply_stack(model_fn, params, stack, task: str, config: TrainConfig, seed: int, fold: int):
    """One fold's model with the stack applied: ``advisor.apply``'s ``Applied``, whose typed
    parts (penalty, proximal step, EMA, loss, early stopping, extensions) the fold modes read."""
    import torch

    from advisor.regularizers import apply

    return apply(
        build_model(model_fn, params),
        stack,
        task="classification" if task == "classification" else "regression",
        lr=config.lr,
        batch_size=config.batch_size,
        # Augmentation/mixing draws differ per fold but repeat from run to run.
        generator=torch.Generator().manual_seed(seed * 7927 + fold),
        inplace=True,
        epochs=config.max_epochs,  # for techniques acting on a fraction of the run
    )


def align_output(out, y):
    """Regression models usually end in ``Linear(..., 1)`` while targets are ``(N,)``."""
    if out.ndim == y.ndim + 1 and out.shape[-1] == 1 and y.is_floating_point():
        return out.squeeze(-1)
    return out


def eval_metrics(out, y, task: str):
    """Per-sample validation loss and metric value (accuracy or squared error)."""
    import torch.nn.functional as F

    if task == "classification":
        loss = F.cross_entropy(out.float(), y, reduction="none")
        metric = (out.argmax(dim=-1) == y).float()
    else:
        out = align_output(out, y).float()
        err = (out - y).reshape(out.shape[0], -1).pow(2).mean(dim=1)
        loss, metric = err, err
    return loss, metric


def metric_info(task: str) -> tuple[str, str]:
    """``(metric name, direction)`` of the cross-validated objective."""
    return ("accuracy", "maximize") if task == "classification" else ("mse", "minimize")


def has_batchnorm(model) -> bool:
    """Whether ``model`` has a BatchNorm module (any subclass of torch's ``_BatchNorm``)."""
    import torch

    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def fold_rng(seed: int, fold: int):
    """Batch order of one fold: the same stream in both fold modes, so they train alike."""
    import numpy as np

    return np.random.default_rng([seed, fold])
