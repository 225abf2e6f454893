"""Stochastic weight averaging (stack piece ``swa``), on torch's ``torch.optim.swa_utils``.

Izmailov et al. (2018) average the weights the optimizer visits late in training, once per
epoch, with the learning rate held high (``SWALR``) so the iterates keep moving around a wide
minimum; the equal-weight average sits nearer its centre and generalises better than any
single iterate. It differs from ``ema`` (an exponential average after every step, from the
start): SWA averages equally, from ``start_fraction`` of the run on, and changes the learning
rate while it does. Both average weights, so the catalogue lets a plan hold only one of them.

Hyper-parameters: ``start_fraction`` (averaging starts after this fraction of the epochs),
``lr`` (the SWA learning rate ``SWALR`` anneals to; ``None`` keeps the optimizer's own) and
``anneal_epochs`` (epochs of that annealing). Once per epoch, call
:meth:`StochasticWeightAveraging.epoch_end`; evaluate ``swa.module`` once it holds an
average. Buffers (BatchNorm running statistics) are averaged with the weights so the average
can be evaluated at any epoch; :meth:`StochasticWeightAveraging.update_bn` recomputes them
from the training data at the end, as the paper does.

Example:
    >>> import torch
    >>> net = torch.nn.Linear(2, 1)
    >>> swa = StochasticWeightAveraging(net, epochs=4, start_fraction=0.5)
    >>> for epoch in range(4):
    ...     with torch.no_grad():
    ...         _ = net.weight.fill_(float(epoch))
    ...     swa.epoch_end(net)
    >>> swa.averaged, swa.module.weight.tolist()  # epochs 2 and 3 averaged
    (2, [[2.5, 2.5]])
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from advisor._validation import check_number
from advisor.errors import ConfigError
from advisor.regularizers._extensions import BuildContext, Extension

if TYPE_CHECKING:  # torch is imported where it is used: Stack.to_code() reads EXTENSION
    import torch
    from torch import nn
    from torch.optim.swa_utils import SWALR

__all__ = ["EXTENSION", "StochasticWeightAveraging"]


class StochasticWeightAveraging:
    """The equal-weight average of a model's weights over the last epochs of a run.

    Args:
        model: The model being trained; torch's ``AveragedModel`` keeps the average in a copy.
        epochs: Epochs the run trains (averaging starts after ``start_fraction`` of them).
        start_fraction: Fraction of the epochs trained before averaging starts, in [0, 1).
        lr: The SWA learning rate ``SWALR`` anneals each group to; ``None`` keeps the
            optimizer's learning rate (no scheduler).
        anneal_epochs: Epochs over which ``SWALR`` anneals to ``lr`` (cosine).

    Attributes:
        module: The averaged copy of the model (same class and parameter names); evaluate it
            (``swa.module(x)``) once ``averaged`` is non-zero.
        averaged_model: torch's ``AveragedModel`` holding ``module`` and the average's count.
        start_epoch: The first epoch (1-based) whose weights enter the average.
        epoch: Epochs ended so far (calls of :meth:`epoch_end`).
        scheduler: The ``SWALR`` scheduler (built at the first :meth:`epoch_end` given an
            optimizer, when ``lr`` is set), else None.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        epochs: int,
        start_fraction: float = 0.75,
        lr: float | None = None,
        anneal_epochs: int = 5,
    ):
        epochs = check_number("epochs", epochs, of="swa", low=1, integer=True)
        self.start_fraction = check_number(
            "start_fraction", start_fraction, of="swa", low=0.0, high=1.0, high_open=True
        )
        self.lr = None if lr is None else check_number("lr", lr, of="swa", low=0.0, low_open=True)
        self.anneal_epochs = check_number(
            "anneal_epochs", anneal_epochs, of="swa", low=0, integer=True
        )
        self.epochs = epochs
        # Epoch e (1-based) is averaged when e > start_fraction * epochs; at least the last one.
        self.start_epoch = min(epochs, math.floor(self.start_fraction * epochs) + 1)
        from torch.optim.swa_utils import AveragedModel

        self.averaged_model = AveragedModel(model, use_buffers=True).eval()
        self.averaged_model.requires_grad_(False)
        self.module = self.averaged_model.module
        self.epoch = 0
        self.scheduler: SWALR | None = None

    @property
    def averaged(self) -> int:
        """How many epochs' weights the average holds (0: not started; evaluate the model)."""
        return int(self.averaged_model.n_averaged)

    @property
    def eval_module(self) -> nn.Module | None:
        """The average to evaluate, or None before the first averaged epoch."""
        return self.module if self.averaged else None

    def to(self, device: torch.device | str) -> StochasticWeightAveraging:
        """Move the average to ``device`` (where the model trains)."""
        self.averaged_model.to(device)
        return self

    def epoch_end(self, model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Call once per epoch, after its last step: from ``start_epoch`` on, fold the weights
        into the average and step ``SWALR`` (built on ``optimizer`` when ``lr`` is set)."""
        import torch
        from torch.optim.swa_utils import SWALR

        self.epoch += 1
        fresh = self.scheduler is None and self.lr is not None and optimizer is not None
        if fresh:  # built at once: construction leaves the learning rate as it is
            self.scheduler = SWALR(optimizer, swa_lr=self.lr, anneal_epochs=self.anneal_epochs)
        if self.epoch < self.start_epoch:
            return
        with torch.no_grad():
            self.averaged_model.update_parameters(model)
        if self.scheduler is not None:
            with warnings.catch_warnings():
                # built in this very call (start_fraction 0): torch would warn that the
                # scheduler stepped before the optimizer, which did step this epoch.
                warnings.simplefilter("ignore", UserWarning)
                self.scheduler.step()

    def update_bn(self, loader: Iterable[Any], device: torch.device | str | None = None) -> None:
        """Recompute the average's BatchNorm statistics with one pass over ``loader`` (batches
        ``x`` or ``(x, y, ...)``): torch's ``update_bn``, for the model you keep."""
        if not self.averaged:
            raise ConfigError(
                f"swa.update_bn() before any epoch was averaged (averaging starts at epoch "
                f"{self.start_epoch} of {self.epochs}); train longer or lower start_fraction."
            )
        from torch.optim.swa_utils import update_bn

        update_bn(loader, self.module, device=device)
        self.module.eval()

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights (loadable into the user's model)."""
        return self.module.state_dict()

    def __repr__(self) -> str:
        lr = "optimizer's lr" if self.lr is None else f"lr={self.lr:g}"
        return (
            f"StochasticWeightAveraging(from epoch {self.start_epoch} of {self.epochs}, {lr}, "
            f"averaged={self.averaged})"
        )


def _build(model: nn.Module, params: Mapping[str, Any], context: BuildContext):
    if context.epochs is None:
        raise ConfigError(
            "swa starts averaging after a fraction of the run: call "
            "apply(model, stack, epochs=...) with the number of epochs you train."
        )
    swa = StochasticWeightAveraging(model, epochs=context.epochs, **params)
    lr_note = (
        "at the optimizer's learning rate"
        if swa.lr is None
        else f"with SWALR annealing to lr {swa.lr:g} over {swa.anneal_epochs} epochs"
    )
    note = (
        f"stochastic weight averaging from epoch {swa.start_epoch} of {swa.epochs}, "
        f"{lr_note}; call applied.epoch_end(model, optimizer) once per epoch, then "
        "validate, test and save applied.eval_model (swa.update_bn(loader) at the end)"
    )
    return swa, [note]


def _write_code(code, params: Mapping[str, Any]) -> None:
    m = code.model
    code.setup += [
        "# stochastic weight averaging (torch.optim.swa_utils): validate, test and save swa_model",
        f"swa_model = torch.optim.swa_utils.AveragedModel({m}, use_buffers=True)",
        f"swa_start = min(epochs - 1, int({params['start_fraction']!r} * epochs))  # first averaged epoch (0-based)",
    ]
    code.epoch_end += ["if epoch >= swa_start:", f"    swa_model.update_parameters({m})"]
    if params["lr"] is not None:
        code.setup += [
            f"swa_scheduler = torch.optim.swa_utils.SWALR(optimizer, swa_lr={params['lr']!r}, "
            f"anneal_epochs={params['anneal_epochs']!r})",
        ]
        code.epoch_end += ["    swa_scheduler.step()"]
    code.tail += [
        "# BatchNorm statistics of the average, from one pass over the training data",
        "torch.optim.swa_utils.update_bn(train_loader, swa_model)",
    ]


# Per-epoch averaging with SWALR has no stacked form: the tuner trains it in sequential folds.
EXTENSION = Extension("swa", build=_build, write_code=_write_code, vectorised=False)
