"""Per-step overhead of a regularizer stack vs the bare training step, for a small CNN.

Baseline: the bare step ``loss = cross_entropy(model(x), y); zero_grad; backward; step``.
Measured against it, on the same model and batch:

- "stack machinery": the pieces ``apply`` adds around an unchanged model (decoupled L2 groups,
  coupled L2 + L1 penalty, L1 proximal post-step, label-smoothing loss, early-stopping
  bookkeeping once per epoch). Target: under 15 % on CPU.
- "+ mixup": the machinery plus mixup in the batch transform.
- "+ augmentation": the machinery plus batched image augmentation (real extra work: one
  ``grid_sample`` per batch and colour jitter).

Steps are timed in interleaved blocks (bare, stack, bare, ...) so machine load affects both
alike; the fastest block of each is reported (the least disturbed by other processes). Run:
``.venv/bin/python benchmarks/bench_stack_overhead.py [--device cuda]``.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

from advisor.regularizers import Stack, apply

MACHINERY = Stack.of(
    "l2",
    "label_smoothing",
    "early_stopping",
    l1={"strength": 1e-5, "proximal": True},
    elastic_net={"strength": 1e-5, "proximal": False},
)
VARIANTS = {
    "stack machinery": MACHINERY,
    "+ mixup": Stack.from_dict([*MACHINERY.to_dict()["pieces"], {"technique": "mixup"}]),
    "+ augmentation": Stack.from_dict(
        [*MACHINERY.to_dict()["pieces"], {"technique": "data_augmentation"}]
    ),
    "+ ema": Stack.from_dict([*MACHINERY.to_dict()["pieces"], {"technique": "ema"}]),
}


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 8 * 8, 64), nn.ReLU(), nn.Linear(64, 10),
    )  # fmt: skip


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--blocks", type=int, default=15)
    parser.add_argument("--steps", type=int, default=10, help="steps per timed block")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch's)"
    )
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall time, or this process's CPU time (steadier on a shared machine: time the "
        "machine gives to other tenants does not count; use with --threads 1, CPU only)",
    )
    args = parser.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    x = torch.rand(args.batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (args.batch,), device=device)

    bare_model = small_cnn().to(device)
    bare_opt = torch.optim.AdamW(bare_model.parameters(), lr=1e-3, weight_decay=0.0)

    def bare_step() -> None:
        loss = F.cross_entropy(bare_model(x), y)
        bare_opt.zero_grad()
        loss.backward()
        bare_opt.step()

    def stack_step_fn(stack: Stack):
        applied = apply(small_cnn().to(device), stack, lr=1e-3)
        model, opt = applied.model, torch.optim.AdamW(applied.param_groups, lr=1e-3)
        count = [0]

        def step() -> None:
            xb, yb = applied.batch_transform(x, y)
            loss = applied.loss_fn(model(xb), yb) + applied.penalty(model)
            opt.zero_grad()
            loss.backward()
            opt.step()
            applied.post_step(model)
            count[0] += 1
            if count[0] % 50 == 0:  # "once per epoch": a float read, as a real loop does
                applied.early_stopping.step(float(loss.detach()))

        return step

    def block(step) -> float:
        _sync(device)
        start = clock()
        for _ in range(args.steps):
            step()
        _sync(device)
        return (clock() - start) / args.steps

    print(
        f"device: {device}, threads: {torch.get_num_threads()}, clock: {args.clock}, small CNN, "
        f"batch {args.batch} x 3 x 32 x 32"
    )
    bares: list[float] = []
    for name, stack in VARIANTS.items():
        step = stack_step_fn(stack)
        for fn in (bare_step, step):  # warm-up
            block(fn)
        bare, regd = [], []
        for _ in range(args.blocks):
            bare.append(block(bare_step))
            regd.append(block(step))
        b, r = min(bare), min(regd)
        print(
            f"  {name:16s} bare {b * 1e3:7.2f} ms/step   stack {r * 1e3:7.2f} ms/step   overhead {100 * (r / b - 1):+6.1f} %"
        )
        bares.append(b)
    # The EMA update on its own, against the bare step: far below the noise of the rows above.
    from advisor.regularizers import ExponentialMovingAverage

    ema_model = small_cnn().to(device)
    ema = ExponentialMovingAverage(ema_model)
    ema.update(ema_model)
    update = min(block(lambda: ema.update(ema_model)) for _ in range(args.blocks))
    print(
        f"  ema.update alone {update * 1e3:.3f} ms/step = {100 * update / min(bares):.2f} % of the bare step"
    )


if __name__ == "__main__":
    main()
