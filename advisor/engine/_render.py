"""Terminal rendering of a plan: the report section a practitioner can paste into a PR.

Shows the verdict, the key facts with their sources, the staged plan with a one-line reason
per technique, what was ruled out and why, and a copy-paste PyTorch snippet for stage 1.
The snippet is ``advisor.report.stack_code`` (``Stack.to_code()``), imported only when a plan
is printed: the engine sits below ``regularizers`` and ``report``, and only display paths reach
up, lazily (see docs/architecture.md).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from advisor.engine._facts import format_value

if TYPE_CHECKING:
    from advisor.engine._plan import Recommendations

__all__ = ["render_recommendations", "stage_one_snippet"]

# Facts shown first in the report when known, in this order.
_KEY_FACTS = (
    "fit",
    "gap",
    "task",
    "samples",
    "classes",
    "samples_per_class",
    "size_class",
    "params",
    "depth",
    "arch",
    "params_per_sample",
    "complexity_class",
    "pretrained",
    "budget",
    "has_dropout",
    "dropout_rate",
    "has_batchnorm",
    "weight_decay",
    "label_smoothing",
    "norm",
    "has_residual",
    "optimizer",
    "lr",
    "channels",
    "no_flip",
    "sparsity",
    "batch_size",
)


def _space_text(space: dict[str, Any]) -> str:
    parts = []
    for name, spec in space.items():
        if spec.get("type") == "categorical":
            parts.append(f"{name} in {spec['choices']}")
        else:
            log = ", log" if spec.get("log") else ""
            parts.append(f"{name} {format_value(spec['low'])}..{format_value(spec['high'])}{log}")
    return "; ".join(parts)


def _params_text(params: dict[str, Any]) -> str:
    parts = []
    for name, value in params.items():
        if isinstance(value, list):
            parts.append(f"{name}={','.join(value) or 'none'}")
        elif value is None:
            parts.append(f"{name}=auto")
        else:
            parts.append(f"{name}={format_value(value) if isinstance(value, float) else value}")
    return " ".join(parts)


def stage_one_snippet(recs: Recommendations) -> str:
    """Python code applying stage 1 of the plan; ``""`` when stage 1 is advice only.

    The code is written for the plan's set-up (``recs.setup``): the loss of its objective, the
    optimizer in effect and the declared learning rate (or a placeholder saying what to use).
    """
    # Display path: the one kind of upward import (docs/architecture.md), lazy.
    from advisor.report import stack_code

    return stack_code(recs.to_stack(max_stage=1), setup=recs.setup)


def render_recommendations(recs: Recommendations):
    """Yield rich renderables for ``recs`` (used by ``Recommendations.__rich_console__``)."""
    from rich.markup import escape
    from rich.syntax import Syntax
    from rich.table import Table
    from rich.text import Text

    facts = recs.facts
    fit = facts.fact("fit")
    verdict = (
        f"{fit.value} [{fit.origin}] {fit.source}" if fit else "unknown (no learning curves read)"
    )
    yield Text.from_markup(f"[bold]Verdict:[/] {escape(verdict)}")

    table = Table(title="Key facts", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("fact", "value", "origin", "source"):
        table.add_column(column, overflow="fold")
    shown = [n for n in _KEY_FACTS if facts.fact(n) is not None and n != "fit"]
    for name in shown:
        fact = facts.fact(name)
        style = "dim" if fact.origin == "default" else None
        table.add_row(name, format_value(fact.value), fact.origin, escape(fact.source), style=style)
    yield table

    if not recs.items:
        yield Text("No technique recommended for these facts.")
    plan = Table(
        title="Plan (apply one stage at a time)",
        title_justify="left",
        show_edge=False,
        pad_edge=False,
    )
    for column in ("stage", "technique", "score", "why", "start / search"):
        plan.add_column(column, overflow="fold")
    for rec in recs.items:
        ids = ", ".join(h.rule.id for h in rec.rules if h.weight > 0) or rec.rules[0].rule.id
        why = f"{rec.rationale} [{ids}]"
        for note in rec.notes:
            why += f"\n- {note}"
        setting = _params_text(rec.params)
        if rec.search_space:
            setting += f"\nsearch: {_space_text(rec.search_space)}"
        plan.add_row(str(rec.stage), rec.technique, f"{rec.score:g}", escape(why), escape(setting))
    if recs.items:
        yield plan
    if recs.discouraged:
        yield Text.from_markup("[bold]Not recommended[/]")
        for rec in recs.discouraged:
            lead = next(
                (h for h in rec.rules if h.effect.startswith("veto") or h.weight < 0), rec.rules[0]
            )
            yield Text(f"  {rec.technique}: {rec.rationale} [{lead.rule.id}]")
    if recs.notes:
        yield Text.from_markup("[bold]Notes[/]")
        for note in recs.notes:
            yield Text(f"  - {note['text']} [{note['rule']}]")
    code = stage_one_snippet(recs)
    if code:
        yield Text.from_markup("[bold]Stage 1 in PyTorch[/]")
        # Never wrap code or JSON: a wrapped line is broken when pasted.
        highlighted = Syntax(code, "python", theme="ansi_dark").highlight(code)
        highlighted.no_wrap, highlighted.overflow = True, "ignore"
        yield highlighted
        yield Text("Stage 1 as a stack spec (JSON):", style="dim")
        yield Text(
            json.dumps(recs.to_stack(max_stage=1)), style="dim", no_wrap=True, overflow="ignore"
        )
