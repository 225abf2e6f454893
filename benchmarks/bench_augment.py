"""Image augmentation throughput: batched on-device pipeline vs a per-sample loop, and vs kornia.

Baseline: the same transforms applied one image at a time (what a ``Dataset.__getitem__`` +
PIL/torchvision pipeline does, minus the PIL decoding). Compared:

1. ``advisor`` batched: ``augment_images`` on the whole batch (one fused ``grid_sample``);
2. ``kornia`` batched: ``kornia.augmentation`` with the same ranges;
3. per-sample loop: ``augment_images`` on ``x[i:i+1]`` for each image.

Run: ``.venv/bin/python benchmarks/bench_augment.py [--device cuda] [--batch 256]``.
Prints images/s for each and the ratios against the per-sample loop.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from advisor.regularizers import augment_images

MAGNITUDE = 0.5
TRANSFORMS = ["rotation", "scale", "crop", "flip", "brightness", "contrast", "saturation", "hue"]


def _kornia_pipeline(device: torch.device):
    try:
        import kornia.augmentation as K
    except ImportError:
        return None
    m = MAGNITUDE
    # The same ranges as advisor's augment_images at this magnitude.
    return K.AugmentationSequential(
        K.RandomAffine(
            degrees=30 * m,
            translate=(0.125 * m, 0.125 * m),
            scale=(1 - 0.25 * m, 1 + 0.25 * m),
            p=1.0,
        ),
        K.RandomHorizontalFlip(p=0.5 * m),
        K.ColorJiggle(brightness=0.4 * m, contrast=0.4 * m, saturation=0.4 * m, hue=0.1 * m, p=1.0),
    ).to(device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _rate(fn, x: torch.Tensor, *, repeats: int, min_time: float = 1.0) -> float:
    """Best images/s over ``repeats`` timed runs of at least ``min_time`` seconds each."""
    device = x.device
    fn(x)  # warm-up (kernels, allocator)
    _sync(device)
    best = 0.0
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while True:
            fn(x)
            n += x.shape[0]
            _sync(device)
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        best = max(best, n / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch's)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    x = torch.rand(args.batch, 3, args.size, args.size, device=device)

    def batched(t):
        return augment_images(t, magnitude=MAGNITUDE, transforms=TRANSFORMS)

    def per_sample(t):
        return torch.cat(
            [
                augment_images(t[i : i + 1], magnitude=MAGNITUDE, transforms=TRANSFORMS)
                for i in range(t.shape[0])
            ]
        )

    kornia = _kornia_pipeline(device)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or 'cpu'}, {torch.get_num_threads()} threads"
    )
    print(
        f"device: {device} ({name}); batch {args.batch} x 3 x {args.size} x {args.size}; magnitude {MAGNITUDE}"
    )
    rates = {"per-sample loop (baseline)": _rate(per_sample, x, repeats=args.repeats)}
    rates["advisor batched"] = _rate(batched, x, repeats=args.repeats)
    if kornia is not None:
        with torch.no_grad():
            rates["kornia batched"] = _rate(kornia, x, repeats=args.repeats)
    base = rates["per-sample loop (baseline)"]
    for label, rate in rates.items():
        print(f"  {label:28s} {rate:12,.0f} images/s   x{rate / base:7.1f} vs per-sample loop")
    if "kornia batched" in rates:
        print(f"  advisor / kornia: x{rates['advisor batched'] / rates['kornia batched']:.2f}")


if __name__ == "__main__":
    main()
