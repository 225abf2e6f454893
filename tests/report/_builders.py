"""Real result objects for the report tests, built without training (fast)."""

from __future__ import annotations

import numpy as np

from advisor.curves import Curves, Series, diagnose_fit

ROOT_RUN = "examples/runs/mnist20k/lightning_logs/version_0/metrics.csv"


def overfit_curves() -> Curves:
    e = np.arange(40, dtype=float)
    train = np.exp(-e / 8)
    val = 0.35 + 0.6 * np.exp(-e / 6) + 0.004 * np.maximum(e - 12, 0) ** 1.5
    acc = 0.9 - 0.002 * np.maximum(e - 12, 0)
    return Curves(
        series={
            ("train", "loss"): Series("train", "loss", "train_loss", e, train),
            ("val", "loss"): Series("val", "loss", "val_loss", e, val),
            ("val", "accuracy"): Series("val", "accuracy", "val_acc", e, acc, mode="max"),
        },
        format="recorder",
    )


def overfit_diagnosis():
    import advisor

    return advisor.diagnose(curves=overfit_curves(), classes=10, task="image", samples=5000)


def overfit_fit():
    return diagnose_fit(overfit_curves())


def tune_result():
    """A TuneResult as advisor.tune returns it (numbers from a 3-fold digits study)."""
    from advisor.regularizers import Stack
    from advisor.tuning import CVScore, TuneResult

    stack = Stack.from_dict(
        {
            "version": 1,
            "pieces": [
                {
                    "technique": "dropout",
                    "params": {"p": 0.2},
                    "search_space": {"p": {"type": "float", "low": 0.0, "high": 0.5}},
                },
                {
                    "technique": "l2",
                    "params": {"weight_decay": 1e-4},
                    "search_space": {
                        "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True}
                    },
                },
            ],
        }
    )
    best = CVScore(0.9612, 0.006, [0.958, 0.9705, 0.955], [14, 15, 12])
    base = CVScore(0.9447, 0.011, [0.94, 0.96, 0.934], [9, 10, 8])
    return TuneResult(
        metric="accuracy",
        direction="maximize",
        task="classification",
        folds=3,
        splitter="StratifiedKFold",
        folds_mode="full",
        folds_mode_reason="small data",
        space="rules",
        n_trials=8,
        n_complete=8,
        n_pruned=0,
        n_failed=0,
        n_interrupted=0,
        best_params={"dropout.p": 0.31, "l2.weight_decay": 2e-4},
        best_stack=stack.with_params({"dropout": {"p": 0.31}, "l2": {"weight_decay": 2e-4}}),
        best=best,
        best_trial=5,
        baseline=base,
        importances={"dropout.p": 0.7, "l2.weight_decay": 0.3},
        storage="memory",
        study_name="digits",
        device="cpu",
        elapsed_s=42.0,
        trials_wall_s=40.0,
        trials_train_s=38.0,
    )
