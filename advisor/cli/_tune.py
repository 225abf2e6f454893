"""``advisor tune``: tune the recommended regularizer stack with Optuna and k-fold CV.

Thin: load the model factory and the data, get the stack (``--stack FILE``, or ``advisor
diagnose`` of ``--checkpoint``/``--curves``, or the rules engine from declared facts), call
``advisor.tuning.tune``, render text or JSON. torch/optuna load only when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from advisor.cli._options import fact_options
from advisor.errors import ConfigError
from advisor.tuning import load_factory  # torch-free; also the worker processes' loader

# Options handed to advisor.tune() as they are (same names); the CLI reads a few of them too.
_PASSED = (
    "n_trials",
    "timeout",
    "folds",
    "storage",
    "study_name",
    "resume",
    "device",
    "seed",
    "space",
    "search",
    "sampler",
    "later_stages",
    "pruner",
    "test_size",
    "refit",
    "n_jobs",
)

__all__ = ["tune"]

# Declared-facts vocabulary of [tool.advisor] task -> the tuner's task.
_FACT_TASKS = {
    "image": "classification",
    "text": "classification",
    "audio": "classification",
    "sequence": "timeseries",
    "tabular": None,
}
_TUNE_TASKS = ("classification", "regression", "timeseries")


class _Jobs(click.ParamType):
    """``--jobs``: a number of worker processes (>= 1) or ``auto``."""

    name = "N|auto"

    def convert(self, value, param, ctx):
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool)):
            return value if value == "auto" or value >= 1 else self._bad(value, param, ctx)
        text = str(value).strip().lower()
        if text == "auto":
            return "auto"
        if text.isdigit() and int(text) >= 1:
            return int(text)
        return self._bad(value, param, ctx)

    def _bad(self, value, param, ctx):
        self.fail(f"must be an int >= 1 or auto, got {value!r}.", param, ctx)


def _refuse_overwrite(outputs: dict[str, Any], force: bool) -> None:
    """A rerun never silently replaces a saved model, stack or report (checked before any work)."""
    if force:
        return
    for flag, path in outputs.items():
        if path and Path(path).exists():
            raise ConfigError(
                f"{flag} {path}: the file exists; pass --force to overwrite it or choose another name."
            )


def _tune_task(task: str | None, y) -> str:
    import numpy as np

    if task in _TUNE_TASKS:
        return task
    if task is not None and task not in _FACT_TASKS:
        raise ConfigError(
            f"--task must be one of {', '.join(_TUNE_TASKS + tuple(_FACT_TASKS))}, got {task!r}."
        )
    mapped = _FACT_TASKS.get(task) if task else None
    if mapped:
        return mapped
    values = np.asarray(y)
    if values.ndim == 0 or values.dtype.kind not in "iubf" or values.size == 0:
        return "regression"  # as_tensors then says what is wrong with y, in one line
    integral = values.dtype.kind in "iub" or (
        values.dtype.kind == "f" and np.array_equal(values, np.round(values))
    )
    return (
        "classification"
        if integral and len(np.unique(values)) <= max(2, values.shape[0] // 5)
        else "regression"
    )


def _facts_task(task: str | None, X) -> str:
    if task in _FACT_TASKS:
        return task
    return {4: "image", 3: "sequence"}.get(getattr(X, "ndim", 2), "tabular")


# Declared facts advisor.diagnose takes (the others reach the engine through recommend only).
_DIAGNOSE_FACTS = (
    "classes",
    "samples",
    "task",
    "objective",
    "pretrained",
    "budget",
    "batch_size",
    "no_flip",
    "weight_decay",
    "label_smoothing",
)


def _stack_from_sources(stack_file, checkpoint, curves, declared, trust, device):
    if stack_file is not None:
        return Path(stack_file), f"--stack {stack_file}"
    if checkpoint is not None or curves is not None:
        from advisor._api import diagnose

        facts = {k: v for k, v in declared.items() if k in _DIAGNOSE_FACTS}
        if checkpoint is not None:
            diagnosis = diagnose(checkpoint, trust=trust, device=device, **facts)
        else:
            diagnosis = diagnose(curves, **facts)
        recs = diagnosis.recommendations
        if recs is None:
            raise ConfigError(
                "advisor diagnose found nothing to recommend from the checkpoint/curves; pass --stack or facts flags."
            )
        return recs, f"advisor diagnose {checkpoint or curves}"
    from advisor._api import recommend

    return recommend(**declared), "advisor recommend (declared facts)"


def _check_model_cli(model_fn, data, task, space, stack, later_stages, model_spec) -> None:
    """Build the model, one forward pass, the loss: before any output or storage exists."""
    from advisor.tuning import check_model, full_stack, nested_params, resolve_stack, rules_stack

    the_stack = (
        full_stack(task, input_ndim=data.X.ndim)
        if space == "full"
        else rules_stack(resolve_stack(stack), later_stages=later_stages)
    )
    check_model(
        model_fn, data.X, data.y, task=task, params=nested_params(the_stack),
        what=f"--model {model_spec}",
    )  # fmt: skip


@click.command("tune")
@click.option(
    "--model",
    "model_spec",
    required=True,
    help="Model factory: path/to/file.py:make_model or package.module:make_model.",
)
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(dir_okay=False),
    help=".npz (X, y), .pt (dict of tensors), .csv or .parquet (with --target).",
)
@click.option("--target", default=None, help="Target column of a .csv/.parquet file.")
@click.option(
    "--task",
    default=None,
    help="classification, regression or timeseries (or a facts task: image, sequence, text, tabular, audio).",
)
@click.option(
    "--stack",
    "stack_file",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="Stack JSON to tune (else from --checkpoint/--curves or the facts flags).",
)
@click.option(
    "--checkpoint",
    default=None,
    type=click.Path(exists=True),
    help="Checkpoint to diagnose for the stack (curves beside it are used).",
)
@click.option(
    "--curves",
    default=None,
    type=click.Path(exists=True),
    help="Learning curves to diagnose for the stack.",
)
@fact_options(
    "fit",
    "pretrained",
    "budget",
    "samples",
    "classes",
    "no_flip",
    "channels",
    "weight_decay",
    "label_smoothing",
    "norm",
    "has_residual",
    "sparsity",
)
@click.option(
    "--trials",
    "n_trials",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Finished trials in the study, over all workers.",
)
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="Seconds after which this worker starts no new trial.",
)
@click.option(
    "--folds",
    type=click.IntRange(min=2),
    default=5,
    show_default=True,
    help="K of k-fold cross-validation.",
)
@click.option(
    "--storage",
    default=None,
    help="Optuna storage URL (postgresql://... for many machines); default .advisor/tune.journal.",
)
@click.option(
    "--jobs",
    "n_jobs",
    type=_Jobs(),
    default="1",
    show_default=True,
    help="Worker processes training trials at once on the study's storage, each with "
    "cores/N torch threads; auto: picked from the cores and a short timed probe.",
)
@click.option(
    "--study",
    "study_name",
    default=None,
    help="Study name (workers sharing a study use the same name).",
)
@click.option(
    "--resume", is_flag=True, help="Continue an existing study (error if it does not exist)."
)
@click.option(
    "--space",
    type=click.Choice(["rules", "full"]),
    default="rules",
    show_default=True,
    help="rules: the stack's narrowed space; full: every technique, wide ranges.",
)
@click.option(
    "--search",
    type=click.Choice(["staged", "flat"]),
    default="staged",
    show_default=True,
    help="staged: stage 1, then each later technique on top of the best stack so far, kept "
    "only when it helps beyond noise (G4.1); flat: every technique searched together.",
)
@click.option(
    "--sampler",
    type=click.Choice(["tpe", "random"]),
    default="tpe",
    show_default=True,
    help="Optuna sampler: TPE, or random search (a baseline).",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show Optuna's own log lines (study created, trial finished).",
)
@click.option(
    "--later-stages",
    type=click.IntRange(min=0),
    default=None,
    help="Tune stage 1 of the recommended plan plus only its next N techniques "
    "(default: every technique of the plan; 0: stage 1 alone, as G4.1 starts).",
)
@click.option(
    "--pruner",
    type=click.Choice(["median", "hyperband", "none"]),
    default="median",
    show_default=True,
)
@click.option("--epochs", type=int, default=30, show_default=True, help="Epoch cap per fold.")
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option(
    "--optimizer", type=click.Choice(["adamw", "adam", "sgd"]), default="adamw", show_default=True
)
@click.option(
    "--folds-mode",
    type=click.Choice(["auto", "vectorized", "sequential"]),
    default="auto",
    show_default=True,
)
@click.option(
    "--train-step",
    default=None,
    help="Custom train step file.py:fn or module:fn, called fn(model, x, y, loss_fn) -> loss.",
)
@click.option(
    "--test-size",
    type=float,
    default=None,
    help="Hold out this fraction (never tuned on) and score baseline and best on it.",
)
@click.option(
    "--refit",
    type=click.Path(dir_okay=False),
    default=None,
    help="Refit the best stack on all training data and save its state_dict here.",
)
@click.option(
    "--save-stack",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the best stack JSON here (loadable by --stack and advisor.apply).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write an HTML (or .md) report of the study.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite existing --refit, --save-stack and --report files.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option(
    "--trust",
    is_flag=True,
    help="Allow full unpickling of a .pt data file or checkpoint you made yourself.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def tune(
    model_spec,
    data_path,
    target,
    task,
    stack_file,
    checkpoint,
    curves,
    fit,
    pretrained,
    budget,
    samples,
    classes,
    no_flip,
    channels,
    weight_decay,
    label_smoothing,
    norm,
    has_residual,
    sparsity,
    epochs,
    lr,
    batch_size,
    optimizer,
    folds_mode,
    train_step,
    save_stack,
    report_path,
    trust,
    fmt,
    verbose,
    force,
    **passed: Any,
) -> int:
    """Tune the recommended regularizer stack with Optuna and k-fold CV."""
    _refuse_overwrite(
        {"--refit": passed["refit"], "--save-stack": save_stack, "--report": report_path}, force
    )
    if verbose:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.DEBUG)
    assert set(passed) == set(_PASSED), set(passed) ^ set(_PASSED)
    passed["refit"] = passed["refit"] or False
    folds, seed, space, device = (passed[k] for k in ("folds", "seed", "space", "device"))
    from advisor.cli._console import err_console, out_console, print_json
    from advisor.tuning import TrainConfig, load_data_file
    from advisor.tuning import tune as run_tune

    model_fn = load_factory(model_spec)
    step_fn = load_factory(train_step, what="--train-step") if train_step else None
    X, y = load_data_file(data_path, target=target, trust=trust)
    tune_task = _tune_task(task, y)
    # Validate the data before anything is diagnosed, printed or stored: sample counts, NaN,
    # a single class, classes rarer than --folds (stratified folds) are one line, exit 2.
    from advisor.tuning import as_tensors, make_folds

    checked = as_tensors((X, y), task=tune_task)
    make_folds(checked.y.numpy(), task=tune_task, folds=folds, seed=seed)
    stack: Any = None
    source = "full search space"
    if space == "rules":
        import numpy as np

        declared = {
            "task": _facts_task(task, X),
            # Declared flags win over what the data shows (it may be a sample of the dataset).
            "samples": samples or int(np.asarray(X.shape[0])),
            "classes": classes
            or (len(np.unique(np.asarray(y))) if tune_task == "classification" else None),
            "objective": {"regression": "regression", "timeseries": "forecasting"}.get(tune_task),
            # An image batch (N, C, H, W) says its channels: no colour transforms on grey.
            "channels": channels or (int(X.shape[1]) if X.ndim == 4 else None),
            "fit": fit,
            "pretrained": pretrained,
            "budget": budget,
            "batch_size": batch_size,
            "no_flip": no_flip,
            "weight_decay": weight_decay,
            "label_smoothing": label_smoothing,
            "norm": norm,
            "has_residual": has_residual,
            "sparsity": sparsity,
            "optimizer": optimizer,
            "lr": lr,
        }
        declared = {k: v for k, v in declared.items() if v is not None}
        stack, source = _stack_from_sources(stack_file, checkpoint, curves, declared, trust, device)
    try:
        config = TrainConfig(
            max_epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            optimizer=optimizer,
            folds_mode=folds_mode,
            train_step=step_fn,
        )
    except ConfigError as exc:
        raise ConfigError(
            str(exc).replace(" of TrainConfig", "").replace("max_epochs", "--epochs")
        ) from None
    _check_model_cli(model_fn, checked, tune_task, space, stack, passed["later_stages"], model_spec)
    if fmt == "text":
        err_console.print(
            f"advisor tune: stack from {source}; study storage {passed['storage'] or '.advisor/tune.journal'}"
        )
    result = run_tune(
        model_fn, (X, y), task=tune_task, stack=stack, train=config, progress="auto", **passed
    )
    if save_stack:
        Path(save_stack).write_text(result.best_stack.to_json() + "\n", encoding="utf-8")
        if not result.beats_baseline and fmt == "text":
            err_console.print(
                f"{save_stack}: an empty stack (no stack beat your current setup beyond noise); "
                "the best stack found is under 'candidate' in --format json"
            )
    if report_path:
        from advisor.report import write_report

        write_report(
            result, report_path, format="markdown" if str(report_path).endswith(".md") else "html"
        )
    if fmt == "json":
        print_json(result.to_dict())
    else:
        out_console.print(result)
    return 0
