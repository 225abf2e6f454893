"""How many worker processes train a study's trials at once (``n_jobs``), and why.

Three ways to use the hardware: one process whose folds train as one vectorised ensemble
(vmap), one process training its folds one after another, or N worker processes, each training
its own trial with ``cores // N`` torch threads in the faster fold mode for that thread count
(``_workers``). On a CPU, ``n_jobs="auto"`` times a few training steps of all folds at each
thread count involved and estimates the study's wall time for each choice of N:

    time(N) = start(N) + ceil(n_trials / N) * steps per trial * seconds per step at cores // N

(``start``: the seconds a spawned worker needs to import torch and load the factory), and
keeps one process unless N workers are faster by ``PARALLEL_MARGIN`` (N processes share the
memory bandwidth; the probe times one of them alone). On the 2-core development machine two
one-thread workers ran 1.45x (MLP) / 1.30x (CNN) the trials per hour of one two-thread process
(``benchmarks/bench_tune_jobs.py``): the ceiling there, since one process's vectorised folds
already gain 1.44x / 1.55x from the second thread (``benchmarks/bench_cpu_ceiling.py``).

On a GPU a small model leaves the device waiting on kernel launches; several worker processes
then share it: ``auto`` starts up to ``GPU_MAX_WORKERS`` when a step of all folds takes less
than ``GPU_BUSY_STEP_S`` and their memory fits. Not yet measured on a GPU.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from advisor.errors import ConfigError

__all__ = [
    "JobsPlan",
    "check_n_jobs",
    "choose_jobs",
    "gpu_step_probe",
    "time_steps",
    "torch_threads",
]

# Seconds until N workers are ready, measured on 2 cores next to a training baseline: a spawned
# worker imports torch, optuna and advisor itself, a forkserver imports them once and forks the
# workers (5-8 s here), a forked worker has everything already.
START_S = {"spawn": 8.0, "forkserver": 6.0, "fork": 0.5}
PARALLEL_MARGIN = 1.1  # N workers must be estimated this much faster than one process
GPU_BUSY_STEP_S = 0.02  # a step of all folds slower than this keeps a GPU busy on its own
GPU_MAX_WORKERS = 4  # processes sharing one GPU (each holds a CUDA context, ~0.5 GB)
GPU_CONTEXT_BYTES = 512 * 2**20
GPU_MEMORY_SHARE = 0.8  # of the free device memory the workers may fill together


@dataclass(frozen=True)
class JobsPlan:
    """Worker processes (1: trials run in this process), threads each, fold mode, and why."""

    jobs: int
    threads: int
    mode: str
    mode_reason: str
    reason: str


def check_n_jobs(n_jobs) -> int | str:
    """``n_jobs`` of tune: an int >= 1 or ``"auto"``."""
    if n_jobs == "auto":
        return "auto"
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ConfigError(f"n_jobs of tune must be an int >= 1 or 'auto', got {n_jobs!r}.")
    return n_jobs


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (what a worker will have), then restore."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def choose_jobs(
    n_jobs: int | str,
    *,
    cores: int,
    n_trials: int,
    steps_per_trial: int,
    fold_mode: Callable[[int], tuple[str, str]],
    step_time: Callable[[int, str], float],
    method: str = "forkserver",
    method_note: str = "",
    start_s: Callable[[int], float] | None = None,
    blocker: str = "",
    gpu_probe: Callable[[str], tuple[float, int, int]] | None = None,
    threads_now: int = 1,
) -> JobsPlan:
    """Pick the worker count, threads per worker and fold mode; say why.

    Args:
        n_jobs: an int (as requested) or ``"auto"``.
        cores: CPU cores this process may use.
        n_trials: the study's trial budget.
        steps_per_trial: training steps of all folds in one trial (epoch cap x batches).
        fold_mode: ``fold_mode(threads) -> (mode, reason)``, the fold mode at that thread count.
        step_time: ``step_time(threads, mode) -> seconds`` per training step of all folds.
        method: ``fork`` when the factory cannot be sent to a new process (then workers are
            forked with one thread each), else how workers of several threads start.
        method_note: why workers must be forked, when they must.
        start_s: ``start_s(threads) -> seconds`` until workers of that many threads are ready
            (``START_S`` of how they start); default ``START_S[method]``.
        blocker: why workers cannot be used at all (an in-memory storage), or empty.
        gpu_probe: on a GPU, ``(mode) -> (seconds per step, bytes per worker, free bytes)``.
        threads_now: this process's torch threads (what one process trains with).
    """
    if n_jobs == 1:
        mode, mode_reason = fold_mode(threads_now)
        reason = "n_jobs=1: one trial at a time in this process"
        return JobsPlan(1, threads_now, mode, mode_reason, reason)
    if n_jobs != "auto":
        threads = 1 if method == "fork" else max(1, cores // n_jobs)
        mode, mode_reason = fold_mode(threads)
        reason = (
            f"requested: {n_jobs} worker processes x {threads} torch thread(s) on {cores} cores"
        )
        if n_jobs > cores:
            reason += " (more workers than cores: they take turns)"
        return JobsPlan(n_jobs, threads, mode, mode_reason, _with_note(reason, method_note))
    one = "auto: one process"
    if blocker:
        mode, mode_reason = fold_mode(threads_now)
        return JobsPlan(1, threads_now, mode, mode_reason, f"{one} ({blocker})")
    if n_trials == 1:
        mode, mode_reason = fold_mode(threads_now)
        return JobsPlan(1, threads_now, mode, mode_reason, f"{one} (a single trial)")
    if gpu_probe is not None:
        return _choose_gpu(cores, n_trials, fold_mode, gpu_probe, threads_now)
    if cores == 1:
        mode, mode_reason = fold_mode(1)
        return JobsPlan(1, 1, mode, mode_reason, f"{one} (1 CPU core)")
    start = start_s or (lambda threads: START_S.get(method, START_S["spawn"]))
    return _choose_cpu(
        cores, n_trials, steps_per_trial, fold_mode, step_time, method, method_note, threads_now,
        start,
    )  # fmt: skip


def _with_note(reason: str, note: str) -> str:
    return f"{reason}; forked with 1 thread each: {note}" if note else reason


def _cpu_candidates(cores: int, n_trials: int, method: str, threads_now: int):
    """(workers, threads each) to compare: this process as it is, powers of two, one per core."""
    top = min(cores, n_trials)
    counts = sorted({2**k for k in range(1, 8) if 2**k <= top} | {top} - {1})
    each = 1 if method == "fork" else None  # forked workers run one thread each
    return [(1, threads_now)] + [(n, each or max(1, cores // n)) for n in counts]


def _choose_cpu(
    cores, n_trials, steps_per_trial, fold_mode, step_time, method, method_note, threads_now,
    start_s,
):  # fmt: skip
    timed: dict[int, tuple[str, str, float]] = {}  # threads -> (mode, reason, seconds per step)
    estimates = []
    for workers, threads in _cpu_candidates(cores, n_trials, method, threads_now):
        if threads not in timed:
            mode, mode_reason = fold_mode(threads)
            timed[threads] = (mode, mode_reason, step_time(threads, mode))
        step = timed[threads][2]
        total = (start_s(threads) if workers > 1 else 0.0) + math.ceil(n_trials / workers) * (
            steps_per_trial * step
        )
        estimates.append((total, workers, threads))
    serial = next(e for e in estimates if e[1] == 1)
    best = min((e for e in estimates if e[1] > 1), key=lambda e: e[0], default=None)
    s_mode, s_reason, s_step = timed[serial[2]]
    one = f"1 process x {serial[2]} thread(s) ({s_mode} folds, {1000 * s_step:.1f} ms per step)"
    if best is None:
        return JobsPlan(1, serial[2], s_mode, s_reason, f"auto: {one}")
    _, workers, threads = best
    mode, mode_reason, step = timed[threads]
    gain = workers * s_step / step  # trials per hour, N workers vs one process
    many = (
        f"{workers} worker processes x {threads} thread(s) ({mode} folds, "
        f"{1000 * step:.1f} ms per step each)"
    )
    if best[0] * PARALLEL_MARGIN < serial[0]:
        reason = f"auto: {many}: timed probe, ~{gain:.1f}x the trials per hour of {one}"
        return JobsPlan(workers, threads, mode, mode_reason, _with_note(reason, method_note))
    reason = (
        f"auto: {one}: timed probe, {many} would give ~{gain:.1f}x the trials per hour, "
        f"not enough for {workers} processes (they start in ~{start_s(threads):.0f} s)"
    )
    return JobsPlan(1, serial[2], s_mode, s_reason, reason)


def _choose_gpu(cores, n_trials, fold_mode, gpu_probe, threads_now) -> JobsPlan:
    mode, mode_reason = fold_mode(threads_now)
    step, per_worker, free = gpu_probe(mode)
    fits = int(GPU_MEMORY_SHARE * free // max(1, per_worker + GPU_CONTEXT_BYTES))
    workers = min(GPU_MAX_WORKERS, cores, n_trials, fits)
    ms = f"{1000 * step:.1f} ms per step of all folds"
    if step >= GPU_BUSY_STEP_S or workers < 2:
        why = "one trial keeps the GPU busy" if step >= GPU_BUSY_STEP_S else "memory for one"
        return JobsPlan(1, threads_now, mode, mode_reason, f"auto: one process ({ms}: {why})")
    return JobsPlan(
        workers,
        max(1, cores // workers),
        mode,
        mode_reason,
        f"auto: {workers} worker processes share the GPU ({ms}: the device waits on kernel "
        "launches; not yet measured on a GPU)",
    )


# ------------------------------------------------------------------------------ the probes
def time_steps(mode: str, model_fn, stack, params, X, y, folds, **train) -> float:
    """Seconds per training step of all folds in ``mode`` (after a warm-up), on the CPU."""
    from advisor.tuning._cv import _timed_steps, build_folds_trainer
    from advisor.tuning._folds_base import as_stack

    trainer = build_folds_trainer(mode, model_fn, as_stack(stack), params, X, y, folds, **train)
    return _timed_steps(trainer)


def gpu_step_probe(mode: str, model_fn, stack, params, X, y, folds, **train):
    """On a CUDA device: (seconds per step of all folds, peak bytes of one trial, free bytes).

    Returns:
        The step time, the peak memory of this process while it trains (the data included:
        each worker holds its own copy) and the free device memory.
    """
    import torch

    from advisor.tuning._cv import build_folds_trainer
    from advisor.tuning._folds_base import as_stack

    device = train["device"]
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    trainer = build_folds_trainer(mode, model_fn, as_stack(stack), params, X, y, folds, **train)
    active = [True] * len(folds)
    trainer.train_epoch(active, max_steps=1)  # warm-up: kernels, allocator
    torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    trainer.train_epoch(active, max_steps=3)
    torch.cuda.synchronize(device)
    step = (time.perf_counter() - t0) / 3
    peak = torch.cuda.max_memory_allocated(device)
    free, _total = torch.cuda.mem_get_info(device)
    return step, int(peak), int(free)
