import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch
from torch import nn
from tune_models import STACK, blobs, tiny_mlp, write_blobs

from advisor.errors import ConfigError
from advisor.tuning import TrainConfig, TuneResult, tune

FAST = TrainConfig(max_epochs=3, batch_size=32)
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _tune(tmp_path, **kw):
    args = {
        "task": "classification",
        "stack": STACK,
        "n_trials": 3,
        "folds": 3,
        "storage": str(tmp_path / "s.journal"),
        "train": FAST,
        "progress": False,
        "pruner": "none",
    }
    args.update(kw)
    return tune(tiny_mlp, blobs(), **args)


@pytest.mark.slow
def test_json_has_the_documented_keys(tmp_path):
    result = _tune(tmp_path)
    assert isinstance(result, TuneResult)
    d = json.loads(result.to_json())
    for key in (
        "metric",
        "direction",
        "folds",
        "folds_mode",
        "folds_mode_reason",
        "n_trials",
        "n_pruned",
        "n_failed",
        "importances",
        "storage",
        "study_name",
    ):
        assert key in d
    assert d["folds_mode"] in ("vectorized", "sequential") and d["folds_mode_reason"]
    assert set(d["best"]) >= {"params", "stack", "cv_mean", "cv_std"} and set(d["baseline"]) >= {
        "cv_mean",
        "cv_std",
    }
    assert d["n_trials"] == 3 and d["metric"] == "accuracy" and d["direction"] == "maximize"
    assert d["candidate"]["stack"]["pieces"][0]["technique"] == "l2"
    assert 0.0 <= d["candidate"]["cv_mean"] <= 1.0 and len(d["candidate"]["fold_scores"]) == 3
    # The chosen configuration is the candidate only when it beats the baseline beyond noise.
    assert d["beats_baseline"] == d["comparison"]["beyond_noise"]
    chosen = d["candidate"] if d["beats_baseline"] else d["baseline"]
    assert d["best"]["cv_mean"] == chosen["cv_mean"]


def test_first_trial_is_the_recommended_point(tmp_path):
    result = _tune(tmp_path, n_trials=1)
    assert result.candidate_params == {"l2.weight_decay": 1e-3, "dropout.p": 0.2}


def test_rerun_resumes_and_keeps_completed_trials(tmp_path):
    first = _tune(tmp_path, n_trials=2, study_name="s")
    study = optuna.load_study(
        study_name="s",
        storage=optuna.storages.journal.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(tmp_path / "s.journal"))
        ),
    )
    before = {t.number: t.value for t in study.trials}
    second = _tune(tmp_path, n_trials=4, study_name="s", resume=True)
    assert first.n_trials == 2 and second.n_trials == 4
    after = {t.number: t.value for t in study.trials}
    assert all(after[k] == v for k, v in before.items())
    assert second.baseline.cv_mean == first.baseline.cv_mean  # measured once, stored in the study


def test_resume_of_a_missing_study_and_changed_settings_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        _tune(tmp_path, study_name="nope", resume=True)
    _tune(tmp_path, n_trials=1, study_name="s")
    with pytest.raises(ConfigError, match="folds"):
        _tune(tmp_path, n_trials=1, study_name="s", folds=4)


def test_nan_trials_are_recorded_failed_and_the_study_goes_on(tmp_path):
    class Exploding(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = tiny_mlp()

        def forward(self, x):
            return self.net(x) * float("nan")

    def model_fn(params):  # config-aware factory: the trial's dropout decides
        return Exploding() if params.get("dropout", {}).get("p", 0.0) > 0.25 else tiny_mlp()

    result = tune(
        model_fn,
        blobs(),
        task="classification",
        stack=STACK,
        n_trials=4,
        folds=3,
        storage=str(tmp_path / "s.journal"),
        train=FAST,
        progress=False,
        pruner="none",
        seed=3,
    )
    assert result.n_trials == 4 and result.n_failed >= 1
    assert all("non-finite" in f["reason"] for f in result.failures if f["state"] == "fail")


def test_bad_arguments_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="n_trials of tune must be an int >= 1, got 0"):
        _tune(tmp_path, n_trials=0)
    with pytest.raises(ConfigError, match="task of tune"):
        _tune(tmp_path, task="vision")
    with pytest.raises(ConfigError, match="model_fn must return a torch.nn.Module"):
        tune(
            lambda: "not a model",
            blobs(),
            task="classification",
            stack=STACK,
            n_trials=1,
            folds=3,
            storage=str(tmp_path / "x.journal"),
            train=FAST,
            progress=False,
        )


@pytest.mark.slow
def test_full_space_and_held_out_test_and_refit(tmp_path):
    result = _tune(
        tmp_path, space="full", stack=None, n_trials=2, test_size=0.25, refit=tmp_path / "best.pt"
    )
    assert "label_smoothing.smoothing" in result.candidate_params
    assert set(result.test) >= {"best", "baseline", "samples"} and result.test["samples"] == 30
    assert ("candidate" in result.test) == (not result.beats_baseline)
    state = torch.load(tmp_path / "best.pt", weights_only=True)
    assert any(k.endswith("weight") for k in state)


def _worker_cmd(data, storage, study, trials, *extra):
    stack = data.parent / "stack.json"
    stack.write_text(json.dumps(STACK))
    return [
        sys.executable,
        "-c",
        "from advisor.cli import main; main()",
        "tune",
        "--model",
        f"{HERE / 'tune_models.py'}:slow_mlp",
        "--data",
        str(data),
        "--stack",
        str(stack),
        "--task",
        "classification",
        "--trials",
        str(trials),
        "--folds",
        "3",
        "--epochs",
        "4",
        "--batch-size",
        "32",
        "--storage",
        storage,
        "--study",
        study,
        "--pruner",
        "none",
        "--format",
        "json",
        *extra,
    ]


@pytest.mark.slow
def test_killed_worker_resumes_without_losing_trials(tmp_path):
    data = tmp_path / "d.npz"
    write_blobs(data)
    storage = str(tmp_path / "s.journal")
    cmd = _worker_cmd(data, storage, "k", 6)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    journal = optuna.storages.journal.JournalStorage(
        optuna.storages.journal.JournalFileBackend(storage)
    )
    deadline = time.time() + 120
    completed = []
    while time.time() < deadline:  # wait until at least one trial finished and another runs
        time.sleep(0.5)
        try:
            trials = optuna.load_study(study_name="k", storage=journal).trials
        except KeyError:
            continue
        completed = [t for t in trials if t.state.is_finished()]
        if completed and any(t.state == optuna.trial.TrialState.RUNNING for t in trials):
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert completed, "the worker finished no trial before the deadline"
    kept = {
        t.number: t.value
        for t in optuna.load_study(study_name="k", storage=journal).trials
        if t.state.is_finished()
    }
    out = subprocess.run(
        [*cmd, "--resume"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["n_trials"] == 6 and result["n_interrupted"] >= 1
    trials = optuna.load_study(study_name="k", storage=journal).trials
    assert all(trials[n].value == v for n, v in kept.items())  # nothing completed was lost
    counted = [
        t for t in trials if t.user_attrs.get("advisor_status") not in ("interrupted", "excess")
    ]
    assert len(counted) == 6 and all(t.state.is_finished() for t in trials)


def test_trials_are_listed_for_reports(tmp_path):
    result = _tune(tmp_path, n_trials=2)
    trials = result.to_dict()["trials"]
    assert [t["number"] for t in trials] == [0, 1]
    assert all(t["state"] == "COMPLETE" and len(t["fold_scores"]) == 3 for t in trials)


@pytest.mark.slow
def test_report_is_written(tmp_path):
    from advisor.report import write_report

    result = _tune(tmp_path, n_trials=2)
    path = tmp_path / "tune.html"
    write_report(result, path, format="html")
    assert "baseline" in path.read_text(encoding="utf-8").lower()


def test_model_checked_before_the_storage_exists(tmp_path):
    """A factory whose model does not fit the data is a ConfigError before any journal is written."""
    run_tune = tune
    X, y = blobs(60)
    journal = tmp_path / "study.journal"
    for factory, needle in [
        (lambda: nn.Linear(9, 3), "batch of shape (8, 6)"),
        (lambda: nn.Linear(6, 1), "3 classes"),
        (lambda: 1 / 0, "raised ZeroDivisionError"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(needle)) as info:
            run_tune(factory, (X, y), task="classification", stack=STACK, storage=str(journal))
        assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match=re.escape("outputs shape (8, 3) but the targets")):
        run_tune(
            lambda: nn.Linear(6, 3),
            (X, y.astype("float32")),
            task="regression",
            stack=STACK,
            storage=str(journal),
        )
    assert not journal.exists()
