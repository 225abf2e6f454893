"""Benchmark: reading a 2292-epoch Lightning metrics.csv (258 KB) with advisor vs pandas.

Baseline: ``pandas.read_csv`` + ``groupby("epoch").mean()``, the usual way to get one value per
epoch out of a CSVLogger file (it does not handle test rows, twins or scales: it is a lower bound
on the work). Prints the median time of each over several repetitions and their ratio, and the
cold import time of ``advisor.curves`` + loading vs ``import pandas`` alone, in fresh interpreters.

Run: ``.venv/bin/python benchmarks/bench_curves_read.py [path/to/metrics.csv]``
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT = (
    Path(__file__).resolve().parents[1].parent
    / "shared/data/real-curves/lightning/eeg-tcn-silu-v2-long.csv"
)


def median_time(fn, repeat: int = 15) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cold(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not path.is_file():
        sys.exit(f"{path} not found; pass a metrics.csv path")
    import pandas as pd

    from advisor.curves import load_curves

    ours = median_time(lambda: load_curves(path))
    base = median_time(lambda: pd.read_csv(path).groupby("epoch").mean())
    print(
        f"file: {path.name} ({path.stat().st_size / 1024:.0f} KB, {load_curves(path).n_epochs} epochs)"
    )
    print(f"advisor load_curves:             {ours * 1e3:7.1f} ms (median of 15)")
    print(f"pandas read_csv+groupby (base):  {base * 1e3:7.1f} ms")
    print(f"ratio advisor / pandas:          {ours / base:7.2f}")
    cold_ours = cold(f"from advisor.curves import load_curves; load_curves({str(path)!r})")
    cold_pd = cold("import pandas")
    print(
        f"cold: python -c 'import advisor.curves; load': {cold_ours:.2f} s;  python -c 'import pandas': {cold_pd:.2f} s;"
        f"  ratio {cold_ours / cold_pd:.2f}"
    )


if __name__ == "__main__":
    main()
