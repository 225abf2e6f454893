"""Write one run's logged curves the way six real loggers lay them out.

``history`` holds per-epoch lists (index i = the i-th training epoch) of the LOGGED series only:
``train_loss``, ``train_acc``, ``train_mae``, ``val_loss``, ``val_acc``, ``val_mae`` (any may be
absent), plus ``lr`` and ``steps_per_epoch``. Floats are written with 6 significant digits;
NaN / inf are written the way each logger writes them.

Formats and what ``labels.jsonl`` ``path`` points at:

* ``lightning``: ``<run>/lightning_logs/version_0/metrics.csv`` (CSVLogger: one validation row
  and one train epoch-row per epoch, columns sorted, 0-based epochs, global step), sometimes
  ``hparams.yaml`` beside it; path = the run directory.
* ``keras-csv``: ``<run>/training.log`` or ``<run>/history.csv`` (CSVLogger: ``epoch`` then the
  keys sorted: ``accuracy, loss, val_accuracy, val_loss``); path = the file.
* ``keras-json``: ``<run>/history.json``, ``json.dump(model.fit(...).history)``; path = the file.
* ``hf-trainer``: ``<run>/trainer_state.json`` (``log_history`` with a train entry and an eval
  entry per epoch, 1-based fractional epochs, and the final summary entry); path = the run dir.
* ``tensorboard``: ``<run>/events.out.tfevents.*`` written by ``SummaryWriter``: either a
  hand-written loop (tags ``train/loss``, ``val/loss``, ``val/accuracy``, step = epoch) or the
  Lightning TensorBoardLogger style (``train_loss``, ``val_loss``, ``val_acc`` at the global
  step plus an ``epoch`` scalar); path = the run directory.
* ``csv``: a hand-written ``<run>/log.csv`` (1-based ``epoch``, ``train_loss``, ``val_loss``,
  ``val_acc``/``val_mae``, ``lr``); path = the file.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

FORMATS = ("lightning", "keras-csv", "keras-json", "hf-trainer", "tensorboard", "csv")


def r6(v: float | None) -> float | None:
    """Round to 6 significant digits (keeps NaN / inf)."""
    if v is None:
        return None
    v = float(v)
    if not math.isfinite(v) or v == 0.0:
        return v
    return float(f"{v:.6g}")


def _cell(v: float | None) -> str:
    if v is None:
        return ""
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.6g}"


def _series(history: dict, names: tuple[str, ...]) -> dict[str, list]:
    return {k: history[k] for k in names if k in history}


def write_lightning(run_dir: Path, history: dict, n: int, hparams: dict | None) -> str:
    d = run_dir / "lightning_logs" / "version_0"
    d.mkdir(parents=True, exist_ok=True)
    spe = history["steps_per_epoch"]
    rename = {
        "train_loss": "train_loss",
        "train_acc": "train_acc",
        "train_mae": "train_mae",
        "val_loss": "val_loss",
        "val_acc": "val_acc",
        "val_mae": "val_mae",
    }
    cols = sorted(rename[k] for k in rename if k in history)
    header = ["epoch", "step", *cols]
    with (d / "metrics.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for e in range(n):
            step = (e + 1) * spe - 1
            val = {k: history[k][e] for k in cols if k.startswith("val_")}
            tr = {k: history[k][e] for k in cols if k.startswith("train_")}
            for part in (val, tr):  # validation runs before the train epoch-end log
                if part:
                    w.writerow([e, step, *[_cell(part[c]) if c in part else "" for c in cols]])
    if hparams:
        with (d / "hparams.yaml").open("w") as fh:
            for k, v in hparams.items():
                fh.write(f"{k}: {v}\n")
    return str(run_dir)


def write_keras_csv(run_dir: Path, history: dict, n: int, name: str) -> str:
    keys = {
        "train_loss": "loss",
        "train_acc": "accuracy",
        "train_mae": "mae",
        "val_loss": "val_loss",
        "val_acc": "val_accuracy",
        "val_mae": "val_mae",
    }
    present = sorted((keys[k], k) for k in keys if k in history)
    p = run_dir / name
    with p.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["epoch", *[k for k, _ in present]])
        for e in range(n):
            w.writerow([e, *[_cell(history[src][e]) for _, src in present]])
    return str(p)


def write_keras_json(run_dir: Path, history: dict, n: int) -> str:
    keys = {
        "train_loss": "loss",
        "train_acc": "accuracy",
        "train_mae": "mae",
        "val_loss": "val_loss",
        "val_acc": "val_accuracy",
        "val_mae": "val_mae",
    }
    out = {dst: [r6(v) for v in history[src][:n]] for src, dst in keys.items() if src in history}
    p = run_dir / "history.json"
    p.write_text(json.dumps(out))  # NaN written as NaN, as json.dump(history.history) does
    return str(p)


def write_hf(run_dir: Path, history: dict, n: int, bs: int, epochs_planned: int) -> str:
    spe = history["steps_per_epoch"]
    log = []
    for e in range(n):
        step = (e + 1) * spe
        if "train_loss" in history:
            log.append(
                {
                    "epoch": float(e + 1),
                    "learning_rate": r6(history["lr"][e]),
                    "loss": r6(history["train_loss"][e]),
                    "step": step,
                }
            )
        ev = {"epoch": float(e + 1)}
        for src, dst in (
            ("val_loss", "eval_loss"),
            ("val_acc", "eval_accuracy"),
            ("val_mae", "eval_mae"),
        ):
            if src in history:
                ev[dst] = r6(history[src][e])
        if len(ev) > 1:
            ev.update(
                {
                    "eval_runtime": 0.05,
                    "eval_samples_per_second": 4000.0,
                    "eval_steps_per_second": 60.0,
                    "step": step,
                }
            )
            log.append(ev)
    tl = [v for v in history.get("train_loss", []) if v is not None and math.isfinite(v)]
    log.append(
        {
            "epoch": float(n),
            "step": n * spe,
            "total_flos": 0.0,
            "train_loss": r6(sum(tl) / len(tl)) if tl else float("nan"),
            "train_runtime": 1.0,
            "train_samples_per_second": 1000.0,
            "train_steps_per_second": 10.0,
        }
    )
    state = {
        "best_metric": None,
        "best_model_checkpoint": None,
        "epoch": float(n),
        "eval_steps": spe,
        "global_step": n * spe,
        "is_hyper_param_search": False,
        "is_local_process_zero": True,
        "is_world_process_zero": True,
        "log_history": log,
        "logging_steps": spe,
        "max_steps": epochs_planned * spe,
        "num_train_epochs": epochs_planned,
        "save_steps": 500,
        "train_batch_size": bs,
        "trial_name": None,
        "trial_params": None,
    }
    (run_dir / "trainer_state.json").write_text(json.dumps(state, indent=2))
    return str(run_dir)


def write_tensorboard(run_dir: Path, history: dict, n: int, style: str, run_id: str) -> str:
    from torch.utils.tensorboard import SummaryWriter

    run_dir.mkdir(parents=True, exist_ok=True)
    w = SummaryWriter(log_dir=str(run_dir))
    spe = history["steps_per_epoch"]
    if style == "loop":
        tags = {
            "train_loss": "train/loss",
            "train_acc": "train/accuracy",
            "train_mae": "train/mae",
            "val_loss": "val/loss",
            "val_acc": "val/accuracy",
            "val_mae": "val/mae",
        }
    else:  # Lightning TensorBoardLogger
        tags = {
            "train_loss": "train_loss",
            "train_acc": "train_acc",
            "train_mae": "train_mae",
            "val_loss": "val_loss",
            "val_acc": "val_acc",
            "val_mae": "val_mae",
        }
    for e in range(n):
        step = e if style == "loop" else (e + 1) * spe - 1
        wall = 1.7e9 + 10.0 * e  # fixed wall times keep the values reproducible
        if style != "loop":
            w.add_scalar("epoch", float(e), step, walltime=wall)
        for src, tag in tags.items():
            if src in history:
                v = history[src][e]
                w.add_scalar(tag, float("nan") if v is None else float(v), step, walltime=wall)
    w.close()
    for f in sorted(run_dir.iterdir()):
        if "tfevents" in f.name:
            os.replace(f, run_dir / f"events.out.tfevents.1700000000.corpus.{run_id}")
    return str(run_dir)


def write_plain_csv(run_dir: Path, history: dict, n: int) -> str:
    cols = [
        ("train_loss", "train_loss"),
        ("train_acc", "train_acc"),
        ("val_loss", "val_loss"),
        ("val_acc", "val_acc"),
        ("val_mae", "val_mae"),
    ]
    present = [(dst, src) for src, dst in cols if src in history]
    p = run_dir / "log.csv"
    with p.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["epoch", *[d for d, _ in present], "lr"])
        for e in range(n):
            w.writerow(
                [e + 1, *[_cell(history[s][e]) for _, s in present], _cell(history["lr"][e])]
            )
    return str(p)


# series each writer can write (the Trainer logs only the loss for training; the hand-written
# CSV has no train_mae column)
_WRITES = {
    "hf-trainer": {"train_loss", "val_loss", "val_acc", "val_mae"},
    "csv": {"train_loss", "train_acc", "val_loss", "val_acc", "val_mae"},
}
_ALL = {"train_loss", "train_acc", "train_mae", "val_loss", "val_acc", "val_mae"}


def written(fmt: str, keys) -> list[str]:
    """The series of ``keys`` that format ``fmt`` actually writes, sorted."""
    return sorted(k for k in keys if k in _WRITES.get(fmt, _ALL))


def write(
    fmt: str,
    run_dir: Path,
    history: dict,
    n: int,
    *,
    variant: int,
    bs: int,
    epochs_planned: int,
    hparams: dict,
    run_id: str,
) -> str:
    """Write the run; returns the path to pass to ``advisor diagnose``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "lightning":
        return write_lightning(run_dir, history, n, hparams if variant % 2 == 0 else None)
    if fmt == "keras-csv":
        return write_keras_csv(
            run_dir, history, n, "training.log" if variant % 2 == 0 else "history.csv"
        )
    if fmt == "keras-json":
        return write_keras_json(run_dir, history, n)
    if fmt == "hf-trainer":
        return write_hf(run_dir, history, n, bs, epochs_planned)
    if fmt == "tensorboard":
        return write_tensorboard(
            run_dir, history, n, "loop" if variant % 2 == 0 else "lightning", run_id
        )
    if fmt == "csv":
        return write_plain_csv(run_dir, history, n)
    raise KeyError(fmt)
