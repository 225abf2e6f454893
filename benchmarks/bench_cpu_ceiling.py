"""Benchmark D's ceiling: how much faster can N worker processes be than one process on this CPU?

Two figures bound the gain of ``advisor tune --jobs N`` over ``--jobs 1``:

* **independent processes**: the throughput of N one-thread processes training the same fixed
  workload at once, against one of them alone (what the cores deliver together: shared caches,
  memory bandwidth, SMT siblings lower it below N);
* **threads of one process**: how much faster one process's 5-fold CV (advisor's vectorised
  folds, digits, 10 epochs) trains with all the cores' threads than with one thread (what
  ``--jobs 1`` already gets from the other cores).

Workers of one thread each can beat one process of N threads by at most their ratio:
``ceiling = independent gain / thread speed-up``. Rounds alternate the contenders.
Run: ``python benchmarks/bench_cpu_ceiling.py [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK_STEPS = 3000  # steps of the fixed workload (about 10 s on one core here)


def _work(steps: int) -> float:
    """Train the benchmark MLP for ``steps`` full-batch steps on one thread; seconds taken."""
    import torch

    sys.path.insert(0, str(HERE))
    from bench_tune_speed import mlp

    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = mlp()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    X, y = torch.randn(320, 64), torch.randint(0, 10, (320,))

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(net(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(50):  # warm-up
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - t0


def _processes(n: int) -> list[float]:
    cmd = [sys.executable, __file__, "--work", str(WORK_STEPS)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(n)]
    return [float(p.communicate()[0]) for p in procs]


def _cv_seconds(model_fn, threads: int) -> float:
    import numpy as np
    import torch
    from sklearn.datasets import load_digits

    from advisor.tuning import TrainConfig, cross_validate, make_folds

    X, y = load_digits(return_X_y=True)
    X, y = torch.tensor((X / 16).astype(np.float32)), torch.tensor(y)
    folds, _ = make_folds(y.numpy(), task="classification", folds=5, seed=0)
    config = TrainConfig(max_epochs=10, batch_size=64, lr=1e-3)
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    cross_validate(
        model_fn, None, {}, X, y, folds, task="classification", config=config,
        device=torch.device("cpu"), seed=0, mode="vectorized",
    )  # fmt: skip
    return time.perf_counter() - t0


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--work":
        print(_work(int(sys.argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"{cores} cores; load average at start {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    gains = []
    for r in range(args.rounds):
        alone = _processes(1)[0]
        together = _processes(cores)
        gains.append(cores * alone / max(together))
        print(
            f"  round {r}: one process alone {alone:.2f} s, {cores} at once "
            f"{', '.join(f'{t:.2f}' for t in together)} s -> throughput {gains[-1]:.2f}x"
        )
    gain = statistics.median(gains)
    print(f"independent processes: {gain:.2f}x the throughput of one (median of {args.rounds})")

    sys.path.insert(0, str(HERE))
    from bench_tune_speed import CNN, mlp

    for name, model_fn in (("MLP 64-256-256-10", mlp), ("CNN 2x conv3x3", CNN)):
        times: dict[int, list[float]] = {1: [], cores: []}
        _cv_seconds(model_fn, cores)  # warm-up
        for r in range(args.rounds):
            for threads in (1, cores) if r % 2 == 0 else (cores, 1):
                times[threads].append(_cv_seconds(model_fn, threads))
        speedup = statistics.median(times[1]) / statistics.median(times[cores])
        print(
            f"{name}: 5-fold CV, 1 thread {statistics.median(times[1]):.2f} s, {cores} threads "
            f"{statistics.median(times[cores]):.2f} s -> {speedup:.2f}x from the other cores; "
            f"ceiling of {cores} one-thread workers over one process: {gain / speedup:.2f}x"
        )
    print(f"load average at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
