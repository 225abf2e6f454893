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

import contextlib
import hashlib
import json
import os
import random
import socket
import time
from pathlib import Path
from typing import Any

from advisor.errors import ConfigError

__all__ = [
    "DEFAULT_STORAGE_DIR",
    "PRUNERS",
    "SAMPLERS",
    "TrialBudget",
    "default_study_name",
    "describe_storage",
    "make_pruner",
    "make_sampler",
    "open_storage",
    "open_study",
]

PRUNERS = ("median", "hyperband", "none")

DEFAULT_STORAGE_DIR = Path(".advisor")
DEFAULT_JOURNAL = "tune.journal"
STATUS_ATTR = "advisor_status"
UNCOUNTED = ("interrupted", "excess")
# A worker tags its trial right after study.ask(); a RUNNING trial still untagged after this
# long lost its worker in between (killed between ask and claim).
CLAIM_GRACE_S = 60.0


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
    """This process in a shared study: ``{"host": hostname, "pid": process id}``."""
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
        """The advisor status of ``trial`` (``"interrupted"``, ``"excess"``), or ``None``."""
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
        """The counted trials that are no longer running (complete, pruned or failed)."""
        from optuna.trial import TrialState

        return [t for t in self.counted() if t.state != TrialState.RUNNING]

    def _stale(self, trial, now: float) -> bool:
        worker = trial.user_attrs.get("advisor_worker")
        beat = trial.user_attrs.get("advisor_heartbeat")
        same_host = worker and worker.get("host") == self.me["host"]
        if same_host and worker.get("pid") != self.me["pid"] and not _pid_alive(int(worker["pid"])):
            return True
        if beat is None and trial.datetime_start is not None:
            started = trial.datetime_start.timestamp()
            if not worker and now - started > CLAIM_GRACE_S:
                return True
            beat = started
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

    def interrupt(self, trial, reason: str) -> None:
        """Mark ``trial`` interrupted (its slot is trained again), unless it already finished."""
        from optuna.trial import TrialState

        with contextlib.suppress(Exception):  # finished already, or the storage is gone
            self.storage.set_trial_user_attr(trial._trial_id, STATUS_ATTR, "interrupted")
            self.storage.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
            self.study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)

    def running_others(self) -> bool:
        """Whether a counted trial is still running (on another worker)."""
        from optuna.trial import TrialState

        return any(t.state == TrialState.RUNNING for t in self.counted())

    def remaining(self) -> int:
        """Slots left: ``n_trials`` minus the counted trials (finished or running)."""
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


# ---------------------------------------------------------------------------- the study
def make_pruner(pruner: Any, max_epochs: int):
    """The Optuna pruner named ``pruner`` (``median``, ``hyperband``, ``none``).

    An Optuna pruner is returned as it is. The median pruner waits for 3 trials and, within a
    trial, for the first epochs; hyperband's resource is the epoch, up to ``max_epochs``.

    Raises:
        ConfigError: an unknown name.
    """
    import optuna

    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner == "median":
        # Warm-up: the first epochs of every trial look alike; judging them prunes good trials.
        return optuna.pruners.MedianPruner(
            n_startup_trials=3, n_warmup_steps=min(3, max_epochs - 1)
        )
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs)
    if pruner in ("none", None):
        return optuna.pruners.NopPruner()
    raise ConfigError(
        f"pruner must be one of {', '.join(PRUNERS)} or an optuna pruner, got {pruner!r}."
    )


def default_study_name(model_fn, X, task, folds, seed, space, stack) -> str:
    """A stable name for the study: ``advisor-`` and 10 hex digits.

    Hashed from the model function, data shape, task, folds, seed, space and stack, so a rerun of
    the same command resumes the same study.
    """
    # Same command, same data -> same name, so a rerun after Ctrl-C resumes the same study.
    key = json.dumps(
        [
            getattr(model_fn, "__module__", ""),
            getattr(model_fn, "__qualname__", repr(model_fn)),
            list(X.shape),
            task,
            folds,
            seed,
            space,
            stack.to_dict(),
        ],
        sort_keys=True,
        default=str,
    )
    return "advisor-" + hashlib.sha1(key.encode()).hexdigest()[:10]


SAMPLERS = ("tpe", "random")


def make_sampler(kind: str, seed: int | None, *, parallel: bool = False):
    """Optuna's TPE sampler (the default) or random search (a baseline for benchmarks).

    ``parallel``: other workers train trials of the same study at the same time; TPE then
    counts their running trials as poor results ("constant liar", Ginsbourger et al. 2010),
    so that two workers do not propose the same point.
    """
    import optuna

    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=parallel)


def open_study(storage, name, direction, seed, pruner, settings, resume, *, sampler="tpe"):
    """Create the study in ``storage``, or load it when it exists.

    A loaded study's sampler is not reseeded (it would propose the first trials again).

    Returns:
        ``(study, created)``: ``created`` is True when this call created it.

    Raises:
        ConfigError: ``resume`` and no such study, or the stored study was created with other
            ``settings``.
    """
    import optuna

    exists = name in {
        s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
    }
    if resume and not exists:
        raise ConfigError(
            f"study {name!r} does not exist in this storage, so it cannot be resumed; drop --resume to start it."
        )
    # A resumed study's sampler is not reseeded: it would propose the first trials again.
    sampler = make_sampler(sampler, seed if not exists else None)
    created = False
    if not exists:
        try:
            study = optuna.create_study(
                storage=storage,
                study_name=name,
                direction=direction,
                sampler=sampler,
                pruner=pruner,
            )
            study.set_user_attr("advisor_settings", settings)
            created = True
        except optuna.exceptions.DuplicatedStudyError:  # another worker created it a moment ago
            exists = True
    if exists:
        study = optuna.load_study(storage=storage, study_name=name, sampler=sampler, pruner=pruner)
        for _ in range(50):  # the creator writes the settings right after creating the study
            if "advisor_settings" in study.user_attrs:
                break
            time.sleep(0.1)
        saved = study.user_attrs.get("advisor_settings")
        if saved is not None and saved != json.loads(json.dumps(settings)):
            diff = [k for k in settings if saved.get(k) != json.loads(json.dumps(settings[k]))]
            raise ConfigError(
                f"study {name!r} was created with other settings ({', '.join(diff)} differ); rerun with the same settings or pass a new --study name."
            )
    return study, created
