"""The batch transform of a stack: augmentation, then mixup or cutmix, on training batches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from advisor.regularizers._augment import BatchAugment
from advisor.regularizers._mix import _host_rng, cutmix_batch, mixup_batch

__all__ = ["BatchTransform"]


class BatchTransform:
    """``(x, y) -> (x, y)``: augmentation, then mixup or cutmix; call it on training batches only.

    With both mixup and cutmix in the stack, each batch uses one of them with probability 1/2
    (as timm does).
    """

    def __init__(
        self,
        *,
        augment: BatchAugment | None = None,
        mixup: Mapping[str, Any] | None = None,
        cutmix: Mapping[str, Any] | None = None,
        num_classes: int | None = None,
        generator: torch.Generator | None = None,
    ):
        self.augment = augment
        self.mixup = dict(mixup) if mixup else None
        self.cutmix = dict(cutmix) if cutmix else None
        self.num_classes = num_classes
        self.generator = generator
        if augment is not None:
            augment.generator = generator

    @property
    def is_identity(self) -> bool:
        """Whether it changes nothing: no augmentation, mixup or cutmix."""
        return self.augment is None and self.mixup is None and self.cutmix is None

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.augment is not None:
            x = self.augment(x)
        use_mixup, use_cutmix = self.mixup is not None, self.cutmix is not None
        if use_mixup and use_cutmix:
            pick_cutmix = _host_rng(self.generator).random() < 0.5
            use_mixup, use_cutmix = not pick_cutmix, pick_cutmix
        if use_mixup:
            x, y = mixup_batch(
                x,
                y,
                alpha=self.mixup["alpha"],
                num_classes=self.num_classes,
                generator=self.generator,
            )
        elif use_cutmix:
            x, y = cutmix_batch(
                x,
                y,
                alpha=self.cutmix["alpha"],
                num_classes=self.num_classes,
                generator=self.generator,
            )
        return x, y

    def __repr__(self) -> str:
        parts = [repr(self.augment)] if self.augment is not None else []
        parts += [f"mixup(alpha={self.mixup['alpha']})"] if self.mixup else []
        parts += [f"cutmix(alpha={self.cutmix['alpha']})"] if self.cutmix else []
        return f"BatchTransform({', '.join(parts) or 'identity'})"
