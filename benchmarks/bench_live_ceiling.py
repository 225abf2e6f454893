"""How timely can ANY live overfitting warning be on the corpus? A ceiling for the live target.

The live-warning target (issue 14) asks for a warning within ``TOLERANCE`` epochs of the onset
the OFFLINE diagnosis finds (``diagnose_fit`` on the whole run) on 90 % of overfitting runs,
with at most 5 % false warnings on good fits. ``bench_live_warnings.py`` measures advisor's
monitor; this script asks how much of that target the information in the curves allows, in
two ways, on the dev and test parts of ``benchmarks/corpus``:

1. **The offline diagnosis on the prefix.** ``diagnose_fit`` (right on about 9 in 10 whole
   runs) is given the curves up to the offline onset + ``TOLERANCE`` epochs, the last moment a
   timely warning could use. The share of overfitting runs it calls ``overfitting`` there is
   what the best-informed judge in the project can see in time.
2. **A sweep of simple causal detectors.** Each statistic below is computed after every
   evaluation from the curves so far; a detector warns the first time it exceeds a threshold.
   Over a grid of thresholds: the best timely share with at most 5 % false warnings, and the
   best timely share at ANY false-warning rate (a detector that warns at the slightest rise
   fires too early on many runs, so even unlimited false warnings do not buy timeliness).

   * ``level m``: (mean of the last m evaluations - the best such mean so far) in standard
     errors of the difference (noise from second differences, as the monitor computes it);
   * ``slope k``: the smaller of the OLS and Theil-Sen slopes over the last k evaluations, in
     standard errors;
   * ``level 3 + train`` / ``slope 6 + train``: the same, counted only while training still
     improves (mean of its last 3 values below the 3 before).

Run:  .venv/bin/python benchmarks/bench_live_ceiling.py   (about 30 s of CPU time)
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_live_warnings import TOLERANCE, _prefix, _val_epochs  # noqa: E402
from diagnosis_eval import CORPUS, corpus_runs  # noqa: E402

from advisor.curves import diagnose_fit, load_curves  # noqa: E402
from advisor.curves._online import _noise, _slope, _train_series, _val_series  # noqa: E402

FALSE_LIMIT = 0.05
THRESHOLDS = np.concatenate([np.arange(0.5, 5.0, 0.25), np.arange(5.0, 30.0, 1.0)])
LEVEL_WINDOWS = (1, 3, 5)
SLOPE_WINDOWS = (4, 6, 8)


@dataclass
class Run:
    part: str
    id: str
    label: str
    onset: float | None  # the offline onset (overfitting runs)
    epochs: np.ndarray  # validation epochs
    stats: dict[str, np.ndarray]  # statistic -> value after each evaluation (nan: undefined)
    prefix_says_overfitting: bool | None = None


def _train_improving(curves, val_metric: str, upto: float) -> bool:
    tr = _train_series(curves, val_metric)
    if tr is None or not len(tr):
        return True
    ok = np.isfinite(tr.values) & (tr.epochs <= upto)
    v = tr.values[ok] * (-1.0 if tr.mode == "max" else 1.0)
    return bool(v.size >= 6 and v[-3:].mean() < v[-6:-3].mean())


def statistics(curves) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Each detector statistic after every validation evaluation of the run."""
    val = _val_series(curves)
    ok = np.isfinite(val.values)
    y = val.values[ok] * (-1.0 if val.mode == "max" else 1.0)
    ep = val.epochs[ok]
    names = [f"level {m}" for m in LEVEL_WINDOWS] + [f"slope {k}" for k in SLOPE_WINDOWS]
    out = {n: np.full(y.size, np.nan) for n in [*names, "level 3 + train", "slope 6 + train"]}
    for t in range(4, y.size + 1):
        yy = y[:t]
        noise = _noise(yy)
        noise = noise if noise > 0 else 1e-12
        for m in LEVEL_WINDOWS:
            if t > m:
                means = np.convolve(yy, np.ones(m) / m, mode="valid")
                j = int(np.argmin(means))
                rise = 0.0 if j == means.size - 1 else means[-1] - means[j]
                out[f"level {m}"][t - 1] = rise / (noise * math.sqrt(2.0 / m))
        for k in SLOPE_WINDOWS:
            if t >= k:
                ols, ts, sxx = _slope(yy[-k:])
                out[f"slope {k}"][t - 1] = min(ols, ts) / (noise / math.sqrt(sxx))
        improving = _train_improving(curves, val.metric, float(ep[t - 1]))
        out["level 3 + train"][t - 1] = out["level 3"][t - 1] if improving else 0.0
        out["slope 6 + train"][t - 1] = out["slope 6"][t - 1] if improving else 0.0
    return ep, out


def collect(parts: tuple[str, ...]) -> list[Run]:
    runs = []
    for part in parts:
        for rec in corpus_runs(part):
            if rec["label"] not in ("overfitting", "good_fit"):
                continue
            curves = load_curves(CORPUS / rec["path"])
            if _val_series(curves) is None:
                continue
            ep, st = statistics(curves)
            run = Run(part, rec["id"], rec["label"], None, ep, st)
            if rec["label"] == "overfitting":
                fit = diagnose_fit(curves, classes=rec.get("classes"))
                run.onset = fit.onset_epoch if fit.onset_epoch is not None else fit.best_epoch
                cut = _val_epochs(curves)
                cut = cut[cut <= (run.onset or 0.0) + TOLERANCE]
                if run.onset is not None and cut.size >= 4:
                    pre = diagnose_fit(_prefix(curves, float(cut[-1])), classes=rec.get("classes"))
                    run.prefix_says_overfitting = pre.verdict == "overfitting"
                else:
                    run.prefix_says_overfitting = False
            runs.append(run)
    return runs


def first_warning(run: Run, name: str, threshold: float) -> float | None:
    idx = np.nonzero(np.nan_to_num(run.stats[name], nan=-np.inf) > threshold)[0]
    return None if idx.size == 0 else float(run.epochs[idx[0]])


def sweep(runs: list[Run], name: str) -> tuple[tuple | None, tuple]:
    """(best (threshold, timely, false) with false <= FALSE_LIMIT, best timely at any false)."""
    over = [r for r in runs if r.label == "overfitting"]
    good = [r for r in runs if r.label == "good_fit"]
    best, most = None, None
    for th in THRESHOLDS:
        false = float(np.mean([first_warning(r, name, th) is not None for r in good]))
        hits = []
        for r in over:
            w = first_warning(r, name, th)
            hits.append(w is not None and r.onset is not None and abs(w - r.onset) <= TOLERANCE)
        timely = float(np.mean(hits))
        row = (float(th), timely, false)
        if false <= FALSE_LIMIT and (best is None or timely > best[1]):
            best = row
        if most is None or timely > most[1]:
            most = row
    return best, most


def main() -> int:
    if not (CORPUS / "labels.jsonl").exists():
        print(f"no corpus at {CORPUS}; run benchmarks/corpus/generate.py first", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    runs = collect(("dev", "test"))
    print(f"{len(runs)} runs (overfitting and good_fit) in {time.perf_counter() - t0:.0f} s")
    for part in ("dev", "test", "all"):
        sub = [r for r in runs if part == "all" or r.part == part]
        over = [r for r in sub if r.label == "overfitting"]
        n_good = len(sub) - len(over)
        seen = sum(bool(r.prefix_says_overfitting) for r in over)
        print(f"\n== {part}: {len(over)} overfitting runs, {n_good} good_fit runs")
        print(
            f"   offline diagnosis given the curves up to onset + {TOLERANCE:g} epochs says "
            f"overfitting: {seen}/{len(over)} = {seen / max(len(over), 1):.0%}"
        )
        print(f"   {'detector':<16} {'timely at <= 5 % false':<34} best timely at any false rate")
        for name in runs[0].stats:
            best, most = sweep(sub, name)
            left = (
                "never <= 5 %"
                if best is None
                else f"{best[1]:4.0%} (false {best[2]:.0%}, threshold {best[0]:g})"
            )
            print(f"   {name:<16} {left:<34} {most[1]:4.0%} (false {most[2]:.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
