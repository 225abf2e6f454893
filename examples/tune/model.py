"""The model factory of the ``advisor tune`` example: a small CNN for 8x8 digit images.

``advisor tune --model examples/tune/model.py:make_model`` imports this file and calls
``make_model()`` for every fold of every trial, so each gets fresh weights. The stack's
regularizers (dropout, weight decay, augmentation ...) are added by the tuner; the model is
written as you would write it without them.
"""

from __future__ import annotations

from torch import nn


def make_model() -> nn.Module:
    """A CNN for ``(N, 1, 8, 8)`` inputs and 10 classes (about 36k weights)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )
