"""The learning-curve data model every part of advisor consumes.

A ``Curves`` object holds one training run: for each (split, metric) pair one
``Series`` aligned to epochs. Readers (``_readers_*.py``) produce it; the fit
diagnosis, the CI gate, the rules engine and the plots read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from advisor._display import Displayable

__all__ = ["HIGHER_IS_BETTER", "Curves", "Series", "Split"]

Split = Literal["train", "val"]

# Normalised metric names whose larger values are better; every other metric
# (loss, error, perplexity, mae ...) is "min".
HIGHER_IS_BETTER = frozenset(
    {
        "accuracy",
        "top1",
        "top5",
        "f1",
        "auc",
        "precision",
        "recall",
        "map",
        "map50",
        "pearson",
        "spearman",
        "r2",
        "iou",
        "dice",
        "bleu",
        "rouge",
    }
)


@dataclass
class Series:
    """One metric of one split, one value per epoch.

    Attributes:
        split: ``"train"`` or ``"val"``.
        metric: normalised name (``"loss"``, ``"accuracy"``, ``"f1"`` ...).
        key: the name as logged (``"val_loss_epoch"``, ``"eval/loss"`` ...).
        epochs: the epoch of each point as logged (float: HF logs fractional epochs).
        values: float64 values; NaN/inf are kept as logged (the diagnosis reads them).
        mode: ``"min"`` (lower is better) or ``"max"``.
        scale: for accuracy-like metrics, ``"fraction"``, ``"percent"`` or ``"count"``
            when it could be told; ``None`` otherwise.
    """

    split: Split
    metric: str
    key: str
    epochs: np.ndarray
    values: np.ndarray
    mode: Literal["min", "max"] = "min"
    scale: str | None = None

    def __post_init__(self) -> None:
        self.epochs = np.asarray(self.epochs, dtype=np.float64)
        self.values = np.asarray(self.values, dtype=np.float64)
        if self.epochs.shape != self.values.shape or self.values.ndim != 1:
            raise ValueError(
                f"Series {self.key!r}: epochs and values must be 1-D of equal length, "
                f"got {self.epochs.shape} and {self.values.shape}."
            )

    def __len__(self) -> int:
        return int(self.values.size)

    @property
    def finite(self) -> np.ndarray:
        """Boolean mask of finite values."""
        return np.isfinite(self.values)

    def to_dict(self) -> dict[str, Any]:
        """The series as a JSON-ready dict (``epochs`` and ``values`` as lists)."""
        return {
            "split": self.split,
            "metric": self.metric,
            "key": self.key,
            "mode": self.mode,
            "scale": self.scale,
            "epochs": self.epochs.tolist(),
            "values": self.values.tolist(),
        }


@dataclass
class Curves(Displayable):
    """The learning curves of one training run.

    Attributes:
        series: ``{(split, metric): Series}``.
        format: the reader that produced it (``"lightning"``, ``"keras-csv"``,
            ``"keras-json"``, ``"hf-trainer"``, ``"tensorboard"``, ``"ultralytics"``,
            ``"text-log"``, ``"fastai"``, ``"csv"``, ``"json"``, ``"mlflow"`` (a run of an
            MLflow file store, SQLite store or ``"mlflow:<tracking uri>#<run>"``),
            ``"recorder"``).
        source: the file read (``None`` for curves built in memory).
        run: the run's label when a file or directory holds several (``"version_3"``,
            ``"run 2 of 4"``), else ``None``.
        notes: what the reader had to handle, in words a user can check
            ("dropped the test-only row at epoch 33", "accuracy in percent, rescaled").
        hparams: hyper-parameters logged beside the curves (hparams.yaml, grid columns).
    """

    series: dict[tuple[str, str], Series]
    format: str
    source: Path | None = None
    run: str | None = None
    notes: list[str] = field(default_factory=list)
    hparams: dict[str, Any] = field(default_factory=dict)

    def get(self, split: str, metric: str) -> Series | None:
        """The ``Series`` of ``split`` and normalised ``metric``, or ``None`` when not logged."""
        return self.series.get((split, metric))

    def metrics(self, split: str) -> list[str]:
        """The normalised metric names logged for ``split``, in the order they were read."""
        return [m for (s, m) in self.series if s == split]

    @property
    def train_loss(self) -> Series | None:
        """The training loss series, or ``None`` when none was logged."""
        return self.get("train", "loss")

    @property
    def val_loss(self) -> Series | None:
        """The validation loss series, or ``None`` when none was logged."""
        return self.get("val", "loss")

    @property
    def n_epochs(self) -> int:
        """The number of points of the longest series (0 without series)."""
        return max((len(s) for s in self.series.values()), default=0)

    def to_dict(self, *, values: bool = True) -> dict[str, Any]:
        """The curves as a JSON-ready dict.

        Keys ``format``, ``source``, ``run``, ``notes``, ``hparams`` and ``series`` (one dict per
        series); ``values=False`` leaves each series' ``epochs`` and ``values`` out.
        """
        out: dict[str, Any] = {
            "format": self.format,
            "source": str(self.source) if self.source else None,
            "run": self.run,
            "notes": list(self.notes),
            "hparams": self.hparams,
            "series": [
                s.to_dict()
                if values
                else {k: v for k, v in s.to_dict().items() if k not in ("epochs", "values")}
                for s in self.series.values()
            ],
        }
        return out
