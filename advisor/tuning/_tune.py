"""``advisor.tune``: search the regularization strengths of a stack with Optuna and k-fold CV.

Every trial trains all K folds (vectorised into one ensemble when the model allows it) and is
scored by the mean validation metric over folds; the mean is reported to Optuna after every
epoch so the pruner (median rule by default, or Hyperband, Li et al. 2018) stops bad trials
early. The unregularized baseline is cross-validated on the same folds in the same study, and
the best stack can be refit on all training data. Studies live in a storage (a journal file
under ``.advisor/`` by default, PostgreSQL for many machines) and resume where they stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from advisor.errors import ConfigError
from advisor.tuning._config import TrainConfig, resolve_device
from advisor.tuning._data import as_tensors
from advisor.tuning._result import CVScore, TuneResult
from advisor.tuning._space import (
    SPACES,
    full_stack,
    resolve_stack,
    rules_stack,
    search_space,
    suggest,
)
from advisor.tuning._splits import TASKS, make_folds
from advisor.tuning._study import STATUS_ATTR, TrialBudget, open_storage
from advisor.tuning._train import TrialDiverged, choose_folds_mode, cross_validate, metric_info
from advisor.tuning._validate import check_model

__all__ = ["PRUNERS", "tune"]

PRUNERS = ("median", "hyperband", "none")
_EMPTY_STACK = {"version": 1, "pieces": []}


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} of tune must be an int >= {low}, got {value!r}.")
    return value


def _make_pruner(pruner: Any, max_epochs: int):
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


def _default_study_name(model_fn, X, task, folds, seed, space, stack) -> str:
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


def _holdout(data, task: str, test_size: float, seed: int):
    import numpy as np
    from sklearn.model_selection import train_test_split

    n = len(data)
    idx = np.arange(n)
    if task == "timeseries":  # the test block is the future: the last samples
        cut = n - max(1, round(n * test_size))
        return idx[:cut], idx[cut:]
    stratify = data.y.numpy() if task == "classification" else None
    tr, te = train_test_split(idx, test_size=test_size, random_state=seed, stratify=stratify)
    return np.sort(tr), np.sort(te)


def _progress(enabled: Any):
    from advisor.cli._console import err_console

    if enabled == "auto":
        enabled = err_console.is_terminal
    if not enabled:
        return None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]tune[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )


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
    later_stages: int | None = None,
    groups: Any = None,
    train: TrainConfig | None = None,
    pruner: Any = "median",
    test_size: float | None = None,
    refit: bool | str | Path = False,
    progress: bool | str = "auto",
    stale_after: float = 600.0,
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
        progress: rich progress bar on stderr (``auto``: when it is a terminal).
        stale_after: seconds without heartbeat after which another host's running trial counts as
            interrupted and is re-run.

    Returns:
        TuneResult with the best stack, CV mean and std against the baseline, trial counts,
        importances and (optionally) the refit model and held-out test scores.

    Example:
        >>> from sklearn.datasets import load_digits
        >>> X, y = load_digits(return_X_y=True)
        >>> stack = {"version": 1, "pieces": [{"technique": "dropout", "params": {"p": 0.2},
        ...          "search_space": {"p": {"type": "float", "low": 0.0, "high": 0.5}}}]}
        >>> result = tune(lambda: torch.nn.Sequential(torch.nn.Linear(64, 10)), (X / 16, y),
        ...               task="classification", stack=stack, n_trials=5)  # doctest: +SKIP
    """
    import numpy as np
    import torch

    started = time.perf_counter()
    if task not in TASKS:
        raise ConfigError(f"task of tune must be one of {', '.join(TASKS)}, got {task!r}.")
    if not callable(model_fn):
        raise ConfigError(
            f"model_fn of tune must be callable (returning an nn.Module), got {type(model_fn).__name__}."
        )
    _check_int("n_trials", n_trials, 1)
    _check_int("folds", folds, 2)
    _check_int("seed", seed, 0)
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise ConfigError(f"timeout of tune must be a number of seconds > 0, got {timeout!r}.")
    if space not in SPACES:
        raise ConfigError(f"space of tune must be one of {', '.join(SPACES)}, got {space!r}.")
    if test_size is not None and not (isinstance(test_size, float) and 0.0 < test_size < 0.5):
        raise ConfigError(f"test_size of tune must be a float in (0, 0.5), got {test_size!r}.")
    config = train or TrainConfig()
    if not isinstance(config, TrainConfig):
        raise ConfigError(f"train of tune must be a TrainConfig, got {type(config).__name__}.")
    dev = resolve_device(device)

    dataset = as_tensors(data, task=task, groups=groups)
    train_idx, test_idx = (
        (np.arange(len(dataset)), None)
        if test_size is None
        else _holdout(dataset, task, test_size, seed)
    )
    X_all, y_all = dataset.X.to(dev), dataset.y.to(dev)
    X, y = (
        X_all[torch.as_tensor(train_idx, device=dev)],
        y_all[torch.as_tensor(train_idx, device=dev)],
    )
    fold_groups = None if dataset.groups is None else dataset.groups[train_idx]
    fold_pairs, splitter = make_folds(
        y.cpu().numpy(), task=task, folds=folds, seed=seed, groups=fold_groups
    )

    the_stack = (
        full_stack(task, input_ndim=X.ndim)
        if space == "full"
        else rules_stack(resolve_stack(stack), later_stages=later_stages)
    )
    # Build the model, one forward pass, the loss on the labels: a broken factory or a shape
    # mismatch is one line here, before a study or a journal file exists.
    initial_params = {p.technique: {k: p.params[k] for k in p.search_space} for p in the_stack}
    check_model(model_fn, X, y, task=task, params=initial_params)
    metric, direction = metric_info(task)
    storage_obj, storage_desc = open_storage(storage)
    name = study_name or _default_study_name(model_fn, X, task, folds, seed, space, the_stack)
    settings = {
        "task": task,
        "folds": folds,
        "seed": seed,
        "space": space,
        "metric": metric,
        "samples": int(X.shape[0]),
        "search_space": search_space(the_stack),
    }
    study, created = _open_study(
        storage_obj,
        name,
        direction,
        seed,
        _make_pruner(pruner, config.max_epochs),
        settings,
        resume,
    )
    if created and space == "rules":
        initial = {f"{p.technique}.{k}": p.params[k] for p in the_stack for k in p.search_space}
        if initial:
            study.enqueue_trial(initial, skip_if_exists=True)  # the engine's recommendation first

    mode, reason = choose_folds_mode(
        model_fn,
        the_stack,
        initial_params,
        X,
        y,
        fold_pairs,
        task=task,
        config=config,
        device=dev,
        seed=seed,
    )
    cv_args = {"task": task, "config": config, "device": dev, "seed": seed, "mode": mode}

    baseline_dict = study.user_attrs.get("advisor_baseline")
    if baseline_dict is None:
        # Same folds, same loop, no added regularization: the yardstick of the improvement.
        base = cross_validate(model_fn, _EMPTY_STACK, {}, X, y, fold_pairs, **cv_args)
        baseline_dict = {
            "cv_mean": base.mean,
            "cv_std": base.std,
            "fold_scores": base.scores,
            "fold_epochs": base.epochs,
        }
        study.set_user_attr("advisor_baseline", baseline_dict)
    baseline = CVScore.from_dict(baseline_dict)

    budget = TrialBudget(study, storage_obj, n_trials, stale_after=stale_after)
    trials_wall = trials_train = 0.0
    bar = _progress(progress)
    task_id = None
    if bar is not None:
        bar.start()
        task_id = bar.add_task("", total=n_trials, completed=len(budget.finished()))
    try:
        while True:
            if timeout is not None and time.perf_counter() - started > timeout:
                break
            budget.reap_stale()
            if budget.remaining() <= 0:
                break
            t0 = time.perf_counter()
            trial = study.ask()
            if not budget.claim(trial):
                break
            spent = _run_trial(trial, study, model_fn, the_stack, X, y, fold_pairs, cv_args)
            trials_train += spent
            trials_wall += time.perf_counter() - t0
            if bar is not None:
                bar.update(
                    task_id,
                    completed=len(budget.finished()),
                    description=_describe(study, budget, direction),
                )
        # Other workers may still train the last slots: wait for them (or for their death to be
        # noticed), so that every worker reports the whole study.
        while budget.running_others() and (
            timeout is None or time.perf_counter() - started <= timeout
        ):
            time.sleep(1.0)
            budget.reap_stale()
            if bar is not None:
                bar.update(
                    task_id,
                    completed=len(budget.finished()),
                    description=_describe(study, budget, direction),
                )
    finally:
        if bar is not None:
            bar.stop()

    return _collect(
        study,
        budget,
        the_stack,
        baseline,
        model_fn,
        X_all,
        y_all,
        train_idx,
        test_idx,
        metric=metric,
        direction=direction,
        task=task,
        folds=folds,
        splitter=splitter,
        mode=mode,
        reason=reason,
        space=space,
        storage_desc=storage_desc,
        name=name,
        dev=dev,
        refit=refit,
        config=config,
        seed=seed,
        started=started,
        trials_wall=trials_wall,
        trials_train=trials_train,
    )


def _open_study(storage, name, direction, seed, pruner, settings, resume):
    import optuna

    exists = name in {
        s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
    }
    if resume and not exists:
        raise ConfigError(
            f"study {name!r} does not exist in this storage, so it cannot be resumed; drop --resume to start it."
        )
    sampler = optuna.samplers.TPESampler(seed=seed) if not exists else optuna.samplers.TPESampler()
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


def _run_trial(trial, study, model_fn, stack, X, y, fold_pairs, cv_args) -> float:
    """Train one trial; tell Optuna its outcome. Returns the seconds spent training."""
    import optuna
    import torch
    from optuna.trial import TrialState

    params = suggest(trial, stack)
    trial_stack = stack.with_params(params)
    last_beat = [time.time()]

    def on_epoch(epoch: int, mean: float) -> None:
        trial.report(mean, epoch)
        if time.time() - last_beat[0] > 5.0:  # heartbeat for other workers' stale-trial check
            trial.set_user_attr("advisor_heartbeat", time.time())
            last_beat[0] = time.time()
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {epoch} (CV mean {mean:.4g})")

    t0 = time.perf_counter()
    try:
        outcome = cross_validate(
            model_fn, trial_stack, params, X, y, fold_pairs, on_epoch=on_epoch, **cv_args
        )
    except optuna.TrialPruned as exc:
        trial.set_user_attr("prune_reason", str(exc))
        study.tell(trial, state=TrialState.PRUNED)
        return time.perf_counter() - t0
    except TrialDiverged as exc:
        trial.set_user_attr("fail_reason", f"diverged: {exc}")
        study.tell(trial, state=TrialState.FAIL)
        return time.perf_counter() - t0
    except torch.OutOfMemoryError as exc:
        trial.set_user_attr("fail_reason", f"out of memory: {str(exc).splitlines()[0][:200]}")
        study.tell(trial, state=TrialState.FAIL)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return time.perf_counter() - t0
    except KeyboardInterrupt:
        trial.set_user_attr(STATUS_ATTR, "interrupted")
        trial.set_user_attr("fail_reason", "interrupted by the user")
        study.tell(trial, state=TrialState.FAIL)
        raise
    except BaseException as exc:
        if isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower():
            trial.set_user_attr("fail_reason", f"out of memory: {str(exc).splitlines()[0][:200]}")
            study.tell(trial, state=TrialState.FAIL)
            return time.perf_counter() - t0
        # A bug or a bad model_fn: record it, then stop (every later trial would fail the same way).
        trial.set_user_attr(
            "fail_reason",
            f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
        )
        study.tell(trial, state=TrialState.FAIL)
        raise
    spent = time.perf_counter() - t0
    trial.set_user_attr("cv_std", outcome.std)
    trial.set_user_attr("fold_scores", outcome.scores)
    trial.set_user_attr("fold_epochs", outcome.epochs)
    trial.set_user_attr("folds_mode", outcome.mode)
    study.tell(trial, outcome.mean)
    return spent


def _trial_summary(t) -> dict[str, Any]:
    """One finished trial for the JSON output and the report's optimisation history."""
    value = t.value
    if value is None and t.intermediate_values:  # pruned: the CV mean it was stopped at
        value = t.intermediate_values[max(t.intermediate_values)]
    return {
        "number": t.number,
        "state": t.state.name,
        "value": value,
        "params": dict(t.params),
        "fold_scores": t.user_attrs.get("fold_scores"),
        "fold_epochs": t.user_attrs.get("fold_epochs"),
        "epochs": max(t.intermediate_values) if t.intermediate_values else None,
    }


def _describe(study, budget, direction) -> str:
    from optuna.trial import TrialState

    done = budget.finished()
    pruned = sum(t.state == TrialState.PRUNED for t in done)
    complete = [t.value for t in done if t.state == TrialState.COMPLETE]
    best = (max if direction == "maximize" else min)(complete) if complete else math.nan
    return f"best {best:.4f}  pruned {pruned}"


def _collect(
    study,
    budget,
    stack,
    baseline,
    model_fn,
    X_all,
    y_all,
    train_idx,
    test_idx,
    *,
    metric,
    direction,
    task,
    folds,
    splitter,
    mode,
    reason,
    space,
    storage_desc,
    name,
    dev,
    refit,
    config,
    seed,
    started,
    trials_wall,
    trials_train,
) -> TuneResult:
    import optuna
    import torch
    from optuna.trial import TrialState

    finished = budget.finished()
    all_trials = study.get_trials(deepcopy=False)
    complete = [t for t in finished if t.state == TrialState.COMPLETE]
    best_trial = None
    if complete:
        pick = max if direction == "maximize" else min
        best_trial = pick(complete, key=lambda t: t.value)
    failures = [
        {
            "trial": t.number,
            "state": t.state.name.lower(),
            "reason": t.user_attrs.get("fail_reason") or t.user_attrs.get("prune_reason", ""),
        }
        for t in finished
        if t.state in (TrialState.FAIL, TrialState.PRUNED)
    ]
    importances: dict[str, float] = {}
    if len(complete) >= 2 and search_space(stack):
        try:
            with warnings.catch_warnings():  # "importances will be equal" on tiny studies
                warnings.simplefilter("ignore", UserWarning)
                raw = optuna.importance.get_param_importances(study)
            importances = {k: float(v) for k, v in raw.items()}
        except (RuntimeError, ValueError, ZeroDivisionError):
            importances = {}  # e.g. every complete trial had the same parameters
    best = best_params = best_stack = None
    if best_trial is not None:
        best_params = dict(best_trial.params)
        best_stack = stack.with_params(best_params)
        best = CVScore(
            float(best_trial.value),
            float(best_trial.user_attrs.get("cv_std", math.nan)),
            list(best_trial.user_attrs.get("fold_scores", [])),
            list(best_trial.user_attrs.get("fold_epochs", [])),
        )
    result = TuneResult(
        metric=metric,
        direction=direction,
        task=task,
        folds=folds,
        splitter=splitter,
        folds_mode=mode,
        folds_mode_reason=reason,
        space=space,
        n_trials=len(finished),
        n_complete=len(complete),
        n_pruned=sum(t.state == TrialState.PRUNED for t in finished),
        n_failed=sum(t.state == TrialState.FAIL for t in finished),
        n_interrupted=sum(t.user_attrs.get(STATUS_ATTR) == "interrupted" for t in all_trials),
        best_params=best_params or {},
        best_stack=best_stack if best_stack is not None else stack,
        best=best,
        best_trial=None if best_trial is None else best_trial.number,
        baseline=baseline,
        importances=importances,
        storage=storage_desc,
        study_name=name,
        device=str(dev),
        elapsed_s=0.0,
        trials_wall_s=trials_wall,
        trials_train_s=trials_train,
        failures=failures,
        trials=[_trial_summary(t) for t in sorted(finished, key=lambda t: t.number)],
        train_config=config.to_dict(),
    )
    if best is not None and (refit or test_idx is not None):
        from advisor.tuning._train import evaluate_model, fit_model

        epochs = (
            max(1, round(statistics.median(best.fold_epochs)))
            if best.fold_epochs
            else config.max_epochs
        )
        tr = torch.as_tensor(train_idx, device=dev)
        params = {
            t: {k.partition(".")[2]: v for k, v in best_params.items() if k.startswith(t + ".")}
            for t in best_stack.techniques
        }
        model = fit_model(
            model_fn,
            best_stack,
            params,
            X_all[tr],
            y_all[tr],
            task=task,
            config=config,
            device=dev,
            seed=seed,
            epochs=epochs,
        )
        result.refit_epochs, result.refit_model = epochs, model
        if refit and not isinstance(refit, bool):
            path = Path(refit)
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)
            result.refit_path = str(path)
        if test_idx is not None:
            te = torch.as_tensor(test_idx, device=dev)
            base_epochs = max(baseline.fold_epochs) if baseline.fold_epochs else config.max_epochs
            base_model = fit_model(
                model_fn,
                _EMPTY_STACK,
                {},
                X_all[tr],
                y_all[tr],
                task=task,
                config=config,
                device=dev,
                seed=seed,
                epochs=base_epochs,
            )
            result.test = {
                "best": evaluate_model(model, X_all[te], y_all[te], task=task, config=config),
                "baseline": evaluate_model(
                    base_model, X_all[te], y_all[te], task=task, config=config
                ),
                "samples": len(test_idx),
            }
    result.elapsed_s = time.perf_counter() - started
    return result
