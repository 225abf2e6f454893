"""``advisor check PATH``: the CI gate (exit 0 all conditions hold, 1 one failed, 2 bad input).

Conditions come from the flags or from ``[tool.advisor.check]`` in the nearest pyproject.toml
(the group loads it into click's ``default_map``; flags win). Option names in dashed form are
the config keys (``--max-gap`` -> ``max-gap``). Nothing heavy is imported: no torch.
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["check"]

DEFAULT_BASELINE = "advisor-baseline.json"


class _VerdictList(click.ParamType):
    """Comma-separated verdicts on the command line, or a TOML list in [tool.advisor.check]."""

    name = "VERDICTS"

    def convert(self, value, param, ctx):
        if isinstance(value, list | tuple):
            return tuple(str(v).strip() for v in value)
        return tuple(part.strip() for part in str(value).split(",") if part.strip())


_VERDICT_LIST = _VerdictList()


@click.command("check")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--max-gap",
    type=float,
    default=None,
    help="Fail when the generalisation gap at the end (val - train, metric units) exceeds this.",
)
@click.option(
    "--max-rel-gap",
    type=float,
    default=None,
    help="Fail when the gap at the end relative to the train value exceeds this (0.5 = 50%).",
)
@click.option(
    "--max-val-rise",
    type=float,
    default=None,
    help="Fail when the smoothed validation loss rises more than this after its best point.",
)
@click.option(
    "--fail-on",
    type=_VERDICT_LIST,
    default="overfitting,diverging",
    show_default=True,
    help="Fit verdicts that fail the gate, comma-separated ('none' for none).",
)
@click.option(
    "--min-best-metric",
    type=float,
    default=None,
    help="Fail when the best validation metric (--metric, or the first accuracy-like one) is below this.",
)
@click.option(
    "--metric", default=None, help="Validation metric for --min-best-metric and the baseline."
)
@click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    default=None,
    help=f"Baseline JSON to compare with (regressions fail); e.g. {DEFAULT_BASELINE}.",
)
@click.option(
    "--baseline-tolerance",
    type=click.FloatRange(min=0),
    default=0.05,
    show_default=True,
    help="Relative slack before a change from the baseline counts as a regression.",
)
@click.option(
    "--update-baseline",
    is_flag=True,
    help=f"Write the measured values to --baseline (default {DEFAULT_BASELINE}) instead of comparing.",
)
@click.option(
    "--format",
    "format",
    type=click.Choice(["text", "json", "github", "junit"]),
    default="text",
    show_default=True,
    help="text table, json, github annotations + step summary, or junit XML.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the rendered report to this file instead of stdout (e.g. junit.xml).",
)
@click.option(
    "--classes", type=click.IntRange(min=2), default=None, help="Number of classes (chance level)."
)
@click.option(
    "--run",
    type=click.IntRange(min=1),
    default=None,
    help="1-based run to read when PATH holds several.",
)
@click.option("--train", "train_key", default=None, help="Column/tag of the train loss.")
@click.option("--val", "val_key", default=None, help="Column/tag of the validation loss.")
def check(
    path: Path,
    max_gap: float | None,
    max_rel_gap: float | None,
    max_val_rise: float | None,
    fail_on: tuple[str, ...],
    min_best_metric: float | None,
    metric: str | None,
    baseline: Path | None,
    baseline_tolerance: float,
    update_baseline: bool,
    format: str,
    output: Path | None,
    classes: int | None,
    run: int | None,
    train_key: str | None,
    val_key: str | None,
) -> int:
    """Gate a CI build on a training run's learning curves.

    Exit codes: 0 every condition holds, 1 a condition failed (regression found), 2 bad
    usage or unreadable input.
    """
    from advisor.cli._console import err_console
    from advisor.gate import check as run_check
    from advisor.gate._render import render

    target = (
        baseline if baseline is not None else (Path(DEFAULT_BASELINE) if update_baseline else None)
    )
    report = run_check(
        path,
        max_gap=max_gap,
        max_rel_gap=max_rel_gap,
        max_val_rise=max_val_rise,
        fail_on=tuple(fail_on),
        min_best_metric=min_best_metric,
        metric=metric,
        baseline=None if update_baseline else target,
        baseline_tolerance=baseline_tolerance,
        classes=classes,
        train_key=train_key,
        val_key=val_key,
        run=run,
    )
    if update_baseline:
        from advisor.gate._baseline import baseline_from_fit, write_baseline

        record = baseline_from_fit(
            report.fit, metric=report.measurements.get("metric"), source=report.source
        )
        written = write_baseline(target, record)
        report.baseline = str(written)
        metric_info = record.get("metric") or {}
        extra = (
            f", best {metric_info['key']} {metric_info['best']:.4g}"
            if metric_info.get("best") is not None
            else ""
        )
        err_console.print(
            f"advisor: wrote baseline {written}: best {record['primary']} {record['best_val']:.4g} at epoch "
            f"{_fmt(record['best_epoch'])}, gap at end {_fmt(record['gap_end'])}{extra}, verdict {record['verdict']}",
            highlight=False,
            soft_wrap=True,
        )
    if format == "text" and output is None:
        from advisor.cli._console import out_console

        out_console.print(report)
    else:
        text = render(report, format)
        if output is not None:
            output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
            err_console.print(f"advisor: wrote {format} report to {output}", highlight=False)
        else:
            print(text)
    return report.exit_code


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"
