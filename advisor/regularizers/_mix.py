"""Mixup and CutMix: train on convex combinations of pairs of examples and of their labels.

- Mixup (Zhang et al. 2018, "mixup: Beyond Empirical Risk Minimization"):
  ``lam ~ Beta(alpha, alpha)``, ``x' = lam * x + (1 - lam) * x[perm]``,
  ``y' = lam * y + (1 - lam) * y[perm]`` with one-hot ``y``; one ``lam`` per batch as in the paper.
- CutMix (Yun et al. 2019, "CutMix: Regularization Strategy to Train Strong Classifiers"):
  paste a random box of relative area ``1 - lam`` from ``x[perm]`` into ``x``, and mix the
  labels by the pasted area actually used (after clipping the box to the image).

The soft targets go to :func:`advisor.regularizers.soft_cross_entropy` (or the stack's loss,
which accepts hard and soft targets). ``lam`` and the box are drawn on the host (a Python
number each) so nothing in the step waits for the device; the permutation is drawn on the
batch's device. Pass a CPU ``torch.Generator`` for reproducible draws.

Example:
    >>> import torch
    >>> x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8,))
    >>> xm, ym = mixup_batch(x, y, alpha=0.2, num_classes=10, generator=torch.Generator().manual_seed(0))
    >>> ym.shape
    torch.Size([8, 10])
"""

from __future__ import annotations

import numpy as np
import torch

from advisor.errors import ConfigError

__all__ = ["cutmix_batch", "mixup_batch", "one_hot"]


def one_hot(
    y: torch.Tensor, num_classes: int, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Hard labels to one-hot rows (soft float labels pass through); no device sync.

    ``F.one_hot`` validates the label range, which reads it back to the host; ``scatter_`` does not.
    """
    if y.is_floating_point() and y.ndim == 2:
        return y.to(dtype)
    out = torch.zeros(y.shape[0], num_classes, dtype=dtype, device=y.device)
    return out.scatter_(1, y.long().view(-1, 1), 1.0)


def _host_rng(generator: torch.Generator | None) -> np.random.Generator:
    """A NumPy generator seeded from the torch generator (or torch's global CPU RNG)."""
    if generator is not None and generator.device.type != "cpu":
        raise ConfigError(
            f"mixup/cutmix draw their mixing weight on the host; pass a CPU torch.Generator, got one on {generator.device}."
        )
    # A CPU tensor read: no device synchronisation.
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    return np.random.default_rng(seed)


def _perm(n: int, device: torch.device, generator: torch.Generator | None) -> torch.Tensor:
    if generator is None:
        return torch.randperm(n, device=device)
    return torch.randperm(n, generator=generator, device=generator.device).to(
        device, non_blocking=True
    )


def mixup_batch(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    alpha: float = 0.2,
    num_classes: int | None = None,
    generator: torch.Generator | None = None,
    lam: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix a batch with a shuffled copy of itself.

    Args:
        x: Batch of inputs, any shape ``(N, ...)``.
        y: ``(N,)`` class indices (needs ``num_classes``), ``(N, K)`` soft labels, or
            regression targets (float ``(N,)`` / ``(N, D)``, mixed linearly).
        alpha: Beta distribution parameter.
        num_classes: Number of classes for hard labels.
        generator: CPU generator for reproducibility.
        lam: Use this mixing weight instead of drawing one (for tests).

    Returns:
        ``(x_mixed, y_mixed)``; ``y_mixed`` is float.
    """
    if not x.is_floating_point():
        raise ConfigError(
            f"mixup needs a floating-point input batch, got dtype {x.dtype}; convert with x.float()."
        )
    rng = _host_rng(generator)
    lam = float(rng.beta(alpha, alpha)) if lam is None else float(lam)
    perm = _perm(x.shape[0], x.device, generator)
    ys = _soft(y, num_classes, x.dtype)
    # lerp(start=x[perm], end=x, lam) = lam * x + (1 - lam) * x[perm], in one fused pass
    return x[perm].lerp_(x, lam), ys[perm].lerp_(ys, lam)


def cutmix_batch(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    alpha: float = 1.0,
    num_classes: int | None = None,
    generator: torch.Generator | None = None,
    lam: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Paste a random box from a shuffled copy of the batch; mix labels by the box area.

    Works on the last two dimensions (images ``(N, C, H, W)``); for ``(N, C, T)`` sequences
    the box is a time window.
    """
    if x.ndim < 3:
        raise ConfigError(
            f"cutmix needs images (N, C, H, W) or sequences (N, C, T), got a batch of shape {tuple(x.shape)}; use mixup."
        )
    rng = _host_rng(generator)
    lam = float(rng.beta(alpha, alpha)) if lam is None else float(lam)
    perm = _perm(x.shape[0], x.device, generator)
    ratio = float(np.sqrt(1.0 - lam))
    if x.ndim == 3:
        spans = [x.shape[-1]]
    else:
        spans = [x.shape[-2], x.shape[-1]]
    slices, area = [], 1.0
    for size in spans:
        cut = int(size * ratio)
        centre = int(rng.integers(0, size))
        lo, hi = max(centre - cut // 2, 0), min(centre + cut // 2, size)
        slices.append(slice(lo, hi))
        area *= (hi - lo) / size
    out = x.clone()
    index = (Ellipsis, *slices)
    out[index] = x[perm][index]
    lam_used = 1.0 - area
    ys = _soft(y, num_classes, x.dtype)
    return out, ys * lam_used + ys[perm] * (1.0 - lam_used)


def _soft(y: torch.Tensor, num_classes: int | None, dtype: torch.dtype) -> torch.Tensor:
    if y.is_floating_point():
        return y.to(dtype)
    if num_classes is None:
        raise ConfigError(
            "mixup/cutmix with integer labels need num_classes=; pass it to apply() or to the function."
        )
    return one_hot(y, num_classes, dtype=dtype)
