"""The refit after a study: one model of a stack trained on all training data, and its score.

The best stack (and the baseline, when a test split is held out) is refit for the median of
its folds' epochs, through the sequential fold loop with a single "fold" holding every sample,
so the refit trains exactly as a fold did.
"""

from __future__ import annotations

from advisor.tuning._config import TrainConfig
from advisor.tuning._folds_base import as_stack, eval_metrics
from advisor.tuning._folds_sequential import SequentialFolds

__all__ = ["evaluate_model", "fit_model"]


def fit_model(
    model_fn, stack, params, X, y, *, task: str, config: TrainConfig, device, seed: int, epochs: int
):
    """Train one model of ``stack`` on all of ``(X, y)`` for ``epochs`` epochs (the refit)."""
    import numpy as np

    stack = as_stack(stack)
    every = np.arange(int(X.shape[0]))
    trainer = SequentialFolds(
        model_fn,
        stack,
        params,
        X,
        y,
        [(every, every[:1])],
        task=task,
        config=config,
        device=device,
        seed=seed,
    )
    for _ in range(epochs):
        trainer.train_epoch([True])
    model = trainer.applied[0].eval_model
    model.eval()
    return model


def evaluate_model(model, X, y, *, task: str, config: TrainConfig) -> float:
    """The task's metric (accuracy or MSE) of a trained model on ``(X, y)``."""
    import torch

    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, int(X.shape[0]), config.eval_batch_size):
            chunk = slice(start, start + config.eval_batch_size)
            _, metric = eval_metrics(model(X[chunk]), y[chunk], task)
            total += float(metric.sum())
    return total / int(X.shape[0])
