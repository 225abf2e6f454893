"""Cross-validation of one configuration: train every fold, score it, pick the fold mode.

``cross_validate`` drives either fold mode epoch by epoch, feeds each fold's validation value
to that fold's ``EarlyStopping`` (the one ``advisor.apply`` built from the stack: the same
class and rules users get) and reports the mean over folds after every epoch, so a pruner can
stop the trial. ``choose_folds_mode`` decides between vectorised and sequential folds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from advisor.errors import ConfigError
from advisor.tuning._config import TrainConfig
from advisor.tuning._folds_base import TrialDiverged, as_stack, build_model
from advisor.tuning._folds_sequential import SequentialFolds
from advisor.tuning._folds_vectorised import VectorizedFolds

__all__ = ["CVOutcome", "build_folds_trainer", "choose_folds_mode", "cross_validate"]

# Monitors that name the validation loss; any other monitor watches the task's metric.
_LOSS_MONITORS = ("val_loss", "loss")


@dataclass
class CVOutcome:
    """Result of cross-validating one configuration."""

    # validation metric per fold (at the best epoch when early stopping restores it)
    scores: list[float]
    epochs: list[int]  # per fold: the epoch (1-based) the score was taken at
    epochs_run: int  # epochs the longest fold trained
    mode: str
    history: list[float] = field(default_factory=list)  # mean over folds after every epoch

    @property
    def mean(self) -> float:
        """The mean score over folds."""
        return float(sum(self.scores) / len(self.scores))

    @property
    def std(self) -> float:
        """The standard deviation of the fold scores (population: divided by K, not K - 1)."""
        m = self.mean
        return float(math.sqrt(sum((s - m) ** 2 for s in self.scores) / len(self.scores)))


class _FoldScore:
    """One fold's score: at the epoch its early stopping keeps (``restore_best``), else the last.

    ``stopper`` is the fold's ``EarlyStopping`` from ``advisor.apply`` (None without the piece).
    """

    def __init__(self, stopper: Any):
        self.stopper = stopper
        self.on_loss = stopper is not None and stopper.monitor in _LOSS_MONITORS
        self.best = self.last = (math.nan, 0)

    @property
    def active(self) -> bool:
        return self.stopper is None or not self.stopper.stopped

    def update(self, epoch: int, loss: float, score: float) -> None:
        self.last = (score, epoch)
        if self.stopper is not None:
            self.stopper.step(loss if self.on_loss else score)
            if self.stopper.improved:
                self.best = (score, epoch)

    def result(self) -> tuple[float, int]:
        if self.stopper is not None and self.stopper.restore_best:
            return self.best
        return self.last


def build_folds_trainer(mode: str, *args, **kwargs):
    """``VectorizedFolds`` for ``mode="vectorized"``, else ``SequentialFolds``, given the rest."""
    return (VectorizedFolds if mode == "vectorized" else SequentialFolds)(*args, **kwargs)


def cross_validate(
    model_fn,
    stack,
    params: dict[str, dict[str, Any]],
    X,
    y,
    folds,
    *,
    task: str,
    config: TrainConfig,
    device,
    seed: int,
    mode: str,
    on_epoch: Callable[[int, float], None] | None = None,
) -> CVOutcome:
    """Train and validate every fold of one configuration; ``on_epoch(epoch, mean)`` may prune.

    The fold score is the validation metric at the epoch early stopping picked (its best epoch
    when ``restore_best``), else after the last epoch. A non-finite validation value fails the
    trial (``TrialDiverged``) before it reaches early stopping.
    """
    stack = as_stack(stack)
    trainer = build_folds_trainer(
        mode,
        model_fn,
        stack,
        params,
        X,
        y,
        folds,
        task=task,
        config=config,
        device=device,
        seed=seed,
    )
    fold_scores = [_FoldScore(stopper) for stopper in trainer.stoppers]
    history: list[float] = []
    epochs_run = 0
    for epoch in range(1, config.max_epochs + 1):
        active = [f.active for f in fold_scores]
        if not any(active):
            break
        trainer.train_epoch(active)
        epochs_run = epoch
        for f, res in enumerate(trainer.evaluate(active)):
            if res is not None:
                loss, score = res
                if not (math.isfinite(loss) and math.isfinite(score)):
                    raise TrialDiverged(
                        f"validation loss became non-finite in fold {f + 1} at epoch {epoch}"
                    )
                fold_scores[f].update(epoch, loss, score)
        mean = sum(f.result()[0] for f in fold_scores) / len(fold_scores)
        history.append(mean)
        if on_epoch is not None:
            on_epoch(epoch, mean)
    results = [f.result() for f in fold_scores]
    return CVOutcome(
        scores=[r[0] for r in results],
        epochs=[r[1] for r in results],
        epochs_run=epochs_run,
        mode=trainer.mode,
        history=history,
    )


def choose_folds_mode(
    model_fn, stack, params, X, y, folds, *, task, config: TrainConfig, device, seed: int
) -> tuple[str, str]:
    """Pick ``vectorized`` or ``sequential`` and say why (never slower than sequential).

    Rules: a custom ``train_step`` runs per module; recurrent layers (fused kernels vmap cannot
    batch) and any model a one-step ``vmap`` probe fails on (e.g. data-dependent control flow)
    run sequentially; on a CPU a timed probe of a few steps both ways keeps the faster; on a GPU
    the folds are latency-bound, so vectorising wins and is used.
    """
    import torch

    stack = as_stack(stack)
    requested = config.folds_mode
    if config.train_step is not None:
        if requested == "vectorized":
            raise ConfigError(
                "folds_mode='vectorized' cannot run a custom train_step; use 'sequential' or 'auto'."
            )
        return "sequential", "a custom train_step trains each fold's module itself"
    if requested == "sequential":
        return "sequential", "requested"
    if requested == "auto":
        probe_model = build_model(model_fn, params)
        modules = list(probe_model.modules())
        rnn = next((type(m).__name__ for m in modules if isinstance(m, torch.nn.RNNBase)), None)
        if rnn:
            return (
                "sequential",
                f"vmap cannot batch the fused {rnn} kernel, so each fold trains on its own",
            )

    def make(mode: str):
        return build_folds_trainer(
            mode, model_fn, stack, params, X, y, folds, task=task, config=config, device=device,
            seed=seed,
        )  # fmt: skip

    try:
        trainer = make("vectorized")
        trainer.train_epoch([True] * len(folds), max_steps=1)
        trainer.evaluate([True] * len(folds))
    except (RuntimeError, NotImplementedError, TypeError, ValueError) as exc:
        if requested == "vectorized":
            raise ConfigError(
                f"folds_mode='vectorized' failed for this model: {str(exc).splitlines()[0]}; use 'auto' or 'sequential'."
            ) from exc
        return (
            "sequential",
            f"vmap cannot batch this model ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})",
        )
    if requested == "vectorized":
        return "vectorized", "requested"
    if device.type == "cpu":
        # On a CPU the gain depends on the model, the core count and the load (conv nets went
        # from 1.0x on one thread to 1.7x on two): time a few steps both ways and keep the faster.
        t_vec, t_seq = _timed_steps(trainer), _timed_steps(make("sequential"))
        if t_vec >= t_seq:
            return (
                "sequential",
                f"timed probe: sequential {1000 * t_seq:.0f} ms vs vectorized {1000 * t_vec:.0f} ms per step of all folds",
            )
        return (
            "vectorized",
            f"timed probe: vectorized {1000 * t_vec:.0f} ms vs sequential {1000 * t_seq:.0f} ms per step of all folds",
        )
    return "vectorized", f"vmap probe passed; {len(folds)} folds train as one batched ensemble"


def _timed_steps(trainer, steps: int = 3) -> float:
    """Seconds per training step of all folds (after one warm-up step), best of two rounds."""
    import time

    active = [True] * len(trainer.train_sets)
    trainer.train_epoch(active, max_steps=1)
    best = math.inf
    for _ in range(2):
        t0 = time.perf_counter()
        trainer.train_epoch(active, max_steps=steps)
        best = min(best, (time.perf_counter() - t0) / steps)
    return best
