"""Honest tuning results: the baseline is the trial to beat, staged search keeps only what helps."""

from __future__ import annotations

import json

import pytest
from rich.console import Console
from tune_models import blobs, tiny_mlp

from advisor.regularizers import Stack
from advisor.tuning import TrainConfig, tune
from advisor.tuning._compare import NOISE_FACTOR, paired_comparison
from advisor.tuning._result import CVScore
from advisor.tuning._staged import MIN_STAGE_TRIALS, plan_stages, split_budget, staged_search

FAST = TrainConfig(max_epochs=2, batch_size=32)


# ------------------------------------------------------------------ paired comparison
def test_a_consistent_gain_is_beyond_noise_and_a_noisy_one_is_not():
    steady = paired_comparison([0.91, 0.86, 0.88], [0.90, 0.85, 0.87], direction="maximize")
    assert steady.mean == pytest.approx(0.01) and steady.beyond_noise
    noisy = paired_comparison([0.95, 0.80, 0.90], [0.90, 0.85, 0.87], direction="maximize")
    assert noisy.mean > 0 and not noisy.beyond_noise
    same = paired_comparison([0.9, 0.8], [0.9, 0.8], direction="maximize")
    assert same.mean == 0 and same.se == 0 and not same.beyond_noise


def test_lower_is_better_for_errors_and_worse_is_detected():
    better = paired_comparison([0.10, 0.20, 0.15], [0.12, 0.22, 0.17], direction="minimize")
    assert better.mean == pytest.approx(0.02) and better.beyond_noise
    worse = paired_comparison([0.14, 0.24, 0.19], [0.12, 0.22, 0.17], direction="minimize")
    assert worse.worse_beyond_noise and not worse.beyond_noise
    assert "paired over 3 folds" in better.describe("mse") and better.factor == NOISE_FACTOR


def test_paired_comparison_needs_the_same_folds():
    with pytest.raises(ValueError, match="same non-zero number of folds"):
        paired_comparison([0.9], [0.9, 0.8], direction="maximize")


# ------------------------------------------------------------------------ budget
@pytest.mark.parametrize(
    ("n", "searches", "k", "expected"),
    [
        (20, True, 3, (8, [4, 4, 4])),
        (10, True, 5, (4, [3, 3])),
        (3, True, 4, (3, [])),
        (7, False, 2, (1, [3, 3])),
        (21, True, 2, (8, [7, 6])),
    ],
)
def test_budget_split(n, searches, k, expected):
    first, later = split_budget(n, searches, k)
    assert (first, later) == expected
    assert first + sum(later) <= n and all(b >= MIN_STAGE_TRIALS for b in later)


# ---------------------------------------------------------------- staged search
def _range(name):
    return {name: {"type": "float", "low": 0.0, "high": 0.5}}


def _plan():
    stack = Stack.from_dict(
        {
            "version": 1,
            "pieces": [
                {"technique": "early_stopping", "stage": 1},
                {"technique": "l2", "stage": 1, "search_space": _range("weight_decay")},
                {"technique": "dropout", "stage": 2, "search_space": _range("p")},
                {"technique": "label_smoothing", "stage": 3, "search_space": _range("smoothing")},
            ],
        }
    )
    return plan_stages(stack)


def test_plan_stages_splits_stage_one_from_the_later_techniques_in_plan_order():
    first, later = _plan()
    assert first.techniques == ["early_stopping", "l2"]
    assert [p.technique for p in later] == ["dropout", "label_smoothing"]
    assert plan_stages(Stack.of("l2", "dropout")) is None  # hand-written: no stages


def test_staged_search_keeps_a_technique_only_when_it_beats_the_stack_so_far():
    first, later = _plan()
    baseline = CVScore(0.80, 0.01, [0.80, 0.79, 0.81], [5, 5, 5])
    scores = {
        "s1": [0.84, 0.83, 0.85],  # beats the baseline steadily: kept
        "s2-dropout": [0.845, 0.82, 0.86],  # mixed against stage 1: rejected
        "s3-label_smoothing": [0.86, 0.85, 0.87],  # beats stage 1 steadily: kept
    }
    seen = {}

    def run_stage(suffix, stack, trials):
        seen[suffix] = (stack.techniques, trials, {p.technique: p.search_space for p in stack})
        s = scores[suffix]
        return CVScore(sum(s) / 3, 0.01, s, [5, 5, 5]), {}, 0

    kept, score, path = staged_search(
        first, later, n_trials=14, baseline=baseline, direction="maximize", run_stage=run_stage
    )
    assert [step.kept for step in path] == [True, False, True]
    assert kept.techniques == ["early_stopping", "l2", "label_smoothing"]
    assert score.fold_scores == scores["s3-label_smoothing"]
    # A later stage searches only its new technique; what was kept is fixed.
    techniques, trials, spaces = seen["s3-label_smoothing"]
    assert techniques == ["early_stopping", "l2", "label_smoothing"]
    assert spaces["l2"] == {} and spaces["label_smoothing"]
    assert trials >= MIN_STAGE_TRIALS
    assert path[1].note.startswith("not better than the stack so far")


def test_staged_search_that_never_beats_the_baseline_keeps_nothing():
    first, later = _plan()
    baseline = CVScore(0.80, 0.0, [0.80, 0.80, 0.80], [5, 5, 5])

    def run_stage(suffix, stack, trials):
        return CVScore(0.80, 0.0, [0.80, 0.80, 0.80], [5, 5, 5]), {}, 0

    kept, score, path = staged_search(
        first, later, n_trials=3, baseline=baseline, direction="maximize", run_stage=run_stage
    )
    assert path[0].budget == 3  # too few trials for any later technique: stage 1 gets them all
    assert kept is None and score is None and not any(step.kept for step in path)
    assert [step.note for step in path[1:]] == ["not tried: budget spent"] * 2


# --------------------------------------------------------- the result a user reads
def _tune(tmp_path, **kw):
    args = {
        "task": "classification",
        "n_trials": 3,
        "folds": 3,
        "storage": str(tmp_path / "s.journal"),
        "train": FAST,
        "progress": False,
        "pruner": "none",
    }
    args.update(kw)
    return tune(tiny_mlp, blobs(), **args)


def _text(result) -> str:
    console = Console(width=200, record=True)
    console.print(result)
    return console.export_text()


def test_a_stack_that_changes_nothing_keeps_the_current_setup_and_says_so(tmp_path):
    # Early stopping with a patience longer than the run changes nothing: every trial scores
    # exactly the baseline. The verdict must keep the current setup, first, with a caveat.
    stack = {
        "version": 1,
        "pieces": [
            {
                "technique": "early_stopping",
                "params": {"patience": 50, "restore_best": False},
                "search_space": {"patience": {"type": "int", "low": 40, "high": 60}},
            }
        ],
    }
    result = _tune(tmp_path, stack=stack, test_size=0.25)
    assert not result.beats_baseline and result.best_stack.techniques == []
    assert result.best.cv_mean == result.baseline.cv_mean and result.best_params == {}
    assert result.improvement == 0.0 and result.improvement_se == 0.0
    assert result.caveats and "scored exactly" in result.caveats[0]
    assert result.importances == {} and result.importances_note.startswith("omitted")
    text = _text(result)
    assert text.splitlines()[1].startswith("no stack beat your current setup beyond noise: keep it")
    assert "held-out test" in text and "your current setup" in text
    d = json.loads(result.to_json())
    assert d["beats_baseline"] is False and d["best"]["stack"]["pieces"] == []
    assert d["candidate"]["stack"]["pieces"][0]["technique"] == "early_stopping"


def test_staged_search_runs_each_stage_in_its_own_study_and_shows_the_path(tmp_path):
    import advisor

    recs = advisor.recommend(modality="tabular", samples=120, classes=3, fit="overfitting")
    result = _tune(tmp_path, stack=recs, n_trials=8)
    assert result.search == "staged" and result.path
    assert result.path[0]["stage"] == 1 and sum(p["budget"] for p in result.path) <= 8
    assert result.n_trials == sum(p["budget"] for p in result.path)
    assert [t["order"] for t in result.trials] == list(range(result.n_trials))
    assert {t["stage"] for t in result.trials} == {p["stage"] for p in result.path if p["budget"]}
    assert "staged search: one technique at a time" in _text(result)
    # Rerunning resumes every stage instead of training again.
    again = _tune(tmp_path, stack=recs, n_trials=8)
    assert again.trials == result.trials and again.path == result.path


def test_flat_search_is_kept_on_request(tmp_path):
    import advisor

    recs = advisor.recommend(modality="tabular", samples=120, classes=3, fit="overfitting")
    result = _tune(tmp_path, stack=recs, n_trials=2, search="flat")
    assert result.search == "flat" and result.path == []
    assert result.search_note == "requested"


def test_random_sampler_and_bad_choices(tmp_path):
    from advisor.errors import ConfigError

    stack = {
        "version": 1,
        "pieces": [
            {
                "technique": "dropout",
                "params": {"p": 0.2},
                "search_space": {"p": {"type": "float", "low": 0.0, "high": 0.5}},
            }
        ],
    }
    result = _tune(tmp_path, stack=stack, sampler="random", n_trials=2)
    assert result.n_trials == 2 and result.search == "flat"  # hand-written: no stages
    with pytest.raises(ConfigError, match="search"):
        _tune(tmp_path, stack=stack, search="greedy")
    with pytest.raises(ConfigError, match="sampler"):
        _tune(tmp_path, stack=stack, sampler="cmaes")
