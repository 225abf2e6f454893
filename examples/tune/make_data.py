"""Write the data file of the ``advisor tune`` example: scikit-learn's 8x8 digits as ``.npz``.

``X`` is float32 of shape ``(N, 1, 8, 8)`` scaled to [0, 1] (images, channels first) and ``y``
int64 class ids, the two arrays ``advisor tune --data`` reads from an ``.npz`` file. The digits
ship with scikit-learn, so nothing is downloaded.

Run: ``python examples/tune/make_data.py [OUT.npz] [--samples N]`` (default ``digits.npz`` in
the current folder, 600 images: a small set on which a CNN overfits and tuning takes seconds).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="digits.npz", type=Path)
    parser.add_argument("--samples", type=int, default=600, help="images to keep (max 1797)")
    args = parser.parse_args()
    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))[: args.samples]
    X = (digits.images[order] / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8)
    y = digits.target[order].astype(np.int64)
    np.savez_compressed(args.out, X=X, y=y)
    print(f"wrote {args.out}: X {X.dtype} {X.shape}, y {y.dtype} {y.shape}, {len(set(y))} classes")


if __name__ == "__main__":
    main()
