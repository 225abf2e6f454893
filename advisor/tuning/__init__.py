"""Tuning: search a regularizer stack's strengths with Optuna under k-fold cross-validation.

``tune()`` is the entry point (``advisor.tune``): it checks its options into ``TuneSettings``
and runs a ``TuningSession`` (prepare, baseline, trials, result, refit); ``TrainConfig`` sets
the built-in training loop; ``TuneResult`` is what comes back. ``cross_validate`` trains every
fold of one configuration (vectorised or sequential folds, ``choose_folds_mode`` picks);
``check_model`` is the one-forward-pass check run before any study exists.

Modules: ``_tune`` (the wrapper), ``_settings``, ``_session``, ``_trials`` (one Optuna trial),
``_study`` (storage, study, budget), ``_loop`` (one worker's trial loop), ``_workers``
(parallel worker processes), ``_jobs`` (how many), ``_factory`` (model factories from a
spec), ``_cv`` (cross-validation, fold-mode choice),
``_folds_base`` / ``_folds_sequential`` / ``_folds_vectorised`` (the two fold modes),
``_stacked_optim`` (AdamW/Adam/SGD over stacked folds), ``_refit``, ``_space`` (search
spaces), ``_splits``, ``_data``, ``_validate``, ``_result``.
"""

from advisor.tuning._config import TrainConfig, resolve_device
from advisor.tuning._cv import CVOutcome, choose_folds_mode, cross_validate
from advisor.tuning._data import TuneData, as_tensors, load_data_file
from advisor.tuning._factory import load_factory
from advisor.tuning._folds_base import TrialDiverged
from advisor.tuning._result import CVScore, TuneResult
from advisor.tuning._session import TuningSession
from advisor.tuning._settings import TuneSettings
from advisor.tuning._space import full_stack, nested_params, resolve_stack, rules_stack
from advisor.tuning._splits import make_folds
from advisor.tuning._study import PRUNERS
from advisor.tuning._tune import tune
from advisor.tuning._validate import check_model

__all__ = [
    "PRUNERS",
    "CVOutcome",
    "CVScore",
    "TrainConfig",
    "TrialDiverged",
    "TuneData",
    "TuneResult",
    "TuneSettings",
    "TuningSession",
    "as_tensors",
    "check_model",
    "choose_folds_mode",
    "cross_validate",
    "full_stack",
    "load_data_file",
    "load_factory",
    "make_folds",
    "nested_params",
    "resolve_device",
    "resolve_stack",
    "rules_stack",
    "tune",
]
