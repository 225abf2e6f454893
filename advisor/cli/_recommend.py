"""``advisor recommend``: the regularization plan from declared facts alone (no files).

Thin: collect the flags (and ``[tool.advisor]`` keys, which flags override) into declared
facts, run the rules engine, render. Imports nothing heavy: no torch, optuna or sklearn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from advisor.cli._options import fact_options, resolve_vocabulary_options, vocabulary_options

__all__ = ["declared_from_params", "recommend"]


def declared_from_params(
    ctx: click.Context, values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Declared facts from the parsed options, and where each came from (flag or pyproject)."""
    from advisor.engine import DECLARED_KEYS

    declared, sources = resolve_vocabulary_options(ctx, values)
    # Every option named like a declared fact is one (modality/objective/task are done above).
    flags = {p.name: p.opts[0] for p in ctx.command.params if p.opts}
    for name in DECLARED_KEYS:
        value = values.get(name)
        if value is None:
            continue
        declared[name] = value
        origin = ctx.get_parameter_source(name)
        flag = flags.get(name, "--" + name.replace("_", "-"))
        if origin is click.core.ParameterSource.DEFAULT_MAP:
            sources[name] = f"pyproject.toml [tool.advisor] {name.replace('_', '-')}"
        else:
            sources[name] = flag
    if "has_dropout" in sources:
        sources["dropout_rate"] = sources["has_dropout"]  # --has-dropout RATE gives both facts
    return declared, sources


def _rule_dirs(value: Any) -> tuple[Path, ...]:
    # [tool.advisor] rules-dir may be one string or a list; flags give a tuple.
    if value is None:
        return ()
    if isinstance(value, str | Path):
        return (Path(value),)
    return tuple(Path(v) for v in value)


@click.command("recommend")
@vocabulary_options
@fact_options("samples", "classes")
@click.option(
    "--params",
    type=click.FloatRange(min=1),
    default=None,
    help="Trainable parameters (11e6 is fine).",
)
@click.option("--depth", type=click.IntRange(min=1), default=None, help="Number of weight layers.")
@click.option(
    "--arch",
    type=click.Choice(["mlp", "cnn", "resnet", "rnn", "transformer"]),
    default=None,
    help="Architecture family.",
)
@fact_options("fit", "pretrained", "budget", "gpu_hours", "batch_size", "no_flip")
@click.option(
    "--has-dropout",
    type=click.FloatRange(min=0, max=1),
    default=None,
    metavar="RATE",
    help="The model already has dropout at this rate.",
)
@click.option(
    "--has-batchnorm/--no-batchnorm",
    default=None,
    help="The model already has BatchNorm, or has none.",
)
@fact_options(
    "weight_decay",
    "label_smoothing",
    "norm",
    "has_residual",
    "channels",
    "optimizer",
    "lr",
    "sparsity",
    "rules_dir",
)
@click.option(
    "--format",
    "format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text (a report to paste into a PR) or json.",
)
@click.pass_context
def recommend(ctx: click.Context, rules_dir: Any, format: str, **values: Any) -> int:
    """Recommend a regularizer stack from declared facts alone.

    \b
    Example:
      advisor recommend --modality image --samples 2000 --params 11e6 --fit overfitting --budget low

    Exit 0 on success, 2 on invalid flags or rule files.
    """
    from advisor.engine import build_facts, load_rules
    from advisor.engine import recommend as run_engine

    declared, sources = declared_from_params(ctx, values)
    facts = build_facts(declared=declared, sources=sources)
    rules = load_rules(_rule_dirs(rules_dir))
    recs = run_engine(facts, rules=rules)
    if format == "json":
        from advisor.cli._console import print_json

        print_json({"facts": facts.to_dict(), **recs.details(), "stack": recs.to_stack()})
    else:
        from advisor.cli._console import out_console

        # crop=False: the stage-1 code and JSON lines must stay whole to be copy-pasted.
        out_console.print(recs, crop=False)
    return 0
