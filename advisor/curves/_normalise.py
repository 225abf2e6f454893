"""Name normalisation for the zoo of metric names loggers write, and building ``Curves``.

Every reader turns its file into raw series (the name as logged, the epoch of each point,
the values) and hands them to :func:`build_curves`, which maps names to a split
(``"train"``/``"val"``) and a normalised metric (``"val_acc"``, ``"valid_accuracy"``,
``"eval/accuracy"``, ``"Validation Accuracy"`` all become ``("val", "accuracy")``), sets the
mode (lower or higher is better), tells percent and count accuracies from fractions, and
applies an explicit column mapping (``--train/--val/--metric``) when one was given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from advisor._validation import did_you_mean
from advisor.curves._types import HIGHER_IS_BETTER, Curves, Series
from advisor.errors import CurveFormatError

__all__ = ["RawRun", "RawSeries", "build_curves", "normalise_key", "slugify"]

_SPLIT_WORDS = {
    "train": "train",
    "training": "train",
    "tr": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "eval": "val",
    "evaluation": "val",
    "dev": "val",
    "metrics": "val",  # Ultralytics writes validation metrics as metrics/<name>
    "test": "test",
    "testing": "test",
}
# Leading words that say how a loss was reduced, not what it is ("dev/avg_loss").
_REDUCTION_WORDS = {"avg", "mean", "average", "total", "epoch", "overall", "running"}
# Names that are bookkeeping, not metrics of the fit.
_NOT_METRIC = re.compile(
    r"^(epoch|epochs|step|steps|global_step|iteration|iter|batch|time|timestamp|wall_?time|"
    r"walltime|date|runtime|duration|seconds|.*_runtime|.*samples_per_second|.*steps_per_second|"
    r"total_flos|num_input_tokens_seen|grad_norm|momentum|lr|learning_rate|lr[-_/].*|.*learning_rate.*|"
    r"hp_metric|index|unnamed.*)$"
)
_METRIC_ALIASES = {
    "loss": "loss",
    "avg_loss": "loss",
    "mean_loss": "loss",
    "total_loss": "loss",
    "objective": "loss",
    "acc": "accuracy",
    "accuracy": "accuracy",
    "categorical_accuracy": "accuracy",
    "sparse_categorical_accuracy": "accuracy",
    "binary_accuracy": "accuracy",
    "accuracy_score": "accuracy",
    "top1": "top1",
    "acc1": "top1",
    "top1_acc": "top1",
    "top1_accuracy": "top1",
    "accuracy_top1": "top1",
    "top_1": "top1",
    "top_1_accuracy": "top1",
    "acc_top1": "top1",
    "top5": "top5",
    "acc5": "top5",
    "top5_acc": "top5",
    "top5_accuracy": "top5",
    "accuracy_top5": "top5",
    "top_5": "top5",
    "top_5_accuracy": "top5",
    "acc_top5": "top5",
    "f1": "f1",
    "f1_score": "f1",
    "f1score": "f1",
    "fscore": "f1",
    "f_score": "f1",
    "auc": "auc",
    "roc_auc": "auc",
    "auroc": "auc",
    "rocauc": "auc",
    "precision": "precision",
    "precision_b": "precision",
    "prec": "precision",
    "recall": "recall",
    "recall_b": "recall",
    "map50": "map50",
    "map50_b": "map50",
    "map_50": "map50",
    "map": "map",
    "map50_95": "map",
    "map50_95_b": "map",
    "map_50_95": "map",
    "pearson": "pearson",
    "pearsonr": "pearson",
    "spearman": "spearman",
    "spearmanr": "spearman",
    "mae": "mae",
    "mean_absolute_error": "mae",
    "mse": "mse",
    "mean_squared_error": "mse",
    "rmse": "rmse",
    "root_mean_squared_error": "rmse",
    "perplexity": "perplexity",
    "ppl": "perplexity",
    "r2": "r2",
    "r2_score": "r2",
    "iou": "iou",
    "miou": "iou",
    "dice": "dice",
    "bleu": "bleu",
}
# Words that make an otherwise unknown name a metric ("val_classification_loss", "class_0_acc").
_METRIC_WORDS = re.compile(
    r"(loss|acc|accuracy|error|err|f1|auc|precision|recall|map|iou|dice|bleu|rouge|ppl|"
    r"perplexity|mae|mse|rmse|pearson|spearman|top\d|r2|score|nll|ce)"
)
_LOWER_WORDS = ("loss", "error", "err", "mae", "mse", "rmse", "perplexity", "nll", "wer", "cer")
# Metrics whose values are fractions of samples and can be written as percent or as counts.
_RATIO_METRICS = {
    "accuracy",
    "top1",
    "top5",
    "f1",
    "precision",
    "recall",
    "auc",
    "map",
    "map50",
    "iou",
    "dice",
}


def slugify(name: str) -> str:
    """``"metrics/mAP50-95(B)"`` -> ``"metrics_map50_95_b"``."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def _metric_name(rest: str) -> str | None:
    if not rest:
        return None
    if rest in _METRIC_ALIASES:
        return _METRIC_ALIASES[rest]
    words = rest.split("_")
    while len(words) > 1 and words[0] in _REDUCTION_WORDS:
        words = words[1:]
    joined = "_".join(words)
    return _METRIC_ALIASES.get(joined, joined)


def normalise_key(key: str) -> tuple[str, str, str] | None:
    """Split a logged name into ``(split, metric, suffix)``; ``None`` when it is not a metric.

    ``split`` is ``"train"``, ``"val"`` or ``"test"``; ``suffix`` is ``"step"``, ``"epoch"``
    or ``""`` (Lightning's ``on_step``/``on_epoch`` twins).

    Example:
        >>> normalise_key("val_loss_epoch")
        ('val', 'loss', 'epoch')
        >>> normalise_key("dev/avg_loss")
        ('val', 'loss', '')
    """
    slug = slugify(key)
    if not slug or _NOT_METRIC.match(slug):
        return None
    words = slug.split("_")
    suffix = ""
    if len(words) > 1 and words[-1] in ("step", "epoch"):
        suffix = words.pop()
    if words and words[0] == "epoch" and len(words) > 1:  # Keras TensorBoard "epoch_loss"
        words = words[1:]
    split = None
    if words[0] in _SPLIT_WORDS and len(words) > 1:
        split = _SPLIT_WORDS[words.pop(0)]
    elif len(words) > 1 and words[-1] in _SPLIT_WORDS and words[-1] != "metrics":  # "loss_val"
        split = _SPLIT_WORDS[words.pop()]
    rest = "_".join(words)
    if split is None:
        if not _METRIC_WORDS.search(rest):
            return None
        split = "train"  # Keras and most loggers write train metrics without a prefix
    metric = _metric_name(rest)
    if metric is None or _NOT_METRIC.match(metric):
        return None
    return split, metric, suffix


def mode_of(metric: str) -> str:
    """``"max"`` for metrics where higher is better, else ``"min"``."""
    if any(w in metric for w in _LOWER_WORDS):
        return "min"
    if metric in HIGHER_IS_BETTER or any(
        metric.startswith(h) or metric.endswith("_" + h) for h in HIGHER_IS_BETTER
    ):
        return "max"
    if metric.endswith(("accuracy", "_acc")) or metric.startswith("acc"):
        return "max"
    return "min"


def _is_ratio(metric: str) -> bool:
    return metric in _RATIO_METRICS or metric.endswith(("accuracy", "_acc"))


@dataclass
class RawSeries:
    """A series as a reader found it: logged name, epoch of each point, values."""

    key: str
    epochs: np.ndarray
    values: np.ndarray
    percent: bool = False  # the log wrote a "%" sign next to the values
    averaged: bool = False  # several points per epoch were averaged into one


@dataclass
class RawRun:
    """Everything a reader extracted for one run, before names are normalised."""

    series: list[RawSeries]
    format: str
    source: Path | None
    run: str | None = None
    notes: list[str] = field(default_factory=list)
    hparams: dict[str, Any] = field(default_factory=dict)
    # raw key -> (split, metric) decided by the reader (HF eval sets, explicit mapping)
    forced: dict[str, tuple[str, str]] = field(default_factory=dict)
    # raw key -> "max"/"min" forced with --mode for the --val/--metric series
    forced_modes: dict[str, str] = field(default_factory=dict)
    columns: list[str] | None = None  # every column of the file, for error messages


@dataclass
class Mapping:
    """Explicit names given with ``--train KEY --val KEY --metric KEY``."""

    train_key: str | None = None
    val_key: str | None = None
    metric_key: str | None = None
    mode: str | None = None

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in ("max", "min"):
            raise CurveFormatError(f"mode must be 'max' or 'min', got {self.mode!r}.")

    def __bool__(self) -> bool:
        return bool(self.train_key or self.val_key or self.metric_key)


def _apply_mapping(raw: RawRun, mapping: Mapping) -> None:
    available = list(raw.columns) if raw.columns else [s.key for s in raw.series]
    where = raw.source or "curves"
    for flag, key, target in (
        ("--train", mapping.train_key, "train-loss"),
        ("--val", mapping.val_key, "val-loss"),
        ("--metric", mapping.metric_key, "metric"),
    ):
        if key is None:
            continue
        if key not in available:
            if target == "metric" and _names_a_metric(key, available):
                continue  # a normalised name ("top1"): the diagnosis finds the series by it
            shown = ", ".join(available) if available else "none"
            raise CurveFormatError(
                f"{where}: {flag} {key!r} names no series in this file (available: {shown});"
                f" pass one of those names.{did_you_mean(key, available, cutoff=0.5)}"
            )
        parsed = normalise_key(key)
        metric = parsed[1] if parsed else slugify(key)
        if target == "train-loss":
            raw.forced[key] = ("train", "loss")
        elif target == "val-loss":
            # A validation series named with --val is the loss unless its name (or --mode) says
            # higher is better ("metrics/accuracy_top1" is an accuracy, not a loss).
            higher = (mapping.mode or mode_of(metric)) == "max"
            raw.forced[key] = ("val", metric) if higher else ("val", "loss")
        else:
            raw.forced[key] = ("val", metric if metric != "loss" else slugify(key))
        if mapping.mode is not None and target != "train-loss":
            raw.forced_modes[key] = mapping.mode
    raw.notes.append(
        "explicit mapping: "
        + ", ".join(
            f"{k} -> {'/'.join(v)}"
            for k, v in raw.forced.items()
            if k in {mapping.train_key, mapping.val_key, mapping.metric_key}
        )
    )


def _names_a_metric(name: str, available: list[str]) -> bool:
    """Whether ``name`` is the normalised metric name of a validation column."""
    target = _metric_name(slugify(name)) or slugify(name)
    for col in available:
        found = normalise_key(col)
        if found is not None and found[0] in ("val", "test") and found[1] == target:
            return True
    return False


def _set_scales(
    series: dict[tuple[str, str], Series], raw_percent: set[str], notes: list[str]
) -> None:
    ratio = [s for s in series.values() if _is_ratio(s.metric)]
    if not ratio:
        return
    peaks = {}
    for s in ratio:
        finite = s.values[np.isfinite(s.values)]
        peaks[s.key] = float(np.max(np.abs(finite))) if finite.size else 0.0
    # One series above 100 means the run logs counts of correct samples (swav-cnn's ~126),
    # so its siblings between 1 and 100 are counts as well, not percentages.
    counts = any(p > 100.0 + 1e-9 for p in peaks.values())
    scaled_pct, scaled_cnt = [], []
    for s in ratio:
        peak = peaks[s.key]
        if s.key in raw_percent or (peak > 1.0 + 1e-9 and not counts):
            s.values = s.values / 100.0
            s.scale = "fraction"
            scaled_pct.append(s.key)
        elif peak > 1.0 + 1e-9:
            s.scale = "count"
            scaled_cnt.append(s.key)
        else:
            s.scale = "fraction"
    if scaled_pct:
        notes.append(
            f"{', '.join(scaled_pct)} logged in percent (0-100); rescaled to fractions (0-1)"
        )
    if scaled_cnt:
        notes.append(
            f"{', '.join(scaled_cnt)} exceed 100, so they look like counts of correct samples, not"
            " fractions; kept as logged (scale='count')"
        )


def build_curves(raw: RawRun, *, mapping: Mapping | None = None) -> Curves:
    """Normalise the names of a reader's raw series and return the ``Curves``.

    Raises:
        CurveFormatError: no series could be recognised, or an explicit key is missing.
    """
    if mapping:
        _apply_mapping(raw, mapping)
    notes = list(raw.notes)
    parsed: list[tuple[RawSeries, str, str, str]] = []
    ignored: list[str] = []
    for rs in raw.series:
        if rs.key in raw.forced:
            split, metric = raw.forced[rs.key]
            parsed.append((rs, split, metric, ""))
            continue
        found = normalise_key(rs.key)
        if found is None:
            ignored.append(rs.key)
            continue
        parsed.append((rs, *found))

    # Lightning on_step/on_epoch twins: the epoch aggregate wins, the per-batch twin is dropped.
    have_epoch = {(sp, m) for _, sp, m, suf in parsed if suf == "epoch"}
    dropped_twins = [rs.key for rs, sp, m, suf in parsed if suf == "step" and (sp, m) in have_epoch]
    parsed = [p for p in parsed if p[0].key not in dropped_twins]
    if dropped_twins:
        notes.append(
            f"used the *_epoch aggregates; ignored per-batch twins {', '.join(dropped_twins)}"
        )

    # Test series: dropped when a validation series exists (a test pass after training);
    # used as validation when they are all there is and were logged during training.
    tests = [p for p in parsed if p[1] == "test"]
    if tests:
        has_val = any(p[1] == "val" for p in parsed)
        during = max(np.unique(p[0].epochs).size for p in tests) > 1
        if has_val or not during:
            parsed = [p for p in parsed if p[1] != "test"]
            notes.append(
                f"ignored test-set series {', '.join(p[0].key for p in tests)} (not validation)"
            )
        else:
            parsed = [(rs, "val" if sp == "test" else sp, m, suf) for rs, sp, m, suf in parsed]
            notes.append(
                f"no validation series: test-set series {', '.join(p[0].key for p in tests)} logged"
                " during training are used as validation"
            )

    series: dict[tuple[str, str], Series] = {}
    raw_percent: set[str] = set()
    # forced entries first so that a mapping wins over an automatic name
    parsed.sort(key=lambda p: p[0].key not in raw.forced)
    for rs, split, metric, _suffix in parsed:
        if rs.values.size == 0:
            continue
        slot = (split, metric)
        if slot in series:
            alt = (split, slugify(rs.key))
            if alt in series:
                continue
            notes.append(
                f"{rs.key} maps to {split}/{metric} like {series[slot].key}; kept as {split}/{alt[1]}"
            )
            slot = alt
        series[slot] = Series(
            split=slot[0],
            metric=slot[1],
            key=rs.key,
            epochs=rs.epochs,
            values=rs.values,
            mode=raw.forced_modes.get(rs.key, mode_of(slot[1])),
        )
        if rs.percent:
            raw_percent.add(rs.key)
    averaged = [
        s.key for s in series.values() if any(rs.averaged for rs in raw.series if rs.key == s.key)
    ]
    if averaged:
        notes.append(f"{', '.join(averaged)} logged per batch; averaged within each epoch")
    if ignored:
        notes.append(f"ignored non-metric columns {', '.join(ignored)}")
    if not series:
        shown = ", ".join(raw.columns if raw.columns else [s.key for s in raw.series]) or "none"
        raise CurveFormatError(
            f"{raw.source}: no train or validation metric recognised (columns: {shown}); name them"
            " like 'loss'/'val_loss' or pass --train KEY --val KEY."
        )
    for split in ("train", "val"):
        ms = [m for (s, m) in series if s == split]
        if ms and "loss" not in ms:
            parts = [m for m in ms if "loss" in m]
            if len(parts) > 1:
                notes.append(
                    f"no total {split} loss: the components {', '.join(parts)} are kept as separate metrics"
                )
    _set_scales(series, raw_percent, notes)
    return Curves(
        series=series,
        format=raw.format,
        source=raw.source,
        run=raw.run,
        notes=notes,
        hparams=dict(raw.hparams),
    )


def join_epochs(key: str, points: np.ndarray, steps: np.ndarray, epochs: np.ndarray) -> RawSeries:
    """A per-step series put on epochs through a logged ``epoch`` series (TensorBoard, MLflow).

    ``points`` is an ``(n, 2)`` array of (step, value); ``steps``/``epochs`` say which epoch each
    logged step belongs to (sorted by step). Several points in one epoch are averaged.
    """
    pos = np.searchsorted(steps, points[:, 0], side="right") - 1
    epoch_of = epochs[np.clip(pos, 0, None)]
    uniq, inverse, counts = np.unique(epoch_of, return_inverse=True, return_counts=True)
    averaged = bool(counts.max() > 1)
    if averaged:
        values = np.bincount(inverse, weights=points[:, 1], minlength=uniq.size) / counts
    else:
        values = points[np.argsort(epoch_of, kind="stable"), 1]
    return RawSeries(key, uniq, values, averaged=averaged)
