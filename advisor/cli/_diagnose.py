"""``advisor diagnose PATH``: fit verdict, model facts, weights and advice for one run.

Thin: parse the flags, call ``advisor._api.diagnose``, render. Nothing heavy is imported at
module import time; a curve-only diagnosis never imports torch.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from advisor.cli._options import (
    curve_options,
    fact_options,
    resolve_vocabulary_options,
    vocabulary_options,
)
from advisor.errors import ConfigError

__all__ = ["diagnose"]

FORMATS = ("text", "json", "html", "markdown")
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


# Declared facts this command takes: option name -> fact name.
_FACTS = {
    "classes": "classes",
    "samples": "samples",
    "pretrained": "pretrained",
    "budget": "budget",
    "gpu_hours": "gpu_hours",
    "batch_size": "batch_size",
    "no_flip": "no_flip",
    "weight_decay": "weight_decay",
    "dropout": "dropout_rate",
    "label_smoothing": "label_smoothing",
}


def _declared_sources(ctx: click.Context) -> dict[str, str]:
    """Where each declared fact came from: its flag, or its ``[tool.advisor]`` key."""
    flags = {p.name: p.opts[0] for p in ctx.command.params if p.opts}
    sources = {}
    for option, fact in _FACTS.items():
        if ctx.params.get(option) is None:
            continue
        if ctx.get_parameter_source(option) is click.core.ParameterSource.DEFAULT_MAP:
            sources[fact] = f"pyproject.toml [tool.advisor] {option.replace('_', '-')}"
        else:
            sources[fact] = flags[option]
    return sources


def _check_device(value: str) -> str:
    """The device's spelling, checked without importing torch (inspection checks it exists)."""
    if not _DEVICE.fullmatch(value):
        raise click.BadParameter(f"must be auto, cpu, cuda or cuda:N, got {value!r}.")
    return value


@click.command("diagnose")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Output: text (terminal), json (one object on stdout), html or markdown (a report file).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Report file for --format html|markdown (refused if it exists, unless --force).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing --output file.")
@click.option(
    "--classes",
    type=click.IntRange(min=2),
    default=None,
    help="Number of classes (chance-level loss ln K).",
)
@fact_options("samples")
@vocabulary_options
@fact_options("pretrained", "budget", "gpu_hours", "batch_size", "no_flip", "rules_dir")
@click.option(
    "--trust",
    is_flag=True,
    help="Allow unpickling a full checkpoint object (only for files you trust).",
)
@click.option(
    "--spectral/--no-spectral",
    default=True,
    show_default=True,
    help="Spectral analysis of the weights.",
)
@click.option(
    "--device",
    default="auto",
    show_default=True,
    callback=lambda ctx, param, value: _check_device(value),
    help="Device for the model inspection: auto, cpu, cuda or cuda:N.",
)
@click.option(
    "--all-versions",
    is_flag=True,
    help="Count every lightning_logs/version_N as a run (see --run).",
)
@curve_options
@click.option(
    "--metric",
    "metric_key",
    default=None,
    help="Validation metric the stop epoch is chosen on: a column/tag as logged or a metric name "
    "(accuracy, top1, f1 ...). Default: an accuracy-like metric for a classifier, else the loss.",
)
@click.option(
    "--mode",
    type=click.Choice(["max", "min"]),
    default=None,
    help="Direction of the --val/--metric series (inferred from its name otherwise).",
)
@fact_options("weight_decay")
@click.option(
    "--dropout",
    type=click.FloatRange(min=0, max=1, max_open=True),
    default=None,
    help="Largest dropout rate in effect (when the log and checkpoint do not say).",
)
@click.option(
    "--label-smoothing",
    type=click.FloatRange(min=0, max=1, max_open=True),
    default=None,
    help="Label smoothing in effect.",
)
def diagnose(
    path: Path,
    format: str,
    output: Path | None,
    force: bool,
    classes: int | None,
    samples: int | None,
    task: str | None,
    pretrained: bool | None,
    budget: str | None,
    gpu_hours: float | None,
    batch_size: int | None,
    no_flip: bool | None,
    rules_dir: tuple[Path, ...],
    trust: bool,
    spectral: bool,
    device: str,
    all_versions: bool,
    run: int | None,
    train_key: str | None,
    val_key: str | None,
    metric_key: str | None,
    mode: str | None,
    weight_decay: float | None,
    dropout: float | None,
    label_smoothing: float | None,
    modality: str | None,
    objective: str | None,
) -> int:
    """Diagnose a training run from its learning curves and/or checkpoint.

    PATH is a curve log (Lightning metrics.csv, Keras CSV/JSON, trainer_state.json, TensorBoard
    events, results.csv ...), a run directory, or a checkpoint. Exit 0 on success, 2 on bad input.
    """
    if format in ("html", "markdown"):
        if output is None:
            raise ConfigError(f"--format {format} writes a report file; pass --output FILE.")
        if output.exists() and not force:
            raise ConfigError(
                f"--output {output}: the file exists; pass --force to overwrite it or choose another name."
            )
    elif output is not None:
        raise ConfigError(
            f"--output is for --format html|markdown; with --format {format} the result goes to stdout."
        )

    ctx = click.get_current_context()
    declared, sources = resolve_vocabulary_options(
        ctx, {"modality": modality, "objective": objective, "task": task}
    )
    sources.update(_declared_sources(ctx))
    from advisor._api import diagnose as run_diagnose

    result = run_diagnose(
        path,
        classes=classes,
        samples=samples,
        modality=declared.get("modality"),
        objective=declared.get("objective"),
        pretrained=pretrained,
        budget=budget,
        gpu_hours=gpu_hours,
        batch_size=batch_size,
        no_flip=no_flip,
        rules_dirs=tuple(rules_dir),
        trust=trust,
        spectral=spectral,
        device=device,
        all_versions=all_versions,
        train_key=train_key,
        val_key=val_key,
        metric=metric_key,
        mode=mode,
        weight_decay=weight_decay,
        dropout=dropout,
        label_smoothing=label_smoothing,
        run=run,
        sources=sources,
    )
    if format == "json":
        from advisor.cli._console import print_json

        print_json(result.to_dict())
    elif format == "text":
        from advisor.cli._console import out_console

        # crop=False: the stage-1 code and JSON lines must stay whole to be copy-pasted.
        out_console.print(result, crop=False)
    else:
        from advisor.cli._console import err_console
        from advisor.report import write_report

        written = write_report(result, output, format=format)
        err_console.print(f"advisor: wrote {format} report to {written or output}")
    return 0
