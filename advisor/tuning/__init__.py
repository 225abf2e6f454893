"""Tuning: search a regularizer stack's strengths with Optuna under k-fold cross-validation.

``tune()`` is the entry point (``advisor.tune``); ``TrainConfig`` sets the built-in training
loop; ``TuneResult`` is what comes back. See ``_tune`` for the method and ``_train`` for the
vectorised folds.
"""

from advisor.tuning._config import TrainConfig
from advisor.tuning._data import TuneData, as_tensors, load_data_file
from advisor.tuning._result import CVScore, TuneResult
from advisor.tuning._space import full_stack
from advisor.tuning._splits import make_folds
from advisor.tuning._tune import PRUNERS, tune

__all__ = [
    "PRUNERS",
    "CVScore",
    "TrainConfig",
    "TuneData",
    "TuneResult",
    "as_tensors",
    "full_stack",
    "load_data_file",
    "make_folds",
    "tune",
]
