"""What a user sees while tune() runs: the live display's phases, count, best score and ETA,
and the one-line-per-trial log without a terminal (no training here: finished trials are made
by hand)."""

from __future__ import annotations

import io
import time

import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial
from rich.console import Console

from advisor.tuning._trials import TuneProgress


def _trial(number: int, value: float | None, state=TrialState.COMPLETE):
    t = create_trial(
        state=state,
        value=value,
        params={"l2.weight_decay": 1e-4},
        distributions={"l2.weight_decay": FloatDistribution(1e-6, 1e-2, log=True)},
        intermediate_values={0: 0.5, 1: 0.6} if state == TrialState.PRUNED else {},
    )
    t.number = number
    return t


@pytest.fixture
def screen(monkeypatch):
    """The live display drawn into a string, as on a 120-column terminal."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    monkeypatch.setattr("rich.console.Console", lambda **kwargs: console)
    return out


def test_live_display_shows_each_phase_the_count_best_and_eta(screen):
    started = time.perf_counter()
    progress = TuneProgress(True, total=4, direction="maximize", metric="accuracy", started=started)
    with progress:
        progress.phase("baseline", "your current setup, 5 folds")
        progress.begin_trials([])
        progress.set_stage("stage 1/2")
        progress.update([(1, _trial(0, 0.91)), (1, _trial(1, 0.93))])
        mid = progress.bar.tasks[-1]
        assert mid.completed == 2 and mid.total == 4
        assert mid.fields["eta_at"] is not None  # two trials of this run finished: an ETA
        assert "best 0.9300" in mid.description
        progress.bar.refresh()  # draw now, not at the display's next tick
        assert "ETA 0:00:0" in screen.getvalue()
        progress.update(
            [(1, _trial(0, 0.91)), (1, _trial(1, 0.93)), (2, _trial(0, None, TrialState.PRUNED))]
        )
        progress.phase("refit", "the chosen configuration on all training data")
    text = screen.getvalue()
    assert "baseline" in text and "refit" in text
    assert "trials, stage 1/2" in text
    assert "3/4" in text
    assert "pruned 1" in text


def test_without_a_terminal_one_line_per_finished_trial(capsys):
    started = time.perf_counter()
    progress = TuneProgress("auto", total=3, direction="minimize", metric="mse", started=started)
    assert progress.bar is None  # pytest's stderr is not a terminal
    with progress:
        progress.phase("baseline", "your current setup, 3 folds")
        progress.begin_trials([])
        progress.update([(1, _trial(0, 0.25))])
        progress.update([(1, _trial(0, 0.25)), (1, _trial(1, 0.20))])
        progress.update(
            [(1, _trial(0, 0.25)), (1, _trial(1, 0.20)), (1, _trial(2, None, TrialState.FAIL))]
        )
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "tune: baseline: your current setup, 3 folds"
    trials = [line for line in lines if line.startswith("tune: trial")]
    assert len(trials) == 3  # each finished trial once, although update() saw it again
    assert trials[0].startswith("tune: trial 1/3 mse 0.2500, best 0.2500")
    assert trials[1].startswith("tune: trial 2/3 mse 0.2000, best 0.2000")
    assert trials[2].startswith("tune: trial 3/3 failed")


def test_progress_false_prints_nothing(capsys):
    progress = TuneProgress(False, total=2, direction="maximize", metric="accuracy", started=0.0)
    with progress:
        progress.phase("baseline", "x")
        progress.begin_trials([])
        progress.update([(1, _trial(0, 0.5))])
    assert capsys.readouterr().err == ""
