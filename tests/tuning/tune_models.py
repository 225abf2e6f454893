"""Tiny model factories and data used by the tuning tests (also loaded by CLI worker processes)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def tiny_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))


def tiny_regressor() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 1))


def blobs(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three noisy Gaussian classes in 6 dimensions."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centers = rng.normal(size=(3, 6)) * 1.5
    X = centers[y] + rng.normal(size=(n, 6))
    return X.astype(np.float32), y.astype(np.int64)


def write_blobs(path, n: int = 120) -> None:
    X, y = blobs(n)
    np.savez(path, X=X, y=y)


STACK = {
    "version": 1,
    "pieces": [
        {
            "technique": "l2",
            "params": {"weight_decay": 1e-3},
            "search_space": {
                "weight_decay": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True}
            },
        },
        {
            "technique": "dropout",
            "params": {"p": 0.2},
            "search_space": {"p": {"type": "float", "low": 0.0, "high": 0.5}},
        },
    ],
}


def slow_mlp() -> nn.Module:
    """A model whose forward sleeps a little, so a worker can be killed mid-trial."""

    class Slow(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = tiny_mlp()

        def forward(self, x):
            import os
            import time

            time.sleep(float(os.environ.get("ADVISOR_TEST_SLEEP", "0.01")))
            return self.net(x)

    torch.manual_seed(0)
    return Slow()


def mlp_failing_above(params) -> nn.Module:
    """A config-aware factory with a bug: it raises when the trial's dropout exceeds 0.25."""
    if params.get("dropout", {}).get("p", 0.0) > 0.25:
        raise ValueError("hidden size must be even")
    return tiny_mlp()
