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
        """``cv_mean``, ``cv_std``, ``fold_scores`` and ``fold_epochs`` as a JSON-ready dict."""
        return {
            "cv_mean": self.cv_mean,
            "cv_std": self.cv_std,
            "fold_scores": list(self.fold_scores),
            "fold_epochs": list(self.fold_epochs),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CVScore:
        """Rebuild a score from its ``to_dict()``."""
        return cls(
            float(d["cv_mean"]), float(d["cv_std"]), list(d["fold_scores"]), list(d["fold_epochs"])
        )


@dataclass
class TuneResult(Displayable):
    """Outcome of a study: the best stack found against the user's current setup on the same folds.

    ``best`` / ``best_stack`` is the configuration to use: the best stack found (``candidate``)
    when it beats the baseline beyond the fold noise (``comparison``, paired over the folds),
    else the baseline (an empty stack: keep the current setup). ``best_stack.to_json()`` is
    loadable by ``advisor tune --stack`` and ``advisor.apply``. ``path`` is the staged search's
    steps (technique tried, best CV score, kept or not). ``refit_model`` is ``best`` trained on
    all training data when ``refit`` was asked for; ``test`` holds the held-out scores.
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
    search: str = "flat"
    search_note: str = ""
    candidate: CVScore | None = None
    candidate_stack: Any = None
    candidate_params: dict[str, Any] = field(default_factory=dict)
    comparison: Any = None  # PairedComparison of candidate vs baseline
    path: list[dict[str, Any]] = field(default_factory=list)
    importances_note: str = ""
    caveats: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    trials: list[dict[str, Any]] = field(default_factory=list)
    test: dict[str, float] | None = None
    refit_path: str | None = None
    refit_epochs: int | None = None
    refit_model: Any = None
    train_config: dict[str, Any] = field(default_factory=dict)
    jobs: int = 1  # worker processes that trained the trials (1: this process)
    jobs_reason: str = ""

    @property
    def beats_baseline(self) -> bool:
        """Whether the best stack found beats the current setup beyond the fold noise."""
        return self.comparison is not None and self.comparison.beyond_noise

    @property
    def improvement(self) -> float | None:
        """Best stack found minus baseline, mean over paired folds, signed so that positive is better."""
        return None if self.comparison is None else self.comparison.mean

    @property
    def improvement_se(self) -> float | None:
        """Standard error of :attr:`improvement` over the paired folds."""
        return None if self.comparison is None else self.comparison.se

    @property
    def test_delta(self) -> float | None:
        """Held-out test score of the chosen configuration minus the baseline's (positive: better)."""
        if not self.test:
            return None
        delta = self.test["best"] - self.test["baseline"]
        return delta if self.direction == "maximize" else -delta

    @property
    def overhead_share(self) -> float | None:
        """Per-trial time outside training (Optuna, storage, bookkeeping) as a share of training time."""
        if self.trials_train_s <= 0:
            return None
        return max(self.trials_wall_s - self.trials_train_s, 0.0) / self.trials_train_s

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict (what ``advisor tune --format json`` prints)."""
        return {
            "metric": self.metric,
            "direction": self.direction,
            "task": self.task,
            "folds": self.folds,
            "splitter": self.splitter,
            "folds_mode": self.folds_mode,
            "folds_mode_reason": self.folds_mode_reason,
            "jobs": self.jobs,
            "jobs_reason": self.jobs_reason,
            "space": self.space,
            "search": self.search,
            "search_note": self.search_note,
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
            "beats_baseline": self.beats_baseline,
            "candidate": None
            if self.candidate is None
            else {
                "params": dict(self.candidate_params),
                "stack": None if self.candidate_stack is None else self.candidate_stack.to_dict(),
                **self.candidate.to_dict(),
            },
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
            "improvement": self.improvement,
            "improvement_se": self.improvement_se,
            "path": list(self.path),
            "importances": dict(self.importances),
            "importances_note": self.importances_note,
            "caveats": list(self.caveats),
            "failures": list(self.failures),
            "trials": list(self.trials),
            "test": self.test,
            "test_delta": self.test_delta,
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
        from advisor.tuning._result_view import render_tune_result

        yield from render_tune_result(self)
