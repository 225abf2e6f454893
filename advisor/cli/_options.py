"""Option types and options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from advisor._validation import MODALITIES, OBJECTIVES, TASK_WORDS, deprecation_note, split_task

__all__ = [
    "PathListOption",
    "curve_options",
    "fact_options",
    "resolve_vocabulary_options",
    "vocabulary_options",
]


class PathListOption(click.Option):
    """A repeatable path option that also accepts one string from ``[tool.advisor]``.

    ``rules-dir = "my_rules"`` in pyproject.toml is a single string, while the flag
    ``--rules`` may be given several times; both end up as a tuple of paths.
    """

    def type_cast_value(self, ctx: click.Context, value: Any) -> Any:
        """Convert the value to a tuple of paths.

        A single string or path (the ``[tool.advisor]`` form) becomes a one-item tuple first; click
        then converts each item as for the repeated flag.
        """
        if isinstance(value, str | Path):
            value = (value,)
        return super().type_cast_value(ctx, value)


def vocabulary_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--modality``, ``--objective`` and the deprecated, hidden ``--task`` (one release)."""
    options = (
        click.option(
            "--modality",
            type=click.Choice(MODALITIES),
            default=None,
            help="Kind of input data.",
        ),
        click.option(
            "--objective",
            type=click.Choice(OBJECTIVES),
            default=None,
            help="What the model predicts.",
        ),
        click.option(
            "--task",
            type=click.Choice(tuple(TASK_WORDS)),
            default=None,
            hidden=True,
            help="Deprecated: use --modality (image ...) or --objective (classification ...).",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


# Declared facts (docs/architecture.md "Declared facts") that several commands take, each
# written once: name -> (parameter declarations, click.option keywords).
_FACT_OPTIONS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "samples": (
        ("--samples",),
        {"type": click.IntRange(min=1), "help": "Number of training samples."},
    ),
    "fit": (
        ("--fit",),
        {
            # "type": the verdicts of advisor.curves, filled in by fact_options("fit") so that
            # commands without --fit (check, diagnose) do not import advisor.curves.
            "help": "Fit verdict, when known without curves (advisor diagnose measures it).",
        },
    ),
    "pretrained": (
        ("--pretrained/--from-scratch",),
        {"help": "Whether training starts from pretrained weights (fine-tuning)."},
    ),
    "budget": (
        ("--budget",),
        {"type": click.Choice(["low", "medium", "high"]), "help": "Compute budget."},
    ),
    "gpu_hours": (
        ("--gpu-hours",),
        {
            "type": click.FloatRange(min=0),
            "help": "GPU hours available (sets the budget when --budget is absent: <2 low, "
            "<24 medium).",
        },
    ),
    "batch_size": (
        ("--batch-size",),
        {"type": click.IntRange(min=1), "help": "Training batch size."},
    ),
    "no_flip": (
        ("--no-flip/--flip", "no_flip"),
        {"help": "Orientation carries the label: never mirror inputs (--flip: mirroring is safe)."},
    ),
    "weight_decay": (
        ("--weight-decay",),
        {
            "type": click.FloatRange(min=0, max=10),
            "metavar": "X",
            "help": "Weight decay in effect (when the log and checkpoint do not say).",
        },
    ),
    "classes": (
        ("--classes",),
        {"type": click.IntRange(min=1), "help": "Number of classes (1 = regression)."},
    ),
    "channels": (
        ("--channels",),
        {
            "type": click.IntRange(min=1),
            "help": "Input channels of an image (1 = greyscale: no colour transforms).",
        },
    ),
    "lr": (
        ("--lr",),
        {
            "type": click.FloatRange(min=0, min_open=True),
            "metavar": "X",
            "help": "Learning rate in effect (the generated code uses it).",
        },
    ),
    "optimizer": (
        ("--optimizer",),
        {
            # "type": the catalogue's optimizers, filled in by fact_options("optimizer").
            "help": "Optimizer in effect: adamw decays decoupled, adam and sgd add an L2 term.",
        },
    ),
    "label_smoothing": (
        ("--label-smoothing",),
        {
            "type": click.FloatRange(min=0, max=1, max_open=True),
            "metavar": "X",
            "help": "Label smoothing already in the loss.",
        },
    ),
    "norm": (
        ("--norm",),
        {
            "type": click.Choice(["batch", "layer", "group", "none"]),
            "help": "Normalisation layers the model uses.",
        },
    ),
    "has_residual": (
        ("--residual/--no-residual", "has_residual"),
        {"help": "The model has residual (skip) connections, or has none."},
    ),
    "sparsity": (
        ("--sparse/--no-sparse", "sparsity"),
        {"help": "Sparse weights are wanted (feature selection): elastic net in place of L2."},
    ),
    "rules_dir": (
        ("--rules-dir", "--rules", "rules_dir"),
        {
            "cls": PathListOption,
            "multiple": True,
            "type": click.Path(path_type=Path),
            "help": "Extra folder of rule files (repeatable; [tool.advisor] rules-dir).",
        },
    ),
}

# Which run of a log, and which series: the same for every command reading curves.
_CURVE_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("--run",),
        {
            "type": click.IntRange(min=1),
            "default": None,
            "help": "1-based run to read when PATH holds several.",
        },
    ),
    (("--train", "train_key"), {"default": None, "help": "Column/tag of the train loss."}),
    (("--val", "val_key"), {"default": None, "help": "Column/tag of the validation loss."}),
)


def _add(command: Callable[..., Any], options) -> Callable[..., Any]:
    for decls, kwargs in reversed(list(options)):
        command = click.option(*decls, **kwargs)(command)
    return command


def fact_options(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The shared declared-fact options ``names`` (keys of ``_FACT_OPTIONS``), in that order.

    Every one defaults to ``None`` (not declared), so ``[tool.advisor]`` keys and the rules'
    defaults apply.

    Example:
        >>> @click.command()
        ... @fact_options("samples", "budget")
        ... def cmd(samples, budget): ...
        >>> [p.name for p in cmd.params]
        ['samples', 'budget']
    """
    unknown = [n for n in names if n not in _FACT_OPTIONS]
    if unknown:
        raise KeyError(f"no shared fact option {unknown[0]!r}; known: {', '.join(_FACT_OPTIONS)}")
    options = [(_FACT_OPTIONS[n][0], {"default": None, **_FACT_OPTIONS[n][1]}) for n in names]
    if "fit" in names:
        from advisor.curves import VERDICTS

        options[names.index("fit")][1]["type"] = click.Choice(VERDICTS)
    if "optimizer" in names:
        from advisor.catalogue import OPTIMIZERS

        options[names.index("optimizer")][1]["type"] = click.Choice(tuple(OPTIMIZERS))
    return lambda command: _add(command, options)


def curve_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--run``, ``--train`` and ``--val``: which run of a log and which loss series."""
    return _add(command, _CURVE_OPTIONS)


def _where(ctx: click.Context, name: str) -> str:
    """``--name`` or ``pyproject.toml [tool.advisor] name``: where an option's value came from."""
    if ctx.get_parameter_source(name) is click.core.ParameterSource.DEFAULT_MAP:
        return f"pyproject.toml [tool.advisor] {name}"
    return f"--{name}"


def resolve_vocabulary_options(
    ctx: click.Context, values: dict[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """Declared ``modality``/``objective`` from the options, and where each came from.

    Pops ``modality``, ``objective`` and ``task`` from ``values``. The deprecated ``--task``
    (or ``task`` in ``[tool.advisor]``) still works and prints one deprecation line on stderr.
    """
    from advisor._validation import resolve_vocabulary

    modality, objective, task = (values.pop(k, None) for k in ("modality", "objective", "task"))
    sources = {
        k: _where(ctx, k) for k, v in (("modality", modality), ("objective", objective)) if v
    }
    if task is not None:
        old_modality, old_objective = split_task(task, warn=False)
        word = "modality" if old_modality else "objective"
        where = _where(ctx, "task")
        old = f"--task {task}" if where == "--task" else f"{where} = {task!r}"
        new = f"--{word} {old_modality or old_objective}"
        from advisor.cli._console import err_console

        err_console.print(
            f"advisor: note: {deprecation_note(old, new)}",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
        sources.setdefault(word, f"{where} (deprecated)")
    modality, objective = resolve_vocabulary(
        modality=modality, objective=objective, task=task, of="the command line", warn=False
    )
    declared = {k: v for k, v in (("modality", modality), ("objective", objective)) if v}
    return declared, sources
