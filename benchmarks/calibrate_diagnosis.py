"""Fit the confidence table of the fit diagnosis on the development parts of the corpus.

Run: ``python benchmarks/calibrate_diagnosis.py [--parts dev,test]`` (writes
``advisor/curves/fit_calibration.json``).

The development parts are ``dev`` and ``test``: the ``test`` part was held out until the
``fresh`` part (new datasets, generated once) took its place as the held-out part, so the
table now learns from both. The ``fresh`` part is refused here.

For each verdict rule: the development runs it decided, split into up to ``MAX_BINS`` bins of
its margin (each with at least ``MIN_PER_BIN`` runs), and in each bin the fraction it got right,
shrunk towards the overall development accuracy p by ``PRIOR_WEIGHT`` pseudo-runs
((right + 2 p) / (n + 2)), made non-decreasing in the margin. The test
held-out part is never read here; ``bench_diagnosis.py`` reports the calibration error on it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from diagnosis_eval import corpus_runs, diagnose_run

from advisor.curves import _fit_confidence

MAX_BINS = 3
MIN_PER_BIN = 15


PRIOR_WEIGHT = 2.0  # pseudo-runs of the prior: the overall development accuracy


def fit_rule(margins: list[float], right: list[bool], prior: float) -> dict[str, list[float]]:
    order = np.argsort(margins)
    m = np.asarray(margins)[order]
    r = np.asarray(right, dtype=float)[order]
    bins = max(1, min(MAX_BINS, len(m) // MIN_PER_BIN))
    chunks = np.array_split(np.arange(len(m)), bins)
    edges, acc = [0.0], []
    for k, idx in enumerate(chunks):
        acc.append(float((r[idx].sum() + PRIOR_WEIGHT * prior) / (len(idx) + PRIOR_WEIGHT)))
        if k + 1 < len(chunks):
            edges.append(float((m[idx[-1]] + m[chunks[k + 1][0]]) / 2))
    for k in range(1, len(acc)):  # a larger margin is never less trustworthy
        acc[k] = max(acc[k], acc[k - 1])
    return {
        "edges": [round(e, 4) for e in edges],
        "accuracy": [round(a, 4) for a in acc],
        "n": len(m),
    }


HELD_OUT = "fresh"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="dev,test", help="comma-separated development parts")
    parts = [p for p in ap.parse_args(argv).parts.split(",") if p]
    if HELD_OUT in parts:
        print(f"error: the {HELD_OUT!r} part is held out; calibrate on dev/test", file=sys.stderr)
        return 2
    runs = [run for part in parts for run in corpus_runs(part)]
    by_rule: dict[str, tuple[list[float], list[bool]]] = defaultdict(lambda: ([], []))
    for run in runs:
        out = diagnose_run(run)
        if out.verdict is None:
            continue
        fit = out.extra["fit"]
        by_rule[out.rule][0].append(fit.margin)
        by_rule[out.rule][1].append(out.right)
    every = [x for _, r in by_rule.values() for x in r]
    prior = sum(every) / max(len(every), 1)
    table = {rule: fit_rule(m, r, prior) for rule, (m, r) in sorted(by_rule.items())}
    doc = {
        "about": "confidence per verdict rule and margin bin, fitted on the development parts "
        f"({', '.join(parts)}) of benchmarks/corpus by benchmarks/calibrate_diagnosis.py; "
        "do not edit by hand",
        "runs": len(runs),
        "rules": table,
    }
    _fit_confidence.TABLE.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    for rule, t in table.items():
        print(f"{rule:<24} n={t['n']:<4} edges={t['edges']} accuracy={t['accuracy']}")
    print(f"wrote {_fit_confidence.TABLE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
