"""Check the model factory against the data before a study, a journal or any output exists.

``advisor tune`` used to open its storage first and then fail inside the first trial with a
traceback when the factory raised, the model's input width did not match the data, or its
outputs did not fit the labels. ``check_model`` builds the model once, runs one forward pass on
a few samples and computes the loss on their labels, on the CPU, and turns every failure into
one ``ConfigError`` line naming the shapes involved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from advisor.errors import ConfigError

__all__ = ["check_model", "expected_input"]

_PROBE_SAMPLES = 8


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    first = first if len(first) <= 200 else first[:197] + "..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def expected_input(model: Any) -> str | None:
    """What the model's first weighted layer takes, in words (``width 8 (first layer fc: Linear)``)."""
    import torch

    for name, module in model.named_modules():
        label = f"first layer {name or type(module).__name__}: {type(module).__name__}"
        if isinstance(module, torch.nn.Linear):
            return f"inputs of width {module.in_features} ({label})"
        if isinstance(module, torch.nn.modules.conv._ConvNd):
            dims = len(module.kernel_size)
            return (
                f"{module.in_channels} input channels, shape (N, {module.in_channels}"
                f"{', H' * min(dims, 1)}{', W' * max(dims - 1, 0)}) ({label})"
            )
        if isinstance(module, torch.nn.RNNBase):
            return f"(N, T, {module.input_size}) sequences ({label})"
        if isinstance(module, torch.nn.Embedding):
            return f"integer token ids below {module.num_embeddings} ({label})"
    return None


def check_model(
    model_fn: Callable[..., Any],
    X: Any,
    y: Any,
    *,
    task: str,
    params: dict[str, dict[str, Any]] | None = None,
    what: str = "model_fn",
) -> None:
    """Build the model, run one forward pass on a few samples and the loss on their labels.

    Args:
        model_fn: the factory, called as the tuner calls it (``model_fn()`` or
            ``model_fn(params)``).
        X, y: the training data as tensors (``TuneData.X`` / ``.y``).
        task: ``classification``, ``regression`` or ``timeseries``.
        params: the trial parameters the factory receives (the stack's starting values).
        what: how to name the factory in messages (``--model file.py:make`` on the CLI).

    Raises:
        ConfigError: one line: the factory raised, returned no module, the forward pass failed
            (with the batch shape and what the first layer expects), or the outputs do not fit
            the labels (with both shapes).
    """
    import torch
    import torch.nn.functional as F

    from advisor.tuning._folds_base import align_output, build_model

    try:
        model = build_model(model_fn, params or {})
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("model_fn", what, 1)) from None
    except (Exception, SystemExit) as exc:  # the user's factory: any failure is theirs
        raise ConfigError(
            f"{what} raised {_first_line(exc)} while building the model; fix the factory "
            "(it is called with no argument, or with the trial's parameters when it takes one)."
        ) from None
    xb = X[:_PROBE_SAMPLES].detach().cpu()
    yb = y[:_PROBE_SAMPLES].detach().cpu()
    model = model.cpu().eval()
    try:
        with torch.no_grad():
            out = model(xb)
    except (Exception, SystemExit) as exc:
        expects = expected_input(model)
        raise ConfigError(
            f"{what}: the forward pass on a data batch of shape {tuple(xb.shape)} failed "
            f"({_first_line(exc)})"
            + (f"; the model expects {expects}" if expects else "")
            + "; make the model's input match the data (or reshape X)."
        ) from None
    if isinstance(out, tuple | list) and out and isinstance(out[0], torch.Tensor):
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise ConfigError(
            f"{what}: the model returns a {type(out).__name__}, not a tensor; return the logits "
            "(classification) or the predictions (regression) as a tensor."
        )
    if out.ndim == 0 or out.shape[0] != xb.shape[0]:
        raise ConfigError(
            f"{what}: the model maps a batch of shape {tuple(xb.shape)} to outputs of shape "
            f"{tuple(out.shape)}; the first dimension must stay the batch ({xb.shape[0]})."
        )
    try:
        if task == "classification":
            classes = int(y.max()) + 1
            if out.ndim != 2 or out.shape[1] < classes:
                raise ConfigError(
                    f"{what}: the model outputs shape {tuple(out.shape)} but the labels hold "
                    f"{classes} classes (ids 0..{classes - 1}); classification needs outputs of "
                    f"shape (N, {classes}): make the last layer output {classes} logits."
                )
            F.cross_entropy(out.float(), yb)
        else:
            pred = align_output(out, yb)
            if tuple(pred.shape) != tuple(yb.shape):
                raise ConfigError(
                    f"{what}: the model outputs shape {tuple(out.shape)} but the targets have "
                    f"shape {tuple(yb.shape)} for the same batch; make the last layer output "
                    f"{1 if yb.ndim == 1 else tuple(yb.shape[1:])} value(s) per sample."
                )
            F.mse_loss(pred.float(), yb.float())
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"{what}: the loss on the labels failed for outputs of shape {tuple(out.shape)} and "
            f"labels of shape {tuple(yb.shape)} ({_first_line(exc)})."
        ) from None
