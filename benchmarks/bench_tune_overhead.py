"""Benchmark C (overhead): Optuna + advisor bookkeeping per trial as a share of training time.

Runs one study on digits (MLP 64-256-256-10, 3 folds, 10 epochs, 8 trials) with the default
journal storage and with SQLite, and reports ``(trial wall time - training time) / training
time`` summed over trials: the time spent asking Optuna, writing user attributes, reporting
every epoch, pruning checks, budget accounting and telling the result. Target: under 5%.
Run: ``python benchmarks/bench_tune_overhead.py``.
"""

from __future__ import annotations

import tempfile

import numpy as np
import torch
from torch import nn

from advisor.tuning import TrainConfig, tune

STACK = {
    "version": 1,
    "pieces": [
        {
            "technique": "l2",
            "params": {"weight_decay": 1e-3},
            "search_space": {
                "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-1, "log": True}
            },
        },
        {
            "technique": "dropout",
            "params": {"p": 0.2},
            "search_space": {"p": {"type": "float", "low": 0.0, "high": 0.6}},
        },
        {"technique": "early_stopping", "params": {"patience": 5}},
    ],
}


def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
    )


def main() -> None:
    torch.set_num_threads(1)
    X, y = digits()
    tmp = tempfile.mkdtemp(prefix="bench-overhead-")
    for label, storage in (
        ("journal file", f"{tmp}/s.journal"),
        ("sqlite", f"sqlite:///{tmp}/s.db"),
    ):
        r = tune(
            mlp,
            (X, y),
            task="classification",
            stack=STACK,
            n_trials=8,
            folds=3,
            storage=storage,
            train=TrainConfig(max_epochs=10),
            progress=False,
            seed=0,
        )
        per_trial_ms = (r.trials_wall_s - r.trials_train_s) / max(r.n_trials, 1) * 1000
        print(
            f"{label:<13} {r.n_trials} trials ({r.n_pruned} pruned), training {r.trials_train_s:.1f} s, "
            f"bookkeeping {per_trial_ms:.0f} ms/trial, overhead {100 * r.overhead_share:.2f}% (target < 5%)"
        )


if __name__ == "__main__":
    main()
