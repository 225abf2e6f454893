"""Recorder: learning curves for people who train in a plain Python loop.

``rec.log(epoch, train_loss=..., val_loss=..., val_acc=...)`` once per epoch builds the
same ``Curves`` a logger file would give, so ``rec.diagnose()`` gives the live fit verdict
and ``rec.save("metrics.csv")`` writes a CSV that ``advisor.load_curves`` reads back.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from advisor._display import Displayable
from advisor.errors import AdvisorError, ConfigError

__all__ = ["Recorder"]


def _as_float(key: str, value: Any) -> float:
    if hasattr(value, "item"):  # a 0-d torch tensor or numpy scalar
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(
            f"Recorder.log: metric {key!r} must be a number, got {type(value).__name__} {value!r}."
        )
    return float(value)


class Recorder(Displayable):
    """Collects per-epoch metrics in memory; diagnoses and saves them.

    Args:
        classes: number of classes, passed to the fit diagnosis (chance-level accuracy).
        warn: warn live (``warnings.warn``, one line, once per onset) when ``log`` sees the run
            start overfitting or diverge (``advisor.curves._online.LiveMonitor``).

    Example:
        >>> rec = Recorder()
        >>> for epoch in range(3):
        ...     rec.log(epoch, train_loss=1.0 / (epoch + 1), val_loss=1.2 / (epoch + 1))
        >>> rec.n_epochs
        3
        >>> rec.save("metrics.csv")  # doctest: +SKIP
    """

    def __init__(self, *, classes: int | None = None, warn: bool = False) -> None:
        from advisor.curves import LiveMonitor

        self.classes = classes
        self._rows: list[dict[str, Any]] = []
        self._keys: list[str] = []
        self.warn = warn
        self.monitor = LiveMonitor(
            classes=classes
        )  # live overfitting/divergence alerts (see watch())

    def log(self, epoch: int, **metrics: Any) -> None:
        """Record the metrics of one epoch.

        Calling ``log`` again with the same epoch adds to (or overwrites) that epoch's
        values, so training and validation metrics may be logged separately.

        Args:
            epoch: the epoch number, an int >= 0, not smaller than the last one logged.
            **metrics: numbers (Python, numpy or 0-d tensors), e.g. ``train_loss``,
                ``val_loss``, ``val_acc``. NaN is kept (the diagnosis reads divergence).

        Raises:
            ConfigError: for a bad epoch, no metric, or a value that is not a number.
        """
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ConfigError(f"Recorder.log: epoch must be an int >= 0, got {epoch!r}.")
        if not metrics:
            raise ConfigError(
                "Recorder.log: no metric given; pass e.g. log(epoch, train_loss=0.4, val_loss=0.5)."
            )
        values = {key: _as_float(key, value) for key, value in metrics.items()}
        last = self._rows[-1]["epoch"] if self._rows else None
        if last is not None and epoch < last:
            raise ConfigError(
                f"Recorder.log: epoch {epoch} is before the last epoch logged ({last}); log epochs in order."
            )
        if last == epoch:
            self._rows[-1].update(values)
        else:
            self._rows.append({"epoch": epoch, **values})
        for key in values:
            if key not in self._keys:
                self._keys.append(key)
        if self.warn:
            alert = self.watch()
            if alert is not None:
                import warnings

                warnings.warn(alert.message, UserWarning, stacklevel=2)

    def watch(self) -> Any:
        """The live alert due now (``LiveAlert``: overfitting onset or divergence), else ``None``.

        Call it after logging each epoch; each onset is reported once (``self.monitor.alerts``
        keeps them all).
        """
        return self.monitor.update(self.to_curves()) if self._rows else None

    @property
    def n_epochs(self) -> int:
        """How many epochs were logged."""
        return len(self._rows)

    @property
    def keys(self) -> list[str]:
        """The metric names logged, in first-seen order."""
        return list(self._keys)

    def history(self, key: str) -> list[float]:
        """The values of one metric, one per logged epoch (NaN where it was not logged)."""
        if key not in self._keys:
            raise ConfigError(
                f"Recorder.history: no metric {key!r} was logged; logged: {', '.join(self._keys) or 'none'}."
            )
        return [row.get(key, math.nan) for row in self._rows]

    def to_curves(self) -> Any:
        """The log as a ``Curves`` object (format ``"recorder"``)."""
        import numpy as np

        from advisor.curves import Curves, Series, mode_of, normalise_key

        series: dict[tuple[str, str], Series] = {}
        for key in self._keys:
            # The same name normalisation as the file readers, so a saved log read back with
            # load_curves gives the same series as the in-memory one.
            named = normalise_key(key)
            if named is None or named[0] not in ("train", "val"):
                continue  # bookkeeping (lr, step) or test metrics: saved, not curves
            split, metric, _suffix = named
            if (split, metric) in series:  # "loss" and "train_loss" both given: keep the first
                continue
            rows = [row for row in self._rows if key in row]
            series[(split, metric)] = Series(
                split=split,  # type: ignore[arg-type]
                metric=metric,
                key=key,
                epochs=np.array([row["epoch"] for row in rows], dtype=np.float64),
                values=np.array([row[key] for row in rows], dtype=np.float64),
                mode=mode_of(metric),  # type: ignore[arg-type]
            )
        return Curves(series=series, format="recorder")

    def diagnose(self, **kwargs: Any) -> Any:
        """The fit diagnosis of what was logged so far (``advisor.curves.diagnose_fit``).

        Keyword arguments are passed to ``diagnose_fit`` (``classes=`` defaults to the
        recorder's).
        """
        from advisor.curves import diagnose_fit

        if not self._rows:
            raise ConfigError(
                "Recorder.diagnose: nothing logged yet; call rec.log(epoch, ...) first."
            )
        kwargs.setdefault("classes", self.classes)
        return diagnose_fit(self.to_curves(), **kwargs)

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the log as CSV (``epoch,<metric>,...``) that ``advisor.load_curves`` reads.

        Args:
            path: the file to write.
            overwrite: replace an existing file (refused by default so a rerun does not
                destroy the curves of the previous one).

        Returns:
            The path written.
        """
        path = Path(path)
        if path.exists() and not overwrite:
            raise ConfigError(
                f"Recorder.save: {path} exists; pass overwrite=True or choose another path."
            )
        if not self._rows:
            raise ConfigError("Recorder.save: nothing logged yet; call rec.log(epoch, ...) first.")
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["epoch", *self._keys])
            for row in self._rows:
                writer.writerow([row["epoch"], *(_cell(row.get(key)) for key in self._keys)])
        return path

    def to_dict(self) -> dict[str, Any]:
        """``{"format": "recorder", "keys", "rows"}``: the metric names and one dict per epoch."""
        return {"format": "recorder", "keys": self.keys, "rows": [dict(row) for row in self._rows]}

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.text import Text

        yield Text(
            f"Recorder: {self.n_epochs} epochs of {', '.join(self._keys) or 'nothing yet'}",
            style="bold",
        )
        if self.n_epochs >= 2:
            try:
                yield self.diagnose()
            except AdvisorError as exc:  # e.g. no validation metric logged yet
                yield Text(f"no diagnosis yet: {exc}", style="dim")

    def __repr__(self) -> str:
        return f"Recorder(epochs={self.n_epochs}, keys={self._keys})"


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    return repr(value)  # round-trips exactly; "nan"/"inf" are read back by float()
