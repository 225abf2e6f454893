"""``advisor.tune``: search the regularization strengths of a stack with Optuna and k-fold CV.

Every trial trains all K folds (vectorised into one ensemble when the model allows it) and is
scored by the mean validation metric over folds; the mean is reported to Optuna after every
epoch so the pruner (median rule by default, or Hyperband, Li et al. 2018) stops bad trials
early. The unregularized baseline is cross-validated on the same folds in the same study, and
the best stack can be refit on all training data. Studies live in a storage (a journal file
under ``.advisor/`` by default, PostgreSQL for many machines) and resume where they stopped.

``tune()`` checks its options into a ``TuneSettings`` and runs a ``TuningSession``
(``_session.py``): prepare, baseline, trials, result, refit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from advisor.tuning._config import TrainConfig
from advisor.tuning._result import TuneResult
from advisor.tuning._session import TuningSession
from advisor.tuning._settings import TuneSettings
from advisor.tuning._study import PRUNERS

__all__ = ["PRUNERS", "tune"]


def tune(
    model_fn: Callable[..., Any],
    data: Any,
    *,
    task: str,
    stack: Any = None,
    n_trials: int = 20,
    timeout: float | None = None,
    folds: int = 5,
    storage: Any = None,
    study_name: str | None = None,
    resume: bool = False,
    device: str = "auto",
    seed: int = 0,
    space: str = "rules",
    search: str = "staged",
    sampler: str = "tpe",
    later_stages: int | None = None,
    groups: Any = None,
    train: TrainConfig | None = None,
    pruner: Any = "median",
    test_size: float | None = None,
    refit: bool | str | Path = False,
    progress: bool | str = "auto",
    stale_after: float = 600.0,
    n_jobs: int | str = 1,
) -> TuneResult:
    """Tune a regularizer stack with Optuna under k-fold cross-validation.

    Args:
        model_fn: builds a fresh ``nn.Module``; called as ``model_fn()`` or, when it takes an
            argument, ``model_fn(params)`` with the trial's ``{technique: {param: value}}``.
        data: ``(X, y)`` arrays/tensors or a map-style torch ``Dataset`` of ``(x, y)``.
        task: ``classification`` (accuracy, StratifiedKFold), ``regression`` (MSE, KFold) or
            ``timeseries`` (MSE, TimeSeriesSplit: no shuffling, no look-ahead).
        stack: what to tune: ``Recommendations``, a ``Stack``, a stack dict or a stack.json path
            (its pieces' ``search_space`` are searched). Not needed with ``space="full"``.
        n_trials: finished trials (complete + pruned + failed) the study runs in total, over all
            workers and resumed runs.
        timeout: seconds after which this process starts no new trial.
        folds: K of k-fold CV.
        storage: None (journal file ``.advisor/tune.journal``), a storage URL
            (``postgresql://...`` shares the study between machines) or a journal file path.
        study_name: name of the study; default derived from model, data shape and settings, so
            rerunning the same call resumes it.
        resume: require the study to exist already (it is always continued when it does).
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda[:N]``.
        seed: seeds folds, weights, batches and the sampler.
        space: ``rules`` (the stack's narrowed space) or ``full`` (every technique, wide ranges).
            For an engine plan the rules space is its stage-1 pieces plus ``later_stages``
            later-stage techniques, ranges centred on the advice (``rules_stack``); the
            recommended values are the first trial.
        search: ``staged`` (the default for an engine plan: stage 1 first, then each later
            technique on top of the best stack so far, kept only when it beats that stack beyond
            the fold noise; the budget is split over the stages, see ``_staged``) or ``flat``
            (every technique of the space searched together). Hand-written stacks and the full
            space have no stages and are searched flat.
        sampler: ``tpe`` (Optuna's TPE, the default) or ``random`` (random search).
        later_stages: later-stage techniques of an engine plan tuned with stage 1, in plan
            order (``None``, the default: all; ``0``: stage 1 only, as G4.1 starts). Ignored
            for hand-written stacks and the full space.
        groups: group label per sample; folds become ``GroupKFold``.
        train: the built-in loop's ``TrainConfig`` (optimizer, lr, batch size, epochs, AMP, folds
            mode, an optional custom ``train_step``).
        pruner: ``median`` (default), ``hyperband``, ``none`` or an Optuna pruner.
        test_size: fraction held out before any fold is made; never seen by tuning, scored only
            by refitting the baseline and the best stack on the rest (``result.test``).
        refit: ``True`` to refit the best stack on all training data (``result.refit_model``), or a
            path to also save its ``state_dict``.
        progress: what runs on stderr: ``auto`` (a live display of the phases, baseline,
            trials with the stage, refit, and an ETA, when stderr is a terminal; else one log
            line per finished trial), ``True`` (the live display), ``False`` (nothing).
        stale_after: seconds without heartbeat after which another host's running trial counts as
            interrupted and is re-run.
        n_jobs: worker processes training trials of the study at the same time, on the same
            storage, each with ``cores // n_jobs`` torch threads; ``"auto"`` picks the number
            from the cores and a short timed probe (one process with vectorised or sequential
            folds, or several workers) and ``result.jobs_reason`` says why. Workers are spawned
            and load ``model_fn`` again: define it at module level (a lambda or a notebook
            function makes them forked, one thread each, CPU only), and call ``tune`` under
            ``if __name__ == "__main__":`` in a script. Needs a storage other processes can
            open (not Optuna's in-memory one). 1 (the default): trials run in this process.

    Returns:
        TuneResult. ``best`` is the configuration to use: the best stack found when it beats the
        baseline (the user's current setup, on the same folds) beyond the fold noise (a paired
        comparison, ``result.comparison``), else the baseline itself (``best_stack`` empty,
        ``beats_baseline`` False); ``candidate`` is the best stack found either way. Also the
        staged path, trial counts, importances when they mean something, and optionally the
        refit model and the held-out test scores.

    Example:
        >>> from sklearn.datasets import load_digits
        >>> X, y = load_digits(return_X_y=True)
        >>> stack = {"version": 1, "pieces": [{"technique": "dropout", "params": {"p": 0.2},
        ...          "search_space": {"p": {"type": "float", "low": 0.0, "high": 0.5}}}]}
        >>> result = tune(lambda: torch.nn.Sequential(torch.nn.Linear(64, 10)), (X / 16, y),
        ...               task="classification", stack=stack, n_trials=5)  # doctest: +SKIP
    """
    settings = TuneSettings(
        task=task,
        stack=stack,
        n_trials=n_trials,
        timeout=timeout,
        folds=folds,
        storage=storage,
        study_name=study_name,
        resume=resume,
        device=device,
        seed=seed,
        space=space,
        search=search,
        sampler=sampler,
        later_stages=later_stages,
        groups=groups,
        train=train,
        pruner=pruner,
        test_size=test_size,
        refit=refit,
        progress=progress,
        stale_after=stale_after,
        n_jobs=n_jobs,
    )
    return TuningSession(model_fn, data, settings).run()
