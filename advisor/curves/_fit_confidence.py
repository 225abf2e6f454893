"""Calibrated confidence: turn a rule's margin into the chance that its verdict is right.

The table ``fit_calibration.json`` beside this module is fitted on the development parts (dev
and test) of the diagnosis corpus (``benchmarks/corpus``, ``benchmarks/calibrate_diagnosis.py``;
its shrinkage chosen by leave-one-dataset-out, so that it holds on a dataset it has never
seen): for each rule, the fraction of development runs it got right, shrunk towards the
overall development accuracy by 20 pseudo-runs so that a rule seen rarely is not over- or
under-trusted. Rules
absent from the table use the margin, shrunk towards ``UNSEEN_PRIOR``. The table is fitted on
every development run (short ones and ones without a train curve included), so no further
discount is applied.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

__all__ = ["calibrated", "confidence_from"]

TABLE = Path(__file__).with_name("fit_calibration.json")
UNSEEN_PRIOR = 0.5
UNSEEN_WEIGHT = 0.5
FLOOR, CEILING = 0.05, 0.99


@cache
def _table() -> dict[str, dict[str, list[float]]]:
    if not TABLE.exists():
        return {}
    return json.loads(TABLE.read_text(encoding="utf-8")).get("rules", {})


def calibrated(rule: str, margin: float) -> float:
    """Probability that the verdict of ``rule`` at ``margin`` is right."""
    return confidence_from(_table(), rule, margin)


def confidence_from(table: dict[str, dict[str, list[float]]], rule: str, margin: float) -> float:
    """The confidence ``table`` (the ``rules`` of ``fit_calibration.json``) gives ``rule`` at
    ``margin``; ``benchmarks/calibrate_diagnosis.py`` scores candidate tables with it."""
    entry = table.get(rule)
    if entry is None:
        p = UNSEEN_WEIGHT * margin + (1 - UNSEEN_WEIGHT) * UNSEEN_PRIOR
    else:
        edges, acc = entry["edges"], entry["accuracy"]
        k = sum(1 for e in edges if margin >= e) - 1
        p = acc[max(0, min(k, len(acc) - 1))]
    return float(max(FLOOR, min(CEILING, p)))
