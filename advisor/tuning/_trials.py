"""One Optuna trial of a tuning session, and how finished trials are summarised and shown.

``run_trial`` trains one trial's folds and tells Optuna the outcome: COMPLETE with the CV mean,
PRUNED at the epoch the pruner stopped it, or FAIL with the reason (NaN/inf loss, out of
memory, interrupted). A bug or a bad ``model_fn`` is recorded, then raised: every later trial
would fail the same way.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Iterator
from typing import Any

from advisor.tuning._cv import cross_validate
from advisor.tuning._folds_base import TrialDiverged
from advisor.tuning._space import suggest
from advisor.tuning._study import STATUS_ATTR

__all__ = ["TuneProgress", "describe_progress", "progress_bar", "run_trial", "trial_summary"]


def run_trial(trial, study, model_fn, stack, X, y, fold_pairs, cv_args) -> float:
    """Train one trial; tell Optuna its outcome. Returns the seconds spent training."""
    import optuna
    import torch
    from optuna.trial import TrialState

    params = suggest(trial, stack)
    trial_stack = stack.with_params(params)
    last_beat = [time.time()]

    def on_epoch(epoch: int, mean: float) -> None:
        trial.report(mean, epoch)
        if time.time() - last_beat[0] > 5.0:  # heartbeat for other workers' stale-trial check
            trial.set_user_attr("advisor_heartbeat", time.time())
            last_beat[0] = time.time()
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {epoch} (CV mean {mean:.4g})")

    t0 = time.perf_counter()
    try:
        outcome = cross_validate(
            model_fn, trial_stack, params, X, y, fold_pairs, on_epoch=on_epoch, **cv_args
        )
    except optuna.TrialPruned as exc:
        trial.set_user_attr("prune_reason", str(exc))
        study.tell(trial, state=TrialState.PRUNED)
        return time.perf_counter() - t0
    except TrialDiverged as exc:
        trial.set_user_attr("fail_reason", f"diverged: {exc}")
        study.tell(trial, state=TrialState.FAIL)
        return time.perf_counter() - t0
    except torch.OutOfMemoryError as exc:
        trial.set_user_attr("fail_reason", f"out of memory: {str(exc).splitlines()[0][:200]}")
        study.tell(trial, state=TrialState.FAIL)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return time.perf_counter() - t0
    except KeyboardInterrupt:
        trial.set_user_attr(STATUS_ATTR, "interrupted")
        trial.set_user_attr("fail_reason", "interrupted by the user")
        study.tell(trial, state=TrialState.FAIL)
        raise
    except BaseException as exc:
        if isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower():
            trial.set_user_attr("fail_reason", f"out of memory: {str(exc).splitlines()[0][:200]}")
            study.tell(trial, state=TrialState.FAIL)
            return time.perf_counter() - t0
        # A bug or a bad model_fn: record it, then stop (every later trial would fail the same way).
        trial.set_user_attr(
            "fail_reason",
            f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
        )
        study.tell(trial, state=TrialState.FAIL)
        raise
    spent = time.perf_counter() - t0
    trial.set_user_attr("cv_std", outcome.std)
    trial.set_user_attr("fold_scores", outcome.scores)
    trial.set_user_attr("fold_epochs", outcome.epochs)
    trial.set_user_attr("folds_mode", outcome.mode)
    study.tell(trial, outcome.mean)
    return spent


def trial_summary(t) -> dict[str, Any]:
    """One finished trial for the JSON output and the report's optimisation history."""
    value = t.value
    if value is None and t.intermediate_values:  # pruned: the CV mean it was stopped at
        value = t.intermediate_values[max(t.intermediate_values)]
    return {
        "number": t.number,
        "state": t.state.name,
        "value": value,
        "params": dict(t.params),
        "fold_scores": t.user_attrs.get("fold_scores"),
        "fold_epochs": t.user_attrs.get("fold_epochs"),
        "epochs": max(t.intermediate_values) if t.intermediate_values else None,
    }


def describe_progress(done: list, direction: str) -> str:
    """``best 0.9512  pruned 3`` over the finished trials ``done``."""
    from optuna.trial import TrialState

    pruned = sum(t.state == TrialState.PRUNED for t in done)
    best = _best(done, direction)
    return f"best {best:.4f}  pruned {pruned}"


def _best(done: list, direction: str) -> float:
    from optuna.trial import TrialState

    complete = [t.value for t in done if t.state == TrialState.COMPLETE]
    return (max if direction == "maximize" else min)(complete) if complete else math.nan


def progress_bar(enabled: Any):
    """A rich progress display on stderr, or None (``"auto"``: only when stderr is a terminal).

    One line per phase (baseline, trials, refit), each with its elapsed time; the trials line
    has the stage, the best score so far and an ETA once a trial of this run has finished.
    """
    from rich.console import Console

    console = Console(stderr=True)  # messages go to stderr, results to stdout
    if enabled == "auto":
        enabled = console.is_terminal
    if not enabled:
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.fields[phase]}[/]"),
        BarColumn(),
        _count_column(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        _eta_column(),
        console=console,
        transient=False,
    )


def _count_column():
    """``n/N`` for the trials; nothing for a phase whose length is not known."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class CountColumn(ProgressColumn):
        def render(self, task) -> Text:
            if task.fields.get("phase", "").startswith("trials") and task.total:
                return Text(f"{int(task.completed)}/{int(task.total)}", style="progress.download")
            return Text("")

    return CountColumn()


def _eta_column():
    """Time left from the task's ``eta_at`` field (a ``time.perf_counter()`` instant)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class EtaColumn(ProgressColumn):
        def render(self, task) -> Text:
            eta_at = task.fields.get("eta_at")
            if task.finished or eta_at is None:
                return Text("")
            return Text(f"ETA {_clock(max(0.0, eta_at - time.perf_counter()))}", style="cyan")

    return EtaColumn()


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class TuneProgress:
    """What a user sees on stderr while ``tune()`` runs.

    On a terminal (``enabled="auto"`` or True) a live display: one line per phase (baseline,
    trials with the stage of a staged search, refit) and, for the trials, n/N, the best score
    so far and an ETA from the trials finished in this run. Without a terminal (``"auto"``),
    one log line per finished trial: ``tune: trial 3/20 (stage 1) accuracy 0.9512, best
    0.9601, 0:00:42 elapsed``. False: nothing.
    """

    def __init__(self, enabled: Any, *, total: int, direction: str, metric: str, started: float):
        self.bar = progress_bar(enabled)
        self.log = self.bar is None and enabled == "auto"
        self.total, self.direction, self.metric, self.started = total, direction, metric, started
        self.task: Any = None
        self.phase_name = ""
        self.stage = ""
        self.seen: set[tuple[int, int]] = set()
        self.trials_t0 = 0.0
        self.done_before = 0

    def __enter__(self) -> TuneProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self._end_phase()
        if self.bar is not None:
            self.bar.stop()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the live display (and its refresh thread) for the block, then go on."""
        if self.bar is None:
            yield
            return
        self.bar.stop()
        try:
            yield
        finally:
            self.bar.start()

    def say(self, line: str) -> None:
        """A message above the live display (or a plain stderr line)."""
        if self.bar is not None:
            self.bar.console.print(line, highlight=False, markup=False)
        else:
            print(line, file=sys.stderr, flush=True)

    def phase(self, name: str, description: str) -> None:
        """Start a phase (``baseline``, ``refit``) whose length is not known."""
        self._end_phase()
        self.phase_name = name
        if self.bar is not None:
            self.task = self.bar.add_task(description, total=None, phase=name, eta_at=None)
        elif self.log:
            self.say(f"tune: {name}: {description}")

    def begin_trials(self, finished: list[tuple[int, Any]]) -> None:
        """The trials phase; ``finished`` (stage, trial) pairs were finished before this run."""
        self._end_phase()
        self.phase_name = "trials"
        self.seen = {(stage, t.number) for stage, t in finished}
        self.done_before, self.trials_t0 = len(finished), time.perf_counter()
        if self.bar is not None:
            self.task = self.bar.add_task(
                "", total=self.total, completed=len(finished), phase="trials", eta_at=None
            )

    def set_stage(self, label: str) -> None:
        """``stage 2/4 +dropout`` of a staged search (shown beside the trials phase)."""
        self.stage = label
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, phase=f"trials, {label}" if label else "trials")

    def update(self, finished: list[tuple[int, Any]]) -> None:
        """Every finished (stage, trial) pair so far, over all stages; shows what is new."""
        trials = [t for _, t in finished]
        if self.bar is not None and self.task is not None:
            done_now = len(finished) - self.done_before
            eta_at = None
            if done_now > 0:
                now = time.perf_counter()
                per_trial = (now - self.trials_t0) / done_now
                eta_at = now + per_trial * max(0, self.total - len(finished))
            self.bar.update(
                self.task,
                completed=len(finished),
                description=describe_progress(trials, self.direction),
                eta_at=eta_at,
            )
        if not self.log:
            return
        new = [(stage, t) for stage, t in finished if (stage, t.number) not in self.seen]
        new.sort(key=lambda p: (p[1].datetime_complete is None, p[1].datetime_complete))
        for stage, t in new:
            self.seen.add((stage, t.number))
            done = [u for u in trials if u.datetime_complete and t.datetime_complete and (
                u.datetime_complete <= t.datetime_complete)]  # fmt: skip
            self.say(self._line(len(self.seen), stage, t, done))

    def _line(self, n: int, stage: int, t, done: list) -> str:
        from optuna.trial import TrialState

        if t.state == TrialState.COMPLETE:
            outcome = f"{self.metric} {t.value:.4f}"
        elif t.state == TrialState.PRUNED:
            outcome = "pruned" + (
                f" at epoch {max(t.intermediate_values)}" if t.intermediate_values else ""
            )
        else:
            outcome = "failed: " + str(t.user_attrs.get("fail_reason", ""))[:80]
        where = f" (stage {stage})" if self.stage else ""
        best = _best(done, self.direction)
        return (
            f"tune: trial {n}/{self.total}{where} {outcome}, "
            f"best {best:.4f}, {_clock(time.perf_counter() - self.started)} elapsed"
        )

    def _end_phase(self) -> None:
        if self.bar is not None and self.task is not None:
            task = self.task
            if self.phase_name != "trials":
                self.bar.update(task, total=1, completed=1)
            self.bar.update(task, eta_at=None)
            self.bar.stop_task(task)
        self.task = None
