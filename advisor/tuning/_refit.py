"""The refit after a study: one model of a stack trained on all training data, and its score.

The best stack (and the baseline, when a test split is held out) is refit for the median of
its folds' epochs, through the sequential fold loop with a single "fold" holding every sample,
so the refit trains exactly as a fold did.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from advisor.tuning._config import TrainConfig
from advisor.tuning._folds_base import as_stack, eval_metrics
from advisor.tuning._folds_sequential import SequentialFolds
from advisor.tuning._space import empty_stack, nested_params

__all__ = ["evaluate_model", "fit_model", "refit_and_test"]


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


def refit_and_test(session, result, baseline) -> None:
    """Train the chosen configuration on all training data (for the median of its folds'
    epochs); save it when ``refit`` is a path; score it, the refit baseline and (when the
    baseline was kept) the best stack found on the test split."""
    import torch

    s, config, dev = session.settings, session.config, session.device
    tr = torch.as_tensor(session.train_idx, device=dev)
    X_tr, y_tr = session.X_all[tr], session.y_all[tr]
    fit_args = {"task": s.task, "config": config, "device": dev, "seed": s.seed}

    def fit(stack, score):
        epochs = (
            max(1, round(statistics.median(score.fold_epochs)))
            if score.fold_epochs
            else config.max_epochs
        )
        params = nested_params(stack)
        model = fit_model(session.model_fn, stack, params, X_tr, y_tr, epochs=epochs, **fit_args)
        return model, epochs

    assert result.best is not None
    model, epochs = fit(result.best_stack, result.best)
    result.refit_epochs, result.refit_model = epochs, model
    if s.refit and not isinstance(s.refit, bool):
        path = Path(s.refit)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)
        result.refit_path = str(path)
    if session.test_idx is None:
        return
    te = torch.as_tensor(session.test_idx, device=dev)
    X_te, y_te = session.X_all[te], session.y_all[te]

    def score(m) -> float:
        return evaluate_model(m, X_te, y_te, task=s.task, config=config)

    base_model = model if not result.beats_baseline else fit(empty_stack(), baseline)[0]
    result.test = {
        "best": score(model),
        "baseline": score(base_model),
        "samples": len(session.test_idx),
    }
    if not result.beats_baseline and result.candidate is not None:
        result.test["candidate"] = score(fit(result.candidate_stack, result.candidate)[0])
