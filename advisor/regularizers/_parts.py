"""The parts of what :func:`apply` set up, as typed data that is also callable.

``apply()`` returns each part on :class:`Applied`: the coupled penalty (``Penalty``), the L1
proximal step (``ProximalStep``), the loss (``LossSpec``), and the hook running after each
optimizer step (``PostStep``: the proximal step, then the EMA update). A plain loop calls
them; another loop reads their fields and re-expresses the same regularization over its own
tensors (the tuner does so over stacked fold parameters) without guessing at callables.
The maths is Tibshirani 1996 (L1), Krogh & Hertz 1992 (L2) and Beck & Teboulle 2009
(the proximal step).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from advisor.errors import ConfigError
from advisor.regularizers._averaging import ExponentialMovingAverage
from advisor.regularizers._losses import SmoothedCrossEntropy
from advisor.regularizers._penalties import l1_penalty, l1_proximal_step, l2_penalty

__all__ = ["LossSpec", "Penalty", "PostStep", "ProximalStep"]


@dataclass(frozen=True)
class Penalty:
    """``model -> (l2/2)·Σw² + l1·Σ|w|`` over the parameters ``names``; zero when both are 0.

    Attributes:
        names: The penalised parameter names (weights, not biases or norm parameters).
        l2: Coupled L2 coefficient (``weight_decay`` of ``l2`` with ``decoupled: false``, and
            the L2 part of a non-proximal elastic net).
        l1: L1 coefficient added to the loss (``proximal: false``).
    """

    names: tuple[str, ...] = ()
    l2: float = 0.0
    l1: float = 0.0

    @property
    def is_zero(self) -> bool:
        """True when the penalty adds nothing (a loop can skip calling it)."""
        return not (self.l2 > 0 or self.l1 > 0)

    def of_params(self, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The penalty over a ``{name: tensor}`` dict (pure; works under ``torch.func.vmap``)."""
        total = next(iter(params.values())).new_zeros(()) if params else torch.zeros(())
        if self.l2 > 0:
            total = total + l2_penalty(params, self.names, weight_decay=self.l2)
        if self.l1 > 0:
            total = total + l1_penalty(params, self.names, strength=self.l1)
        return total

    def __call__(self, model: nn.Module) -> torch.Tensor:
        return self.of_params(dict(model.named_parameters()))

    def __repr__(self) -> str:
        return f"Penalty(l2={self.l2:g}, l1={self.l1:g}, over {len(self.names)} tensors)"


@dataclass(frozen=True)
class ProximalStep:
    """``model -> None``: soft-threshold the parameters ``names`` by ``lr·strength``.

    Attributes:
        names: The thresholded parameter names (the penalised weights).
        threshold: ``lr·strength`` when ``apply()`` was given ``lr``; None when the learning
            rate is read at each call from ``group``.
        strength: The L1 strength λ.
        group: The parameter group of ``names`` in ``Applied.param_groups``. A torch optimizer
            built over those groups keeps these very dicts (and an LR scheduler updates their
            ``"lr"``), so the step reads the optimizer's current learning rate from it.
    """

    names: tuple[str, ...]
    threshold: float | None
    strength: float = 0.0
    group: dict | None = field(default=None, repr=False, compare=False)
    _lookup: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_lookup", frozenset(self.names))

    def current_threshold(self) -> float:
        """``lr·strength`` now: the fixed threshold, or the optimizer's learning rate times λ."""
        if self.threshold is not None:
            return self.threshold
        lr = None if self.group is None else self.group.get("lr")
        if lr is None:
            raise ConfigError(
                "the L1 proximal step reads the learning rate from the optimizer: build it over "
                "applied.param_groups (e.g. torch.optim.AdamW(applied.param_groups, lr=1e-3)) "
                "or call apply(model, stack, lr=...)."
            )
        return float(lr) * self.strength

    def __call__(self, model: nn.Module) -> None:
        threshold = self.current_threshold()
        if threshold > 0:
            l1_proximal_step(
                [p for n, p in model.named_parameters() if n in self._lookup], threshold
            )

    def __repr__(self) -> str:
        if self.threshold is None:
            return f"ProximalStep(threshold=lr*{self.strength:g})"
        return f"ProximalStep(threshold={self.threshold:g})"


@dataclass(frozen=True)
class LossSpec:
    """The training loss: ``kind`` ``"cross_entropy"`` (with ``smoothing``) or ``"mse"``."""

    kind: str = "cross_entropy"
    smoothing: float = 0.0

    def build(self, *, reduction: str = "mean") -> nn.Module:
        """The loss module; ``reduction="none"`` gives one value per sample (or element)."""
        if self.kind == "cross_entropy":
            return SmoothedCrossEntropy(self.smoothing, reduction=reduction)
        return nn.MSELoss(reduction=reduction)


@dataclass(frozen=True)
class PostStep:
    """``model -> None`` after ``optimizer.step()``: the proximal step, then the EMA update."""

    proximal: ProximalStep | None = None
    ema: ExponentialMovingAverage | None = None

    @property
    def is_identity(self) -> bool:
        """True when there is nothing to do after a step (a loop can skip the call)."""
        return self.proximal is None and self.ema is None

    def __call__(self, model: nn.Module) -> None:
        if self.proximal is not None:
            self.proximal(model)
        if self.ema is not None:
            self.ema.update(model)

    def __repr__(self) -> str:
        parts = [repr(x) for x in (self.proximal, self.ema) if x is not None]
        return " + ".join(parts) or "PostStep(no-op)"
