"""Scoring the fit diagnosis against labelled runs (shared by the benchmark, calibration, tests).

* ``corpus_runs(part)``: the scored runs of ``benchmarks/corpus/labels.jsonl`` in one part
  (``dev``, ``test`` or ``all`` = both), each with its label, its held-out test-loss curve and
  the path to pass to ``advisor diagnose``; ``fresh`` reads the separate held-out part in
  ``benchmarks/corpus/fresh/labels.jsonl`` (new datasets, generated once, to be read once).
* ``diagnose_run(run)``: advisor's verdict, calibrated confidence and stop index on it.
* ``score``: accuracy overall and per label, the confusion matrix, the expected calibration
  error with its reliability table, and the held-out-loss regret at the recommended stop.
* ``real_labels()``: the hand-written labels of the public logs (``benchmarks/real_labels.toml``).
"""

from __future__ import annotations

import itertools
import json
import math
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from advisor.curves import load_curves, load_runs
from advisor.curves._diagnosis import VERDICTS, diagnose_fit
from advisor.errors import AdvisorError

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
REAL_LABELS = HERE / "real_labels.toml"
REAL_CURVES = HERE.parent.parent / "shared" / "data" / "real-curves"
ECE_BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001)


@dataclass
class Outcome:
    """One run's label, advisor's verdict, and the figures scored on them."""

    id: str
    label: str
    also: tuple[str, ...]
    verdict: str | None
    confidence: float
    rule: str = ""
    stop_index: int | None = None
    regret: float | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def right(self) -> bool:
        return self.verdict == self.label or self.verdict in self.also


def judgeable(run: dict[str, Any]) -> bool:
    """A log with training series only cannot show over- or underfitting (the tool says so)."""
    train_only = not any(k.startswith("val") for k in run.get("logged", []))
    return not (train_only and run["label"] in ("overfitting", "underfitting"))


def corpus_runs(
    part: str = "test", corpus: Path = CORPUS, *, only_judgeable: bool = True
) -> list[dict[str, Any]]:
    """Scored runs of one part of the corpus (``dev``, ``test``, ``all`` = dev + test, or ``fresh``).

    ``fresh`` reads ``<corpus>/fresh/labels.jsonl`` and gives each run's ``path`` relative to
    ``corpus`` (``fresh/runs/<id>/...``), so ``diagnose_run(run)`` finds its files.
    ``only_judgeable`` leaves out training-only logs labelled over/underfitting (see ``judgeable``).
    """
    sub = "fresh" if part == "fresh" else ""
    path = corpus / sub / "labels.jsonl"
    if not path.exists():
        how = " --part fresh" if sub else ""
        raise FileNotFoundError(f"{path}: no corpus; run benchmarks/corpus/generate.py{how} first.")
    runs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    runs = [r for r in runs if r.get("scored") and (part == "all" or r.get("part") == part)]
    if sub:
        runs = [{**r, "path": f"{sub}/{r['path']}"} for r in runs]
    return [r for r in runs if judgeable(r)] if only_judgeable else runs


def regret(test_loss: list[float | None], index: int | None) -> float | None:
    """Relative excess of the held-out loss at ``index`` over its minimum."""
    vals = np.array([np.nan if v is None else v for v in test_loss], dtype=float)
    if index is None or not np.isfinite(vals).any() or index >= vals.size:
        return None
    best = float(np.nanmin(vals))
    at = vals[index]
    if not math.isfinite(at) or best <= 0:
        return None
    return float((at - best) / best)


def diagnose_run(
    run: dict[str, Any], corpus: Path = CORPUS, *, declare: bool = True, **kwargs: Any
) -> Outcome:
    """Diagnose one corpus run; ``declare`` passes the class count as a user would (``--classes``)."""
    out = Outcome(run["id"], run["label"], (), None, 0.0)
    if declare and run.get("classes") and run["classes"] >= 2:
        kwargs.setdefault("classes", int(run["classes"]))
    try:
        fit = diagnose_fit(load_curves(corpus / run["path"]), **kwargs)
    except AdvisorError as exc:
        out.error = str(exc)
        return out
    out.verdict, out.confidence, out.rule = fit.verdict, fit.confidence, fit.rule
    out.stop_index = fit.stop_index
    if run.get("test_loss") and fit.verdict != "diverging":
        out.regret = regret(run["test_loss"], fit.stop_index)
    out.extra = {"severity": fit.severity, "fit": fit}
    return out


def early_stopping_index(val_loss: np.ndarray, patience: int) -> int | None:
    """Keras/Lightning ``EarlyStopping(patience, restore_best_weights=True)``: the restored epoch."""
    best, best_i, wait = math.inf, None, 0
    for i, v in enumerate(val_loss):
        if not math.isfinite(v):
            break
        if v < best:
            best, best_i, wait = v, i, 0
        else:
            wait += 1
            if wait >= patience:
                break
    return best_i


def reliability(
    confidence: list[float], right: list[bool]
) -> tuple[list[tuple[float, float, int, float, float]], float]:
    """Reliability rows ``(low, high, runs, mean confidence, accuracy)`` per ``ECE_BINS`` bin
    that holds runs, and the expected calibration error over them."""
    conf = np.asarray(confidence, dtype=float)
    ok = np.asarray(right, dtype=float)
    rows, ece = [], 0.0
    for lo, hi in itertools.pairwise(ECE_BINS):
        sel = (conf >= lo) & (conf < hi)
        if not sel.any():
            continue
        c, a = float(conf[sel].mean()), float(ok[sel].mean())
        rows.append((lo, min(hi, 1.0), int(sel.sum()), c, a))
        ece += float(sel.sum()) / conf.size * abs(c - a)
    return rows, ece


def score(outcomes: list[Outcome]) -> dict[str, Any]:
    """Accuracy, per-label recall, confusion, ECE with reliability rows, regret."""
    done = [o for o in outcomes if o.verdict is not None]
    n = len(outcomes)
    right = sum(o.right for o in outcomes)
    per_label = {}
    for lab in VERDICTS:
        sub = [o for o in outcomes if o.label == lab]
        if sub:
            per_label[lab] = (sum(o.right for o in sub), len(sub))
    confusion = Counter((o.label, o.verdict or "error") for o in outcomes)
    rows, ece = reliability([o.confidence for o in done], [o.right for o in done])
    regrets = [o.regret for o in outcomes if o.regret is not None]
    return {
        "n": n,
        "accuracy": right / n if n else float("nan"),
        "right": right,
        "per_label": per_label,
        "confusion": confusion,
        "ece": ece,
        "reliability": rows,
        "regret_median": float(np.median(regrets)) if regrets else float("nan"),
        "regret_q": tuple(np.percentile(regrets, [25, 75]).tolist())
        if regrets
        else (math.nan,) * 2,
        "n_regret": len(regrets),
    }


def real_labels(path: Path = REAL_LABELS) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [r for r in tomllib.loads(path.read_text())["run"] if not r.get("skip")]


def diagnose_real(entry: dict[str, Any], root: Path = REAL_CURVES) -> Outcome:
    out = Outcome(
        f"{entry['file']}:{entry.get('run', '')}",
        entry["label"],
        tuple(entry.get("also", ())),
        None,
        0.0,
    )
    try:
        runs = load_runs(root / entry["file"])
        want = entry.get("run") or None
        chosen = next((r for r in runs if (r.run or None) == want), None)
        if chosen is None:
            out.error = f"run {want!r} not found"
            return out
        fit = diagnose_fit(chosen)
    except AdvisorError as exc:
        out.error = str(exc)
        return out
    out.verdict, out.confidence, out.rule = fit.verdict, fit.confidence, fit.rule
    out.extra = {"certainty": entry.get("certainty"), "fit": fit}
    return out
