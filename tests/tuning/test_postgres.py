"""Distributed tuning: 2 worker processes share one study on a real PostgreSQL server."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from tune_models import STACK, write_blobs

from tests.conftest import require_tool

HERE = Path(__file__).resolve().parent
pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    pytest.importorskip("psycopg2")
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    initdb = require_tool("initdb", *candidates)
    bindir = Path(os.path.realpath(initdb)).parent
    pg_ctl = str(bindir / "pg_ctl")
    # initdb refuses to run as root: the cluster belongs to the postgres user then.
    as_user: list[str] = []
    root = tempfile.mkdtemp(prefix="advisor-pg-")
    if os.geteuid() == 0:
        runuser = require_tool("runuser")
        as_user = [runuser, "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    data = os.path.join(root, "data")
    port = _free_port()
    subprocess.run(
        [*as_user, initdb, "-D", data, "-U", "advisor", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    log = os.path.join(root, "server.log")
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    subprocess.run(
        [*as_user, pg_ctl, "-D", data, "-l", log, "-o", opts, "-w", "start"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=port, user="advisor", dbname="postgres")
        conn.autocommit = True
        conn.cursor().execute("CREATE DATABASE optuna")
        conn.close()
        yield f"postgresql://advisor@127.0.0.1:{port}/optuna"
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_run_exactly_the_requested_trials(postgres_url, tmp_path):
    import optuna

    data, stack = tmp_path / "d.npz", tmp_path / "stack.json"
    write_blobs(data)
    stack.write_text(json.dumps(STACK))
    cmd = [
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
        "7",
        "--folds",
        "3",
        "--epochs",
        "3",
        "--folds-mode",  # pinned: the timed probe would run the slow forward many times
        "vectorized",
        "--batch-size",
        "32",
        "--storage",
        postgres_url,
        "--study",
        "shared",
        "--pruner",
        "none",
        "--format",
        "json",
    ]
    # Slow forwards (0.2 s, ~2 s a trial) keep the study long enough that both workers get
    # trials even when one starts seconds after the other on a loaded machine.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ADVISOR_TEST_SLEEP": "0.2"}
    workers = [
        subprocess.Popen(
            cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [w.communicate(timeout=240) for w in workers]
    assert all(w.returncode == 0 for w in workers), [o[1][-2000:] for o in outs]
    results = [json.loads(o[0]) for o in outs]
    assert all(r["n_trials"] == 7 and r["study_name"] == "shared" for r in results)
    assert all(r["storage"].startswith("postgresql://advisor@127.0.0.1") for r in results)
    from advisor.tuning._study import open_storage

    study = optuna.load_study(study_name="shared", storage=open_storage(postgres_url)[0])
    counted = [
        t
        for t in study.trials
        if t.user_attrs.get("advisor_status") not in ("interrupted", "excess")
    ]
    assert len(counted) == 7 and all(t.state.is_finished() for t in study.trials)
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))  # no duplicated trial
    workers_seen = {t.user_attrs["advisor_worker"]["pid"] for t in counted}
    assert len(workers_seen) == 2  # both workers trained trials of the one study
