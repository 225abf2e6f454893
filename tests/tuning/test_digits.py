"""Real data: on scikit-learn's digits an overfitting MLP gains from a small CPU tune."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from advisor.tuning import TrainConfig, tune

STACK = {
    "version": 1,
    "pieces": [
        {
            "technique": "dropout",
            "params": {"p": 0.3},
            "search_space": {"p": {"type": "float", "low": 0.1, "high": 0.6}},
        },
        {
            "technique": "l2",
            "params": {"weight_decay": 1e-2},
            "search_space": {
                "weight_decay": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}
            },
        },
        {
            "technique": "label_smoothing",
            "params": {"smoothing": 0.1},
            "search_space": {"smoothing": {"type": "float", "low": 0.0, "high": 0.2}},
        },
    ],
}


def mlp() -> nn.Module:
    # 64-256-256-10 on 1000 digits: ~85k weights for ~370 samples per fold overfits.
    return nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
    )


@pytest.mark.slow
def test_tuned_stack_beats_baseline_in_cv_and_on_untouched_test(tmp_path):
    X, y = load_digits(return_X_y=True)
    keep = np.random.default_rng(0).permutation(len(X))[:1000]
    X, y = (X[keep] / 16).astype(np.float32), y[keep]
    torch.manual_seed(0)
    result = tune(
        mlp,
        (X, y),
        task="classification",
        stack=STACK,
        n_trials=4,
        folds=3,
        test_size=0.45,
        storage=str(tmp_path / "s.journal"),
        # Mode pinned: dropout masks are drawn differently in the two modes, and auto times them.
        train=TrainConfig(max_epochs=40, lr=3e-3, folds_mode="vectorized"),
        pruner="none",
        progress=False,
    )
    assert result.best.cv_mean > result.baseline.cv_mean + 0.01
    # The test split (450 digits) was cut before any fold and only scored after tuning: the
    # baseline and the best stack are refit on the other 550 and scored on it once. Measured:
    # CV 0.971 vs 0.949, test 0.982 vs 0.964 (8 digits more right); 0.005 is 2 digits.
    assert result.test["samples"] == 450
    assert result.test["best"] > result.test["baseline"] + 0.005
