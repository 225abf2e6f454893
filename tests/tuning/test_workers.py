"""Parallel trial workers (n_jobs / --jobs): the budget, dead workers, start methods, the choice."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest
from test_postgres import postgres_url  # noqa: F401 - the real-server fixture, reused here
from tune_models import STACK, blobs, mlp_failing_above, slow_mlp, tiny_mlp, write_blobs

from advisor.errors import ConfigError
from advisor.tuning import TrainConfig, load_factory, tune
from advisor.tuning._jobs import JobsPlan, choose_jobs
from advisor.tuning._workers import _dumps, cannot_send, fresh_method, start_method

HERE = Path(__file__).resolve().parent
FAST = TrainConfig(max_epochs=3, batch_size=32)
COUNTED = ("interrupted", "excess")


def _tune(tmp_path, model_fn=tiny_mlp, **kw):
    args = {
        "task": "classification",
        "stack": STACK,
        "n_trials": 6,
        "folds": 3,
        "storage": str(tmp_path / "s.journal"),
        "train": FAST,
        "progress": False,
        "pruner": "none",
        "n_jobs": 2,
    }
    args.update(kw)
    return tune(model_fn, blobs(), **args)


def _journal(path):
    return optuna.storages.journal.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(path))
    )


def _counted(trials):
    return [t for t in trials if t.user_attrs.get("advisor_status") not in COUNTED]


# ------------------------------------------------------------------------ the budget
def test_two_workers_finish_exactly_the_trials_asked_for(tmp_path):
    result = _tune(tmp_path, model_fn=slow_mlp, study_name="two")
    assert result.n_trials == 6 and result.jobs == 2
    assert result.jobs_reason.startswith("requested: 2 worker processes")
    trials = optuna.load_study(study_name="two", storage=_journal(tmp_path / "s.journal")).trials
    counted = _counted(trials)
    assert len(counted) == 6 and all(t.state.is_finished() for t in trials)
    pids = {t.user_attrs["advisor_worker"]["pid"] for t in counted}
    assert len(pids) == 2 and os.getpid() not in pids  # the parent trains no trial
    # The advised values are the first trial, as with one process.
    assert {"l2.weight_decay": 1e-3, "dropout.p": 0.2} in [t.params for t in counted]
    # Bookkeeping (ask, tell, the journal's lock) next to training: measured 1-3 % with two
    # workers on the digits benchmark; tiny test trials weigh it more, hence the wide floor.
    assert result.overhead_share is not None and result.overhead_share < 0.5


@pytest.mark.slow
def test_staged_search_keeps_one_pool_for_every_stage(tmp_path):
    import advisor

    recs = advisor.recommend(modality="tabular", samples=120, classes=3, fit="overfitting")
    result = _tune(tmp_path, model_fn=slow_mlp, stack=recs, n_trials=8, study_name="st")
    assert result.search == "staged" and result.n_trials == sum(p["budget"] for p in result.path)
    storage = _journal(tmp_path / "s.journal")
    pids = set()
    for step in result.path:
        if step["budget"]:
            study = optuna.load_study(study_name="st." + step["study"], storage=storage)
            pids |= {t.user_attrs["advisor_worker"]["pid"] for t in _counted(study.trials)}
    assert len(pids) == 2  # the same two workers trained every stage


def test_a_bug_in_a_worker_is_raised_in_the_parent(tmp_path):
    with pytest.raises(ValueError, match="hidden size must be even"):
        _tune(tmp_path, model_fn=mlp_failing_above, n_trials=8, sampler="random", seed=1)


# ------------------------------------------------------------------ storage and factory
def test_in_memory_storage_is_one_config_error(tmp_path):
    with pytest.raises(ConfigError, match="InMemoryStorage, which worker processes cannot") as info:
        _tune(tmp_path, storage=optuna.storages.InMemoryStorage())
    assert "\n" not in str(info.value)


def test_auto_with_in_memory_storage_runs_in_this_process(tmp_path):
    result = _tune(tmp_path, storage=optuna.storages.InMemoryStorage(), n_trials=2, n_jobs="auto")
    assert result.jobs == 1 and "InMemoryStorage" in result.jobs_reason


@pytest.mark.parametrize("bad", [0, -1, 1.5, "many", True])
def test_bad_n_jobs_is_a_config_error(tmp_path, bad):
    with pytest.raises(ConfigError, match="n_jobs of tune must be an int >= 1 or 'auto'"):
        _tune(tmp_path, n_jobs=bad)


def test_a_factory_loaded_from_a_file_travels_as_its_spec(tmp_path):
    (tmp_path / "user_models.py").write_text("def make():\n    return 42\n")
    factory = load_factory(f"{tmp_path / 'user_models.py'}:make")
    assert factory.__module__ == "_advisor_user_user_models"
    payload = _dumps(factory)
    assert b"user_models.py:make" in payload and b"_advisor_user_" not in payload
    assert pickle.loads(payload)() == 42  # loaded again from the file, as a worker does


def test_how_workers_start():
    import torch

    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert cannot_send(tiny_mlp, FAST, None, cpu) == ""
    why = cannot_send(lambda: tiny_mlp(), FAST, None, cpu)
    assert "<lambda> cannot be sent to a new process" in why
    with pytest.raises(ConfigError, match="CUDA workers cannot be forked"):
        cannot_send(lambda: tiny_mlp(), FAST, None, gpu)
    # One thread each on the CPU: forked (instant, the data shared); else a fresh process.
    assert start_method(device=cpu, threads=1, storage=None) == "fork"
    assert start_method(device=cpu, threads=4, storage=None) == fresh_method()
    assert start_method(device=gpu, threads=1, storage=None) == fresh_method()
    assert start_method(device=cpu, threads=1, storage="postgresql://u@h/db") == fresh_method()
    assert start_method(device=cpu, threads=4, storage=None, must_fork=True) == "fork"


def test_fresh_workers_rebuild_the_factory(tmp_path, monkeypatch):
    """Workers of two threads each start fresh (forkserver) and load the factory again."""
    import advisor.tuning._session as session

    monkeypatch.setattr(session, "available_cores", lambda: 4)  # 2 workers x 2 threads
    result = _tune(tmp_path, n_trials=4, study_name="fresh")
    assert result.n_trials == 4 and "2 worker processes x 2 torch thread(s)" in result.jobs_reason


@pytest.mark.slow
def test_forked_workers_after_openmp_ran_do_not_hang(tmp_path):
    """A lambda (notebook-style) factory: workers are forked after torch used 2 threads."""
    script = tmp_path / "lam.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(HERE)!r})
            import torch
            from torch import nn
            from tune_models import STACK, blobs
            from advisor.tuning import TrainConfig, tune

            torch.set_num_threads(2)
            torch.randn(400, 400) @ torch.randn(400, 400)  # starts the OpenMP pool
            result = tune(
                lambda: nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)),
                blobs(), task="classification", stack=STACK, n_trials=4, folds=3,
                storage={str(tmp_path / "s.journal")!r}, train=TrainConfig(max_epochs=2),
                progress=False, pruner="none", n_jobs=2,
            )
            print(result.n_trials, result.jobs, result.jobs_reason)
            """
        )
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("4 2 ") and "forked with 1 thread each" in out.stdout


# ------------------------------------------------------------------------- the choice
def _probe(step_ms: dict[int, float], mode="sequential"):
    calls = []

    def fold_mode(threads):
        calls.append(threads)
        return mode, f"timed probe at {threads} threads"

    def step_time(threads, _mode):
        return step_ms[threads] / 1000

    return fold_mode, step_time, calls


def test_auto_picks_workers_when_one_thread_each_trains_more_trials_per_hour():
    fold_mode, step_time, calls = _probe({2: 4.0, 1: 4.4})
    plan = choose_jobs(
        "auto", cores=2, n_trials=20, steps_per_trial=690, fold_mode=fold_mode,
        step_time=step_time, threads_now=2,
    )  # fmt: skip
    assert plan == JobsPlan(2, 1, "sequential", "timed probe at 1 threads", plan.reason)
    assert "2 worker processes x 1 thread(s)" in plan.reason and "~1.8x" in plan.reason
    assert sorted(set(calls)) == [1, 2]


def test_auto_keeps_one_process_when_trials_are_too_short_to_pay_for_workers():
    fold_mode, step_time, _ = _probe({2: 4.0, 1: 4.4})
    plan = choose_jobs(
        "auto", cores=2, n_trials=6, steps_per_trial=9, fold_mode=fold_mode,
        step_time=step_time, threads_now=2,
    )  # fmt: skip
    assert plan.jobs == 1 and plan.threads == 2 and "not enough" in plan.reason


def test_auto_keeps_one_process_when_threads_scale():
    fold_mode, step_time, _ = _probe({2: 2.0, 1: 4.0})
    plan = choose_jobs(
        "auto", cores=2, n_trials=20, steps_per_trial=690, fold_mode=fold_mode,
        step_time=step_time, threads_now=2,
    )  # fmt: skip
    assert plan.jobs == 1


def test_requested_jobs_share_the_cores_and_fork_runs_one_thread_each():
    fold_mode, step_time, calls = _probe({4: 1.0, 1: 1.0})
    plan = choose_jobs(
        4, cores=16, n_trials=20, steps_per_trial=1, fold_mode=fold_mode, step_time=step_time
    )
    assert (plan.jobs, plan.threads) == (4, 4) and calls == [4]
    plan = choose_jobs(
        4, cores=16, n_trials=20, steps_per_trial=1, fold_mode=fold_mode, step_time=step_time,
        method="fork", method_note="model_fn <lambda> cannot be sent",
    )  # fmt: skip
    assert plan.threads == 1 and "forked with 1 thread each" in plan.reason


def test_auto_on_one_core_or_one_trial_runs_in_this_process():
    fold_mode, step_time, _ = _probe({1: 1.0})
    for cores, trials in ((1, 20), (8, 1)):
        plan = choose_jobs(
            "auto", cores=cores, n_trials=trials, steps_per_trial=100, fold_mode=fold_mode,
            step_time=step_time,
        )  # fmt: skip
        assert plan.jobs == 1


def test_auto_on_a_gpu_shares_it_between_small_trials():
    fold_mode, step_time, _ = _probe({8: 1.0}, mode="vectorized")
    gib = 2**30

    def plan(step_s, free):
        return choose_jobs(
            "auto", cores=8, n_trials=20, steps_per_trial=100, fold_mode=fold_mode,
            step_time=step_time, gpu_probe=lambda mode: (step_s, gib // 4, free), threads_now=8,
        )  # fmt: skip

    small = plan(0.004, 80 * gib)
    assert (small.jobs, small.threads) == (4, 2) and "share the GPU" in small.reason
    assert plan(0.2, 80 * gib).jobs == 1  # a busy device: one trial at a time
    assert plan(0.004, gib).jobs == 1  # memory for one worker only


@pytest.mark.skipif(
    not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU (unverified without one)"
)
def test_workers_share_one_gpu(tmp_path):
    result = _tune(tmp_path, device="cuda", n_trials=6, study_name="gpu")
    assert result.n_trials == 6 and result.jobs == 2 and result.device.startswith("cuda")
    auto = _tune(tmp_path, device="cuda", n_trials=4, n_jobs="auto", study_name="gpu-auto")
    assert auto.n_trials == 4 and auto.jobs_reason.startswith("auto: ")


# ---------------------------------------------------------------------------- progress
def test_without_a_terminal_each_finished_trial_is_one_log_line(tmp_path, capsys):
    _tune(tmp_path, n_trials=3, n_jobs=1, progress="auto")
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("tune: trial")]
    assert [ln.split()[2] for ln in lines] == ["1/3", "2/3", "3/3"]
    assert all(" accuracy " in ln and ", best " in ln and "elapsed" in ln for ln in lines)


# ------------------------------------------------------------------------ the CLI
def _cli(data, storage, study, trials, *extra):
    stack = data.parent / "stack.json"
    stack.write_text(json.dumps(STACK))
    return [
        sys.executable, "-c", "from advisor.cli import main; main()", "tune",
        "--model", f"{HERE / 'tune_models.py'}:slow_mlp", "--data", str(data),
        "--stack", str(stack), "--task", "classification", "--trials", str(trials),
        "--folds", "3", "--epochs", "4", "--batch-size", "32", "--folds-mode", "sequential",
        "--storage", storage, "--study", study, "--pruner", "none", "--format", "json", *extra,
    ]  # fmt: skip


@pytest.mark.slow
def test_cli_jobs_survives_a_worker_killed_mid_trial(tmp_path):
    data = tmp_path / "d.npz"
    write_blobs(data)
    storage = str(tmp_path / "s.journal")
    env = {**os.environ, "ADVISOR_TEST_SLEEP": "0.03"}  # ~1.5 s a trial: time to kill one
    proc = subprocess.Popen(
        _cli(data, storage, "k", 6, "--jobs", "2"),
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    victim, deadline = None, time.time() + 180
    while victim is None and time.time() < deadline and proc.poll() is None:
        time.sleep(0.3)
        try:
            trials = optuna.load_study(study_name="k", storage=_journal(storage)).trials
        except KeyError:
            continue
        running = [
            t for t in trials
            if t.state == optuna.trial.TrialState.RUNNING and "advisor_worker" in t.user_attrs
        ]  # fmt: skip
        if running and any(t.state.is_finished() for t in trials):
            victim = running[0].user_attrs["advisor_worker"]["pid"]
    assert victim is not None and victim != proc.pid, "no worker was seen training a trial"
    os.kill(victim, signal.SIGKILL)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-2000:]
    result = json.loads(out)
    assert result["n_trials"] == 6 and result["n_interrupted"] >= 1 and result["jobs"] == 2
    assert f"(pid {victim}) was killed by SIGKILL" in err and "trained again" in err
    trials = optuna.load_study(study_name="k", storage=_journal(storage)).trials
    assert len(_counted(trials)) == 6 and all(t.state.is_finished() for t in trials)
    killed = [t for t in trials if t.user_attrs.get("advisor_worker", {}).get("pid") == victim]
    assert any(t.user_attrs.get("advisor_status") == "interrupted" for t in killed)


@pytest.mark.slow
def test_cli_jobs_auto_says_what_it_picked(tmp_path):
    data = tmp_path / "d.npz"
    write_blobs(data)
    out = subprocess.run(
        _cli(data, str(tmp_path / "s.journal"), "auto", 2, "--jobs", "auto"),
        cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["jobs"] >= 1 and result["jobs_reason"].startswith("auto: ")
    assert result["n_trials"] == 2


def test_cli_jobs_bad_value_is_one_line(tmp_path, monkeypatch, capsys):
    from advisor.cli import main

    monkeypatch.chdir(tmp_path)
    write_blobs(tmp_path / "d.npz")
    for bad in ("0", "two"):
        with pytest.raises(SystemExit) as info:
            main(["tune", "--model", f"{HERE / 'tune_models.py'}:tiny_mlp", "--data", "d.npz",
                  "--jobs", bad])  # fmt: skip
        err = capsys.readouterr().err
        assert info.value.code == 2 and "--jobs" in err and "int >= 1 or auto" in err, err


# ------------------------------------------------------------------ across machines
@pytest.mark.postgres
@pytest.mark.slow
def test_workers_of_two_commands_share_one_postgres_study(postgres_url, tmp_path):  # noqa: F811
    """Two `advisor tune --jobs 2` commands (two machines) on one PostgreSQL study."""
    from advisor.tuning._study import open_storage

    data = tmp_path / "d.npz"
    write_blobs(data)
    # ~7 s a trial: long enough that both commands' workers join even when one starts late on a
    # loaded machine (at 0.05 s, one command's workers once finished all 8 trials first).
    env = {**os.environ, "ADVISOR_TEST_SLEEP": "0.12"}
    cmd = _cli(data, postgres_url, "shared", 8, "--jobs", "2")
    procs = [
        subprocess.Popen(
            cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    results = [json.loads(o[0]) for o in outs]
    assert all(r["n_trials"] == 8 and r["jobs"] == 2 for r in results)
    study = optuna.load_study(study_name="shared", storage=open_storage(postgres_url)[0])
    counted = _counted(study.trials)
    assert len(counted) == 8 and all(t.state.is_finished() for t in study.trials)
    pids = {t.user_attrs["advisor_worker"]["pid"] for t in counted}
    parents = {p.pid for p in procs}
    assert len(pids) >= 3 and not pids & parents  # workers of both commands trained trials
