"""Staged search: the guide's practice (G4.1) as a search: start simple, add one technique at a time.

Stage 1 tunes the plan's first stage (the guide's baseline, L2 and early stopping, plus at
most one technique). Then each later technique of the plan, in plan order, is tuned *on top
of* the best stack so far, whose values are fixed, and kept only when its best trial beats the
stack so far beyond the fold noise (a paired comparison on the same folds, ``_compare``).
This is greedy forward selection (stepwise selection; Kohavi & John 1997, "Wrappers for
feature subset selection") with a fixed trial budget per step; inside a step, Optuna's TPE
sampler with the study's pruner. Each step is its own Optuna study in the same storage, so an
interrupted search resumes where it stopped and parallel workers share every step.

Budget: stage 1 gets ``STAGE1_SHARE`` of the trials (one trial when it has nothing to search);
the rest is split evenly over the later techniques, at least ``MIN_STAGE_TRIALS`` each; when
the budget cannot give every technique that many, the plan's first ones are tried and the
others are listed as not tried.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from advisor.tuning._compare import PairedComparison, paired_comparison
from advisor.tuning._result import CVScore
from advisor.tuning._space import centred_piece, empty_stack, search_space, split_stages

__all__ = [
    "MIN_STAGE_TRIALS",
    "STAGE1_SHARE",
    "StageOutcome",
    "plan_stages",
    "split_budget",
    "staged_search",
]

STAGE1_SHARE = 0.4  # of the trial budget, for stage 1 (it searches several parameters at once)
MIN_STAGE_TRIALS = 3  # trials a later technique needs: its advice, then two TPE proposals


@dataclass
class StageOutcome:
    """One step of the path: what was tried, its best CV score, and whether it was kept."""

    stage: int
    techniques: list[str]
    study_name: str
    budget: int
    best: CVScore | None = None
    params: dict[str, Any] = field(default_factory=dict)  # flat "technique.param" of its best
    trial: int | None = None
    comparison: PairedComparison | None = None  # against what was kept before this step
    kept: bool = False
    note: str = ""
    stack: Any = None  # the stack this step tried, at its best values (not in the JSON)

    def to_dict(self) -> dict[str, Any]:
        """The step as a JSON-ready dict (an item of the tune result's ``path``)."""
        return {
            "stage": self.stage,
            "techniques": list(self.techniques),
            "study": self.study_name,
            "budget": self.budget,
            "best": None if self.best is None else self.best.to_dict(),
            "params": dict(self.params),
            "trial": self.trial,
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
            "kept": self.kept,
            "note": self.note,
        }


def plan_stages(stack, later_stages: int | None = None) -> tuple[Any, list[Any]] | None:
    """Split an engine plan into (stage-1 stack, later pieces in plan order); None without stages.

    Each searched range is centred on the advised value (``centre_space``), as the flat rules
    space does. ``later_stages`` keeps only the plan's first N later techniques.
    """
    from advisor.regularizers import Stack

    stages = split_stages(stack)
    if stages is None:
        return None
    base, later = ([centred_piece(p) for p in part] for part in stages)
    if later_stages is not None:
        later = later[:later_stages]
    return Stack(pieces=tuple(base), version=stack.version), later


def split_budget(n_trials: int, stage1_searches: bool, candidates: int) -> tuple[int, list[int]]:
    """Trials for stage 1 and for each later technique tried (the plan's first ones).

    Example:
        >>> split_budget(20, True, 3)
        (8, [4, 4, 4])
        >>> split_budget(10, True, 5)
        (4, [3, 3])
    """
    first = max(MIN_STAGE_TRIALS, round(n_trials * STAGE1_SHARE)) if stage1_searches else 1
    first = min(first, n_trials)
    rest = n_trials - first
    k = min(candidates, rest // MIN_STAGE_TRIALS)
    if k == 0:
        return first + rest if stage1_searches else first, []
    return first, [rest // k + (1 if i < rest % k else 0) for i in range(k)]


def _fixed(stack, flat_params: dict[str, Any]):
    """``stack`` with a kept step's values (its ranges stay, for the stack JSON and the report)."""
    return stack.with_params(flat_params) if flat_params else stack


def _with(stack, piece, *, search_kept: bool = False):
    """The kept stack plus the new piece; the kept values are fixed (not searched again)."""
    from advisor.regularizers import Piece, Stack

    kept = tuple(
        p if search_kept else Piece(p.technique, dict(p.params), {}, dict(p.extra)) for p in stack
    )
    return Stack(pieces=(*kept, piece), version=stack.version)


def staged_search(
    plan_stack,
    later: list[Any],
    *,
    n_trials: int,
    baseline: CVScore,
    direction: str,
    run_stage: Callable[[str, Any, int], tuple[CVScore | None, dict[str, Any], int | None]],
) -> tuple[Any, CVScore | None, list[StageOutcome]]:
    """Run the stages; return (kept stack, its CV score or None for the baseline, the path).

    ``run_stage(suffix, stack, trials)`` tunes ``stack``'s search space in its own study
    (named by ``suffix``) for ``trials`` trials, the stack's advised values first, and returns
    the best trial's CV score, flat parameters and number (None when no trial completed).
    """
    first_budget, later_budgets = split_budget(n_trials, bool(search_space(plan_stack)), len(later))
    path: list[StageOutcome] = []
    current, current_score = None, None  # None: the user's setup (the baseline) so far
    step = StageOutcome(1, plan_stack.techniques, "s1", first_budget)
    step.best, step.params, step.trial = run_stage("s1", plan_stack, first_budget)
    step.stack = _fixed(plan_stack, step.params)
    _decide(step, baseline, direction)
    path.append(step)
    if step.kept:
        current, current_score = step.stack, step.best
    for i, piece in enumerate(later):
        suffix = f"s{i + 2}-{piece.technique}"
        if i >= len(later_budgets):
            path.append(
                StageOutcome(i + 2, [piece.technique], suffix, 0, note="not tried: budget spent")
            )
            continue
        base = current if current is not None else empty_stack()
        trial_stack = _with(base, piece)
        step = StageOutcome(i + 2, [piece.technique], suffix, later_budgets[i])
        best, params, trial = run_stage(suffix, trial_stack, later_budgets[i])
        step.best, step.params, step.trial = best, params, trial
        step.stack = _fixed(trial_stack, params)
        _decide(step, current_score or baseline, direction)
        path.append(step)
        if step.kept:
            current = _fixed(_with(base, piece, search_kept=True), params)
            current_score = best
    return current, current_score, path


def _decide(step: StageOutcome, reference: CVScore, direction: str) -> None:
    if step.best is None:
        step.note = "no trial completed"
        return
    step.comparison = paired_comparison(
        step.best.fold_scores, reference.fold_scores, direction=direction
    )
    step.kept = step.comparison.beyond_noise
    if not step.kept:
        step.note = "not better than the stack so far beyond noise"
