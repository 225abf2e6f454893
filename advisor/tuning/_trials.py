"""One Optuna trial of a tuning session, and how finished trials are summarised and shown.

``run_trial`` trains one trial's folds and tells Optuna the outcome: COMPLETE with the CV mean,
PRUNED at the epoch the pruner stopped it, or FAIL with the reason (NaN/inf loss, out of
memory, interrupted). A bug or a bad ``model_fn`` is recorded, then raised: every later trial
would fail the same way.
"""

from __future__ import annotations

import math
import time
from typing import Any

from advisor.tuning._cv import cross_validate
from advisor.tuning._folds_base import TrialDiverged
from advisor.tuning._space import suggest
from advisor.tuning._study import STATUS_ATTR

__all__ = ["describe_progress", "progress_bar", "run_trial", "trial_summary"]


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


def describe_progress(study, budget, direction) -> str:
    from optuna.trial import TrialState

    done = budget.finished()
    pruned = sum(t.state == TrialState.PRUNED for t in done)
    complete = [t.value for t in done if t.state == TrialState.COMPLETE]
    best = (max if direction == "maximize" else min)(complete) if complete else math.nan
    return f"best {best:.4f}  pruned {pruned}"


def progress_bar(enabled: Any):
    """A rich progress bar on stderr, or None (``"auto"``: only when stderr is a terminal)."""
    from rich.console import Console

    console = Console(stderr=True)  # messages go to stderr, results to stdout
    if enabled == "auto":
        enabled = console.is_terminal
    if not enabled:
        return None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]tune[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
