"""``TuningSession``: one ``tune()`` run, step by step: prepare, baseline, trials, result, refit.

``prepare`` reads and splits the data, resolves the stack, checks the model (one forward pass
and the loss, before any study or journal file exists), opens the study and picks the fold
mode. ``baseline`` cross-validates the unregularized model on the same folds once per study.
``run_trials`` claims trials from the shared budget until it is spent (or the timeout), then
waits for other workers' last trials. ``result`` summarises the study; ``refit`` trains the
best stack (and the baseline, with a test split) on all training data.
"""

from __future__ import annotations

import math
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from advisor.errors import ConfigError
from advisor.tuning._config import resolve_device
from advisor.tuning._cv import choose_folds_mode, cross_validate
from advisor.tuning._data import as_tensors
from advisor.tuning._folds_base import metric_info
from advisor.tuning._refit import evaluate_model, fit_model
from advisor.tuning._result import CVScore, TuneResult
from advisor.tuning._settings import TuneSettings
from advisor.tuning._space import full_stack, resolve_stack, rules_stack, search_space
from advisor.tuning._splits import make_folds
from advisor.tuning._study import (
    STATUS_ATTR,
    TrialBudget,
    default_study_name,
    make_pruner,
    open_storage,
    open_study,
)
from advisor.tuning._trials import describe_progress, progress_bar, run_trial, trial_summary
from advisor.tuning._validate import check_model

__all__ = ["TuningSession"]

_EMPTY_STACK = {"version": 1, "pieces": []}


class TuningSession:
    """Runs one study for ``model_fn`` on ``data`` under ``settings``; :meth:`run` does it all."""

    def __init__(self, model_fn: Callable[..., Any], data: Any, settings: TuneSettings):
        if not callable(model_fn):
            raise ConfigError(
                f"model_fn of tune must be callable (returning an nn.Module), got {type(model_fn).__name__}."
            )
        self.model_fn, self.data, self.settings = model_fn, data, settings
        self.config = settings.config
        self.started = time.perf_counter()

    def run(self) -> TuneResult:
        self.prepare()
        baseline = self.baseline()
        trials_wall, trials_train = self.run_trials()
        result = self.result(baseline, trials_wall=trials_wall, trials_train=trials_train)
        if result.best is not None and (self.settings.refit or self.test_idx is not None):
            self.refit(result, baseline)
        result.elapsed_s = time.perf_counter() - self.started
        return result

    # ------------------------------------------------------------------------- prepare
    def prepare(self) -> None:
        import numpy as np
        import torch

        s = self.settings
        dev = self.device = resolve_device(s.device)
        dataset = as_tensors(self.data, task=s.task, groups=s.groups)
        if s.test_size is None:
            self.train_idx, self.test_idx = np.arange(len(dataset)), None
        else:
            self.train_idx, self.test_idx = _holdout(dataset, s.task, s.test_size, s.seed)
        self.X_all, self.y_all = dataset.X.to(dev), dataset.y.to(dev)
        tr = torch.as_tensor(self.train_idx, device=dev)
        self.X, self.y = self.X_all[tr], self.y_all[tr]
        fold_groups = None if dataset.groups is None else dataset.groups[self.train_idx]
        self.fold_pairs, self.splitter = make_folds(
            self.y.cpu().numpy(), task=s.task, folds=s.folds, seed=s.seed, groups=fold_groups
        )
        self.stack = (
            full_stack(s.task, input_ndim=self.X.ndim)
            if s.space == "full"
            else rules_stack(resolve_stack(s.stack), later_stages=s.later_stages)
        )
        # Build the model, one forward pass, the loss on the labels: a broken factory or a shape
        # mismatch is one line here, before a study or a journal file exists.
        initial_params = {p.technique: {k: p.params[k] for k in p.search_space} for p in self.stack}
        check_model(self.model_fn, self.X, self.y, task=s.task, params=initial_params)
        self.metric, self.direction = metric_info(s.task)
        self._open_study()
        self.mode, self.reason = choose_folds_mode(
            self.model_fn,
            self.stack,
            initial_params,
            self.X,
            self.y,
            self.fold_pairs,
            task=s.task,
            config=self.config,
            device=dev,
            seed=s.seed,
        )
        self.cv_args = {
            "task": s.task,
            "config": self.config,
            "device": dev,
            "seed": s.seed,
            "mode": self.mode,
        }

    def _open_study(self) -> None:
        s = self.settings
        self.storage, self.storage_desc = open_storage(s.storage)
        self.name = s.study_name or default_study_name(
            self.model_fn, self.X, s.task, s.folds, s.seed, s.space, self.stack
        )
        study_settings = {
            "task": s.task,
            "folds": s.folds,
            "seed": s.seed,
            "space": s.space,
            "metric": self.metric,
            "samples": int(self.X.shape[0]),
            "search_space": search_space(self.stack),
        }
        self.study, created = open_study(
            self.storage,
            self.name,
            self.direction,
            s.seed,
            make_pruner(s.pruner, self.config.max_epochs),
            study_settings,
            s.resume,
        )
        if created and s.space == "rules":
            initial = {
                f"{p.technique}.{k}": p.params[k] for p in self.stack for k in p.search_space
            }
            if initial:  # the engine's recommendation first
                self.study.enqueue_trial(initial, skip_if_exists=True)

    # -------------------------------------------------------------- baseline and trials
    def baseline(self) -> CVScore:
        """The unregularized model on the same folds with the same loop: the yardstick."""
        saved = self.study.user_attrs.get("advisor_baseline")
        if saved is None:
            base = cross_validate(
                self.model_fn, _EMPTY_STACK, {}, self.X, self.y, self.fold_pairs, **self.cv_args
            )
            saved = {
                "cv_mean": base.mean,
                "cv_std": base.std,
                "fold_scores": base.scores,
                "fold_epochs": base.epochs,
            }
            self.study.set_user_attr("advisor_baseline", saved)
        return CVScore.from_dict(saved)

    def _timed_out(self) -> bool:
        timeout = self.settings.timeout
        return timeout is not None and time.perf_counter() - self.started > timeout

    def run_trials(self) -> tuple[float, float]:
        """Train trials until the study's budget is spent; returns (wall, training) seconds."""
        s, study = self.settings, self.study
        self.budget = budget = TrialBudget(
            study, self.storage, s.n_trials, stale_after=s.stale_after
        )
        trials_wall = trials_train = 0.0
        bar = progress_bar(s.progress)
        task_id = None

        def show() -> None:
            if bar is not None:
                bar.update(
                    task_id,
                    completed=len(budget.finished()),
                    description=describe_progress(study, budget, self.direction),
                )

        if bar is not None:
            bar.start()
            task_id = bar.add_task("", total=s.n_trials, completed=len(budget.finished()))
        try:
            while not self._timed_out():
                budget.reap_stale()
                if budget.remaining() <= 0:
                    break
                t0 = time.perf_counter()
                trial = study.ask()
                if not budget.claim(trial):
                    break
                trials_train += run_trial(
                    trial,
                    study,
                    self.model_fn,
                    self.stack,
                    self.X,
                    self.y,
                    self.fold_pairs,
                    self.cv_args,
                )
                trials_wall += time.perf_counter() - t0
                show()
            # Other workers may still train the last slots: wait for them (or for their death
            # to be noticed), so that every worker reports the whole study.
            while budget.running_others() and not self._timed_out():
                time.sleep(1.0)
                budget.reap_stale()
                show()
        finally:
            if bar is not None:
                bar.stop()
        return trials_wall, trials_train

    # -------------------------------------------------------------------------- result
    def result(self, baseline: CVScore, *, trials_wall: float, trials_train: float) -> TuneResult:
        from optuna.trial import TrialState

        s, study = self.settings, self.study
        finished = self.budget.finished()
        all_trials = study.get_trials(deepcopy=False)
        complete = [t for t in finished if t.state == TrialState.COMPLETE]
        best_trial = None
        if complete:
            pick = max if self.direction == "maximize" else min
            best_trial = pick(complete, key=lambda t: t.value)
        failures = [
            {
                "trial": t.number,
                "state": t.state.name.lower(),
                "reason": t.user_attrs.get("fail_reason") or t.user_attrs.get("prune_reason", ""),
            }
            for t in finished
            if t.state in (TrialState.FAIL, TrialState.PRUNED)
        ]
        best = best_params = best_stack = None
        if best_trial is not None:
            best_params = dict(best_trial.params)
            best_stack = self.stack.with_params(best_params)
            best = CVScore(
                float(best_trial.value),
                float(best_trial.user_attrs.get("cv_std", math.nan)),
                list(best_trial.user_attrs.get("fold_scores", [])),
                list(best_trial.user_attrs.get("fold_epochs", [])),
            )
        return TuneResult(
            metric=self.metric,
            direction=self.direction,
            task=s.task,
            folds=s.folds,
            splitter=self.splitter,
            folds_mode=self.mode,
            folds_mode_reason=self.reason,
            space=s.space,
            n_trials=len(finished),
            n_complete=len(complete),
            n_pruned=sum(t.state == TrialState.PRUNED for t in finished),
            n_failed=sum(t.state == TrialState.FAIL for t in finished),
            n_interrupted=sum(t.user_attrs.get(STATUS_ATTR) == "interrupted" for t in all_trials),
            best_params=best_params or {},
            best_stack=best_stack if best_stack is not None else self.stack,
            best=best,
            best_trial=None if best_trial is None else best_trial.number,
            baseline=baseline,
            importances=self._importances(len(complete)),
            storage=self.storage_desc,
            study_name=self.name,
            device=str(self.device),
            elapsed_s=0.0,
            trials_wall_s=trials_wall,
            trials_train_s=trials_train,
            failures=failures,
            trials=[trial_summary(t) for t in sorted(finished, key=lambda t: t.number)],
            train_config=self.config.to_dict(),
        )

    def _importances(self, n_complete: int) -> dict[str, float]:
        import optuna

        if n_complete < 2 or not search_space(self.stack):
            return {}
        try:
            with warnings.catch_warnings():  # "importances will be equal" on tiny studies
                warnings.simplefilter("ignore", UserWarning)
                raw = optuna.importance.get_param_importances(self.study)
            return {k: float(v) for k, v in raw.items()}
        except (RuntimeError, ValueError, ZeroDivisionError):
            return {}  # e.g. every complete trial had the same parameters

    # --------------------------------------------------------------------------- refit
    def refit(self, result: TuneResult, baseline: CVScore) -> None:
        """Train the best stack on all training data (for the median of its folds' epochs);
        save it when ``refit`` is a path; score it and the refit baseline on the test split."""
        import torch

        s, config, dev = self.settings, self.config, self.device
        best = result.best
        assert best is not None
        epochs = (
            max(1, round(statistics.median(best.fold_epochs)))
            if best.fold_epochs
            else config.max_epochs
        )
        tr = torch.as_tensor(self.train_idx, device=dev)
        X_tr, y_tr = self.X_all[tr], self.y_all[tr]
        params = {
            t: {
                k.partition(".")[2]: v
                for k, v in result.best_params.items()
                if k.startswith(t + ".")
            }
            for t in result.best_stack.techniques
        }
        fit_args = {"task": s.task, "config": config, "device": dev, "seed": s.seed}
        model = fit_model(
            self.model_fn, result.best_stack, params, X_tr, y_tr, epochs=epochs, **fit_args
        )
        result.refit_epochs, result.refit_model = epochs, model
        if s.refit and not isinstance(s.refit, bool):
            path = Path(s.refit)
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)
            result.refit_path = str(path)
        if self.test_idx is not None:
            te = torch.as_tensor(self.test_idx, device=dev)
            X_te, y_te = self.X_all[te], self.y_all[te]
            base_epochs = max(baseline.fold_epochs) if baseline.fold_epochs else config.max_epochs
            base_model = fit_model(
                self.model_fn, _EMPTY_STACK, {}, X_tr, y_tr, epochs=base_epochs, **fit_args
            )
            result.test = {
                "best": evaluate_model(model, X_te, y_te, task=s.task, config=config),
                "baseline": evaluate_model(base_model, X_te, y_te, task=s.task, config=config),
                "samples": len(self.test_idx),
            }


def _holdout(data, task: str, test_size: float, seed: int):
    import numpy as np
    from sklearn.model_selection import train_test_split

    n = len(data)
    idx = np.arange(n)
    if task == "timeseries":  # the test block is the future: the last samples
        cut = n - max(1, round(n * test_size))
        return idx[:cut], idx[cut:]
    stratify = data.y.numpy() if task == "classification" else None
    tr, te = train_test_split(idx, test_size=test_size, random_state=seed, stratify=stratify)
    return np.sort(tr), np.sort(te)
