"""Weight averaging: an exponential moving average (EMA) of the weights, evaluated instead of them.

Polyak & Juditsky (1992) showed that averaging the iterates of stochastic optimisation reduces
their variance; the exponential form (``ema = decay * ema + (1 - decay) * w`` after every
optimizer step) is what Tarvainen & Valpola (2017, "mean teacher"), EfficientNet and timm's
``ModelEmaV2`` use. The average sits in a flatter region than the last iterate and usually
generalises better, at no cost in training steps: it is a regularizer applied at evaluation
time. Hyper-parameter: ``decay`` in (0, 1); the average spans about ``1 / (1 - decay)`` steps
(0.999: the last ~1000 steps).

Floating-point parameters and buffers (BatchNorm running statistics) are averaged; integer
buffers (``num_batches_tracked``) are copied. The first update copies the weights. Nothing
reads a device value back to the host, so the update can run after every step on a GPU.

Example:
    >>> import torch
    >>> net = torch.nn.Linear(3, 1)
    >>> ema = ExponentialMovingAverage(net, decay=0.9)
    >>> with torch.no_grad():
    ...     _ = net.weight.add_(1.0)
    >>> ema.update(net)  # first update: a copy
    >>> torch.equal(ema.module.weight, net.weight)
    True
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from advisor.errors import ConfigError

__all__ = ["ExponentialMovingAverage"]


class ExponentialMovingAverage:
    """An exponential moving average of a model's weights, kept in a copy of the model.

    Args:
        model: The model being trained; a deep copy (in eval mode, without gradients) holds
            the average.
        decay: Weight of the old average at each update, in (0, 1).

    Attributes:
        module: The averaged copy; evaluate it (``ema.module(x)``) instead of ``model``.
        updates: Number of :meth:`update` calls so far (counted on the host).
    """

    def __init__(self, model: nn.Module, decay: float = 0.999):
        if isinstance(decay, bool) or not isinstance(decay, int | float) or not 0.0 < decay < 1.0:
            raise ConfigError(f"decay of ema must be a number > 0 and < 1, got {decay!r}.")
        self.decay = float(decay)
        self.module = copy.deepcopy(model).eval()
        self.module.requires_grad_(False)
        self.updates = 0

    def _pairs(self, model: nn.Module):
        ours = dict(self.module.named_parameters()) | dict(self.module.named_buffers())
        theirs = dict(model.named_parameters()) | dict(model.named_buffers())
        if ours.keys() != theirs.keys():
            raise ConfigError(
                "ema.update() got a model with other parameters than the one it averages; "
                "pass the model given to apply()."
            )
        return [(ours[k], theirs[k]) for k in ours]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the model's current weights into the average (call after ``optimizer.step()``)."""
        pairs = self._pairs(model)
        if self.updates == 0:
            for mine, theirs in pairs:
                mine.copy_(theirs)
        else:
            floats = [(m, t) for m, t in pairs if m.is_floating_point()]
            if floats:
                torch._foreach_lerp_([m for m, _ in floats], [t for _, t in floats], 1 - self.decay)
            for mine, theirs in pairs:
                if not mine.is_floating_point():
                    mine.copy_(theirs)
        self.updates += 1

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights (loadable into the user's model)."""
        return self.module.state_dict()

    def __repr__(self) -> str:
        return f"ExponentialMovingAverage(decay={self.decay:g}, updates={self.updates})"
