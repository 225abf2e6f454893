"""Option types and options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from advisor._validation import MODALITIES, OBJECTIVES, TASK_WORDS, deprecation_note, split_task

__all__ = ["PathListOption", "resolve_vocabulary_options", "vocabulary_options"]


class PathListOption(click.Option):
    """A repeatable path option that also accepts one string from ``[tool.advisor]``.

    ``rules-dir = "my_rules"`` in pyproject.toml is a single string, while the flag
    ``--rules`` may be given several times; both end up as a tuple of paths.
    """

    def type_cast_value(self, ctx: click.Context, value: Any) -> Any:
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
