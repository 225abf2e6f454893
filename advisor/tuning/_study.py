"""Study storage and the trial budget shared by every worker process.

Storage: embedded by default (an Optuna journal file under ``.advisor/`` in the working
directory, safe for several processes on one machine), or any Optuna storage URL
(``sqlite:///...``, ``postgresql://...``) for workers on many machines.

Budget: a study runs exactly ``n_trials`` *finished* trials in total across all workers and all
resumed runs. Finished means COMPLETE, PRUNED or FAIL (NaN/inf loss, out of memory). Two kinds
of records never count, and are tagged in the trial's ``advisor_status`` user attribute:

- ``interrupted``: the worker running it died (Ctrl-C, crash, SIGKILL); detected from the
  worker's host and process id, or a heartbeat older than ``stale_after`` seconds; marked FAIL
  so the study can go on, and its slot is trained again;
- ``excess``: two workers asked for the last slot at the same moment; the one holding the
  higher trial number gives its slot back before training anything.
"""

from __future__ import annotations

import os
import random
import socket
import time
from pathlib import Path
from typing import Any

from advisor.errors import ConfigError

__all__ = ["DEFAULT_STORAGE_DIR", "TrialBudget", "describe_storage", "open_storage"]

DEFAULT_STORAGE_DIR = Path(".advisor")
DEFAULT_JOURNAL = "tune.journal"
STATUS_ATTR = "advisor_status"
UNCOUNTED = ("interrupted", "excess")


def open_storage(storage: Any) -> tuple[Any, str]:
    """Return an Optuna storage object and a printable description (passwords hidden).

    Args:
        storage: None (the journal file ``.advisor/tune.journal`` in the working directory), a
            URL (``sqlite:///x.db``, ``postgresql://user:pw@host/db``, ``mysql://...``), a path
            to a journal file, or an Optuna storage instance.
    """
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if storage is None:
        DEFAULT_STORAGE_DIR.mkdir(parents=True, exist_ok=True)
        path = DEFAULT_STORAGE_DIR / DEFAULT_JOURNAL
        return JournalStorage(JournalFileBackend(str(path))), f"journal:{path}"
    if isinstance(storage, optuna.storages.BaseStorage):
        return storage, type(storage).__name__
    if not isinstance(storage, str | Path):
        raise ConfigError(
            f"storage must be None, a URL, a journal file path or an Optuna storage, got {type(storage).__name__}."
        )
    text = str(storage)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        if scheme.split("+")[0] not in ("sqlite", "postgresql", "postgres", "mysql"):
            raise ConfigError(
                f"storage URL scheme {scheme!r} is not supported; use sqlite:///FILE, postgresql://... or mysql://...."
            )
        url = text
        if scheme in ("postgres", "postgresql"):
            url = _postgres_driver_url(text)
        last: Exception | None = None
        for attempt in range(5):
            try:
                # pool_pre_ping: long trials leave connections idle; the server may close them.
                rdb = optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
                break
            except Exception as exc:
                # Workers starting together race to create Optuna's tables; the loser retries.
                last = exc
                time.sleep(0.5 + attempt * random.random())
        else:
            raise ConfigError(
                f"storage {describe_storage(text)} cannot be opened ({type(last).__name__}: {str(last).splitlines()[0]})."
            ) from last
        return rdb, describe_storage(text)
    path = Path(text)
    if path.is_dir():
        path = path / DEFAULT_JOURNAL
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path))), f"journal:{path}"


def _postgres_driver_url(url: str) -> str:
    """Name the installed driver: SQLAlchemy 2.1 picks psycopg 3 for a bare postgresql://."""
    import importlib.util

    rest = url.split("://", 1)[1]
    if importlib.util.find_spec("psycopg") is not None:
        return "postgresql+psycopg://" + rest
    if importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + rest
    raise ConfigError(
        "a postgresql:// storage needs a driver; install it with pip install 'regularization-advisor[postgres]' (psycopg2-binary)."
    )


def describe_storage(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


def worker_id() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    # A zombie (killed but not yet reaped by its parent) still answers kill(0); it trains nothing.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class TrialBudget:
    """Counts finished trials of a study and hands out at most ``n_trials`` slots."""

    def __init__(self, study, storage, n_trials: int, *, stale_after: float = 600.0):
        self.study, self.storage, self.n_trials, self.stale_after = (
            study,
            storage,
            n_trials,
            stale_after,
        )
        self.me = worker_id()

    @staticmethod
    def status(trial) -> str | None:
        return trial.user_attrs.get(STATUS_ATTR)

    def counted(self, trials=None) -> list:
        """Trials holding a budget slot: finished or running, not interrupted/excess."""
        from optuna.trial import TrialState

        trials = self.study.get_trials(deepcopy=False) if trials is None else trials
        return [
            t
            for t in trials
            if t.state
            in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
            and self.status(t) not in UNCOUNTED
        ]

    def finished(self) -> list:
        from optuna.trial import TrialState

        return [t for t in self.counted() if t.state != TrialState.RUNNING]

    def _stale(self, trial, now: float) -> bool:
        worker = trial.user_attrs.get("advisor_worker")
        beat = trial.user_attrs.get("advisor_heartbeat")
        same_host = worker and worker.get("host") == self.me["host"]
        if same_host and worker.get("pid") != self.me["pid"] and not _pid_alive(int(worker["pid"])):
            return True
        if beat is None and trial.datetime_start is not None:
            beat = trial.datetime_start.timestamp()
        return beat is not None and now - float(beat) > self.stale_after

    def reap_stale(self) -> int:
        """Mark RUNNING trials of dead workers as FAIL/interrupted; returns how many."""
        from optuna.trial import TrialState

        now, reaped = time.time(), 0
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            worker = t.user_attrs.get("advisor_worker") or {}
            if worker == self.me or not self._stale(t, now):
                continue
            try:
                self.storage.set_trial_user_attr(t._trial_id, STATUS_ATTR, "interrupted")
                self.storage.set_trial_user_attr(
                    t._trial_id,
                    "fail_reason",
                    "its worker process stopped before the trial finished",
                )
                self.study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
                reaped += 1
            except Exception:  # another worker reaped it first
                continue
        return reaped

    def running_others(self) -> bool:
        """Whether a counted trial is still running (on another worker)."""
        from optuna.trial import TrialState

        return any(t.state == TrialState.RUNNING for t in self.counted())

    def remaining(self) -> int:
        return self.n_trials - len(self.counted())

    def claim(self, trial) -> bool:
        """After ``study.ask()``: keep the slot if fewer than ``n_trials`` counted trials precede it."""
        from optuna.trial import TrialState

        ahead = [t for t in self.counted() if t.number < trial.number]
        if len(ahead) < self.n_trials:
            trial.set_user_attr("advisor_worker", self.me)
            trial.set_user_attr("advisor_heartbeat", time.time())
            return True
        trial.set_user_attr(STATUS_ATTR, "excess")
        self.study.tell(trial, state=TrialState.FAIL)
        return False
