"""PyTorch Lightning callback: record the curves, warn when overfitting starts, save them.

``AdvisorCallback`` logs the epoch-level metrics Lightning already computed
(``trainer.callback_metrics``) into a ``Recorder`` at the end of every training epoch
(validation has run by then), diagnoses the run so far, and warns once when the verdict
turns to overfitting, with the epoch to stop at. With ``path=`` it saves the curves at the
end of ``fit`` in a CSV that ``advisor.load_curves`` and ``advisor diagnose`` read.

Importing this module imports ``lightning`` (the optional ``lightning`` extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_warn

from advisor.errors import AdvisorError, ConfigError
from advisor.report._recorder import Recorder

__all__ = ["AdvisorCallback"]


class AdvisorCallback(Callback):
    """Records epoch metrics, warns once when the live diagnosis says overfitting.

    Args:
        path: CSV file to save the curves to when ``fit`` ends (None: keep them in memory,
            read them with ``callback.recorder``).
        overwrite: replace ``path`` if it exists (refused by default).
        classes: number of classes, for the diagnosis' chance level.
        min_epochs: epochs logged before the first diagnosis (an int >= 2; earlier verdicts
            are noise).

    Example:
        >>> from advisor.report import AdvisorCallback
        >>> callback = AdvisorCallback(path="advisor_metrics.csv")
        >>> trainer = lightning.Trainer(max_epochs=30, callbacks=[callback])  # doctest: +SKIP
        >>> trainer.fit(model, datamodule)  # doctest: +SKIP
        >>> callback.recorder.diagnose().verdict  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        path: str | Path | None = None,
        overwrite: bool = False,
        classes: int | None = None,
        min_epochs: int = 3,
    ) -> None:
        if isinstance(min_epochs, bool) or not isinstance(min_epochs, int) or min_epochs < 2:
            raise ConfigError(
                f"min_epochs of AdvisorCallback must be an int >= 2, got {min_epochs!r}."
            )
        self.path = Path(path) if path is not None else None
        self.overwrite = overwrite
        self.min_epochs = min_epochs
        self.recorder = Recorder(classes=classes)
        self.recorder.monitor.min_epochs = max(self.recorder.monitor.min_epochs, min_epochs)
        self.warned_at: int | None = None  # epoch of the overfitting warning, once given
        self.last_verdict: str | None = None

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        """Record the epoch's metrics, warn on a live alert, and diagnose the run so far.

        Skipped during the sanity check; the verdict is kept in ``last_verdict`` once ``min_epochs``
        epochs are logged.
        """
        if getattr(trainer, "sanity_checking", False):
            return
        metrics = _epoch_metrics(trainer.callback_metrics)
        if not metrics:
            return
        epoch = int(trainer.current_epoch)
        self.recorder.log(epoch, **metrics)
        # The live warning: advisor.curves._online (one rule for Recorder, Lightning, HF Trainer).
        alert = self.recorder.watch()
        if alert is not None:
            if alert.kind == "overfitting" and self.warned_at is None:
                self.warned_at = epoch
            rank_zero_warn(alert.message)
        if self.recorder.n_epochs < self.min_epochs:
            return
        try:
            fit = self.recorder.diagnose()
        except AdvisorError:  # no validation metric logged (yet): nothing to judge
            return
        self.last_verdict = fit.verdict

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        """Save the curves to ``path`` (when given and something was logged), on rank zero only."""
        if (
            self.path is not None
            and self.recorder.n_epochs
            and getattr(trainer, "is_global_zero", True)
        ):
            self.recorder.save(self.path, overwrite=self.overwrite)

    def state_dict(self) -> dict[str, Any]:
        """The recorded rows, metric keys, warning epoch and alerts, for the checkpoint."""
        # Kept in the checkpoint so a resumed run continues the same curves.
        return {
            "rows": [dict(r) for r in self.recorder._rows],
            "keys": list(self.recorder._keys),
            "warned_at": self.warned_at,
            "alerts": [vars(a) for a in self.recorder.monitor.alerts],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` saved, so a resumed run continues the same curves."""
        self.recorder._rows = [dict(r) for r in state_dict.get("rows", [])]
        self.recorder._keys = list(state_dict.get("keys", []))
        self.warned_at = state_dict.get("warned_at")
        self.recorder.monitor.restore(state_dict.get("alerts", []))


def _epoch_metrics(callback_metrics: dict[str, Any]) -> dict[str, float]:
    """Scalar epoch-level metrics; Lightning's per-step twins (``*_step``) are left out."""
    from advisor.curves import normalise_key

    out: dict[str, float] = {}
    for key, value in callback_metrics.items():
        named = normalise_key(key)
        if named is None or named[2] == "step":
            continue
        if hasattr(value, "numel"):
            if value.numel() != 1:
                continue
            value = value.detach().float().cpu().item()
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        out[key] = number  # NaN/inf kept: the diagnosis reads them as divergence
    return out
