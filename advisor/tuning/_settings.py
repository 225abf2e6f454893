"""``TuneSettings``: every option of ``advisor.tune`` in one checked, frozen dataclass.

``tune()`` keeps its keyword arguments (they are the public API) and hands them here; the
tuning session (``_session.TuningSession``) reads one object instead of 21 arguments.
Validation happens eagerly, at the boundary, before any data is read or a study opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor._validation import check_choice, check_number
from advisor.errors import ConfigError
from advisor.tuning._config import TrainConfig
from advisor.tuning._jobs import check_n_jobs
from advisor.tuning._space import SPACES
from advisor.tuning._splits import TASKS
from advisor.tuning._study import SAMPLERS

__all__ = ["SEARCHES", "TuneSettings"]

SEARCHES = ("staged", "flat")


@dataclass(frozen=True, kw_only=True)
class TuneSettings:
    """The options of one ``tune()`` call (see :func:`advisor.tuning.tune` for each)."""

    task: str
    stack: Any = None
    n_trials: int = 20
    timeout: float | None = None
    folds: int = 5
    storage: Any = None
    study_name: str | None = None
    resume: bool = False
    device: str = "auto"
    seed: int = 0
    space: str = "rules"
    search: str = "staged"
    sampler: str = "tpe"
    later_stages: int | None = None
    groups: Any = None
    train: TrainConfig | None = None
    pruner: Any = "median"
    test_size: float | None = None
    refit: bool | str | Path = False
    progress: bool | str = "auto"
    stale_after: float = 600.0
    n_jobs: int | str = 1  # one process: parallel workers are asked for (or "auto")

    def __post_init__(self) -> None:
        check_choice("task", self.task, TASKS, of="tune")
        for name, low in (("n_trials", 1), ("folds", 2), ("seed", 0)):
            value = check_number(name, getattr(self, name), of="tune", low=low, integer=True)
            object.__setattr__(self, name, value)  # 10.0 from a JSON file becomes 10
        if self.timeout is not None:
            check_number("timeout", self.timeout, of="tune", low=0, low_open=True)
        check_choice("space", self.space, SPACES, of="tune")
        check_choice("search", self.search, SEARCHES, of="tune")
        check_choice("sampler", self.sampler, SAMPLERS, of="tune")
        check_n_jobs(self.n_jobs)
        if self.test_size is not None and not (
            isinstance(self.test_size, float) and 0.0 < self.test_size < 0.5
        ):
            raise ConfigError(
                f"test_size of tune must be a float in (0, 0.5), got {self.test_size!r}."
            )
        if self.train is None:
            object.__setattr__(self, "train", TrainConfig())
        if not isinstance(self.train, TrainConfig):
            raise ConfigError(
                f"train of tune must be a TrainConfig, got {type(self.train).__name__}."
            )

    @property
    def config(self) -> TrainConfig:
        """The built-in loop's settings (``train``, defaulted)."""
        assert self.train is not None  # set in __post_init__
        return self.train
