"""Classification losses with label smoothing and soft (mixed) targets.

Label smoothing (Szegedy et al. 2016, "Rethinking the Inception Architecture") replaces the
one-hot target ``y`` over ``K`` classes with ``q = (1 - eps) * y + eps / K`` and minimises the
cross-entropy ``-sum_k q_k log softmax(z)_k``. For hard integer targets this is exactly
``torch.nn.functional.cross_entropy(z, y, label_smoothing=eps)``; soft targets (probability
rows, e.g. from mixup or cutmix) are smoothed the same way before the cross-entropy.

Everything here is a pure function of tensors (usable inside ``torch.func.vmap``) plus a thin
``nn.Module`` that stores the smoothing.

Example:
    >>> import torch
    >>> logits, y = torch.randn(4, 3), torch.tensor([0, 2, 1, 0])
    >>> loss = label_smoothing_loss(logits, y, smoothing=0.1)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from advisor.errors import ConfigError

__all__ = ["SmoothedCrossEntropy", "label_smoothing_loss", "soft_cross_entropy"]


def soft_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy against probability rows: ``-sum_k target_k * log_softmax(logits)_k``.

    Example:
        >>> soft_cross_entropy(torch.zeros(1, 2), torch.tensor([[0.5, 0.5]]))
        tensor(0.6931)
    """
    loss = -(target * F.log_softmax(logits, dim=-1)).sum(dim=-1)
    return _reduce(loss, reduction)


def label_smoothing_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    smoothing: float = 0.1,
    reduction: str = "mean",
) -> torch.Tensor:
    """Cross-entropy with label smoothing for hard (int) or soft (float, ``(N, K)``) targets.

    Args:
        logits: ``(N, K)`` unnormalised scores.
        target: ``(N,)`` class indices, or ``(N, K)`` probabilities.
        smoothing: ``eps`` in ``q = (1 - eps) * y + eps / K``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Example:
        >>> label_smoothing_loss(torch.zeros(2, 4), torch.tensor([1, 3]), smoothing=0.2)
        tensor(1.3863)
    """
    if target.is_floating_point():
        k = logits.shape[-1]
        q = target * (1.0 - smoothing) + smoothing / k
        return soft_cross_entropy(logits, q, reduction=reduction)
    return F.cross_entropy(logits, target, label_smoothing=smoothing, reduction=reduction)


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ConfigError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")


class SmoothedCrossEntropy(nn.Module):
    """Loss module: cross-entropy with label smoothing, for hard or soft targets.

    With ``smoothing=0`` it is plain cross-entropy that also accepts soft targets (what the
    training loop needs after mixup/cutmix).

    Example:
        >>> loss_fn = SmoothedCrossEntropy(smoothing=0.1)
        >>> loss = loss_fn(torch.randn(8, 10), torch.randint(0, 10, (8,)))
    """

    def __init__(self, smoothing: float = 0.0, *, reduction: str = "mean"):
        super().__init__()
        if not 0.0 <= smoothing < 1.0:
            raise ConfigError(f"smoothing of label_smoothing must be in [0, 1), got {smoothing!r}.")
        self.smoothing = float(smoothing)
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of ``logits`` ``(N, K)`` against class indices or ``(N, K)`` probabilities."""
        return label_smoothing_loss(
            logits, target, smoothing=self.smoothing, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        """``smoothing``, for the module's repr."""
        return f"smoothing={self.smoothing}"
