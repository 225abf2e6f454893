"""``advisor check PATH``: the CI gate (exit 0 all conditions hold, 1 one failed, 2 bad input).

Conditions come from the flags or from ``[tool.advisor.check]`` in the nearest pyproject.toml
(the group loads it into click's ``default_map``; flags win). Option names in dashed form are
the config keys (``--max-gap`` -> ``max-gap``). Nothing heavy is imported: no torch.
"""

from __future__ import annotations

from pathlib import Path

import click

from advisor.cli._options import curve_options

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


class _GreedyOption(click.Option):
    """A ``multiple`` option that also takes the words after it: ``--baseline-from A B C``.

    It stops at the next word starting with ``-``; repeating the option works too.
    """

    def add_to_parser(self, parser, ctx):
        super().add_to_parser(parser, ctx)
        for name in self.opts:
            opt = parser._long_opt.get(name) or parser._short_opt.get(name)
            if opt is None:
                continue
            original = opt.process

            def process(value, state, original=original):
                original(value, state)
                while state.rargs and not state.rargs[0].startswith("-"):
                    original(state.rargs.pop(0), state)

            opt.process = process


def _expand(values) -> list[Path]:
    """Paths of --baseline-from: each a file, a directory, or a quoted glob pattern."""
    import glob

    out: list[Path] = []
    for value in values:
        text = str(value)
        if not Path(text).exists() and any(c in text for c in "*?["):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                from advisor.errors import ConfigError

                raise ConfigError(
                    f"--baseline-from {text!r}: the pattern matches no file; pass existing runs."
                )
            out.extend(Path(m) for m in matches)
        else:
            out.append(Path(text))
    return list(dict.fromkeys(out))


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
    "--baseline-from",
    "baseline_from",
    cls=_GreedyOption,
    multiple=True,
    default=(),
    metavar="RUN...",
    help="Runs of the baseline configuration (seeds, folds; files, directories or quoted globs): "
    "compare PATH with their fingerprint, or with --update-baseline write it. Put PATH first.",
)
@click.option(
    "--baseline-tolerance",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Extra relative slack on top of the baseline's noise (0.05 = 5 % of the baseline value).",
)
@click.option(
    "--false-alarm",
    type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
    default=None,
    help="Overall false-alarm rate per same-configuration run over all baseline measures "
    "(default: the baseline file's, 0.05).",
)
@click.option(
    "--update-baseline",
    is_flag=True,
    help=f"Write the fingerprint of PATH (and --baseline-from runs) to --baseline (default "
    f"{DEFAULT_BASELINE}); refused when the run fails a condition or the existing baseline, "
    "unless --force.",
)
@click.option(
    "--force",
    is_flag=True,
    help="With --update-baseline: overwrite the baseline even when the run fails.",
)
@click.option(
    "--format",
    "format",
    type=click.Choice(["text", "json", "github", "junit", "sarif"]),
    default="text",
    show_default=True,
    help="text table, json, github annotations + step summary, junit XML, or SARIF 2.1.0.",
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
@curve_options
def check(
    path: Path,
    max_gap: float | None,
    max_rel_gap: float | None,
    max_val_rise: float | None,
    fail_on: tuple[str, ...],
    min_best_metric: float | None,
    metric: str | None,
    baseline: Path | None,
    baseline_from: tuple[str, ...],
    baseline_tolerance: float,
    false_alarm: float | None,
    update_baseline: bool,
    force: bool,
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
    from advisor.gate import render

    target = (
        baseline if baseline is not None else (Path(DEFAULT_BASELINE) if update_baseline else None)
    )
    if isinstance(baseline_from, str):  # a TOML string in [tool.advisor.check]
        baseline_from = (baseline_from,)
    base_runs = _expand(baseline_from)
    compare_with = None if update_baseline else target
    notes: list[str] = []
    if base_runs and not update_baseline:
        compare_with = _fingerprint(base_runs, metric, train_key, val_key)
        if target is not None:
            notes.append(f"--baseline {target} not read: compared with the --baseline-from runs")
    elif update_baseline and not force and target is not None and target.is_file():
        compare_with = (
            target  # a run that regresses against the current baseline must not replace it
        )
    report = run_check(
        path,
        max_gap=max_gap,
        max_rel_gap=max_rel_gap,
        max_val_rise=max_val_rise,
        fail_on=tuple(fail_on),
        min_best_metric=min_best_metric,
        metric=metric,
        baseline=compare_with,
        baseline_tolerance=baseline_tolerance,
        false_alarm=false_alarm,
        classes=classes,
        train_key=train_key,
        val_key=val_key,
        run=run,
    )
    if isinstance(compare_with, dict):
        report.baseline = f"{len(base_runs)} run(s) from --baseline-from"
    report.notes.extend(notes)
    refused = False
    if update_baseline and not report.passed and not force:
        refused = True
        failed = [r.id for r in report.results if r.status.value in ("FAIL", "ERROR")]
        err_console.print(
            f"advisor: baseline {target} not updated: this run fails {len(failed)} condition(s) "
            f"({', '.join(failed)}); fix the run, or pass --force to overwrite the baseline.",
            highlight=False,
            soft_wrap=True,
        )
    elif update_baseline:
        from advisor.gate import write_baseline

        runs = list(dict.fromkeys([path, *base_runs]))
        record = _fingerprint(runs, metric, train_key, val_key, run=run, first_curves=path)
        written = write_baseline(target, record)
        report.baseline = str(written)
        mm = record["measures"]
        parts = [
            f"{name} {_fmt(mm[name]['mean'])} (sd {_fmt(mm[name]['std'])})"
            for name in ("best_val", "final_val", "best_metric", "gap_end")
            if name in mm
        ]
        err_console.print(
            f"advisor: wrote baseline {written} from {record['n_runs']} run(s): primary "
            f"{record['primary']}, " + ", ".join(parts) + f"; k = {record['test']['k']:.2f}",
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
    return 1 if refused else report.exit_code


def _fingerprint(paths, metric, train_key, val_key, *, run=None, first_curves=None) -> dict:
    from advisor.curves import load_curves
    from advisor.gate import fingerprint_from_runs

    curves = []
    for p in paths:
        kwargs = {"train_key": train_key, "val_key": val_key}
        if run is not None and p == first_curves:
            kwargs["run"] = run
        curves.append(load_curves(p, **kwargs))
    return fingerprint_from_runs(curves, metric=metric, sources=[str(p) for p in paths])


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"
