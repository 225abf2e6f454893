"""The trial loop of one study: claim a slot of the shared budget, train the trial, repeat.

``TrialLoop`` holds everything one worker needs to train trials of one study (the model
factory, the training data and folds, the stack whose space is searched, the study and its
budget). ``run`` claims trials until the budget is spent or the deadline passes, then waits
for other workers' last trials, so that every worker sees the whole study when it returns.
Staged search runs one loop per stage; parallel workers run the same loop in each process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from advisor.tuning._study import TrialBudget
from advisor.tuning._trials import run_trial

__all__ = ["LoopTiming", "TrialLoop"]

WAIT_POLL_S = 1.0  # how often a worker looks at other workers' running trials


@dataclass
class LoopTiming:
    """Seconds this worker spent: from ask to tell (``wall``) and training inside it (``train``)."""

    wall: float = 0.0
    train: float = 0.0

    def add(self, other: LoopTiming) -> None:
        """Add another loop's seconds (a later stage, another worker) to these."""
        self.wall += other.wall
        self.train += other.train


@dataclass
class TrialLoop:
    """Trains trials of ``study`` (searching ``stack``'s space) until ``n_trials`` are finished."""

    study: Any
    storage: Any
    stack: Any
    n_trials: int
    model_fn: Callable[..., Any]
    X: Any
    y: Any
    fold_pairs: list
    cv_args: dict[str, Any]
    stale_after: float = 600.0
    deadline: float | None = None  # time.perf_counter() after which no new trial starts

    def budget(self) -> TrialBudget:
        """The study's trial budget as it stands in the storage now (shared by all workers)."""
        return TrialBudget(self.study, self.storage, self.n_trials, stale_after=self.stale_after)

    def timed_out(self) -> bool:
        """Whether tune()'s timeout has passed (no new trial starts then)."""
        return self.deadline is not None and time.perf_counter() > self.deadline

    def run(self, on_finished: Callable[[], None] | None = None) -> LoopTiming:
        """Claim and train trials; ``on_finished()`` after each (and while waiting for others).

        When the budget is spent but another worker still trains a slot, wait: if that worker
        dies, its trial is reaped (marked interrupted) and the freed slot is trained here, so
        no slot is lost with its worker.
        """
        budget, timing = self.budget(), LoopTiming()
        notify = on_finished or (lambda: None)
        while not self.timed_out():
            budget.reap_stale()
            if budget.remaining() > 0:
                t0 = time.perf_counter()
                trial = self.study.ask()
                try:
                    if not budget.claim(trial):
                        continue
                    timing.train += run_trial(
                        trial,
                        self.study,
                        self.model_fn,
                        self.stack,
                        self.X,
                        self.y,
                        self.fold_pairs,
                        self.cv_args,
                    )
                except KeyboardInterrupt:  # also between ask and training: never left RUNNING
                    budget.interrupt(trial, "interrupted by the user")
                    raise
                timing.wall += time.perf_counter() - t0
                notify()
                continue
            if not budget.running_others():
                break
            time.sleep(WAIT_POLL_S)
            notify()
        return timing
