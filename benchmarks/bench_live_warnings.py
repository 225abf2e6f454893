"""How timely and how false are the live overfitting warnings (``advisor.curves._online``)?

Each scored run of the labelled corpus (``benchmarks/corpus/labels.jsonl``) is replayed
evaluation by evaluation into a ``LiveMonitor`` (the curves up to each validation epoch, as a
callback would see them). Figures, per part (``dev``: where thresholds were chosen; ``test``:
held out until the ``fresh`` part, new datasets generated and read once, took its place):

* ``timely``: runs labelled ``overfitting`` whose first overfitting warning fires within
  ``TOLERANCE`` epochs of the onset the OFFLINE diagnosis finds (``diagnose_fit`` on the whole
  run: ``fit.onset_epoch``, or ``fit.best_epoch`` when it has no onset);
* ``onset_named``: the same runs whose warning NAMES an onset within ``TOLERANCE`` epochs of
  the offline one (what the user acts on: "stop near epoch N"), whenever it fires;
* ``warned``: overfitting runs warned about at all; ``median_delay``: warning epoch minus
  offline onset;
* ``false``: runs labelled ``good_fit`` with any overfitting warning.

Modes: ``both`` (the default monitor: sequential rule, diagnosis fallback), ``sequential``
(``diagnosis=False``). ``--max-points N`` skips runs longer than N evaluations (the long runs
cost a full diagnosis per evaluation in ``both`` mode).

Run:  .venv/bin/python benchmarks/bench_live_warnings.py [--mode both|sequential] [--part dev|test|fresh|all] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from diagnosis_eval import CORPUS, corpus_runs  # noqa: E402

from advisor.curves import Curves, Series, diagnose_fit, load_curves  # noqa: E402
from advisor.curves._online import LiveMonitor  # noqa: E402

TOLERANCE = 5.0


def _val_epochs(curves: Curves) -> np.ndarray:
    vals = [s for (split, _m), s in curves.series.items() if split == "val"]
    if not vals:
        return np.array([])
    return np.unique(np.concatenate([s.epochs for s in vals]))


def _prefix(curves: Curves, upto: float) -> Curves:
    series = {}
    for k, s in curves.series.items():
        keep = s.epochs <= upto
        if keep.any():
            series[k] = Series(
                split=s.split,
                metric=s.metric,
                key=s.key,
                epochs=s.epochs[keep],
                values=s.values[keep],
                mode=s.mode,
                scale=s.scale,
            )
    return Curves(series=series, format=curves.format, hparams=curves.hparams)


def replay(
    curves: Curves, *, diagnosis: bool, classes: int | None
) -> tuple[float | None, float | None]:
    """(epoch of the first overfitting warning, onset it names), or (None, None)."""
    monitor = LiveMonitor(diagnosis=diagnosis, classes=classes)
    for e in _val_epochs(curves):
        alert = monitor.update(_prefix(curves, float(e)))
        if alert is not None and alert.kind == "overfitting":
            return alert.epoch, alert.onset_epoch
    return None, None


def evaluate(part: str, *, diagnosis: bool, max_points: int | None = None) -> dict[str, Any]:
    over: list[dict[str, Any]] = []
    good: list[dict[str, Any]] = []
    skipped = 0
    for run in corpus_runs(part):
        if run["label"] not in ("overfitting", "good_fit"):
            continue
        curves = load_curves(CORPUS / run["path"])
        if max_points is not None and _val_epochs(curves).size > max_points:
            skipped += 1
            continue
        classes = run.get("classes")
        warn, named = replay(curves, diagnosis=diagnosis, classes=classes)
        row = {"id": run["id"], "warn": warn, "named": named}
        if run["label"] == "overfitting":
            fit = diagnose_fit(curves, classes=classes)
            ref = fit.onset_epoch if fit.onset_epoch is not None else fit.best_epoch
            row["ref"] = ref
            over.append(row)
        else:
            good.append(row)

    def close(a: float | None, b: float | None) -> bool:
        return a is not None and b is not None and abs(a - b) <= TOLERANCE

    delays = [r["warn"] - r["ref"] for r in over if r["warn"] is not None and r["ref"] is not None]
    n_over, n_good = len(over), len(good)
    return {
        "part": part,
        "mode": "both" if diagnosis else "sequential",
        "overfitting_runs": n_over,
        "good_fit_runs": n_good,
        "skipped_long": skipped,
        "timely": sum(close(r["warn"], r["ref"]) for r in over) / max(n_over, 1),
        "onset_named": sum(close(r["named"], r["ref"]) for r in over) / max(n_over, 1),
        "warned": sum(r["warn"] is not None for r in over) / max(n_over, 1),
        "median_delay": float(np.median(delays)) if delays else None,
        "false": sum(r["warn"] is not None for r in good) / max(n_good, 1),
        "runs": over + good,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=("both", "sequential"), default="both")
    ap.add_argument("--part", choices=("dev", "test", "fresh", "all"), default=None)
    ap.add_argument("--max-points", type=int, default=None)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    if not (CORPUS / "labels.jsonl").exists():
        print(f"no corpus at {CORPUS}; run benchmarks/corpus/generate.py first", file=sys.stderr)
        return 1
    parts = [args.part] if args.part else ["dev", "test"]
    results = []
    for part in parts:
        t0 = time.perf_counter()
        res = evaluate(part, diagnosis=args.mode == "both", max_points=args.max_points)
        res["seconds"] = round(time.perf_counter() - t0, 1)
        results.append(res)
        if not args.json:
            md = res["median_delay"]
            print(
                f"{part:4} mode={res['mode']:10} overfitting runs {res['overfitting_runs']:3}: "
                f"warning within {TOLERANCE:g} epochs of the offline onset {res['timely']:.0%}, "
                f"onset named within {TOLERANCE:g} {res['onset_named']:.0%}, warned {res['warned']:.0%}, "
                f"median delay {'-' if md is None else f'{md:g}'} epochs | good_fit runs "
                f"{res['good_fit_runs']:3}: false warnings {res['false']:.0%} "
                f"({res['seconds']} s{', skipped ' + str(res['skipped_long']) if res['skipped_long'] else ''})"
            )
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "runs"} for r in results], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
