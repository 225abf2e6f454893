"""``TuneResult``: what ``advisor.tune`` hands back (best stack, CV scores, baseline, study facts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from advisor._display import Displayable

__all__ = ["CVScore", "TuneResult"]


@dataclass
class CVScore:
    """Cross-validated score of one configuration."""

    cv_mean: float
    cv_std: float
    fold_scores: list[float]
    fold_epochs: list[int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cv_mean": self.cv_mean,
            "cv_std": self.cv_std,
            "fold_scores": list(self.fold_scores),
            "fold_epochs": list(self.fold_epochs),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CVScore:
        return cls(
            float(d["cv_mean"]), float(d["cv_std"]), list(d["fold_scores"]), list(d["fold_epochs"])
        )


@dataclass
class TuneResult(Displayable):
    """Outcome of a study: the tuned stack against the unregularised baseline on the same folds.

    ``best_stack`` is an ``advisor.Stack`` (``best_stack.to_json()`` is loadable by
    ``advisor tune --stack`` and ``advisor.apply``); ``refit_model`` is the best stack trained on
    all training data when ``refit`` was asked for.
    """

    metric: str
    direction: str
    task: str
    folds: int
    splitter: str
    folds_mode: str
    folds_mode_reason: str
    space: str
    n_trials: int
    n_complete: int
    n_pruned: int
    n_failed: int
    n_interrupted: int
    best_params: dict[str, Any]
    best_stack: Any
    best: CVScore | None
    best_trial: int | None
    baseline: CVScore
    importances: dict[str, float]
    storage: str
    study_name: str
    device: str
    elapsed_s: float
    trials_wall_s: float
    trials_train_s: float
    failures: list[dict[str, Any]] = field(default_factory=list)
    trials: list[dict[str, Any]] = field(default_factory=list)
    test: dict[str, float] | None = None
    refit_path: str | None = None
    refit_epochs: int | None = None
    refit_model: Any = None
    train_config: dict[str, Any] = field(default_factory=dict)

    @property
    def improvement(self) -> float | None:
        """Best minus baseline CV mean, signed so that positive is better."""
        if self.best is None:
            return None
        delta = self.best.cv_mean - self.baseline.cv_mean
        return delta if self.direction == "maximize" else -delta

    @property
    def overhead_share(self) -> float | None:
        """Per-trial time outside training (Optuna, storage, bookkeeping) as a share of training time."""
        if self.trials_train_s <= 0:
            return None
        return max(self.trials_wall_s - self.trials_train_s, 0.0) / self.trials_train_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "direction": self.direction,
            "task": self.task,
            "folds": self.folds,
            "splitter": self.splitter,
            "folds_mode": self.folds_mode,
            "folds_mode_reason": self.folds_mode_reason,
            "space": self.space,
            "n_trials": self.n_trials,
            "n_complete": self.n_complete,
            "n_pruned": self.n_pruned,
            "n_failed": self.n_failed,
            "n_interrupted": self.n_interrupted,
            "best": None
            if self.best is None
            else {
                "trial": self.best_trial,
                "params": dict(self.best_params),
                "stack": self.best_stack.to_dict(),
                **self.best.to_dict(),
            },
            "baseline": self.baseline.to_dict(),
            "improvement": self.improvement,
            "importances": dict(self.importances),
            "failures": list(self.failures),
            "trials": list(self.trials),
            "test": self.test,
            "refit": None
            if self.refit_path is None and self.refit_epochs is None
            else {"path": self.refit_path, "epochs": self.refit_epochs},
            "storage": self.storage,
            "study_name": self.study_name,
            "device": self.device,
            "timing": {
                "elapsed_s": self.elapsed_s,
                "trials_wall_s": self.trials_wall_s,
                "trials_train_s": self.trials_train_s,
                "overhead_share": self.overhead_share,
            },
            "train": dict(self.train_config),
        }

    def __rich_console__(self, console, options):
        from rich.table import Table
        from rich.text import Text

        better = "higher" if self.direction == "maximize" else "lower"
        yield Text(f"advisor tune: study {self.study_name!r} ({self.storage})", style="bold")
        yield Text(
            f"{self.folds}-fold {self.splitter}, folds {self.folds_mode} ({self.folds_mode_reason}); "
            f"{self.n_trials} trials: {self.n_complete} complete, {self.n_pruned} pruned, {self.n_failed} failed"
            + (f", {self.n_interrupted} interrupted and re-run" if self.n_interrupted else "")
        )
        table = Table(title=f"cross-validated {self.metric} ({better} is better)", show_edge=False)
        table.add_column("configuration")
        table.add_column("CV mean", justify="right")
        table.add_column("CV std", justify="right")
        table.add_column("epochs per fold")
        table.add_row(
            "baseline (no added regularization)",
            f"{self.baseline.cv_mean:.4f}",
            f"{self.baseline.cv_std:.4f}",
            ", ".join(map(str, self.baseline.fold_epochs)),
        )
        if self.best is not None:
            table.add_row(
                f"best stack (trial {self.best_trial})",
                f"{self.best.cv_mean:.4f}",
                f"{self.best.cv_std:.4f}",
                ", ".join(map(str, self.best.fold_epochs)),
            )
        yield table
        if self.best is None:
            yield Text("no trial completed; see failures below", style="yellow")
        else:
            imp = self.improvement or 0.0
            style = "green" if imp > 0 else "yellow"
            yield Text(f"improvement over baseline: {imp:+.4f} {self.metric}", style=style)
            yield Text(
                "best params: " + ", ".join(f"{k}={_fmt(v)}" for k, v in self.best_params.items())
            )
        if self.importances:
            yield Text(
                "importances: " + ", ".join(f"{k} {v:.2f}" for k, v in self.importances.items())
            )
        if self.test:
            yield Text("held-out test " + ", ".join(f"{k} {_fmt(v)}" for k, v in self.test.items()))
        if self.refit_path:
            yield Text(
                f"refit on all training data ({self.refit_epochs} epochs) saved to {self.refit_path}"
            )
        for failure in self.failures[:5]:
            yield Text(
                f"trial {failure['trial']} {failure['state']}: {failure['reason']}", style="dim"
            )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
