"""Early stopping: stop when a monitored metric has not improved for ``patience`` epochs.

Prechelt (1998), "Early Stopping - But When?": keep the weights of the best epoch and stop
after ``patience`` epochs without an improvement larger than ``min_delta``. The controller is
called once per epoch with a float (a validation value is read to the host once per epoch
anyway), so it works in a plain loop, in Lightning, per fold inside the tuner, and in the
code ``Stack.to_code()`` prints: one class, one set of rules:

- the first epoch always counts as an improvement (it is the best seen so far, whatever
  ``min_delta`` says);
- a later epoch improves when it beats the best by more than ``min_delta``;
- NaN is never an improvement and stops at once (a NaN validation value means training
  diverged; waiting ``patience`` more epochs only spends time), restoring the best weights.

Example:
    >>> stopper = EarlyStopping(patience=2)
    >>> [stopper.step(v) for v in [1.0, 0.9, 0.95, 0.97]]
    [False, False, False, True]
    >>> stopper.best, stopper.best_epoch
    (0.9, 1)
"""

from __future__ import annotations

import copy
import math
from typing import Any

from advisor._validation import check_choice, check_number
from advisor.errors import ConfigError

__all__ = ["EarlyStopping"]


class EarlyStopping:
    """Patience-based early stopping with optional restoring of the best weights.

    Args:
        monitor: Name of the metric (for messages and for ``step(dict)``).
        mode: ``"min"`` (loss) or ``"max"`` (accuracy).
        patience: Epochs without improvement before ``step`` returns True.
        min_delta: An improvement must exceed this to count.
        restore_best: Keep a copy of the best ``state_dict`` (when ``step`` gets the model)
            and load it back in :meth:`restore` (called automatically when stopping).
    """

    def __init__(
        self,
        *,
        monitor: str = "val_loss",
        mode: str = "min",
        patience: int = 10,
        min_delta: float = 0.0,
        restore_best: bool = True,
    ):
        patience = check_number("patience", patience, of="EarlyStopping", low=1, integer=True)
        check_choice("mode", mode, ("min", "max"), of="EarlyStopping")
        check_number("min_delta", min_delta, of="EarlyStopping", low=0)
        self.monitor = monitor
        self.mode = mode
        self.patience = patience
        self.min_delta = float(min_delta)
        self.restore_best = restore_best
        self.reset()

    def reset(self) -> None:
        """Forget the history (e.g. before the next fold)."""
        self.best: float = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int = -1
        self.epoch: int = -1
        self.bad_epochs: int = 0
        self.stopped: bool = False
        self.best_state: dict[str, Any] | None = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def step(self, value: Any, model: Any = None) -> bool:
        """Record one epoch's value; return True when training should stop.

        Args:
            value: The monitored value (float, 0-d tensor, or a dict holding ``monitor``).
                The first value always improves; NaN never does and stops at once.
            model: If given and ``restore_best``, the best weights are kept (a detached copy
                on the same device) and restored into it when stopping.
        """
        if isinstance(value, dict):
            if self.monitor not in value:
                raise ConfigError(
                    f"EarlyStopping monitors {self.monitor!r}, but the metrics given hold "
                    f"{', '.join(map(str, value)) or 'nothing'}; set monitor= to one of them."
                )
            value = value[self.monitor]
        value = float(value)
        self.epoch += 1
        diverged = math.isnan(value)
        if not diverged and (self.best_epoch < 0 or self._improved(value)):
            self.best, self.best_epoch, self.bad_epochs = value, self.epoch, 0
            if model is not None and self.restore_best:
                self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1
        self.stopped = diverged or self.bad_epochs >= self.patience
        if self.stopped and model is not None and self.restore_best:
            self.restore(model)
        return self.stopped

    __call__ = step

    def restore(self, model: Any) -> bool:
        """Load the best weights seen into ``model``; return False if none were kept."""
        if self.best_state is None:
            return False
        model.load_state_dict(copy.copy(self.best_state))
        return True

    @property
    def improved(self) -> bool:
        """True when the last :meth:`step` was a new best (read it to record that epoch)."""
        return self.epoch >= 0 and self.best_epoch == self.epoch

    def state_dict(self) -> dict[str, Any]:
        """The counters: ``best``, ``best_epoch``, ``epoch``, ``bad_epochs`` and ``stopped``.

        The best weights kept for ``restore_best`` are not included.
        """
        return {
            k: getattr(self, k) for k in ("best", "best_epoch", "epoch", "bad_epochs", "stopped")
        }

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, mode={self.mode!r}, patience={self.patience}, "
            f"min_delta={self.min_delta}, restore_best={self.restore_best})"
        )
