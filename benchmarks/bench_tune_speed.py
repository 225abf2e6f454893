"""Benchmark A (speed): 5-fold CV on digits, vectorised vs sequential folds vs skorch.

Same model, same 30 epochs, batch 64, AdamW lr 1e-3, no regularization, for:

- ``vectorized``: advisor's vmapped ensemble of the 5 fold models;
- ``sequential``: advisor's loop training the 5 fold models one after another (its fallback;
  like the vectorised mode it runs torch's fused Adam kernel where torch has one);
- ``plain loop``: the k-fold loop a user writes by hand: one fold after another, shuffled index
  batches, ``torch.optim.AdamW`` with its defaults, validation after every epoch (the baseline
  of the 1.4x target);
- ``auto``: what ``advisor tune`` picks for this model on this device (and why);
- ``skorch``: ``skorch.NeuralNetClassifier`` + ``sklearn.model_selection.cross_validate``.

Models: an MLP 64-256-256-10 and a small CNN (two 3x3 conv layers) on 8x8 digits. Prints wall
times and ratios measured in this one run; ``--device cuda`` also gives the GPU target (5
vectorised folds against one fold alone).

The machine is shared and its load changes from second to second, so one timing of each
contender proves little: the contenders run in ``--repeats`` rounds (5 by default), each round
starting with another contender, and every ratio is taken within a round and printed as the
median with its spread over the rounds, with the load average at the start and the end.
Run: ``python benchmarks/bench_tune_speed.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

from advisor.tuning import (
    TrainConfig,
    choose_folds_mode,
    cross_validate,
    make_folds,
    resolve_device,
)


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
    )


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 2 * 2, 10),
        )

    def forward(self, x):
        return self.net(x.view(-1, 1, 8, 8))


def _plain_loop(model_fn, X, y, folds, epochs, seed):
    """A hand-written k-fold loop: what advisor replaces."""
    t0 = time.perf_counter()
    accs = []
    for f, (tr, va) in enumerate(folds):
        torch.manual_seed(seed * 1009 + f)
        model = model_fn().to(X.device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        tr_t, va_t = torch.as_tensor(tr, device=X.device), torch.as_tensor(va, device=X.device)
        gen = torch.Generator().manual_seed(seed + f)
        for _ in range(epochs):
            model.train()
            perm = tr_t[torch.randperm(len(tr_t), generator=gen).to(X.device)]
            for i in range(0, len(perm), 64):
                b = perm[i : i + 64]
                loss = nn.functional.cross_entropy(model(X[b]), y[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                acc = (model(X[va_t]).argmax(1) == y[va_t]).float().mean().item()
        accs.append(acc)
    if X.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, float(np.mean(accs))


def _skorch(model_fn, X, y, epochs, seed):
    from sklearn.model_selection import StratifiedKFold, cross_validate
    from skorch import NeuralNetClassifier

    torch.manual_seed(seed)
    net = NeuralNetClassifier(
        model_fn,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW,
        lr=1e-3,
        max_epochs=epochs,
        batch_size=64,
        train_split=None,
        verbose=0,
    )
    t0 = time.perf_counter()
    scores = cross_validate(
        net, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=seed), scoring="accuracy"
    )
    return time.perf_counter() - t0, float(np.mean(scores["test_score"]))


def _advisor_cv(model_fn, X, y, folds, config, device, mode):
    t0 = time.perf_counter()
    out = cross_validate(
        model_fn, None, {}, X, y, folds, task="classification", config=config, device=device,
        seed=0, mode=mode,
    )  # fmt: skip
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, out.mean


def _contenders(model_fn, X, y, X_np, y_np, folds, config, device, epochs, skorch):
    """name -> a call returning (seconds, CV accuracy); each one run of that contender."""
    runs = {
        "vectorized": lambda: _advisor_cv(model_fn, X, y, folds, config, device, "vectorized"),
        "sequential": lambda: _advisor_cv(model_fn, X, y, folds, config, device, "sequential"),
        "plain loop": lambda: _plain_loop(model_fn, X, y, folds, epochs, 0),
        "one fold": lambda: _advisor_cv(model_fn, X, y, folds[:1], config, device, "sequential"),
    }
    if skorch:
        runs["skorch"] = lambda: _skorch(model_fn, X_np, y_np, epochs, 0)
    return runs


def _ratio(times: dict[str, list[float]], a: str, b: str) -> list[float]:
    """``a / b`` per round: both timed in the same round, under the same load."""
    return [x / z for x, z in zip(times[a], times[b], strict=True)]


def _spread(values: list[float]) -> str:
    med = statistics.median(values)
    return f"{med:5.2f}x  (min {min(values):.2f}, max {max(values):.2f}, n={len(values)})"


def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of all contenders")
    parser.add_argument(
        "--threads",
        type=int,
        default=torch.get_num_threads(),
        help="torch intra-op threads, the same for every route (default: all cores)",
    )
    parser.add_argument("--no-skorch", action="store_true")
    parser.add_argument("--models", default="mlp,cnn", help="mlp, cnn or both")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    X_np, y_np = load_digits(return_X_y=True)
    X_np = (X_np / 16).astype(np.float32)
    X, y = torch.tensor(X_np, device=device), torch.tensor(y_np, device=device)
    folds, _ = make_folds(y_np, task="classification", folds=5, seed=0)
    config = TrainConfig(max_epochs=args.epochs, batch_size=64, lr=1e-3)
    print(
        f"device {device}, torch threads {args.threads}, {args.epochs} epochs, 5 folds, "
        f"{len(y_np)} digits, {args.repeats} alternating rounds; at start: {_load()}"
    )
    models = {"mlp": ("MLP 64-256-256-10", mlp), "cnn": ("CNN 2x conv3x3", CNN)}
    for key in args.models.split(","):
        name, model_fn = models[key]
        auto, reason = choose_folds_mode(
            model_fn, None, {}, X, y, folds, task="classification", config=config,
            device=device, seed=0,
        )  # fmt: skip
        runs = _contenders(
            model_fn, X, y, X_np, y_np, folds, config, device, args.epochs, not args.no_skorch
        )
        for mode in ("vectorized", "sequential"):  # warm-up: allocations, kernels, imports
            _advisor_cv(model_fn, X, y, folds, TrainConfig(max_epochs=1), device, mode)
        _plain_loop(model_fn, X, y, folds, 1, 0)
        times: dict[str, list[float]] = {k: [] for k in runs}
        accs: dict[str, list[float]] = {k: [] for k in runs}
        order = list(runs)
        for r in range(args.repeats):
            # Alternate: each round starts with another contender, so a burst of load from
            # other jobs does not always fall on the same one.
            for k in order[r % len(order) :] + order[: r % len(order)]:
                seconds, acc = runs[k]()
                times[k].append(seconds)
                accs[k].append(acc)
        times["auto"] = list(times[auto])
        print(f"\n{name}: auto picks {auto} ({reason})")
        for k, v in times.items():
            acc = f"  CV accuracy {statistics.median(accs[k]):.4f}" if k in accs else ""
            print(
                f"  {k:<11} median {statistics.median(v):7.2f} s "
                f"(min {min(v):.2f}, max {max(v):.2f}){acc}"
            )

        for a, b, note in (
            ("sequential", "vectorized", ""),
            ("sequential", "auto", " (target >= 1.0)"),
            ("plain loop", "auto", " (target >= 1.4)"),
            ("skorch", "auto", " (target >= 2.0)"),
            ("vectorized", "one fold", " (GPU target < 1.5)"),
        ):
            if a in times:
                print(f"  {a + ' / ' + b + ':':<25} {_spread(_ratio(times, a, b))}{note}")
    print(f"\nat end: {_load()}")


if __name__ == "__main__":
    main()
