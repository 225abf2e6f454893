"""Find and read learning curves: ``load_curves``, ``load_runs``, ``find_curve_files``.

A file is routed to its reader by content (event-file framing, JSON, CSV, text log), not only by
name, because real logs are renamed (``training.log`` holding CSV, ``*.tfevents`` holding events).
A directory is searched the way loggers lay runs out: ``lightning_logs/version_N/`` (newest N, or
every version), a Trainer output dir with ``trainer_state.json`` or ``checkpoint-*/``, event files,
Ultralytics ``results.csv``, Keras ``training.log`` and history JSON.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from advisor.curves._normalise import Mapping, RawRun, build_curves
from advisor.curves._types import Curves
from advisor.errors import CurveFormatError

__all__ = ["find_curve_files", "load_curves", "load_runs"]

_HEAD = 4096
_SKIP_DIRS = {".git", "__pycache__", ".venv", "venv", "node_modules", ".ipynb_checkpoints", "wandb"}
_NAMED = {
    "metrics.csv",
    "trainer_state.json",
    "results.csv",
    "training.log",
    "history.csv",
    "history.json",
    "training_history.json",
    "training_history.csv",
    "training_log.csv",
    "model_history.csv",
}
_MAX_DEPTH = 6  # deep enough for logs/<Model>/version_N/checkpoints, shallow enough to stay fast


def _natural_key(name: str) -> list[object]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _is_event_name(name: str) -> bool:
    return "tfevents" in name


def _read_head(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(_HEAD)
    except OSError as exc:
        raise CurveFormatError(
            f"{path}: cannot be read ({exc.strerror or exc}); check the path and permissions."
        ) from None


def _binary_reason(head: bytes) -> str | None:
    if head.startswith(b"PK\x03\x04"):
        return "is a zip archive (a PyTorch checkpoint or .keras file?), not a learning-curve log"
    if head[:1] == b"\x80" and len(head) > 1 and head[1] in range(2, 6):
        return "is a Python pickle, not a learning-curve log (advisor never unpickles curve files)"
    if head.startswith(b"\x89HDF"):
        return "is an HDF5 file (Keras weights?), not a learning-curve log"
    if b"\x00" in head:
        return "is a binary file, not a text CSV/JSON log or a TensorBoard event file"
    return None


def _read_file(path: Path, mapping: Mapping | None) -> list[RawRun]:
    from advisor.curves._readers_events import is_event_file

    head = _read_head(path)
    if not head:
        raise CurveFormatError(
            f"{path}: the file is empty; point at a log written during training."
        )
    if is_event_file(head):
        from advisor.curves._readers_events import event_runs

        return event_runs([path], source=path)
    from advisor.curves._readers_text import (
        count_undecodable,
        decode_log,
        replace_undecodable,
        sniff_encoding,
    )

    if head.startswith(b"SQLite format 3\x00"):  # mlflow.db (MLflow's default store)
        from advisor.curves._readers_mlflow import sqlite_file_runs

        return sqlite_file_runs(path)
    # UTF-16/32 text is full of zero bytes: recognise its encoding before the binary check.
    reason = None if sniff_encoding(head) else _binary_reason(head)
    if reason:
        raise CurveFormatError(
            f"{path}: {reason}; pass a metrics.csv, trainer_state.json, CSV/JSON history or event file."
        )
    raw_text = decode_log(path.read_bytes(), path)
    if count_undecodable(raw_text) > max(16, len(raw_text) // 20):
        raise CurveFormatError(
            f"{path}: mostly undecodable bytes (expected UTF-8, or UTF-16 with a byte-order mark), "
            "so it is not a text log; pass a CSV, JSON or event file."
        )
    text = replace_undecodable(raw_text)
    stripped = text.lstrip()
    if not stripped:
        raise CurveFormatError(
            f"{path}: the file holds only whitespace; point at a log written during training."
        )
    if stripped[0] in "[{":
        from advisor.curves._readers_json import json_runs

        return json_runs(text, path, mapping=mapping)
    from advisor.curves._readers_text import looks_like_text_log

    first = stripped.split("\n", 1)[0]
    csv_header = any(d in first for d in ",\t;") and ":" not in first and "=" not in first
    if not csv_header and looks_like_text_log(text):
        from advisor.curves._readers_text import text_runs

        return text_runs(text, path)
    if path.suffix.lower() == ".json":
        from advisor.curves._readers_json import json_runs

        return json_runs(text, path, mapping=mapping)
    from advisor.curves._readers_table import table_runs

    return table_runs(raw_text, path, mapping=mapping)


def _hparams_beside(path: Path) -> tuple[dict | None, str | None]:
    """Lightning's ``hparams.yaml`` next to a log, read with ``yaml.safe_load``, and a note."""
    candidate = path.parent / "hparams.yaml"
    if not candidate.is_file():
        return None, None
    import yaml

    try:
        data = yaml.safe_load(candidate.read_text(encoding="utf-8", errors="replace"))
    except yaml.YAMLError as exc:
        # Python-object tags (!!python/object) are refused by safe_load on purpose: the curves
        # are still good, only the hyper-parameters are skipped.
        first = " ".join(str(exc).split())[:120]
        return None, f"skipped {candidate}: not plain YAML ({first})"
    if not isinstance(data, dict):
        return None, None
    return data, f"hyper-parameters read from {candidate}"


def _version_dirs(directory: Path) -> list[Path]:
    """``version_N`` directories holding curves, oldest first (natural order of their names)."""
    versions = [d for d in directory.iterdir() if d.is_dir() and d.name.startswith("version_")]
    with_logs = [
        d
        for d in versions
        if (d / "metrics.csv").is_file()
        or any(_is_event_name(f.name) for f in d.iterdir() if f.is_file())
    ]
    return sorted(with_logs, key=lambda d: _natural_key(d.name))


def _event_files(directory: Path) -> tuple[list[Path], dict[Path, str]]:
    """Event files directly in ``directory`` and in Keras-style train/validation subdirectories."""
    files = sorted(f for f in directory.iterdir() if f.is_file() and _is_event_name(f.name))
    hints: dict[Path, str] = {}
    for sub, split in (("train", "train"), ("validation", "val"), ("val", "val"), ("eval", "val")):
        d = directory / sub
        if d.is_dir():
            for f in sorted(d.iterdir()):
                if f.is_file() and _is_event_name(f.name):
                    files.append(f)
                    hints[f] = split
    return files, hints


def _read_dir(
    directory: Path, mapping: Mapping | None, all_versions: bool
) -> list[tuple[str | None, Path, list[RawRun]]]:
    """Runs in a directory, each as (version label, file read, raw runs)."""
    from advisor.curves._readers_mlflow import find_mlflow_target, mlflow_runs

    target = find_mlflow_target(directory, nested=False)  # mlruns/, mlruns/<exp>/, a run folder
    if target is not None:
        return [(None, directory, mlflow_runs(target))]
    logs = directory / "lightning_logs"
    base = logs if logs.is_dir() else directory
    versions = _version_dirs(base)
    if versions:
        chosen = versions if all_versions else versions[-1:]
        out = []
        for v in chosen:
            inner = _read_dir(v, mapping, all_versions=False)
            if not all_versions and len(versions) > 1:
                for _, _, runs in inner:
                    for raw in runs:
                        raw.notes.append(
                            f"read the newest of {len(versions)} versions in {base} ({v.name});"
                            " pass all_versions=True (--all-versions) to read them all"
                        )
            out.extend((v.name, p, runs) for _, p, runs in inner)
        return out
    if (directory / "metrics.csv").is_file():
        p = directory / "metrics.csv"
        return [(None, p, _read_file(p, mapping))]
    if (directory / "trainer_state.json").is_file():
        p = directory / "trainer_state.json"
        return [(None, p, _read_file(p, mapping))]
    checkpoints = sorted(
        (d for d in directory.glob("checkpoint-*") if (d / "trainer_state.json").is_file()),
        key=lambda d: _natural_key(d.name),
    )
    if checkpoints:
        p = checkpoints[-1] / "trainer_state.json"
        return [(None, p, _read_file(p, mapping))]
    events, hints = _event_files(directory)
    if events:
        from advisor.curves._readers_events import event_runs

        return [(None, directory, event_runs(events, source=directory, split_hints=hints))]
    target = find_mlflow_target(directory, nested=True)  # a project folder with mlruns/, mlflow.db
    if target is not None:
        return [(None, directory, mlflow_runs(target))]
    found = find_curve_files(directory)
    if not found:
        loose = sorted(
            f
            for f in directory.iterdir()
            if f.is_file() and f.suffix.lower() in (".csv", ".json", ".log", ".txt")
        )
        if len(loose) == 1:
            return [(None, loose[0], _read_file(loose[0], mapping))]
        if not loose and (directory / "hparams.yaml").is_file():
            raise CurveFormatError(
                f"{directory}: holds hparams.yaml but no metrics.csv or event file (a run that stopped before"
                " logging?); point at another version_N or pass the lightning_logs folder."
            )
        if len(loose) > 1:
            shown = ", ".join(f.name for f in loose[:6]) + (", ..." if len(loose) > 6 else "")
            raise CurveFormatError(
                f"{directory}: {len(loose)} candidate logs and none with a known name ({shown}); pass one of"
                " them as the path."
            )
        raise CurveFormatError(
            f"{directory}: no learning-curve logs found (looked for lightning_logs/version_*/metrics.csv,"
            " trainer_state.json, events.out.tfevents*, results.csv, training.log, *history*.json/csv);"
            " point at the log file itself."
        )
    p = found[0]
    if p.parent != directory:
        return _read_dir(p.parent, mapping, all_versions)
    return [(None, p, _read_file(p, mapping))]


def _collect(path: str | os.PathLike[str], mapping: Mapping, all_versions: bool) -> list[Curves]:
    if isinstance(path, str) and path.startswith("mlflow:"):  # mlflow:<tracking uri>#<run>
        from advisor.curves._readers_mlflow import mlflow_runs, parse_mlflow_spec

        return [
            build_curves(r, mapping=mapping or None) for r in mlflow_runs(parse_mlflow_spec(path))
        ]
    p = Path(path)
    if not p.exists():
        raise CurveFormatError(f"{p}: no such file or directory; check the path.")
    if p.is_dir():
        entries = _read_dir(p, mapping or None, all_versions)
    else:
        entries = [(None, p, _read_file(p, mapping or None))]
    curves: list[Curves] = []
    for version, file, runs in entries:
        hparams, note = (None, None)
        if file.is_file() and file.name != "trainer_state.json":
            hparams, note = _hparams_beside(file)
        for raw in runs:
            if version:
                raw.run = f"{version} {raw.run}" if raw.run else version
            if hparams:
                raw.hparams = {**hparams, **raw.hparams}
            if note:
                raw.notes.append(note)
            curves.append(build_curves(raw, mapping=mapping or None))
    return curves


def load_runs(
    path: str | os.PathLike[str],
    *,
    train_key: str | None = None,
    val_key: str | None = None,
    metric_key: str | None = None,
    all_versions: bool = False,
    mode: str | None = None,
) -> list[Curves]:
    """Read every run in a curve log or run directory.

    A file can hold several runs (Keras ``CSVLogger(append=True)``, a grid search written to one
    CSV); a ``lightning_logs`` directory holds one run per ``version_N`` (only the newest unless
    ``all_versions``).

    Args:
        path: a log file or a run directory.
        train_key: the column/tag of the train loss when its name cannot be recognised.
        val_key: the column/tag of the validation loss.
        metric_key: the column/tag of an extra validation metric, or a metric name (``top1``).
        all_versions: read every ``version_N`` of a ``lightning_logs`` directory, oldest first.
        mode: ``"max"`` or ``"min"``: forces the direction of the ``val_key``/``metric_key``
            series (inferred from the name otherwise: accuracy, top1, f1, auc, map, r2, iou,
            dice, precision, recall are higher-is-better).

    Returns:
        One ``Curves`` per run, in file order.

    Raises:
        CurveFormatError: the path holds no readable curves; the message says why and how to fix it.

    Example:
        >>> runs = load_runs("keras/braintumor-appended-4runs.csv")  # doctest: +SKIP
        >>> [r.run for r in runs]  # doctest: +SKIP
        ['run 1 of 4', 'run 2 of 4', 'run 3 of 4', 'run 4 of 4']
    """
    try:
        return _collect(path, Mapping(train_key, val_key, metric_key, mode), all_versions)
    except CurveFormatError as exc:
        message = str(exc)
        if "\n" in message or "\r" in message:  # names quoted from a file may hold line breaks
            raise CurveFormatError(" ".join(message.split())) from None
        raise


def load_curves(
    path: str | os.PathLike[str],
    *,
    train_key: str | None = None,
    val_key: str | None = None,
    metric_key: str | None = None,
    all_versions: bool = False,
    run: int | str | None = None,
    mode: str | None = None,
) -> Curves:
    """Read the learning curves of one training run.

    The format is detected from the content: Lightning ``metrics.csv``, Keras CSVLogger/History
    JSON, Hugging Face ``trainer_state.json``, TensorBoard event files, Ultralytics
    ``results.csv``, text logs, and plain CSV/JSON.

    Args:
        path: a log file or a run directory (``lightning_logs``, a Trainer output dir ...).
        train_key: the column/tag of the train loss when its name cannot be recognised.
        val_key: the column/tag of the validation loss.
        metric_key: the column/tag of an extra validation metric, or a metric name (``top1``).
        mode: ``"max"`` or ``"min"``: forces the direction of the ``val_key``/``metric_key`` series.
        all_versions: count every ``version_N`` of a ``lightning_logs`` directory as a run
            (``run`` then picks among them); by default only the newest is read.
        run: 1-based index of the run to return when the path holds several; default the last.
            For an MLflow store, also a run id, a run name or ``"<experiment>/<run name>"``.

    Returns:
        The ``Curves`` of the run; its ``notes`` say what the reader had to handle.

    Raises:
        CurveFormatError: unreadable input, or ``run`` out of range.

    Example:
        >>> curves = load_curves("lightning_logs/version_0/metrics.csv")  # doctest: +SKIP
        >>> curves.val_loss.values[-1]  # doctest: +SKIP
        0.0347...
    """
    if isinstance(run, str):  # an MLflow run id or name: read that run only
        from advisor.curves._readers_mlflow import select_run

        return select_run(path, run, Mapping(train_key, val_key, metric_key, mode))
    runs = load_runs(
        path,
        train_key=train_key,
        val_key=val_key,
        metric_key=metric_key,
        all_versions=all_versions,
        mode=mode,
    )
    n = len(runs)
    if run is not None:
        if isinstance(run, bool) or not isinstance(run, int) or not 1 <= run <= n:
            raise CurveFormatError(
                f"{path}: run must be an int from 1 to {n} (the runs this path holds), got {run!r}."
            )
        return runs[run - 1]
    chosen = runs[-1]
    if n > 1:
        chosen.notes.append(
            f"{path} holds {n} runs; loaded the last ({chosen.run}). Pass run=K (1-{n}) or use load_runs() for the others"
        )
    return chosen


def find_curve_files(directory: str | os.PathLike[str]) -> list[Path]:
    """Learning-curve logs under ``directory`` (e.g. beside a checkpoint), newest first.

    Looks for Lightning ``metrics.csv``, ``trainer_state.json``, TensorBoard event files, Ultralytics
    ``results.csv``, Keras ``training.log`` and ``*history*.json/csv`` files, at most six levels down.

    Example:
        >>> find_curve_files("outputs/")  # doctest: +SKIP
        [PosixPath('outputs/lightning_logs/version_3/metrics.csv'), ...]
    """
    root = Path(directory)
    if not root.is_dir():
        return []
    found: list[Path] = []
    root_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).parts) - root_depth
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and depth < _MAX_DEPTH]
        for name in filenames:
            low = name.lower()
            if (
                low in _NAMED
                or _is_event_name(low)
                or ("history" in low and low.endswith((".json", ".csv")))
            ):
                found.append(Path(dirpath) / name)

    return newest_first(found)


def newest_first(paths: Iterable[Path]) -> list[Path]:
    """Log files ordered newest first (modification time, then natural order of the path).

    Example:
        >>> newest_first([])
        []
    """

    def key(p: Path) -> tuple[float, list[object]]:
        try:
            mtime = p.stat().st_mtime
        except OSError:
            mtime = 0.0
        return (mtime, _natural_key(str(p)))

    return sorted(paths, key=key, reverse=True)
