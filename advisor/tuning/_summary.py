"""A finished session's :class:`TuneResult`: the comparison with the baseline, the trials, caveats.

The best stack found is compared with the baseline on the same folds (``_compare``); the
result keeps the baseline unless the stack is better beyond the fold noise. Importances are
reported only when they can mean something (``IMPORTANCE_MIN_TRIALS`` complete trials with
``IMPORTANCE_MIN_DISTINCT`` distinct scores and two or more parameters), with the reason when
they are omitted; identical scores across trials get a caveat.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from advisor.tuning._compare import paired_comparison
from advisor.tuning._result import CVScore, TuneResult
from advisor.tuning._space import empty_stack
from advisor.tuning._study import STATUS_ATTR, TrialBudget
from advisor.tuning._trials import trial_summary

__all__ = [
    "IMPORTANCE_MIN_DISTINCT",
    "IMPORTANCE_MIN_TRIALS",
    "best_complete",
    "build_result",
    "score_of",
]

IMPORTANCE_MIN_TRIALS = 8  # complete trials before fANOVA importances mean anything
IMPORTANCE_MIN_DISTINCT = 3  # distinct scores among them (identical scores explain nothing)


def build_result(session, baseline: CVScore) -> TuneResult:
    """The result of a session whose search has run (``TuningSession``'s state)."""
    s = session.settings
    studies = session.studies or [(1, session.study)]
    finished = finished_trials(studies, session.storage, s.n_trials)
    states = [t["state"] for t in finished]
    candidate = session.candidate
    comparison = None
    if candidate is not None and candidate.fold_scores:
        comparison = paired_comparison(
            candidate.fold_scores, baseline.fold_scores, direction=session.direction
        )
    beats = comparison is not None and comparison.beyond_noise
    importances, importances_note = param_importances(finished, studies[0])
    failures = [
        {"trial": t["number"], "stage": t["stage"], "state": t["state"].lower(),
         "reason": t["reason"]}
        for t in finished
        if t["state"] in ("FAIL", "PRUNED")
    ]  # fmt: skip
    return TuneResult(
        metric=session.metric,
        direction=session.direction,
        task=s.task,
        folds=s.folds,
        splitter=session.splitter,
        folds_mode=session.mode,
        folds_mode_reason=session.reason,
        jobs=session.jobs.jobs,
        jobs_reason=session.jobs.reason,
        space=s.space,
        search=session.search_mode,
        search_note=session.search_note,
        n_trials=len(finished),
        n_complete=states.count("COMPLETE"),
        n_pruned=states.count("PRUNED"),
        n_failed=states.count("FAIL"),
        n_interrupted=count_interrupted(studies),
        best_params=dict(session.candidate_params) if beats else {},
        best_stack=session.candidate_stack if beats else empty_stack(),
        best=candidate if beats else baseline,
        best_trial=session.candidate_trial if beats else None,
        baseline=baseline,
        candidate=candidate,
        candidate_stack=session.candidate_stack,
        candidate_params=dict(session.candidate_params),
        comparison=comparison,
        path=[p.to_dict() for p in session.path],
        importances=importances,
        importances_note=importances_note,
        caveats=caveats(finished),
        storage=session.storage_desc,
        study_name=session.name,
        device=str(session.device),
        elapsed_s=0.0,
        trials_wall_s=session.timing.wall,
        trials_train_s=session.timing.train,
        failures=failures,
        trials=[{k: v for k, v in t.items() if k != "reason"} for t in finished],
        train_config=session.config.to_dict(),
    )


def finished_trials(studies, storage, n_trials: int) -> list[dict[str, Any]]:
    """Every finished trial of every ``(stage, study)``, in the order run, numbered globally."""
    out = []
    for stage, study in studies:
        budget = TrialBudget(study, storage, n_trials)
        for t in sorted(budget.finished(), key=lambda t: t.number):
            row = trial_summary(t)
            row["stage"] = stage
            row["reason"] = t.user_attrs.get("fail_reason") or t.user_attrs.get("prune_reason", "")
            out.append(row)
    for i, row in enumerate(out):
        row["order"] = i
    return out


def count_interrupted(studies) -> int:
    """Trials a stopped run left behind (re-run when the study resumes)."""
    return sum(
        t.user_attrs.get(STATUS_ATTR) == "interrupted"
        for _, study in studies
        for t in study.get_trials(deepcopy=False)
    )


def caveats(finished: list[dict[str, Any]]) -> list[str]:
    """What the reader must know about the scores: identical scores explain nothing."""
    values = [t["value"] for t in finished if t["state"] == "COMPLETE"]
    if len(values) >= 2 and len(set(values)) == 1:
        return [
            f"all {len(values)} complete trials scored exactly {values[0]:.5g}: the searched "
            "parameters did not change the result on these folds"
        ]
    return []


def param_importances(finished, first) -> tuple[dict[str, float], str]:
    """fANOVA importances of the first ``(stage, study)``, only when they can mean something."""
    import optuna

    stage, study = first
    mine = [t for t in finished if t["stage"] == stage and t["state"] == "COMPLETE"]
    space = [k for k in (mine[0]["params"] if mine else {})]
    if len(space) < 2:
        return {}, "omitted: fewer than 2 parameters searched together"
    if len(mine) < IMPORTANCE_MIN_TRIALS:
        return {}, (
            f"omitted: {len(mine)} complete trials (at least {IMPORTANCE_MIN_TRIALS} needed)"
        )
    if len({t["value"] for t in mine}) < IMPORTANCE_MIN_DISTINCT:
        return {}, "omitted: the complete trials scored (almost) the same"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            raw = optuna.importance.get_param_importances(study)
        return {k: float(v) for k, v in raw.items()}, ""
    except (RuntimeError, ValueError, ZeroDivisionError) as exc:
        return {}, f"omitted: {str(exc).splitlines()[0][:120]}"


def score_of(trial) -> CVScore:
    """The cross-validated score an Optuna trial recorded."""
    return CVScore(
        float(trial.value),
        float(trial.user_attrs.get("cv_std", math.nan)),
        list(trial.user_attrs.get("fold_scores", [])),
        list(trial.user_attrs.get("fold_epochs", [])),
    )


def best_complete(study, direction: str, n_trials: int):
    """The best complete trial among a study's first ``n_trials`` finished ones, or None."""
    from optuna.trial import TrialState

    budget = TrialBudget(study, None, n_trials)
    complete = [t for t in budget.finished() if t.state == TrialState.COMPLETE]
    if not complete:
        return None
    pick = max if direction == "maximize" else min
    return pick(complete, key=lambda t: t.value)
