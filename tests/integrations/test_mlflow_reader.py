"""MLflow runs logged with the real mlflow library, read back and diagnosed."""

from __future__ import annotations

import math

import pytest

import advisor
from advisor.errors import CurveFormatError

mlflow = pytest.importorskip("mlflow")


def _overfit_values(epoch: int) -> tuple[float, float]:
    train = 1.2 * math.exp(-epoch / 6) + 0.02
    val = 0.6 * math.exp(-epoch / 5) + 0.35 + 0.012 * max(0, epoch - 10) ** 1.3
    return train, val


def _log_run(
    uri: str, *, experiment: str = "digits", name: str = "overfit", epochs: int = 40
) -> str:
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=name) as run:
        mlflow.log_params({"lr": 0.01, "weight_decay": 0.0})
        for epoch in range(epochs):
            train, val = _overfit_values(epoch)
            mlflow.log_metrics(
                {"train_loss": train, "val_loss": val, "val_accuracy": 1.0 - val / 2}, step=epoch
            )
    return run.info.run_id


@pytest.fixture
def file_store(tmp_path, monkeypatch):
    # MLflow >= 3.? refuses new file stores unless this is set (the reader sets it itself).
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    store = tmp_path / "mlruns"
    run_id = _log_run(store.as_uri())
    _log_run(store.as_uri(), name="later")  # a second, newer run in the same store
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    return tmp_path, store, run_id


def test_file_store_run_is_read_and_diagnosed_overfitting(file_store):
    from advisor.integrations.mlflow import load_mlflow_curves

    _, store, run_id = file_store
    curves = load_mlflow_curves(store.as_uri(), run_id=run_id)
    assert curves.format == "mlflow"
    assert {("train", "loss"), ("val", "loss"), ("val", "accuracy")} <= set(curves.series)
    assert curves.val_loss.epochs.tolist() == [float(e) for e in range(40)]
    assert curves.hparams["lr"] == 0.01
    assert advisor.curves.diagnose_fit(curves).verdict == "overfitting"


def test_load_curves_finds_mlruns_and_selects_runs(file_store):
    project, store, run_id = file_store
    newest = advisor.load_curves(project)  # a folder holding mlruns/
    assert newest.run.startswith("later")
    assert advisor.load_curves(store, run="overfit").run.startswith("overfit")
    assert advisor.load_curves(store, run=run_id[:8]).run.startswith("overfit")
    assert advisor.load_curves(store, run="digits/overfit").run.startswith("overfit")
    run_dir = next(store.glob(f"*/{run_id}"))
    assert advisor.load_curves(run_dir).run.startswith("overfit")  # one run's folder
    assert len(advisor.load_runs(store)) == 2
    spec = advisor.load_curves(f"mlflow:{store.as_uri()}#overfit")
    assert advisor.curves.diagnose_fit(spec).verdict == "overfitting"


def test_unknown_run_and_non_mlflow_paths_are_one_line_errors(file_store, tmp_path):
    _, store, _ = file_store
    with pytest.raises(CurveFormatError, match="no run with id or name 'nope'; runs: "):
        advisor.load_curves(store, run="nope")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "metrics.csv").write_text("epoch,train_loss,val_loss\n0,1,1\n1,0.5,0.6\n")
    with pytest.raises(CurveFormatError, match="is not an MLflow store; pass run=K"):
        advisor.load_curves(tmp_path / "plain", run="x")


def test_sqlite_store_and_cli(tmp_path, capsys):
    from advisor.cli import main

    db = tmp_path / "mlflow.db"  # MLflow 3's default store
    _log_run(f"sqlite:///{db}")
    curves = advisor.load_curves(db)
    assert advisor.curves.diagnose_fit(curves).verdict == "overfitting"
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["diagnose", str(tmp_path), "--format", "json"])  # a folder holding mlflow.db
    out = capsys.readouterr().out
    assert info.value.code == 0, out
    assert '"verdict": "overfitting"' in out


def test_other_sqlite_file_is_refused(tmp_path):
    import sqlite3

    path = tmp_path / "optuna.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE trials (id INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(CurveFormatError, match="not an MLflow tracking store"):
        advisor.load_curves(path)


def test_missing_mlflow_names_the_extra(monkeypatch, file_store):
    import builtins

    real_import = builtins.__import__

    def no_mlflow(name, *args, **kwargs):
        if name == "mlflow" or name.startswith("mlflow."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlflow)
    _, store, _ = file_store
    with pytest.raises(CurveFormatError, match=r"pip install 'regularization-advisor\[mlflow\]'"):
        advisor.load_curves(store)
