"""The worker process's side of ``_workers``: set up once, then train each stage the parent sends.

A worker receives a :class:`WorkerSetup` (pickled: the factory, the data and folds, the
storage, the sampler), opens the storage, moves the data to its device, says ``ready`` and then
runs a ``TrialLoop`` (``_loop``) for every :class:`StageJob` until the parent sends ``None``.
An error is sent to the parent in words and pickled (the parent raises it); Ctrl-C and a
vanished parent end the worker after its current trial is marked interrupted.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from advisor.tuning._loop import TrialLoop

__all__ = ["StageJob", "WorkerSetup", "one_line", "send", "worker_main"]


# --------------------------------------------------------------------------- what workers get
@dataclass
class WorkerSetup:
    """What every worker needs once: the factory, the data and folds, the storage, the sampler."""

    model_fn: Callable[..., Any]
    X: Any  # tensors on the CPU; each worker moves them to ``cv_args["device"]``
    y: Any
    fold_pairs: list
    cv_args: dict[str, Any]
    storage: Any  # a spec for open_storage (None, URL, path) or a pickled storage (bytes)
    sampler: str
    seed: int
    pruner: Any
    stale_after: float
    threads: int
    verbosity: int  # Optuna's log level in the parent, kept in the workers


@dataclass
class StageJob:
    """One study for all workers: train its trials until ``n_trials`` are finished."""

    study_name: str
    stack: Any
    n_trials: int
    seconds_left: float | None  # the tune() timeout, as seconds from now
    seeded: bool  # False for a resumed study: a reseeded sampler would repeat its first trials


# ------------------------------------------------------------------------------ the worker
class _ParentGone(Exception):
    """The parent process died: stop after the current trial."""


def worker_main(index: int, conn, payload: Any, threads: int) -> None:
    """A worker process: set up once, then run each stage job the parent sends until None."""
    os.environ["OMP_NUM_THREADS"] = str(threads)  # before torch is imported by the payload
    # Ctrl-C reaches every worker, and the parent then interrupts them again: the second
    # signal must not cut short the first one's handler, which marks the trial interrupted.
    signal.signal(signal.SIGINT, _interrupt_once)
    try:
        _serve(index, conn, payload, os.getppid())
    except (KeyboardInterrupt, _ParentGone):  # Ctrl-C reaches every worker; the parent reports
        return


def _interrupt_once(signum, frame) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _serve(index: int, conn, payload: Any, parent: int) -> None:
    try:
        setup = pickle.loads(payload) if isinstance(payload, bytes) else payload
        storage = _open_worker_storage(setup.storage)
        X, y = _to_device(setup)
    except Exception as exc:  # reported to the parent, which raises it
        send(conn, ("error", one_line(exc), _pickled(exc), True, traceback.format_exc()))
        return
    send(conn, ("ready", os.getpid()))

    def check_parent() -> None:
        if os.getppid() != parent:
            raise _ParentGone

    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if job is None:
            return
        try:
            timing = _stage_loop(setup, storage, X, y, job, index).run(check_parent)
        except (KeyboardInterrupt, _ParentGone):
            raise
        except BaseException as exc:  # reported to the parent, which raises it
            send(conn, ("error", one_line(exc), _pickled(exc), False, traceback.format_exc()))
            return
        send(conn, ("done", timing.wall, timing.train))


def _open_worker_storage(spec: Any):
    if isinstance(spec, bytes):
        return pickle.loads(spec)
    from advisor.tuning._study import open_storage

    return open_storage(spec)[0]


def _to_device(setup: WorkerSetup):
    import optuna
    import torch

    torch.set_num_threads(setup.threads)
    optuna.logging.set_verbosity(setup.verbosity)
    device = setup.cv_args["device"]
    return setup.X.to(device), setup.y.to(device)


def _stage_loop(setup: WorkerSetup, storage, X, y, job: StageJob, index: int) -> TrialLoop:
    import optuna

    from advisor.tuning._study import make_sampler

    # Each worker its own seed: two samplers seeded alike would propose the same trials.
    seed = setup.seed * 1000 + index + 1 if job.seeded else None
    sampler = make_sampler(setup.sampler, seed, parallel=True)
    study = optuna.load_study(
        study_name=job.study_name, storage=storage, sampler=sampler, pruner=setup.pruner
    )
    deadline = None if job.seconds_left is None else time.perf_counter() + job.seconds_left
    return TrialLoop(
        study=study,
        storage=storage,
        stack=job.stack,
        n_trials=job.n_trials,
        model_fn=setup.model_fn,
        X=X,
        y=y,
        fold_pairs=setup.fold_pairs,
        cv_args=setup.cv_args,
        stale_after=setup.stale_after,
        deadline=deadline,
    )


def send(conn, message) -> None:
    """Send ``message`` over the pipe unless the other end is gone."""
    with contextlib.suppress(OSError, EOFError):  # the other end is gone: nobody to tell
        conn.send(message)


def _pickled(exc: BaseException) -> bytes | None:
    try:
        return pickle.dumps(exc)
    except Exception:  # one that does not pickle is described in words
        return None


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    text = lines[0][:200] if lines else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
