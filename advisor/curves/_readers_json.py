"""Readers for JSON curve logs: Hugging Face ``trainer_state.json``, Keras History, custom dicts.

``trainer_state.json`` mixes train logs (``loss`` at fractional epochs), evaluation logs
(``eval_*``, one entry per evaluation set, each with its own prefix such as ``eval_g0_``) and a
final summary whose ``train_loss`` is the mean over the whole run, not a point: that entry is
dropped. ``json.dump(history.history)`` from Keras is a dict of equal-length lists with no
epoch key. Custom JSON holds the same lists next to metadata, which goes into ``hparams``.
A list of per-epoch records is read like a CSV.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from advisor.curves._normalise import Mapping, RawRun, RawSeries, normalise_key
from advisor.curves._readers_table import Table, parse_table
from advisor.curves._types import Curves
from advisor.errors import CurveFormatError

__all__ = ["json_runs"]

_HF_STATE_KEYS = (
    "num_train_epochs",
    "max_steps",
    "global_step",
    "train_batch_size",
    "logging_steps",
    "eval_steps",
    "best_metric",
    "best_model_checkpoint",
)


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    try:
        return float(v)
    except OverflowError:  # an int beyond float range
        return math.inf if v > 0 else -math.inf


def trainer_log_curves(history: list[dict[str, Any]]) -> Curves:
    """``Curves`` from a Hugging Face Trainer ``log_history`` held in memory (the live callback).

    Example:
        >>> trainer_log_curves([{"epoch": 1.0, "loss": 0.9}, {"epoch": 1.0, "eval_loss": 1.0},
        ...                     {"epoch": 2.0, "loss": 0.5}, {"epoch": 2.0, "eval_loss": 0.8}]).format
        'hf-trainer'
    """
    from advisor.curves._normalise import build_curves

    raw = _hf({"log_history": history}, Path("<Trainer logs>"))[0]
    raw.source = None
    return build_curves(raw)


def _hf(state: dict[str, Any], source: Path) -> list[RawRun]:
    history = state.get("log_history")
    if not isinstance(history, list) or not history:
        raise CurveFormatError(
            f"{source}: trainer_state.json has an empty log_history; set logging_steps/eval_strategy in"
            " TrainingArguments so the Trainer logs losses, then read it again."
        )
    points: dict[str, list[tuple[float, float]]] = {}
    groups: list[
        str
    ] = []  # evaluation-set prefixes in order of appearance ("eval_", "eval_g0_", ...)
    notes: list[str] = []
    summary_dropped = False
    for entry in history:
        if not isinstance(entry, dict):
            continue
        x = _number(entry.get("epoch"))
        step = _number(entry.get("step"))
        if x is None:
            x = step
        if x is None:
            continue
        if "train_runtime" in entry or ("train_loss" in entry and "loss" not in entry):
            summary_dropped = True
            continue
        eval_keys = [k for k in entry if k.startswith("eval_")]
        if eval_keys:
            runtime = [k for k in eval_keys if k.endswith("_runtime")]
            prefix = runtime[0][: -len("runtime")] if runtime else "eval_"
            if prefix not in groups:
                groups.append(prefix)
        for k, v in entry.items():
            f = _number(v)
            if f is None or k in ("epoch", "step"):
                continue
            points.setdefault(k, []).append((x, f))
    if summary_dropped:
        notes.append(
            "dropped the final summary entry (its train_loss is the mean over the whole run, not a point)"
        )
    forced: dict[str, tuple[str, str]] = {}
    if len(groups) > 1 and "eval_" not in groups:
        main = groups[0]
        for k in points:
            if k.startswith(main):
                parsed = normalise_key("eval_" + k[len(main) :])
                if parsed:
                    forced[k] = ("val", parsed[1])
        names = ", ".join(g[len("eval_") : -1] for g in groups)
        notes.append(
            f"{len(groups)} evaluation sets ({names}) and no plain eval_loss: {main}* is used as the"
            " validation series; the others are kept as <set>_<metric>"
        )
    series = []
    for k, pts in points.items():
        arr = np.asarray(pts, dtype=np.float64)
        series.append(RawSeries(k, arr[:, 0], arr[:, 1]))
    hparams = {k: state[k] for k in _HF_STATE_KEYS if k in state and state[k] is not None}
    if isinstance(state.get("trial_params"), dict):
        hparams.update(state["trial_params"])
    gs, ms = _number(state.get("global_step")), _number(state.get("max_steps"))
    if gs is not None and ms and gs < ms:
        notes.append(
            f"snapshot at step {int(gs)} of max_steps {int(ms)}: training was still running when this file was written"
        )
    if any(x == 0 for k, pts in points.items() if k.startswith("eval_") for x, _ in pts[:1]):
        notes.append("the first evaluation is at epoch 0, before any training")
    return [
        RawRun(
            series=series,
            format="hf-trainer",
            source=source,
            notes=notes,
            hparams=hparams,
            forced=forced,
        )
    ]


def _dict_of_lists(data: dict[str, Any], source: Path) -> list[RawRun]:
    lists = {
        k: v
        for k, v in data.items()
        if isinstance(v, list) and v and all(_number(x) is not None or x is None for x in v)
    }
    if not lists:
        keys = ", ".join(list(data)[:12]) or "none"
        raise CurveFormatError(
            f"{source}: the JSON dict has no lists of numbers (keys: {keys}); expected a Keras"
            " history dict like {'loss': [...], 'val_loss': [...]} or a trainer_state.json."
        )
    length = max(len(v) for v in lists.values())
    series_lists = {k: v for k, v in lists.items() if len(v) == length}
    hparams: dict[str, Any] = {}
    for k, v in data.items():
        if k in series_lists:
            continue
        if (
            isinstance(v, str | int | float | bool)
            or v is None
            or (isinstance(v, list) and len(v) < length)
        ):
            hparams[k] = v
    notes: list[str] = []
    epoch_key = next((k for k in series_lists if k.lower() in ("epoch", "epochs")), None)
    if epoch_key:
        epochs = np.asarray(
            [math.nan if x is None else _number(x) for x in series_lists.pop(epoch_key)],
            dtype=np.float64,
        )
    else:
        epochs = np.arange(length, dtype=np.float64)
        notes.append("no epoch key: list position is used as the epoch (0-based)")
    series = [
        RawSeries(
            k,
            epochs.copy(),
            np.asarray([math.nan if x is None else _number(x) for x in v], dtype=np.float64),
        )
        for k, v in series_lists.items()
    ]
    is_keras = "loss" in series_lists and all(
        k in ("loss", "lr", "learning_rate") or normalise_key(k) is not None for k in series_lists
    )
    fmt = "keras-json" if is_keras and not hparams else "json"
    if hparams:
        notes.append(f"metadata keys {', '.join(hparams)} kept in hparams")
    return [RawRun(series=series, format=fmt, source=source, notes=notes, hparams=hparams)]


def _records(data: list[Any], source: Path, mapping: Mapping | None) -> list[RawRun]:
    if not all(isinstance(r, dict) for r in data):
        raise CurveFormatError(
            f"{source}: the JSON list mixes records and other values; expected a list of per-epoch"
            " dicts like [{'epoch': 0, 'loss': 0.9, 'val_loss': 1.0}, ...]."
        )
    header: list[str] = []
    for r in data:
        for k in r:
            if str(k) not in header:
                header.append(str(k))
    rows = [["" if r.get(h) is None else str(r.get(h)) for h in header] for r in data]
    runs = parse_table(Table(header, rows, source, first_line=1), mapping=mapping, fmt="json")
    for run in runs:
        run.notes = [n.replace("at line", "at record") for n in run.notes]
    return runs


def _json_lines(text: str) -> list[dict[str, Any]] | None:
    records = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            return None
        if not isinstance(value, dict):
            return None
        records.append(value)
    return records or None


def json_runs(text: str, source: Path, *, mapping: Mapping | None = None) -> list[RawRun]:
    """Read JSON text (trainer_state, Keras history, custom dict, records) into raw runs."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if (
            exc.msg == "Extra data"
        ):  # JSON Lines: one record per line (detectron2, mmdet, custom loggers)
            records = _json_lines(text)
            if records is not None:
                return _records(records, source, mapping)
        raise CurveFormatError(
            f"{source}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); the file may be"
            " truncated: write it again or fix it."
        ) from None
    except RecursionError:
        raise CurveFormatError(f"{source}: JSON nested too deeply to be a curve log.") from None
    if isinstance(data, dict):
        if "log_history" in data:
            return _hf(data, source)
        for key in ("history", "metrics", "logs"):
            if isinstance(data.get(key), dict) and len(data) <= 3:
                data = data[key]
                break
        return _dict_of_lists(data, source)
    if isinstance(data, list) and data:
        return _records(data, source, mapping)
    kind = "an empty list" if data == [] else type(data).__name__
    raise CurveFormatError(
        f"{source}: the JSON holds {kind}, not a learning-curve log; expected a dict of lists (Keras"
        " history), a list of per-epoch records or a trainer_state.json."
    )
