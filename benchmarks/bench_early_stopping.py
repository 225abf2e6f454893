"""Stopping point of the fit diagnosis vs Keras/Lightning EarlyStopping, on real runs.

For every real run with a finite validation loss (the shared real-curves folder, all runs of
multi-run files), compare:

* ``advisor``: ``FitDiagnosis.stop_epoch`` (the raw optimum next to the smoothed best point),
  a post-hoc recommendation read from the whole curve;
* ``EarlyStopping(patience=P)`` for P in 5, 10, 20, simulated online on the raw curve exactly
  as Keras/Lightning do with ``restore_best_weights`` / best checkpoint: stop when the
  validation loss has not improved (``min_delta=0``) for P epochs, keep the best seen so far.

Per method: regret = (val loss at the chosen epoch - best val loss of the whole run) / best,
and epochs trained (advisor: up to its stop point + 1; ES: up to where it stopped). NaN/inf values
never count as an improvement.

Usage: python benchmarks/bench_early_stopping.py [FOLDER]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

from advisor.curves import load_runs
from advisor.curves._diagnosis import diagnose_fit
from advisor.errors import CurveFormatError

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-curves"
PATIENCES = (5, 10, 20)


def early_stopping(values: np.ndarray, patience: int) -> tuple[int, int]:
    """(index restored, epochs trained) of EarlyStopping(patience, min_delta=0, mode='min')."""
    best, best_i, wait = np.inf, 0, 0
    for i, v in enumerate(values):
        if v < best:
            best, best_i, wait = v, i, 0
        else:
            wait += 1
            if wait >= patience:
                return best_i, i + 1
    return best_i, len(values)


def main(folder: Path) -> None:
    rows: dict[str, list[tuple[float, int, int]]] = {
        "advisor": [],
        **{f"ES p={p}": [] for p in PATIENCES},
    }
    n_runs = 0
    t0 = time.perf_counter()
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix == ".md" or path.name.endswith("hparams.yaml"):
            continue
        try:
            runs = load_runs(path)
        except CurveFormatError:
            continue
        for curves in runs:
            vl = curves.val_loss
            if vl is None:
                continue
            # NaN/inf never count as an improvement (as in Keras and Lightning).
            values = np.where(np.isfinite(vl.values), vl.values, np.inf)
            if np.isfinite(values).sum() < 5 or values.min() <= 0:
                continue
            try:
                fit = diagnose_fit(curves)
            except CurveFormatError:
                continue
            if fit.primary_key != vl.key or fit.stop_index is None:
                continue
            n_runs += 1
            best = float(values.min())
            idx = fit.stop_index
            rows["advisor"].append(((values[idx] - best) / best, idx + 1, values.size))
            for p in PATIENCES:
                i, trained = early_stopping(values, p)
                rows[f"ES p={p}"].append(((values[i] - best) / best, trained, values.size))
    elapsed = time.perf_counter() - t0
    print(f"{n_runs} real runs with a validation loss, from {folder} ({elapsed:.1f} s)")
    print(
        f"{'method':<10} {'median regret':>14} {'mean regret':>12} {'p90 regret':>11} "
        f"{'zero regret':>12} {'median epochs':>14} {'epochs vs full':>15}"
    )
    for name, data in rows.items():
        regrets = [r for r, _, _ in data]
        trained = [t for _, t, _ in data]
        frac = sum(t for _, t, _ in data) / sum(n for _, _, n in data)
        print(
            f"{name:<10} {statistics.median(regrets):>14.2%} {statistics.fmean(regrets):>12.2%} "
            f"{float(np.percentile(regrets, 90)):>11.2%} {sum(r == 0 for r in regrets) / len(regrets):>12.0%} "
            f"{statistics.median(trained):>14.0f} {frac:>15.0%}"
        )
    print(
        "regret = (val loss at the chosen epoch - best val loss of the run) / best; "
        "epochs vs full = epochs trained / epochs logged, summed over runs."
    )
    print(
        "advisor's stop epoch is read post hoc from the whole curve (a recommendation for the next run); "
        "EarlyStopping decides online."
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
