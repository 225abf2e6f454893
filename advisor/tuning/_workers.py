"""Parallel trial workers: N processes train trials of one study at a time, sharing its budget.

A ``WorkerPool`` starts N worker processes once per ``tune()`` call and hands each stage of the
search (one study) to all of them; every worker runs the same ``TrialLoop`` (``_loop``) against
the shared storage (the journal file, or a database URL), so exactly ``n_trials`` trials finish
over all workers (``_study.TrialBudget``). The parent trains nothing: it polls the storage for
the progress display, notices a worker that died (one line on stderr), has its running trial
marked interrupted (``TrialBudget.reap_stale``; the freed slot is trained again by a live
worker) and starts a replacement.

Start method: ``forkserver`` (``spawn`` where there is none): each worker is forked from a fresh
server process that has imported torch but run nothing, because ``fork`` of this process after
torch's OpenMP pool has run can hang, and CUDA cannot be forked at all. The worker still
receives the model factory pickled and must rebuild it:
a module-level function or class pickles by reference; one loaded from a file by
``load_factory`` is sent as its spec and loaded again (``_SpecPickler``). A factory a new
process cannot rebuild (a lambda, a closure, a function typed into a notebook) falls back to
``fork`` with one torch thread per worker on a CPU (no OpenMP parallel region is ever entered
in the child, so the pool the parent used cannot hang it); on a GPU it is a ``ConfigError``.

Each worker sets ``torch.set_num_threads(threads)`` (``cores // N`` by default), so N workers
use the machine's cores without oversubscribing them.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import FunctionType
from typing import Any

from advisor.errors import ConfigError
from advisor.tuning._factory import load_factory, spec_of
from advisor.tuning._loop import LoopTiming
from advisor.tuning._worker_process import (
    StageJob,
    WorkerSetup,
    one_line,
    send,
    worker_main,
)

__all__ = [
    "StageJob",
    "WorkerPool",
    "WorkerSetup",
    "WorkersFailed",
    "available_cores",
    "cannot_send",
    "fresh_method",
    "start_method",
    "worker_storage",
]

POLL_S = 0.5  # how often the parent polls the workers and the storage for the progress display
READY_TIMEOUT_S = 300.0  # a worker that cannot import torch and load its factory in 5 min is stuck
JOIN_TIMEOUT_S = 10.0  # after the last stage: how long a worker may take to exit cleanly
# torch._dynamo: torch.optim's first step imports it (3 s here); once in the server, not per worker.
FORKSERVER_PRELOAD = (
    "torch",
    "torch._dynamo",
    "optuna",
    "advisor.regularizers",
    "advisor.tuning._worker_process",
)


class WorkersFailed(RuntimeError):
    """Every worker process died and no replacement is left (the study keeps its trials)."""


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a container's limit), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


class _SpecPickler(pickle.Pickler):
    """Pickles a factory loaded from a file as its spec; refuses what a new process cannot load."""

    def reducer_override(self, obj):
        spec = spec_of(obj)
        if spec is not None:
            return load_factory, (spec,)
        if isinstance(obj, FunctionType | type) and getattr(obj, "__module__", "") == "__main__":
            main = sys.modules.get("__main__")
            if getattr(main, "__file__", None) is None:  # a notebook, a REPL, python -c
                raise pickle.PicklingError(
                    f"{obj.__qualname__} is defined in an interactive session"
                )
        return NotImplemented


def _dumps(obj: Any) -> bytes:
    buffer = io.BytesIO()
    _SpecPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def fresh_method() -> str:
    """``forkserver`` where the platform has it (Linux), else ``spawn``."""
    import multiprocessing

    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def cannot_send(model_fn, config, pruner, device) -> str:
    """Why a new process cannot rebuild ``model_fn`` (then workers are forked), or ``""``.

    Raises:
        ConfigError: it cannot, and the device is a GPU (CUDA cannot be forked).
    """
    try:
        _dumps((model_fn, config, pruner))
        return ""
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        name = getattr(model_fn, "__qualname__", type(model_fn).__name__)
        cause = (
            "a lambda, a nested function or one typed into a notebook"
            if isinstance(exc, pickle.PicklingError)
            else one_line(exc)
        )
        why = f"model_fn {name} cannot be sent to a new process ({cause})"
    if getattr(device, "type", "cpu") == "cuda":
        raise ConfigError(
            f"n_jobs > 1 on {device}: {why}, and CUDA workers cannot be forked; define the factory "
            "at module level in a .py file (advisor tune --model file.py:name) or pass n_jobs=1."
        )
    return why


def start_method(*, device, threads: int, storage: Any, must_fork: bool = False) -> str:
    """How workers of ``threads`` torch threads each start: ``fork`` or ``fresh_method()``.

    A fork is instant and shares the data, and is safe for CPU workers of one thread (the
    pattern of torch's own DataLoader workers): they never enter an OpenMP parallel region, so
    the parent's pool cannot hang them. Workers of several threads, CUDA workers and workers of
    a database storage (the parent's open connections must not be shared) start fresh.
    ``must_fork``: the factory cannot be sent (``cannot_send``), so they fork anyway.
    """
    import multiprocessing

    if must_fork:
        return "fork"
    cheap = (
        getattr(device, "type", "cpu") == "cpu"
        and threads == 1
        and not _database(storage)
        and "fork" in multiprocessing.get_all_start_methods()
    )
    return "fork" if cheap else fresh_method()


def _database(storage: Any) -> bool:
    import optuna

    if isinstance(storage, str | os.PathLike):
        return "://" in str(storage)
    return isinstance(storage, optuna.storages.RDBStorage)


def worker_storage(storage: Any) -> Any:
    """What a worker opens for tune's ``storage``: the spec (None, URL, path) or it pickled.

    Raises:
        ConfigError: an Optuna in-memory storage (other processes cannot see it).
    """
    import optuna

    if storage is None or isinstance(storage, str | os.PathLike):
        return storage if storage is None else str(storage)
    if isinstance(storage, optuna.storages.InMemoryStorage):
        raise ConfigError(
            "storage of tune is an Optuna InMemoryStorage, which worker processes cannot open; "
            "with n_jobs > 1 pass None (the journal file), a journal file path or a database URL."
        )
    try:
        return pickle.dumps(storage)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        raise ConfigError(
            f"storage of tune ({type(storage).__name__}) cannot be sent to worker processes "
            f"({one_line(exc)}); with n_jobs > 1 pass a journal file path or a database URL."
        ) from None


# ------------------------------------------------------------------------------ the parent
@dataclass
class _Worker:
    index: int
    process: Any
    conn: Any
    ready: bool = False
    job_done: bool = True
    started: float = field(default_factory=time.perf_counter)


class WorkerPool:
    """N worker processes; :meth:`run` hands them one study and waits until its budget is spent.

    Args:
        setup: what every worker needs (``WorkerSetup``).
        n_jobs: worker processes.
        method: ``forkserver``, ``spawn`` or ``fork`` (``start_method`` picks).
        say: prints one line for the user (a worker died, a replacement started).
        before_fork: a context manager held while a replacement worker is forked mid-search
            (the live display's thread must hold no lock then).
    """

    def __init__(
        self,
        setup: WorkerSetup,
        n_jobs: int,
        *,
        method: str = "forkserver",
        say: Callable[[str], None] | None = None,
        before_fork: Callable[[], Any] = contextlib.nullcontext,
    ):
        import multiprocessing

        self.n_jobs, self.method = n_jobs, method
        self.ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            # The server imports these once; each worker forks from it ready to go (a second
            # tune() in the same process starts its workers at once). The server has run no
            # torch op, so no OpenMP pool exists to be forked.
            self.ctx.set_forkserver_preload(list(FORKSERVER_PRELOAD))
        if method != "fork":
            cpu = {k: v for k, v in vars(setup).items() if k not in ("X", "y")}
            self.payload: Any = _dumps(
                WorkerSetup(**cpu, X=setup.X.detach().cpu(), y=setup.y.detach().cpu())
            )
        else:  # fork: the child inherits the setup as it is, nothing is pickled
            self.payload = replace(setup, threads=1)
        self.threads = 1 if method == "fork" else setup.threads
        self.before_fork = before_fork
        self.say = say or (lambda line: print(line, file=sys.stderr, flush=True))
        self.workers: list[_Worker] = []
        self.replacements = n_jobs  # dead workers replaced over the whole search, at most
        self._next_index = 0
        self._launcher: threading.Thread | None = None
        self._launch_error: BaseException | None = None

    # -- life cycle
    def __enter__(self) -> WorkerPool:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close(clean=exc[0] is None)

    def start(self) -> None:
        """Start the workers and wait until each has loaded the factory and the data."""
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the worker processes without waiting for them to be ready.

        A forkserver hands out its first worker only once it has imported torch (seconds), and
        sending the data fills the pipe: a thread starts them, so this process trains (the
        baseline) meanwhile. A fork is instant and must not happen from a thread.
        """
        if self.workers or self._launcher is not None:
            return
        if self.method == "fork":
            self.workers = [self._spawn() for _ in range(self.n_jobs)]
            return

        def start_all() -> None:
            try:
                for _ in range(self.n_jobs):
                    self.workers.append(self._spawn())
            except BaseException as exc:  # raised by wait_ready, in the caller's thread
                self._launch_error = exc

        self._launcher = threading.Thread(target=start_all, name="advisor-tune-launch", daemon=True)
        self._launcher.start()

    def _join_launcher(self) -> None:
        if self._launcher is not None:
            self._launcher.join()
            self._launcher = None
        if self._launch_error is not None:
            error, self._launch_error = self._launch_error, None
            self.close(clean=False)
            raise error

    def wait_ready(self) -> None:
        """Wait until every worker has loaded the factory and the data (or say why one died)."""
        self._join_launcher()
        deadline = time.perf_counter() + READY_TIMEOUT_S
        while not all(w.ready for w in self.workers):
            if time.perf_counter() > deadline:
                self.close(clean=False)
                raise WorkersFailed(
                    f"{self.n_jobs} worker processes did not start within {READY_TIMEOUT_S:.0f} s."
                )
            self._wait(POLL_S)
            for w in self.workers:
                self._read(w, None)  # drains every message: a dead worker has nothing left
                if not w.ready and not w.process.is_alive():
                    self.close(clean=False)
                    raise WorkersFailed(_died_at_start(w))

    def _spawn(self) -> _Worker:
        parent_end, child_end = self.ctx.Pipe()
        index = self._next_index
        self._next_index += 1
        process = self.ctx.Process(
            target=worker_main,
            args=(index, child_end, self.payload, self.threads),
            name=f"advisor-tune-worker-{index}",
            daemon=True,  # never outlives the parent
        )
        process.start()
        child_end.close()
        return _Worker(index, process, parent_end)

    def close(self, *, clean: bool = True) -> None:
        """Stop the workers: ask idle ones to exit (``clean``), else interrupt them.

        An interrupted worker marks its running trial interrupted (it is trained again when
        the study resumes) and exits; one that does not within ``JOIN_TIMEOUT_S`` is killed.
        """
        if self._launcher is not None:  # still starting workers: let it finish, then stop them
            self._launcher.join()
            self._launcher = None
        for w in self.workers:
            if not w.process.is_alive():
                continue
            if clean:
                send(w.conn, None)
            else:
                with contextlib.suppress(OSError):
                    os.kill(w.process.pid, signal.SIGINT)
        for w in self.workers:
            w.process.join(JOIN_TIMEOUT_S)
            if w.process.is_alive():
                w.process.kill()
                w.process.join(JOIN_TIMEOUT_S)
            w.conn.close()
        self.workers = []

    # -- one study
    def run(
        self,
        job: StageJob,
        *,
        on_poll: Callable[[], None] = lambda: None,
        reap: Callable[[], int] = lambda: 0,
    ) -> LoopTiming:
        """Every worker trains ``job``'s study until its budget is spent; returns their timing."""
        timing = LoopTiming()
        for w in self.workers:
            w.job_done = False
            send(w.conn, job)
        while any(not w.job_done for w in self.workers):
            self._wait(POLL_S)
            for w in list(self.workers):
                if w.job_done:
                    continue
                self._read(w, timing)  # drains every message: a dead worker has nothing left
                if not w.job_done and not w.process.is_alive():
                    self._replace(w, job, reap)
            on_poll()
        return timing

    def _wait(self, timeout: float) -> None:
        from multiprocessing.connection import wait

        handles = [w.conn for w in self.workers] + [w.process.sentinel for w in self.workers]
        wait(handles, timeout)

    def _read(self, w: _Worker, timing: LoopTiming | None) -> None:
        while not w.conn.closed and w.conn.poll():
            try:
                message = w.conn.recv()
            except (EOFError, OSError):  # the worker closed its end: it exited or died
                return
            kind = message[0]
            if kind == "ready":
                w.ready = True
            elif kind == "done":
                w.job_done = True
                if timing is not None:
                    timing.add(LoopTiming(wall=message[1], train=message[2]))
            elif kind == "error":
                self.close(clean=False)
                _raise_from_worker(w, *message[1:])

    def _replace(self, dead: _Worker, job: StageJob, reap: Callable[[], int]) -> None:
        dead.process.join()
        dead.conn.close()
        reaped = reap()
        what = (
            "its running trial is marked interrupted and will be trained again"
            if reaped
            else "it held no running trial"
        )
        self.workers.remove(dead)
        if self.replacements <= 0:
            if not self.workers:
                raise WorkersFailed(
                    f"worker {dead.index} (pid {dead.process.pid}) {_how(dead.process)}, and every "
                    "other worker died before it; the study keeps its finished trials: rerun the "
                    "same command to resume it."
                )
            self.say(f"advisor tune: worker {dead.index} (pid {dead.process.pid}) "
                     f"{_how(dead.process)}; {what}; {len(self.workers)} workers go on")  # fmt: skip
            return
        self.replacements -= 1
        with self.before_fork() if self.method == "fork" else contextlib.nullcontext():
            new = self._spawn()
        new.job_done = False
        send(new.conn, job)
        self.workers.append(new)
        self.say(
            f"advisor tune: worker {dead.index} (pid {dead.process.pid}) {_how(dead.process)}; "
            f"{what}; worker {new.index} started in its place"
        )


def _how(process) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _died_at_start(w: _Worker) -> str:
    return (
        f"worker {w.index} (pid {w.process.pid}) {_how(w.process)} before it started (see the "
        "lines above); a script that calls advisor.tune with n_jobs > 1 must call it under "
        "if __name__ == '__main__': (each worker imports the script), or pass n_jobs=1."
    )


def _raise_from_worker(w: _Worker, text: str, pickled, at_start: bool, trace: str) -> None:
    exc = None
    if pickled is not None:
        try:
            exc = pickle.loads(pickled)
        except Exception:  # e.g. a class only the worker could import
            exc = None
    if at_start and not isinstance(exc, ConfigError):
        raise ConfigError(
            f"worker {w.index} could not set up ({text}); define model_fn at module level in an "
            "importable .py file, or pass n_jobs=1."
        )
    if not isinstance(exc, BaseException):
        exc = RuntimeError(f"worker {w.index}: {text}")
    if not isinstance(exc, ConfigError):  # a bug: where it happened, in the worker
        exc.add_note(f"raised in tuning worker {w.index} (pid {w.process.pid}):\n{trace}")
    raise exc
