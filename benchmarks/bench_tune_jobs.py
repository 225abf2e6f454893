"""Benchmark D (parallel workers): trials per hour of a study at ``--jobs 1`` and ``--jobs auto``.

A 20-trial, 5-fold study on digits for the MLP 64-256-256-10 and the small CNN of
``bench_tune_speed.py``: ``advisor.tune`` with the l2 + dropout + early-stopping stack, TPE, no
pruner by default (``--pruner median`` for the tool's default: parallel workers then prune
later and train more epochs), the default journal storage (in a temporary folder), ``--epochs``
per fold.
Each study runs in a fresh Python process, so every run pays its own worker start, as a user's
``advisor tune`` does; the wall time is the whole ``tune()`` call (probe, baseline, trials).

Rounds alternate the contenders ``--repeats`` times (5 by default), each round starting with
the other one; round r uses seed r for both, so each pair searches the same folds and starts
from the same advised trial. Prints, per model: the median wall time and trials per hour of
each, the median ratio with its spread, what ``auto`` picked and why, the bookkeeping share
(time outside training inside trials, summed over workers), and the best CV score of each run:
parallel TPE proposes different points in a different order, so the check is that the two
distributions of best scores match, not the single values. Then a scaling table for 1, 2, 4,
... workers up to the cores present (``--scaling-repeats`` runs each). The load average is
printed at the start and the end: on a shared machine it moves every figure.

Targets (2 cores): auto >= 1.8x jobs-1 trials per hour for the MLP, >= 1.4x for the CNN
(medians of 5); bookkeeping < 5 % of training time with several workers.
Run: ``python benchmarks/bench_tune_jobs.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
STACK = {
    "version": 1,
    "pieces": [
        {
            "technique": "l2",
            "params": {"weight_decay": 1e-4},
            "search_space": {
                "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True}
            },
        },
        {
            "technique": "dropout",
            "params": {"p": 0.2},
            "search_space": {"p": {"type": "float", "low": 0.0, "high": 0.5}},
        },
        {"technique": "early_stopping", "params": {"patience": 5}},
    ],
}


def one_study(model: str, jobs: str, seed: int, epochs: int, trials: int, pruner: str) -> dict:
    """Run one study in this process; the result's figures as a dict (printed as JSON)."""
    import numpy as np
    from sklearn.datasets import load_digits

    sys.path.insert(0, str(HERE))
    from bench_tune_speed import CNN, mlp

    from advisor.tuning import TrainConfig, tune

    X, y = load_digits(return_X_y=True)
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        result = tune(
            {"mlp": mlp, "cnn": CNN}[model],
            ((X / 16).astype(np.float32), y),
            task="classification",
            stack=STACK,
            n_trials=trials,
            folds=5,
            storage=f"{tmp}/s.journal",
            seed=seed,
            train=TrainConfig(max_epochs=epochs, batch_size=64, lr=1e-3),
            progress=False,
            pruner=pruner,
            n_jobs=jobs if jobs == "auto" else int(jobs),
        )
    values = [t["value"] for t in result.trials if t["state"] == "COMPLETE"]
    return {
        "elapsed_s": result.elapsed_s,
        "best": None if result.candidate is None else result.candidate.cv_mean,
        "mean_trial": statistics.fmean(values) if values else None,
        "n_trials": result.n_trials,
        "n_pruned": result.n_pruned,
        "epochs": sum(t["epochs"] or 0 for t in result.trials),  # work done, over all trials
        "jobs": result.jobs,
        "jobs_reason": result.jobs_reason,
        "folds_mode": result.folds_mode,
        "overhead_share": result.overhead_share,
    }


def _run(model: str, jobs: str, seed: int, args) -> dict:
    cmd = [sys.executable, __file__, "--one", model, jobs, str(seed), str(args.epochs)]
    cmd += [str(args.trials), args.pruner]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{model} --jobs {jobs} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def _med(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} (min {min(values):.3f}, max {max(values):.3f})"


def _per_hour(run: dict) -> float:
    return 3600 * run["n_trials"] / run["elapsed_s"]


def _report(name: str, runs: dict[str, list[dict]], args) -> None:
    print(
        f"\n{name}: {args.trials} trials, 5 folds, {args.epochs} epochs, pruner {args.pruner}, "
        f"{args.repeats} rounds"
    )
    for jobs, rs in runs.items():
        walls = [r["elapsed_s"] for r in rs]
        rates = [_per_hour(r) for r in rs]
        shares = [r["overhead_share"] for r in rs if r["overhead_share"] is not None]
        print(
            f"  --jobs {jobs:<4} wall {_med(walls)} s, {statistics.median(rates):6.0f} trials/h, "
            f"workers {sorted({r['jobs'] for r in rs})}, folds {sorted({r['folds_mode'] for r in rs})}, "
            f"bookkeeping {100 * statistics.median(shares):.1f} % "
            f"(max {100 * max(shares):.1f} %), epochs trained "
            f"{statistics.median(r['epochs'] for r in rs):.0f}, pruned "
            f"{statistics.median(r['n_pruned'] for r in rs):.0f}"
        )
    ratios = [a["elapsed_s"] / b["elapsed_s"] for a, b in zip(runs["1"], runs["auto"], strict=True)]
    print(f"  auto / jobs 1 trials per hour: {_med(ratios)}x  (target: MLP >= 1.8, CNN >= 1.4)")
    for reason in sorted({r["jobs_reason"] for r in runs["auto"]}):
        print(f"  auto: {reason.removeprefix('auto: ')}")
    best1 = [r["best"] for r in runs["1"]]
    besta = [r["best"] for r in runs["auto"]]
    print(f"  best CV accuracy, --jobs 1:    {_med(best1)}")
    print(f"  best CV accuracy, --jobs auto: {_med(besta)}")
    gap = abs(statistics.median(best1) - statistics.median(besta))
    spread = max(max(best1) - min(best1), max(besta) - min(besta))
    verdict = "match" if gap <= spread else "DIFFER"
    print(f"  best-score medians {verdict}: gap {gap:.4f} vs spread over rounds {spread:.4f}")


def _scaling(model: str, base: list[dict], args) -> None:
    cores = os.cpu_count() or 1
    counts = sorted({n for n in (2**k for k in range(1, 8)) if n <= cores} | {cores} - {1})
    rate1 = statistics.median(_per_hour(r) for r in base)
    print(f"  scaling ({model}, {args.scaling_repeats} run(s) each; 1 = the --jobs 1 rounds):")
    print(f"    workers  1: {rate1:6.0f} trials/h  1.00x")
    for n in counts:
        rs = [_run(model, str(n), r, args) for r in range(args.scaling_repeats)]
        rate = statistics.median(_per_hour(r) for r in rs)
        share = statistics.median(r["overhead_share"] for r in rs)
        print(
            f"    workers {n:>2}: {rate:6.0f} trials/h  {rate / rate1:.2f}x  "
            f"(bookkeeping {100 * share:.1f} %)"
        )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        model, jobs, seed, epochs, trials, pruner = sys.argv[2:8]
        print(json.dumps(one_study(model, jobs, int(seed), int(epochs), int(trials), pruner)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scaling-repeats", type=int, default=1)
    parser.add_argument("--models", default="mlp,cnn")
    parser.add_argument(
        "--pruner",
        default="none",
        choices=("none", "median"),
        help="none (default): every trial trains until its early stopping, so both contenders "
        "do the same work; median: parallel workers prune later (fewer finished trials to "
        "compare with), so they train more epochs for the same 20 trials",
    )
    args = parser.parse_args()
    print(f"at start: {_load()}")
    names = {"mlp": "MLP 64-256-256-10", "cnn": "CNN 2x conv3x3"}
    for model in args.models.split(","):
        runs: dict[str, list[dict]] = {"1": [], "auto": []}
        for r in range(args.repeats):
            order = ["1", "auto"] if r % 2 == 0 else ["auto", "1"]
            for jobs in order:
                runs[jobs].append(_run(model, jobs, r, args))
        _report(names[model], runs, args)
        if args.scaling_repeats:
            _scaling(model, runs["1"], args)
        print(f"  ({_load()})")
    print(f"\nat end: {_load()}")


if __name__ == "__main__":
    main()
