"""Benchmark: is the fit verdict right on runs the thresholds were never tuned on?

Run: ``python benchmarks/bench_diagnosis.py [--part test|dev|all|fresh] [--no-baselines]``

Prints, on one part of the labelled corpus (default: the held-out ``test`` part, whose datasets
no threshold was tuned on; ``fresh``: the separate part on new datasets in ``corpus/fresh/``,
generated once and meant to be read once) and on the public logs of ``../shared/data/real-curves`` against the
labels written by hand before the tool was run on them (``benchmarks/real_labels.toml``):

* accuracy overall and per true verdict, the confusion matrix;
* the expected calibration error (ECE) with its reliability table;
* the median held-out-loss regret at the recommended stop (relative excess of the test loss at
  the stop over its minimum), beside Keras/Lightning ``EarlyStopping`` with patience 5/10/20
  (``restore_best_weights``: the best epoch seen before patience ran out);
* the safety checks: no ``underfitting``/``good_fit`` on a non-finite run, no
  ``increase_capacity`` advised on a diverging run;
* the same verdict accuracy for the constant "always overfitting", and for ``losslint`` and
  ``trainproof`` (their PyPI packages, installed only for this benchmark:
  ``pip install losslint trainproof``), their findings mapped generously onto our verdicts
  (NaN/divergence/dead run -> diverging, overfit -> overfitting, stagnation/flat loss ->
  underfitting, nothing found -> good_fit; neither can say not_converged).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from diagnosis_eval import (
    CORPUS,
    REAL_CURVES,
    Outcome,
    corpus_runs,
    diagnose_real,
    diagnose_run,
    early_stopping_index,
    real_labels,
    regret,
    score,
)

from advisor.curves import load_curves
from advisor.curves._diagnosis import VERDICTS


def print_score(title: str, s: dict) -> None:
    print(f"\n== {title}: {s['right']}/{s['n']} right = {s['accuracy']:.1%}")
    for lab, (r, n) in s["per_label"].items():
        print(f"   {lab:<14} {r:>4}/{n:<4} {r / n:6.1%}")
    cols = [*VERDICTS, "error"]
    print("   confusion (rows: label, columns: verdict)")
    print("   " + " " * 14 + "".join(f"{c[:9]:>10}" for c in cols))
    for lab in VERDICTS:
        row = [s["confusion"].get((lab, c), 0) for c in cols]
        if sum(row):
            print(f"   {lab:<14}" + "".join(f"{v:>10}" for v in row))
    print(f"   expected calibration error {s['ece']:.3f}; reliability:")
    print("      confidence bin   runs   mean confidence   accuracy")
    for lo, hi, n, conf, acc in s["reliability"]:
        print(f"      {lo:.1f}-{hi:.1f}        {n:>5}   {conf:15.3f}   {acc:8.3f}")
    if s["n_regret"]:
        q1, q3 = s["regret_q"]
        print(
            f"   held-out-loss regret at the recommended stop: median {s['regret_median']:.2%} "
            f"(IQR {q1:.2%}-{q3:.2%}, {s['n_regret']} runs)"
        )


def _val_loss(curves) -> np.ndarray | None:
    vl = curves.val_loss
    return None if vl is None else np.asarray(vl.values, float)


def early_stopping_regrets(runs: list[dict], patiences: tuple[int, ...]) -> dict[int, dict]:
    """Patience -> {run id: held-out-loss regret of EarlyStopping(patience,
    restore_best_weights)}; each run's curves are read once."""
    out: dict[int, dict[str, float]] = {p: {} for p in patiences}
    for run in runs:
        if run["label"] == "diverging" or not run.get("test_loss"):
            continue
        vl = _val_loss(load_curves(CORPUS / run["path"]))
        if vl is None:
            continue
        for p in patiences:
            r = regret(run["test_loss"], early_stopping_index(vl, p))
            if r is not None:
                out[p][run["id"]] = r
    return out


def _trainer_state(curves, path: Path) -> None:
    """Write the run as an HF trainer_state.json (both third-party tools read it)."""
    log = []
    tl, vl = curves.train_loss, curves.val_loss
    n = max(len(tl) if tl else 0, len(vl) if vl else 0)
    for i in range(n):
        step = (i + 1) * 10
        if tl is not None and i < len(tl):
            v = float(tl.values[i])
            log.append({"epoch": i + 1, "step": step, "loss": v if math.isfinite(v) else None})
        if vl is not None and i < len(vl):
            v = float(vl.values[i])
            log.append({"epoch": i + 1, "step": step, "eval_loss": v if math.isfinite(v) else None})
    path.write_text(json.dumps({"log_history": log, "global_step": n * 10}))


def _map(names: list[str]) -> str:
    text = " ".join(names).lower()
    if any(w in text for w in ("nan", "inf", "diverg", "dead", "explod")):
        return "diverging"
    if "overfit" in text:
        return "overfitting"
    if any(w in text for w in ("stagnat", "flat", "plateau")):
        return "underfitting"
    return "good_fit"


def losslint_verdict(curves, tmp: Path) -> str | None:
    from losslint.checks import run_all_checks
    from losslint.parsing import load_run

    path = tmp / "trainer_state.json"
    _trainer_state(curves, path)
    findings = run_all_checks(load_run(path))
    return _map([f.check for f in findings if f.severity in ("error", "warning")])


def trainproof_verdict(curves, tmp: Path) -> str | None:
    from trainproof.epoch import check_epoch

    path = tmp / "trainer_state.json"
    _trainer_state(curves, path)
    report = check_epoch(path, fmt="hf")
    return _map([f["id"] for f in report["findings"] if f["level"] in ("FAIL", "WARN")])


def third_party(runs: list[dict], fn: Callable, root: Path | None = None) -> dict | None:
    try:
        with tempfile.TemporaryDirectory() as d:
            outcomes = []
            for run in runs:
                curves = load_curves((root or CORPUS) / run["path"])
                try:
                    verdict = fn(curves, Path(d))
                except (ValueError, KeyError, IndexError, ZeroDivisionError):
                    verdict = None  # the tool could not read the run: counted as a miss
                outcomes.append(Outcome(run["id"], run["label"], (), verdict, 0.5))
        return score(outcomes)
    except ImportError:
        return None


def safety(outcomes: list[Outcome], runs: list[dict]) -> tuple[int, int, int]:
    """(non-finite runs called underfitting/good_fit, diverging runs advised increase_capacity, diverging runs)."""
    from advisor.engine import build_facts, load_rules, recommend

    rules = load_rules()
    bad_nonfinite = bad_capacity = n_div = 0
    for o, run in zip(outcomes, runs):
        if run.get("first_nonfinite_epoch") is not None and o.verdict in (
            "underfitting",
            "good_fit",
        ):
            bad_nonfinite += 1
        if o.verdict == "diverging":
            n_div += 1
            recs = recommend(build_facts(fit=o.extra["fit"]), rules=rules)
            if any(r.technique == "increase_capacity" for r in recs.items):
                bad_capacity += 1
    return bad_nonfinite, bad_capacity, n_div


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", default="test", choices=["test", "dev", "all", "fresh"])
    ap.add_argument("--no-baselines", action="store_true", help="skip the third-party tools")
    ap.add_argument("--no-real", action="store_true", help="skip the public logs")
    args = ap.parse_args()

    t0 = time.perf_counter()
    runs = corpus_runs(args.part)
    outcomes = [diagnose_run(r) for r in runs]
    elapsed = time.perf_counter() - t0
    s = score(outcomes)
    print(f"corpus part '{args.part}': {len(runs)} scored runs, diagnosed in {elapsed:.1f} s")
    print_score(f"advisor on the corpus ({args.part} part)", s)
    ours = {o.id: o.regret for o in outcomes if o.regret is not None}
    es = early_stopping_regrets(runs, (5, 10, 20))
    for p, by_id in es.items():
        if by_id:
            r = list(by_id.values())
            q1, q3 = np.percentile(r, [25, 75])
            print(
                f"   EarlyStopping(patience={p:<2}) regret: median {np.median(r):.2%} "
                f"(IQR {q1:.2%}-{q3:.2%}, {len(r)} runs)"
            )
    common = sorted(set(ours) & set(es[10]))
    if common:
        print(
            f"   on the {len(common)} runs EarlyStopping can stop (validation loss logged, not "
            f"diverging): advisor median {np.median([ours[i] for i in common]):.2%}"
        )
    bad_nf, bad_cap, n_div = safety(outcomes, runs)
    print(
        f"   safety: {bad_nf} non-finite runs called underfitting/good_fit; "
        f"{bad_cap} of {n_div} diverging verdicts advised increase_capacity"
    )
    const = score([Outcome(o.id, o.label, o.also, "overfitting", 1.0) for o in outcomes])
    print(f"\n   baseline 'always overfitting': {const['accuracy']:.1%}")
    if not args.no_baselines:
        for name, fn in (("losslint", losslint_verdict), ("trainproof", trainproof_verdict)):
            tp = third_party(runs, fn)
            if tp is None:
                print(f"   baseline {name}: not installed (pip install {name})")
            else:
                per = ", ".join(f"{k} {r}/{n}" for k, (r, n) in tp["per_label"].items())
                print(f"   baseline {name} (mapped generously): {tp['accuracy']:.1%} ({per})")

    if not args.no_real and REAL_CURVES.exists():
        labels = real_labels()
        real = [diagnose_real(e) for e in labels]
        sr = score(real)
        print_score("advisor on the public logs (hand labels, 'also' accepted)", sr)
        grid = [o for o in real if "cifar10-vgg-grid" not in o.id]
        sg = score(grid)
        print(f"   without the 144-run grid: {sg['right']}/{sg['n']} = {sg['accuracy']:.1%}")
        high = [o for o in real if o.extra.get("certainty") == "high"]
        if high:
            sh = score(high)
            print(f"   high-certainty labels only: {sh['right']}/{sh['n']} = {sh['accuracy']:.1%}")
        misses = [o for o in real if not o.right]
        for o in misses[:40]:
            print(
                f"   miss: {o.id}: label {o.label} also {list(o.also)}, verdict {o.verdict} ({o.rule}) {o.error or ''}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
