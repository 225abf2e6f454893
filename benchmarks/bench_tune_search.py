"""Benchmark B (search efficiency): rules-narrowed search space vs the full space.

For digits, breast_cancer and sunspots (time series), run the same trial budget twice per seed:
``space="rules"`` (the rules engine's stack for the data's facts) and ``space="full"`` (every
technique with wide ranges). Measured: the trials the rules space needs to reach the best CV
score the full space found in its whole budget, against the trials the full space itself needed,
median over seeds. Target: at most a third of the trials. Run:
``python benchmarks/bench_tune_search.py [--trials 8 --seeds 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch
from torch import nn

import advisor
from advisor.tuning import TrainConfig, tune


def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


def breast_cancer():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)  # standardised features; the folds never see test rows anyway
    return X.astype(np.float32), y


def sunspots(window: int = 12):
    """Yearly sunspot numbers 1700-2008 (statsmodels ships them) as (window -> next year) pairs."""
    from statsmodels.datasets import sunspots as ss

    series = ss.load_pandas().data["SUNACTIVITY"].to_numpy(dtype=np.float32)
    series = (series - series.mean()) / series.std()
    X = np.stack([series[i : i + window] for i in range(len(series) - window)])
    y = series[window:]
    return X[..., None].astype(np.float32), y.astype(np.float32)  # (N, T, 1) for recurrent models


def _mlp(n_in: int, n_out: int):
    def make():
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_in, 128),
            nn.ReLU(),
            nn.Linear(128, 128),
            nn.ReLU(),
            nn.Linear(128, n_out),
        )

    return make


CASES = {
    "digits": (digits, "classification", {"task": "tabular", "classes": 10, "arch": "mlp"}, 64, 10),
    "breast_cancer": (
        breast_cancer,
        "classification",
        {"task": "tabular", "classes": 2, "arch": "mlp"},
        30,
        2,
    ),
    "sunspots": (sunspots, "timeseries", {"task": "sequence", "arch": "mlp"}, 12, 1),
}


def _trace(result, study_values, direction):
    best, out = None, []
    for v in study_values:
        if v is not None:
            best = (
                v if best is None else (max(best, v) if direction == "maximize" else min(best, v))
            )
        out.append(best)
    return out


def _values(storage: str, name: str):
    import optuna

    from advisor.tuning._study import open_storage

    study = optuna.load_study(study_name=name, storage=open_storage(storage)[0])
    return [
        t.value if t.state == optuna.trial.TrialState.COMPLETE else None
        for t in sorted(study.trials, key=lambda t: t.number)
    ]


def _first_reaching(trace, target, direction):
    for i, v in enumerate(trace, 1):
        if v is not None and (v >= target if direction == "maximize" else v <= target):
            return i
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tmp = tempfile.mkdtemp(prefix="bench-search-")
    config = TrainConfig(max_epochs=args.epochs, batch_size=64, lr=1e-3)
    print(f"{args.trials} trials per study, {args.seeds} seeds, {args.epochs} epochs, 3 folds, CPU")
    t_all = time.perf_counter()
    for name, (load, task, facts, n_in, n_out) in CASES.items():
        X, y = load()
        recs = advisor.recommend(samples=len(y), fit="overfitting", **facts)
        stack = recs.to_stack()
        ratios, rules_needed, full_needed = [], [], []
        for seed in range(args.seeds):
            traces = {}
            for space in ("rules", "full"):
                storage = f"{tmp}/{name}.journal"
                study = f"{name}-{space}-{seed}"
                r = tune(
                    _mlp(n_in, n_out),
                    (X, y),
                    task=task,
                    stack=stack if space == "rules" else None,
                    space=space,
                    n_trials=args.trials,
                    folds=3,
                    seed=seed,
                    storage=storage,
                    study_name=study,
                    train=config,
                    progress=False,
                )
                traces[space] = _trace(r, _values(storage, study), r.direction)
                direction = r.direction
            target = traces["full"][-1]
            f_need = _first_reaching(traces["full"], target, direction)
            r_need = _first_reaching(traces["rules"], target, direction)
            full_needed.append(f_need)
            rules_needed.append(
                r_need if r_need is not None else args.trials + 1
            )  # never: budget + 1
            ratios.append(rules_needed[-1] / f_need)
        print(
            f"\n{name} ({task}; rules stack: {', '.join(p['technique'] for p in stack['pieces'])})"
        )
        print(f"  trials to reach the full space's best: rules {rules_needed}, full {full_needed}")
        print(
            f"  median ratio rules / full: {statistics.median(ratios):.2f} (target <= 0.33; "
            f"{args.trials + 1} means the rules space never reached it)"
        )
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
