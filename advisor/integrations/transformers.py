"""Hugging Face ``Trainer`` callback: record the logs, warn live on overfitting or divergence.

``AdvisorCallback`` keeps every dict the Trainer logs (``on_log``: ``loss``, ``eval_loss``,
``eval_accuracy`` ... with their ``epoch``), turns them into ``Curves`` with the same reader
that reads ``trainer_state.json``, and after each evaluation asks the live rule
(``advisor.curves._online.LiveMonitor``, shared with ``Recorder`` and the Lightning callback)
whether to warn: one line through ``warnings.warn`` and the ``advisor`` logger, once per onset.

Importing this module imports ``transformers`` (the optional extra ``transformers``).
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from typing import Any

from advisor.errors import ConfigError, CurveFormatError

try:
    from transformers import TrainerCallback
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "advisor.integrations.transformers needs the transformers package; install it with"
        " pip install 'regularization-advisor[transformers]'."
    ) from None

__all__ = ["AdvisorCallback"]

logger = logging.getLogger("advisor")


class AdvisorCallback(TrainerCallback):
    """Records the Trainer's logs and warns live when the run overfits or diverges.

    Args:
        classes: number of classes, for ``diagnose()``'s chance level.
        warn: emit the live warning (``warnings.warn`` + the ``advisor`` logger); the alerts
            are kept in ``callback.alerts`` either way.
        path: a ``trainer_state.json``-style file to write the recorded logs to when training
            ends (``advisor diagnose`` and ``advisor.load_curves`` read it); None: keep in memory.

    Attributes:
        history: the dicts logged so far (each with ``epoch`` and ``step``).
        alerts: the ``LiveAlert`` objects given so far.
        warned_at: epoch of the first overfitting warning, or None.

    Example:
        >>> from advisor.integrations.transformers import AdvisorCallback
        >>> callback = AdvisorCallback(classes=2)
        >>> trainer = Trainer(model, args, callbacks=[callback], ...)  # doctest: +SKIP
        >>> trainer.train()  # doctest: +SKIP
        >>> callback.diagnose().verdict  # doctest: +SKIP
        'overfitting'
    """

    def __init__(
        self, *, classes: int | None = None, warn: bool = True, path: str | Path | None = None
    ) -> None:
        from advisor.curves import LiveMonitor

        if classes is not None and (
            isinstance(classes, bool) or not isinstance(classes, int) or classes < 2
        ):
            raise ConfigError(f"classes of AdvisorCallback must be an int >= 2, got {classes!r}.")
        self.classes = classes
        self.warn = warn
        self.path = Path(path) if path is not None else None
        self.history: list[dict[str, Any]] = []
        self.monitor = LiveMonitor()
        self.warned_at: float | None = None

    @property
    def alerts(self) -> list[Any]:
        """The ``LiveAlert`` objects given so far, oldest first."""
        return self.monitor.alerts

    # -- Trainer events ----------------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Start over (history, alerts, warning) on a fresh run; a resumed run keeps them."""
        if not getattr(state, "log_history", None):  # a fresh run (not a resume): start over
            self.history.clear()
            self.monitor.reset()
            self.warned_at = None

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Record the Trainer's log dict, with its ``epoch`` and ``step``.

        On the main process, after an evaluation (or at once on a non-finite loss), the live rule
        judges the curves so far; a new alert is kept in ``alerts`` and warned about when ``warn``.
        """
        if not logs:
            return
        entry = {k: _scalar(v) for k, v in logs.items()}
        entry.setdefault("epoch", state.epoch)
        entry["step"] = state.global_step
        self.history.append(entry)
        if not getattr(state, "is_world_process_zero", True):
            return
        has_eval = any(k.startswith("eval_") for k in entry)
        nonfinite = any(
            "loss" in k and isinstance(v, float) and not math.isfinite(v) for k, v in entry.items()
        )
        if not (has_eval or nonfinite):
            return  # judged after each evaluation (and at once on a non-finite loss)
        try:
            curves = self.curves
        except CurveFormatError:  # nothing recognisable logged yet
            return
        alert = self.monitor.update(curves)
        if alert is None:
            return
        if alert.kind == "overfitting" and self.warned_at is None:
            self.warned_at = alert.epoch
        if self.warn:
            logger.warning(alert.message)
            warnings.warn(alert.message, UserWarning, stacklevel=2)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Write the recorded logs to ``path`` as ``{"log_history": [...]}``, when ``path`` is set.

        Only the main process writes.
        """
        if self.path is not None and self.history and getattr(state, "is_world_process_zero", True):
            import json

            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(
                json.dumps({"log_history": self.history}, indent=1, allow_nan=True),
                encoding="utf-8",
            )

    # -- results -----------------------------------------------------------------------------
    @property
    def curves(self) -> Any:
        """The logs so far as ``Curves`` (format ``"hf-trainer"``, as read from trainer_state.json)."""
        from advisor.curves import trainer_log_curves

        if not self.history:
            raise CurveFormatError(
                "AdvisorCallback: nothing logged yet; train with logging_strategy and eval_strategy"
                " set so the Trainer logs losses."
            )
        return trainer_log_curves(self.history)

    def diagnose(self, **kwargs: Any) -> Any:
        """The fit diagnosis of the logs so far (``advisor.curves.diagnose_fit``)."""
        from advisor.curves import diagnose_fit

        kwargs.setdefault("classes", self.classes)
        return diagnose_fit(self.curves, **kwargs)


def _scalar(value: Any) -> Any:
    if hasattr(value, "item"):
        try:
            return float(value.item())
        except (TypeError, ValueError):
            return value
    return value
