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
vectorised folds against one fold alone). Run: ``python benchmarks/bench_tune_speed.py``.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads",
        type=int,
        default=torch.get_num_threads(),
        help="torch intra-op threads, the same for every route (default: all cores)",
    )
    parser.add_argument("--no-skorch", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    X_np, y_np = load_digits(return_X_y=True)
    X_np = (X_np / 16).astype(np.float32)
    X, y = torch.tensor(X_np, device=device), torch.tensor(y_np, device=device)
    folds, _ = make_folds(y_np, task="classification", folds=5, seed=0)
    config = TrainConfig(max_epochs=args.epochs, batch_size=64, lr=1e-3)
    print(
        f"device {device}, torch threads {args.threads}, {args.epochs} epochs, 5 folds, {len(y_np)} digits"
    )
    for name, model_fn in (("MLP 64-256-256-10", mlp), ("CNN 2x conv3x3", CNN)):
        times, accs = {}, {}
        for mode in ("vectorized", "sequential"):
            cross_validate(
                model_fn,
                None,
                {},
                X,
                y,
                folds,
                task="classification",  # warm-up (allocations, kernels)
                config=TrainConfig(max_epochs=1),
                device=device,
                seed=0,
                mode=mode,
            )
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = cross_validate(
                model_fn,
                None,
                {},
                X,
                y,
                folds,
                task="classification",
                config=config,
                device=device,
                seed=0,
                mode=mode,
            )
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[mode], accs[mode] = time.perf_counter() - t0, out.mean
        auto, reason = choose_folds_mode(
            model_fn,
            None,
            {},
            X,
            y,
            folds,
            task="classification",
            config=config,
            device=device,
            seed=0,
        )
        times["auto"] = times[auto]
        t0 = time.perf_counter()
        cross_validate(
            model_fn,
            None,
            {},
            X,
            y,
            folds[:1],
            task="classification",
            config=config,
            device=device,
            seed=0,
            mode="sequential",
        )
        one_fold = time.perf_counter() - t0
        times["plain loop"], accs["plain loop"] = _plain_loop(model_fn, X, y, folds, args.epochs, 0)
        if not args.no_skorch:
            times["skorch"], accs["skorch"] = _skorch(model_fn, X_np, y_np, args.epochs, 0)
        print(f"\n{name}")
        for k, v in times.items():
            acc = f"  CV accuracy {accs[k]:.4f}" if k in accs else ""
            print(f"  {k:<12} {v:7.2f} s{acc}")
        print(f"  auto picked {auto}: {reason}")
        print(f"  ratio sequential / vectorized: {times['sequential'] / times['vectorized']:.2f}x")
        print(
            f"  ratio sequential / auto:       {times['sequential'] / times['auto']:.2f}x (target >= 1.0)"
        )
        print(
            f"  ratio plain loop / auto:       {times['plain loop'] / times['auto']:.2f}x (target: MLP >= 1.4 on CPU)"
        )
        if "skorch" in times:
            print(
                f"  ratio skorch / auto:           {times['skorch'] / times['auto']:.2f}x (target >= 2.0)"
            )
        print(
            f"  5 vectorised folds / 1 fold:   {times['vectorized'] / one_fold:.2f}x (GPU target < 1.5)"
        )


if __name__ == "__main__":
    main()
