"""``TuningSession``: one ``tune()`` run, step by step: prepare, baseline, search, result, refit.

``prepare`` reads and splits the data, resolves the stack, checks the model (one forward pass
and the loss, before any study or journal file exists), opens the study and picks the fold
mode. ``baseline`` cross-validates the user's current setup (the model with no added
regularization) on the same folds once per study: the configuration to beat. ``search`` runs
the staged search (``_staged``: stage 1, then one technique at a time) or one flat space.
``result`` compares the best stack found with the baseline on the same folds (``_compare``)
and keeps the baseline unless the stack is better beyond the fold noise; ``refit`` trains the
chosen configuration (and the baseline, with a test split) on all training data.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from typing import Any

from advisor.errors import ConfigError
from advisor.tuning._config import resolve_device
from advisor.tuning._cv import choose_folds_mode, cross_validate
from advisor.tuning._data import as_tensors
from advisor.tuning._folds_base import metric_info
from advisor.tuning._jobs import (
    START_S,
    JobsPlan,
    choose_jobs,
    gpu_step_probe,
    time_steps,
    torch_threads,
)
from advisor.tuning._loop import LoopTiming, TrialLoop
from advisor.tuning._refit import refit_and_test
from advisor.tuning._result import CVScore, TuneResult
from advisor.tuning._settings import TuneSettings
from advisor.tuning._space import (
    EMPTY_STACK,
    flat_params,
    full_stack,
    nested_params,
    resolve_stack,
    rules_stack,
    search_space,
)
from advisor.tuning._splits import holdout_split, make_folds
from advisor.tuning._staged import plan_stages, staged_search
from advisor.tuning._study import (
    TrialBudget,
    default_study_name,
    make_pruner,
    open_storage,
    open_study,
)
from advisor.tuning._summary import best_complete, build_result, score_of
from advisor.tuning._trials import TuneProgress
from advisor.tuning._validate import check_model
from advisor.tuning._workers import (
    StageJob,
    WorkerPool,
    WorkerSetup,
    available_cores,
    cannot_send,
    fresh_method,
    start_method,
    worker_storage,
)

__all__ = ["TuningSession"]


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
        self.studies: list[tuple[int, Any]] = []  # (stage, study) in the order they were run
        self.timing = LoopTiming()

    def run(self) -> TuneResult:
        """Prepare, cross-validate the baseline, search, compare, refit; the result."""
        with _quiet_optuna():
            return self._run()

    def _run(self) -> TuneResult:
        self.prepare()
        self.progress = TuneProgress(
            self.settings.progress,
            total=self.settings.n_trials,
            direction=self.direction,
            metric=self.metric,
            started=self.started,
        )
        try:  # the workers start in prepare(); whatever happens, they stop here
            with self.progress:
                self.progress.phase("baseline", f"your current setup, {self.settings.folds} folds")
                baseline = self.baseline()
                self.search()
                result = build_result(self, baseline)
                if self.settings.refit or self.test_idx is not None:
                    self.progress.phase("refit", "the chosen configuration on all training data")
                    refit_and_test(self, result, baseline)
        except BaseException:
            self._close_pool(clean=False)
            raise
        self._close_pool()
        result.elapsed_s = time.perf_counter() - self.started
        return result

    # ------------------------------------------------------------------------- prepare
    def prepare(self) -> None:
        """Read and split the data, check the model, open the study, plan the workers and
        the fold mode, and start the workers (before any trial)."""
        import numpy as np
        import torch

        s = self.settings
        dev = self.device = resolve_device(s.device)
        dataset = as_tensors(self.data, task=s.task, groups=s.groups)
        if s.test_size is None:
            self.train_idx, self.test_idx = np.arange(len(dataset)), None
        else:
            self.train_idx, self.test_idx = holdout_split(
                len(dataset), dataset.y.numpy(), s.task, s.test_size, s.seed
            )
        self.X_all, self.y_all = dataset.X.to(dev), dataset.y.to(dev)
        tr = torch.as_tensor(self.train_idx, device=dev)
        self.X, self.y = self.X_all[tr], self.y_all[tr]
        fold_groups = None if dataset.groups is None else dataset.groups[self.train_idx]
        self.fold_pairs, self.splitter = make_folds(
            self.y.cpu().numpy(), task=s.task, folds=s.folds, seed=s.seed, groups=fold_groups
        )
        self._choose_search()
        # Build the model, one forward pass, the loss on the labels: a broken factory or a shape
        # mismatch is one line here, before a study or a journal file exists.
        initial_params = nested_params(self.stack)
        check_model(self.model_fn, self.X, self.y, task=s.task, params=initial_params)
        self.metric, self.direction = metric_info(s.task)
        self._check_workers()  # before the study exists: the storage and the factory
        self.study = self._open_study(
            "", self.stack, enqueue=s.space == "rules" and not self.staged
        )
        self.studies = [] if self.staged else [(1, self.study)]
        self.jobs = self._plan_jobs(initial_params)
        self.mode, self.reason = self.jobs.mode, self.jobs.mode_reason
        self.cv_args = {
            "task": s.task,
            "config": self.config,
            "device": dev,
            "seed": s.seed,
            "mode": self.mode,
        }
        # Workers start now: they import torch and load the factory while the baseline trains,
        # here with a worker's threads: threads fighting the starting workers for the cores
        # would wait on each other at every parallel region.
        self.pool = self._launch_pool() if self.jobs.jobs > 1 else None
        self.threads_before = torch.get_num_threads()
        if self.pool is not None:
            torch.set_num_threads(self.jobs.threads)

    def _check_workers(self) -> None:
        """With n_jobs != 1: what storage workers open and whether they must be forked."""
        s = self.settings
        self.fork_note, self.workers_blocker = "", ""
        if s.n_jobs == 1:
            return
        try:
            self.worker_storage = worker_storage(s.storage)
            pruner = make_pruner(s.pruner, self.config.max_epochs)
            self.fork_note = cannot_send(self.model_fn, self.config, pruner, self.device)
        except ConfigError as exc:
            if s.n_jobs != "auto":
                raise
            self.workers_blocker = str(exc).split(";")[0].replace(" of tune", "")

    def _start_method(self, threads: int) -> str:
        return start_method(
            device=self.device,
            threads=threads,
            storage=self.settings.storage,
            must_fork=bool(self.fork_note),
        )

    def _plan_jobs(self, initial_params) -> JobsPlan:
        """Worker processes, threads each and the fold mode (timed at the workers' threads)."""
        import torch

        s, dev = self.settings, self.device

        def fold_mode(threads: int) -> tuple[str, str]:
            with torch_threads(threads):
                return choose_folds_mode(
                    self.model_fn, self.stack, initial_params, self.X, self.y, self.fold_pairs,
                    task=s.task, config=self.config, device=dev, seed=s.seed,
                )  # fmt: skip

        def step_time(threads: int, mode: str) -> float:
            with torch_threads(threads):
                return time_steps(
                    mode, self.model_fn, self.stack, initial_params, self.X, self.y,
                    self.fold_pairs, task=s.task, config=self.config, device=dev, seed=s.seed,
                )  # fmt: skip

        def gpu_probe(mode: str) -> tuple[float, int, int]:
            return gpu_step_probe(
                mode, self.model_fn, self.stack, initial_params, self.X, self.y, self.fold_pairs,
                task=s.task, config=self.config, device=dev, seed=s.seed,
            )  # fmt: skip

        largest_fold = max(len(tr) for tr, _ in self.fold_pairs)
        return choose_jobs(
            s.n_jobs,
            cores=available_cores(),
            n_trials=s.n_trials,
            steps_per_trial=self.config.max_epochs * -(-largest_fold // self.config.batch_size),
            fold_mode=fold_mode,
            step_time=step_time,
            method="fork" if self.fork_note else fresh_method(),
            method_note=self.fork_note,
            start_s=lambda threads: START_S[self._start_method(threads)],
            blocker=self.workers_blocker,
            gpu_probe=gpu_probe if dev.type == "cuda" else None,
            threads_now=torch.get_num_threads(),
        )

    def _choose_search(self) -> None:
        """The stack searched (flat) or the plan's stages (staged), and why."""
        s = self.settings
        self.stages = None
        if s.space == "full":
            self.stack = full_stack(s.task, input_ndim=self.X.ndim)
            self.search_note = "the full space has no stages: one flat search"
        else:
            plan = resolve_stack(s.stack)
            self.stack = rules_stack(plan, later_stages=s.later_stages)
            if s.search == "staged":
                self.stages = plan_stages(plan, s.later_stages)
            self.search_note = (
                "stage 1, then one technique at a time, kept only when it helps beyond noise"
                if self.stages is not None
                else "requested"
                if s.search == "flat"
                else "the stack has no stages (written by hand): one flat search"
            )
        self.staged = self.stages is not None
        self.search_mode = "staged" if self.staged else "flat"

    def _open_study(self, suffix: str, stack, *, enqueue: bool):
        """Open (or resume) the study ``<name><suffix>``; the advised values are its first trial."""
        s = self.settings
        if not hasattr(self, "storage"):
            self.storage, self.storage_desc = open_storage(s.storage)
            self.name = s.study_name or default_study_name(
                self.model_fn,
                self.X,
                s.task,
                s.folds,
                s.seed,
                f"{s.space}/{self.search_mode}",
                self.stack,
            )
        study_settings = {
            "task": s.task,
            "folds": s.folds,
            "seed": s.seed,
            "space": s.space,
            "search": self.search_mode,
            "sampler": s.sampler,
            "metric": metric_info(s.task)[0],
            "samples": int(self.X.shape[0]),
            "search_space": search_space(stack),
        }
        study, created = open_study(
            self.storage,
            self.name + suffix,
            metric_info(s.task)[1],
            s.seed,
            make_pruner(s.pruner, self.config.max_epochs),
            study_settings,
            s.resume and not suffix,
            sampler=s.sampler,
        )
        initial = flat_params(stack)
        if created and enqueue and initial:
            study.enqueue_trial(initial, skip_if_exists=True)
        return study

    # -------------------------------------------------------------- baseline and search
    def baseline(self) -> CVScore:
        """The user's current setup (no added regularization), same folds, same loop: the yardstick."""
        saved = self.study.user_attrs.get("advisor_baseline")
        if saved is None:
            base = cross_validate(
                self.model_fn, EMPTY_STACK, {}, self.X, self.y, self.fold_pairs, **self.cv_args
            )
            saved = {
                "cv_mean": base.mean,
                "cv_std": base.std,
                "fold_scores": base.scores,
                "fold_epochs": base.epochs,
            }
            self.study.set_user_attr("advisor_baseline", saved)
        self.baseline_score = CVScore.from_dict(saved)
        return self.baseline_score

    def search(self) -> None:
        """Run the staged or the flat search; sets the candidate (best stack found) and the path.

        With ``n_jobs`` > 1 the trials run in the worker processes ``prepare`` started
        (``_workers.WorkerPool``), the same ones for every stage.
        """
        self.progress.begin_trials(self._finished_pairs())
        if self.staged:
            self._search_staged()
        else:
            self._search_flat()
        self._close_pool()  # before the refit: the workers' memory is free again

    def _search_flat(self) -> None:
        self.timing.add(self._loop(self.study, self.stack, self.settings.n_trials))
        best = best_complete(self.study, self.direction, self.settings.n_trials)
        self.path = []
        self.candidate_stack = None if best is None else self.stack.with_params(best.params)
        self.candidate = None if best is None else score_of(best)
        self.candidate_params = {} if best is None else dict(best.params)
        self.candidate_trial = None if best is None else best.number

    def _search_staged(self) -> None:
        plan_stack, later = self.stages

        def run_stage(suffix: str, stack, trials: int):
            study = self._open_study("." + suffix, stack, enqueue=True)
            self.studies.append((len(self.studies) + 1, study))
            self.timing.add(self._loop(study, stack, trials))
            best = best_complete(study, self.direction, trials)
            if best is None:
                return None, {}, None
            return score_of(best), dict(best.params), best.number

        kept, kept_score, self.path = staged_search(
            plan_stack,
            later,
            n_trials=self.settings.n_trials,
            baseline=self.baseline_score,
            direction=self.direction,
            run_stage=run_stage,
        )
        if kept is not None:
            self.candidate_stack, self.candidate = kept, kept_score
        else:  # nothing beat the baseline: report the best step found, to say by how much
            tried = [p for p in self.path if p.best is not None]
            pick = max if self.direction == "maximize" else min
            top = pick(tried, key=lambda p: p.best.cv_mean) if tried else None
            self.candidate = None if top is None else top.best
            self.candidate_stack = None if top is None else top.stack
        self.candidate_params = flat_params(self.candidate_stack)
        self.candidate_trial = None

    def _loop(self, study, stack, n_trials: int) -> LoopTiming:
        """Train ``study``'s trials until ``n_trials`` are finished, here or in the workers."""
        s = self.settings
        self.progress.set_stage(self._stage_label(stack))
        deadline = None if s.timeout is None else self.started + s.timeout
        if self.pool is not None:
            self.pool.wait_ready()
            job = StageJob(
                study_name=study.study_name,
                stack=stack,
                n_trials=n_trials,
                seconds_left=None if deadline is None else deadline - time.perf_counter(),
                seeded=not any(t.state.is_finished() for t in study.get_trials(deepcopy=False)),
            )
            budget = TrialBudget(study, self.storage, n_trials, stale_after=s.stale_after)
            return self.pool.run(job, on_poll=self._show, reap=budget.reap_stale)
        loop = TrialLoop(
            study=study,
            storage=self.storage,
            stack=stack,
            n_trials=n_trials,
            model_fn=self.model_fn,
            X=self.X,
            y=self.y,
            fold_pairs=self.fold_pairs,
            cv_args=self.cv_args,
            stale_after=s.stale_after,
            deadline=deadline,
        )
        return loop.run(self._show)

    def _launch_pool(self) -> WorkerPool:
        import optuna

        s = self.settings
        setup = WorkerSetup(
            model_fn=self.model_fn,
            X=self.X,
            y=self.y,
            fold_pairs=self.fold_pairs,
            cv_args=self.cv_args,
            storage=self.worker_storage,
            sampler=s.sampler,
            seed=s.seed,
            pruner=make_pruner(s.pruner, self.config.max_epochs),
            stale_after=s.stale_after,
            threads=self.jobs.threads,
            verbosity=optuna.logging.get_verbosity(),
        )
        pool = WorkerPool(
            setup,
            self.jobs.jobs,
            method=self._start_method(self.jobs.threads),
            say=self._say,
            before_fork=self.progress_paused,
        )
        pool.launch()
        return pool

    def _close_pool(self, *, clean: bool = True) -> None:
        if getattr(self, "pool", None) is not None:
            import torch

            self.pool.close(clean=clean)
            self.pool = None
            torch.set_num_threads(self.threads_before)  # the refit has the cores to itself

    @contextlib.contextmanager
    def progress_paused(self):
        """The live display stopped (its thread holds no lock while a worker is forked)."""
        progress = getattr(self, "progress", None)
        with progress.paused() if progress is not None else contextlib.nullcontext():
            yield

    def _say(self, line: str) -> None:
        progress = getattr(self, "progress", None)
        if progress is not None:
            progress.say(line)
        else:
            print(line, file=sys.stderr, flush=True)

    def _stage_label(self, stack) -> str:
        if not self.staged:
            return ""
        stage, total = len(self.studies), 1 + len(self.stages[1])
        added = f" +{stack.pieces[-1].technique}" if stage > 1 and stack.pieces else ""
        return f"stage {stage}/{total}{added}"

    def _finished_pairs(self) -> list[tuple[int, Any]]:
        studies = self.studies or [(1, self.study)]
        return [(stage, t) for stage, st in studies for t in self._budget(st).finished()]

    def _show(self) -> None:
        self.progress.update(self._finished_pairs())

    def _budget(self, study) -> TrialBudget:
        return TrialBudget(study, self.storage, self.settings.n_trials)


@contextlib.contextmanager
def _quiet_optuna():
    """Optuna's INFO lines ("A new study created ...") are noise in a tool's output; a user who
    set Optuna's verbosity (``advisor tune -v`` sets DEBUG) keeps it."""
    import optuna

    level = optuna.logging.get_verbosity()
    if level == optuna.logging.INFO:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)
