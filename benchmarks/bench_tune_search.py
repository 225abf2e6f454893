"""Benchmark B (search efficiency): rules-narrowed search space vs the full space.

For digits, breast_cancer and sunspots (statsmodels' yearly sunspot numbers, a time series),
the facts a user has are gathered first: task, samples, classes, and the fit verdict of a quick
baseline run (train/validation loss curves through ``advisor.diagnose``). Its recommendations
give the rules space (``space="rules"``: the plan's techniques, ranges centred on the advice,
the advice itself as trial 1; ``--later-stages N`` keeps stage 1 plus the next N techniques
only); ``space="full"`` searches every technique with wide ranges. Both get the same trial budget for every seed.

Measured per seed: "trials needed" is the first trial at which a space's best-so-far CV score
reaches the full space's final best within a tolerance (accuracy: 0.002 absolute; MSE: 1%
relative). The ratio is rules needed / full needed; when the rules space never reaches it in
the budget, it counts budget + 1. Reported per data set: the median ratio over seeds (target
<= 1/3) and the final best of each space, so a loss from narrowing would show. Run:
``python benchmarks/bench_tune_search.py [--trials 25 --seeds 5 --jobs 2]``.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch import nn

ACC_TOL = 0.002  # accuracy: about one validation sample of digits' 3-fold CV
MSE_REL_TOL = 0.01  # MSE: 1% of the full space's best
LR, BATCH = 1e-3, 64  # the training of the baseline run and of every trial


def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


def breast_cancer():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    return X.astype(np.float32), y


def sunspots(window: int = 12):
    """Yearly sunspot numbers 1700-2008 as (window -> next year) pairs, shaped (N, T, 1)."""
    from statsmodels.datasets import sunspots as ss

    series = ss.load_pandas().data["SUNACTIVITY"].to_numpy(dtype=np.float32)
    series = (series - series.mean()) / series.std()
    X = np.stack([series[i : i + window] for i in range(len(series) - window)])
    return X[..., None].astype(np.float32), series[window:].astype(np.float32)


class MLP(nn.Module):
    """Small MLP; picklable so worker processes can build it."""

    def __init__(self, n_in: int, n_out: int, hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_in, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_out),
        )

    def forward(self, x):
        return self.net(x)


class Factory:
    def __init__(self, n_in: int, n_out: int):
        self.n_in, self.n_out = n_in, n_out
        self.__qualname__ = f"MLP{n_in}x{n_out}"  # the study name reads it

    def __call__(self):
        return MLP(self.n_in, self.n_out)


# name: (loader, tune task, facts task, classes, n_in, n_out)
CASES = {
    "digits": (digits, "classification", "tabular", 10, 64, 10),
    "breast_cancer": (breast_cancer, "classification", "tabular", 2, 30, 2),
    "sunspots": (sunspots, "timeseries", "sequence", None, 12, 1),
}


def baseline_curves(name: str, path: Path, *, epochs: int, lr: float, batch: int) -> Path:
    """The user's plain run: the model unregularized on 80% (the first 80% of the series)."""
    load, task, _facts_task, _classes, n_in, n_out = CASES[name]
    X, y = load()
    n = len(y)
    rng = np.random.default_rng(0)
    idx = np.arange(n) if task == "timeseries" else rng.permutation(n)
    cut = int(0.8 * n)
    tr, va = idx[:cut], idx[cut:]
    Xt = torch.as_tensor(X)
    yt = torch.as_tensor(y).long() if task == "classification" else torch.as_tensor(y)[:, None]
    loss_fn = nn.CrossEntropyLoss() if task == "classification" else nn.MSELoss()
    torch.manual_seed(0)
    model = MLP(n_in, n_out)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    rows = []
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.as_tensor(rng.permutation(tr))
        total = 0.0
        for i in range(0, len(perm), batch):
            b = perm[i : i + batch]
            opt.zero_grad()
            loss = loss_fn(model(Xt[b]), yt[b])
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
        model.eval()
        with torch.no_grad():
            val = loss_fn(model(Xt[va]), yt[va]).item()
        rows.append((epoch, total / len(tr), val))
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["epoch", "train_loss", "val_loss"])
        writer.writerows(rows)
    return path


def facts_and_plan(name: str, tmp: Path, *, epochs: int):
    """What a user has: task, samples, classes, and the fit diagnosed from a plain run.

    Benchmark B is about tuning regularization, i.e. a user who sees overfitting: where the
    plain run is not diagnosed as overfitting, ``fit="overfitting"`` is declared instead (and
    the table says so).
    """
    import advisor

    load, _task, facts_task, classes, _n_in, _n_out = CASES[name]
    _X, y = load()
    curves = baseline_curves(name, tmp / f"{name}-baseline.csv", epochs=epochs, lr=LR, batch=BATCH)
    diagnosis = advisor.diagnose(
        curves, task=facts_task, samples=len(y), classes=classes, spectral=False
    )
    verdict = diagnosis.fit.verdict
    if verdict == "overfitting":
        return f"overfitting (diagnosed, {epochs} epochs)", diagnosis.recommendations.to_stack()
    recs = advisor.recommend(task=facts_task, samples=len(y), classes=classes, fit="overfitting")
    return f"overfitting (declared; run: {verdict})", recs.to_stack()


def run_study(job):
    """One study in a worker process; returns the per-trial CV scores (None: pruned/failed)."""
    name, space, seed, plan, trials, epochs, folds, storage, extra = job
    torch.set_num_threads(1)
    from advisor.tuning import TrainConfig, tune

    load, task, _facts_task, _classes, n_in, n_out = CASES[name]
    X, y = load()
    result = tune(
        Factory(n_in, n_out),
        (X, y),
        task=task,
        stack=plan if space == "rules" else None,
        space=space,
        later_stages=extra,
        n_trials=trials,
        folds=folds,
        seed=seed,
        storage=storage,
        study_name=f"{name}-{space}-{seed}",
        train=TrainConfig(max_epochs=epochs, batch_size=BATCH, lr=LR, folds_mode="vectorized"),
        device="cpu",
        progress=False,
    )
    values = [t["value"] if t["state"] == "COMPLETE" else None for t in result.trials]
    return {
        "name": name,
        "space": space,
        "seed": seed,
        "values": values,
        "direction": result.direction,
        "dims": len(result.best_stack.to_dict()["pieces"]),
        "params": sorted({k for t in result.trials for k in t["params"]}),
        "baseline": result.baseline.cv_mean,
    }


def best_so_far(values, direction):
    best, out = None, []
    for v in values:
        if v is not None and (best is None or (v > best if direction == "maximize" else v < best)):
            best = v
        out.append(best)
    return out


def first_reaching(trace, target, direction, tol):
    for i, v in enumerate(trace, 1):
        if v is not None and (v >= target - tol if direction == "maximize" else v <= target + tol):
            return i
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=25, help="trial budget of every study")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--baseline-epochs", type=int, default=40, help="the plain run")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="studies run in parallel")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument(
        "--later-stages",
        type=int,
        default=-1,
        help="later-stage techniques of the plan in the rules space (-1: all, the default)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="bench-search-"))
    names = [c for c in args.cases.split(",") if c]
    t_all = time.perf_counter()
    plans, verdicts = {}, {}
    for name in names:
        verdicts[name], plans[name] = facts_and_plan(name, tmp, epochs=args.baseline_epochs)
    jobs = [
        (
            name,
            space,
            seed,
            plans[name],
            args.trials,
            args.epochs,
            args.folds,
            str(tmp / f"{name}-{space}-{seed}.journal"),
            None if args.later_stages < 0 else args.later_stages,
        )
        for name in names
        for seed in range(args.seeds)
        for space in ("rules", "full")
    ]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(run_study, jobs))
    print(
        f"{args.trials} trials per study, {args.seeds} seeds, {args.epochs} epochs, "
        f"{args.folds}-fold CV, MLP 128-128, {args.jobs} studies in parallel (1 thread each), CPU"
    )
    print(
        f"tolerance: accuracy {ACC_TOL} absolute, MSE {MSE_REL_TOL:.0%} relative; "
        f"{args.trials + 1} = never reached within the budget"
    )
    print()
    print(
        "| data set | fit | rules space | full space | trials needed rules | "
        "trials needed full | median ratio | final best rules | final best full | baseline |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        by = {(r["space"], r["seed"]): r for r in results if r["name"] == name}
        direction = by[("full", 0)]["direction"]
        r_need, f_need, ratios, r_best, f_best = [], [], [], [], []
        for seed in range(args.seeds):
            rt = best_so_far(by[("rules", seed)]["values"], direction)
            ft = best_so_far(by[("full", seed)]["values"], direction)
            target = ft[-1]
            tol = ACC_TOL if direction == "maximize" else MSE_REL_TOL * abs(target)
            f = first_reaching(ft, target, direction, tol)
            r = first_reaching(rt, target, direction, tol)
            r = args.trials + 1 if r is None else r
            r_need.append(r)
            f_need.append(f)
            ratios.append(r / f)
            r_best.append(rt[-1])
            f_best.append(ft[-1])
        rules_params = by[("rules", 0)]["params"]
        full_params = by[("full", 0)]["params"]
        base = statistics.median(by[("full", s)]["baseline"] for s in range(args.seeds))
        print(
            f"| {name} | {verdicts[name]} | {len(rules_params)}: {', '.join(rules_params)} | "
            f"{len(full_params)} | {r_need} | {f_need} | **{statistics.median(ratios):.2f}** | "
            f"{statistics.median(r_best):.4f} {_span(r_best)} | "
            f"{statistics.median(f_best):.4f} {_span(f_best)} | {base:.4f} |"
        )
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")


def _span(values) -> str:
    return f"[{min(values):.4f}-{max(values):.4f}]"


if __name__ == "__main__":
    main()
