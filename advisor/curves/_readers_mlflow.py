"""Reader for MLflow runs, through MLflow's own client (``MlflowClient.get_metric_history``).

Where the curves are:

* a local file store: the ``mlruns/`` directory itself, a directory holding ``mlruns/``, an
  experiment directory ``mlruns/<experiment id>/`` or one run's directory
  ``mlruns/<experiment id>/<run id>/``;
* an SQLite store (``mlflow.db``, MLflow's default since 3.x), or a directory holding one;
* any tracking URI as ``"mlflow:<tracking uri>#<run>"`` (``mlflow:http://host:5000#3f2a...``,
  ``mlflow:sqlite:///mlflow.db#baseline``) or with ``advisor.integrations.mlflow.load_mlflow_curves``.

A run is chosen by its id (or a unique prefix of it, 6 characters at least), its name, or
``"<experiment name>/<run name>"``; without a choice every run of the store is read (oldest
first) and ``load_curves`` keeps the newest, as for any path holding several runs.

Each metric's history is one raw series. Its x axis is MLflow's ``step``; where an ``epoch``
metric was logged too (Lightning's ``MLFlowLogger``, the Hugging Face Trainer), each point is
joined to the epoch logged at its step and per-step points are averaged per epoch, as for
TensorBoard. A metric logged without steps (all at step 0) is put in logging order. Recognising a
store needs no import of mlflow; reading one imports it (the optional ``mlflow`` extra).
"""

from __future__ import annotations

import os
import re
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from advisor.curves._normalise import RawRun, RawSeries, join_epochs
from advisor.errors import CurveFormatError

__all__ = [
    "INSTALL_HINT",
    "MlflowTarget",
    "find_mlflow_target",
    "is_mlflow_sqlite",
    "mlflow_runs",
    "parse_mlflow_spec",
    "resolve_target",
    "select_run",
    "sqlite_file_runs",
]

INSTALL_HINT = "pip install 'regularization-advisor[mlflow]'"
SQLITE_MAGIC = b"SQLite format 3\x00"
_SPEC_PREFIX = "mlflow:"
_RUN_ID = re.compile(r"^[0-9a-f]{6,32}$")
# MLflow's own bookkeeping, never a curve (system metrics are logged as system/<name>).
_SKIP_PREFIXES = ("system/",)


@dataclass
class MlflowTarget:
    """A tracking URI and, when the path said so, the experiment and run to read."""

    uri: str
    label: str  # what to name in messages (the path or the spec as given)
    experiment_id: str | None = None
    run: str | None = None


def parse_mlflow_spec(spec: str) -> MlflowTarget:
    """``"mlflow:<tracking uri>#<run>"`` -> target (the ``#<run>`` part is optional)."""
    body = spec[len(_SPEC_PREFIX) :]
    uri, _, run = body.partition("#")
    if not uri:
        raise CurveFormatError(
            f"{spec}: no tracking URI after 'mlflow:'; write mlflow:<tracking uri>#<run id or name>,"
            " e.g. mlflow:sqlite:///mlflow.db#baseline."
        )
    if "://" not in uri and not uri.startswith("databricks"):
        local = Path(uri).expanduser()
        if not local.exists():
            raise CurveFormatError(
                f"{spec}: {local} does not exist; pass an mlruns directory, an mlflow.db file or a"
                " tracking URI (http://..., sqlite:///...)."
            )
        uri = _local_uri(local.resolve())
    return MlflowTarget(uri=uri, label=spec, run=run or None)


def _local_uri(path: Path) -> str:
    if path.is_file():
        return f"sqlite:///{path}"
    return path.as_uri()


def _meta(path: Path) -> str:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            return fh.read(8192)
    except OSError:
        return ""


def _is_store_root(d: Path) -> bool:
    """An MLflow file store: experiment folders ``<id>/meta.yaml`` naming an ``experiment_id``."""
    try:
        children = [c for c in d.iterdir() if c.is_dir()]
    except OSError:
        return False
    for c in children:
        meta = c / "meta.yaml"
        if meta.is_file():
            text = _meta(meta)
            if "experiment_id:" in text and "run_id:" not in text:
                return True
    return False


def is_mlflow_sqlite(path: Path) -> bool:
    """An SQLite file with MLflow's ``runs``, ``metrics`` and ``experiments`` tables."""
    try:
        with path.open("rb") as fh:
            if fh.read(16) != SQLITE_MAGIC:
                return False
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            con.close()
    except (OSError, sqlite3.Error):
        return False
    return {"runs", "metrics", "experiments"} <= names


def find_mlflow_target(directory: Path, *, nested: bool) -> MlflowTarget | None:
    """The MLflow store ``directory`` is (``nested=False``) or holds (``nested=True``), if any.

    ``nested=False``: the directory is a file store root, an experiment folder or a run folder.
    ``nested=True``: the directory holds ``mlruns/`` (a file store) or ``mlflow.db``.
    """
    if not nested:
        meta = directory / "meta.yaml"
        if meta.is_file():
            text = _meta(meta)
            root = directory.parent.parent
            if "run_id:" in text and (directory / "metrics").is_dir() and _is_store_root(root):
                return MlflowTarget(
                    uri=root.resolve().as_uri(),
                    label=str(directory),
                    experiment_id=directory.parent.name,
                    run=directory.name,
                )
            if "experiment_id:" in text and _is_store_root(directory.parent):
                return MlflowTarget(
                    uri=directory.parent.resolve().as_uri(),
                    label=str(directory),
                    experiment_id=directory.name,
                )
            return None
        if _is_store_root(directory):
            return MlflowTarget(uri=directory.resolve().as_uri(), label=str(directory))
        return None
    store = directory / "mlruns"
    if store.is_dir() and _is_store_root(store):
        return MlflowTarget(uri=store.resolve().as_uri(), label=str(store))
    db = directory / "mlflow.db"
    if db.is_file() and is_mlflow_sqlite(db):
        return MlflowTarget(uri=_local_uri(db.resolve()), label=str(db))
    return None


@contextmanager
def _allow_file_store(uri: str):
    """MLflow >= 3.? refuses to open a file store unless ``MLFLOW_ALLOW_FILE_STORE`` is set.

    Reading an existing ``mlruns/`` is exactly what the user asked for, so the opt-out is set for
    the duration of the read (and restored after); nothing is written to the store.
    """
    if not uri.startswith("file:"):
        yield
        return
    old = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = old


def _client(uri: str, label: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise CurveFormatError(
            f"{label}: reading MLflow runs needs the mlflow package; install it with {INSTALL_HINT}."
        ) from None
    return MlflowClient(tracking_uri=uri)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


def mlflow_runs(
    target: MlflowTarget, *, experiment: str | None = None, run: str | None = None
) -> list[RawRun]:
    """Read the chosen run (or every run, oldest first) of an MLflow store into raw runs.

    Args:
        target: the store (and the experiment/run its path named).
        experiment: an experiment name or id to restrict the search to.
        run: a run id (or unique prefix), a run name, or ``"<experiment>/<run name>"``;
            overrides ``target.run``.

    Raises:
        CurveFormatError: mlflow missing, the store unreadable, no such run, or a run
            without metrics; one line naming the store and the fix.
    """
    with _allow_file_store(target.uri):
        client = _client(target.uri, target.label)
        try:
            runs = _choose_runs(client, target, experiment, run or target.run)
            return [_read_run(client, r, target) for r in runs]
        except CurveFormatError:
            raise
        except Exception as exc:  # MlflowException, a server that cannot be reached, SQL errors
            raise CurveFormatError(
                f"{target.label}: the MLflow store could not be read ({_one_line(exc)})."
            ) from None


def _experiments(client: Any, target: MlflowTarget, experiment: str | None) -> list[Any]:
    from mlflow.entities import ViewType

    exps = client.search_experiments(view_type=ViewType.ACTIVE_ONLY)
    if target.experiment_id is not None:
        exps = [e for e in exps if e.experiment_id == target.experiment_id]
    if experiment is not None:
        chosen = [e for e in exps if experiment in (e.name, e.experiment_id)]
        if not chosen:
            names = ", ".join(sorted(e.name for e in exps)) or "none"
            raise CurveFormatError(
                f"{target.label}: no experiment named {experiment!r} (experiments: {names}); pass one of"
                " those names."
            )
        exps = chosen
    return exps


def _all_runs(client: Any, exp_ids: list[str]) -> list[Any]:
    if not exp_ids:
        return []
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(
            exp_ids, max_results=1000, order_by=["attributes.start_time ASC"], page_token=token
        )
        runs.extend(page)
        token = getattr(page, "token", None)
        if not token:
            return runs


def _choose_runs(
    client: Any, target: MlflowTarget, experiment: str | None, run: str | None
) -> list[Any]:
    exps = _experiments(client, target, experiment)
    exp_names = {e.experiment_id: e.name for e in exps}
    if run is not None and "/" in run and experiment is None:
        exp_part, _, name_part = run.partition("/")
        if any(exp_part in (e.name, e.experiment_id) for e in exps):
            exps = [e for e in exps if exp_part in (e.name, e.experiment_id)]
            run = name_part
    if run is not None and _RUN_ID.match(run) and len(run) == 32:
        try:
            found = client.get_run(run)
        except Exception:
            found = None
        if found is not None and (
            target.experiment_id is None or found.info.experiment_id == target.experiment_id
        ):
            return [found]
    runs = _all_runs(client, [e.experiment_id for e in exps])
    if run is None:
        if not runs:
            raise CurveFormatError(
                f"{target.label}: the MLflow store holds no runs; log one with mlflow.start_run()"
                " and mlflow.log_metric()."
            )
        return runs
    by_id = [r for r in runs if _RUN_ID.match(run) and r.info.run_id.startswith(run)]
    if len(by_id) == 1:
        return by_id
    by_name = [r for r in runs if r.info.run_name == run]
    if by_name:
        return by_name[-1:]  # several runs share a name: the newest
    shown = ", ".join(
        f"{exp_names.get(r.info.experiment_id, r.info.experiment_id)}/{r.info.run_name}"
        f" ({r.info.run_id[:8]})"
        for r in runs[-6:]
    )
    more = f" (newest {min(6, len(runs))} of {len(runs)})" if len(runs) > 6 else ""
    if len(by_id) > 1:
        raise CurveFormatError(
            f"{target.label}: run id prefix {run!r} matches {len(by_id)} runs; give more of the id."
        )
    raise CurveFormatError(
        f"{target.label}: no run with id or name {run!r}; runs{more}: {shown or 'none'}."
    )


def _histories(
    client: Any, run_id: str, keys: list[str]
) -> dict[str, list[tuple[int, int, float]]]:
    out: dict[str, list[tuple[int, int, float]]] = {}
    for key in keys:
        points = client.get_metric_history(run_id, key)
        out[key] = [(int(m.step), int(m.timestamp), float(m.value)) for m in points]
    return out


def _read_run(client: Any, run: Any, target: MlflowTarget) -> RawRun:
    info = run.info
    keys = sorted(k for k in run.data.metrics if not k.startswith(_SKIP_PREFIXES))
    label = f"{target.label} run {info.run_name or info.run_id} ({info.run_id[:8]})"
    if not keys:
        raise CurveFormatError(
            f"{label}: the run has no metrics; log them with mlflow.log_metric(key, value, step=epoch)."
        )
    hist = _histories(client, info.run_id, keys)
    notes: list[str] = [f"read MLflow run {info.run_name or ''} ({info.run_id}) from {target.uri}"]
    # Hugging Face's MLflowCallback logs the run summary (train_loss = mean over the run,
    # train_runtime, ...) as single points next to the per-step "loss": drop the summary.
    if "loss" in hist and "train_runtime" in hist:
        summary = [
            k for k in hist if k == "train_loss" or (k.startswith("train_") and len(hist[k]) == 1)
        ]
        for k in summary:
            hist.pop(k)
        if summary:
            notes.append(
                "dropped the Trainer's final summary (train_loss is the mean over the run, not a point)"
            )
    epoch_pts = hist.pop("epoch", None)
    series: list[RawSeries] = []
    if epoch_pts and len({s for s, _, _ in epoch_pts}) > 1:
        ep = np.asarray(sorted((s, v) for s, _, v in epoch_pts), dtype=np.float64)
        steps_e, epochs_e = ep[:, 0], ep[:, 1]
        for key, pts in hist.items():
            if not pts:
                continue
            arr = np.asarray([(s, v) for s, _, v in pts], dtype=np.float64)
            series.append(join_epochs(key, arr, steps_e, epochs_e))
        notes.append("x axis joined to the logged 'epoch' metric by step")
    else:
        unstepped = []
        for key, pts in hist.items():
            if not pts:
                continue
            if len(pts) > 1 and len({s for s, _, _ in pts}) == 1:
                # logged without step=: MLflow stores step 0 for every point; logging order it is
                ordered = sorted(pts, key=lambda p: p[1])
                xs = np.arange(len(ordered), dtype=np.float64)
                vals = np.asarray([v for _, _, v in ordered], dtype=np.float64)
                unstepped.append(key)
            else:
                last: dict[int, float] = {}
                for s, _, v in sorted(pts, key=lambda p: (p[0], p[1])):
                    last[s] = v  # a value logged twice at one step: the last one
                xs = np.asarray(sorted(last), dtype=np.float64)
                vals = np.asarray([last[int(s)] for s in xs], dtype=np.float64)
            series.append(RawSeries(key, xs, vals))
        notes.append("the logged step is used as the epoch")
        if unstepped:
            notes.append(
                f"{', '.join(unstepped)} logged without step=: points put in logging order"
            )
    hparams = {k: _param_value(v) for k, v in run.data.params.items()}
    name = info.run_name or info.run_id
    return RawRun(
        series=series,
        format="mlflow",
        source=_source_path(target),
        run=f"{name} ({info.run_id[:8]})",
        notes=notes,
        hparams=hparams,
        columns=list(hist),
    )


def _param_value(text: str) -> Any:
    """MLflow stores params as strings: numbers and booleans back to Python values."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def resolve_target(path: Any) -> MlflowTarget | None:
    """The MLflow store a ``load_curves`` path names: an ``mlflow:`` spec, a store, run or
    experiment folder, a folder holding ``mlruns/`` or ``mlflow.db``, or an ``mlflow.db`` file."""
    if isinstance(path, str) and path.startswith(_SPEC_PREFIX):
        return parse_mlflow_spec(path)
    p = Path(path)
    if p.is_dir():
        return find_mlflow_target(p, nested=False) or find_mlflow_target(p, nested=True)
    if p.is_file() and is_mlflow_sqlite(p):
        return MlflowTarget(uri=_local_uri(p.resolve()), label=str(p))
    return None


def sqlite_file_runs(path: Path) -> list[RawRun]:
    """Every run of an ``mlflow.db`` file; any other SQLite database is refused in one line."""
    if not is_mlflow_sqlite(path):
        raise CurveFormatError(
            f"{path}: an SQLite database but not an MLflow tracking store (no runs/metrics tables);"
            " pass a learning-curve log, an mlflow.db or an mlruns directory."
        )
    return mlflow_runs(MlflowTarget(uri=_local_uri(path.resolve()), label=str(path)))


def select_run(path: Any, run: str, mapping: Any) -> Any:
    """``load_curves(path, run="<run id or name>")``: one MLflow run as ``Curves``."""
    from advisor.curves._normalise import build_curves

    target = resolve_target(path)
    if target is None:
        raise CurveFormatError(
            f"{path}: run={run!r} (a run id or name) selects an MLflow run, and this path is not an"
            " MLflow store; pass run=K, the 1-based index of the run."
        )
    raw = mlflow_runs(target, run=run)[-1]
    return build_curves(raw, mapping=mapping or None)


def _source_path(target: MlflowTarget) -> Path | None:
    uri = target.uri
    if uri.startswith("file:"):
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(uri).path))
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :])
    return Path(target.label) if not target.label.startswith(_SPEC_PREFIX) else None


MLFLOW_INSTALL_HINT = INSTALL_HINT  # public name (advisor.curves)
