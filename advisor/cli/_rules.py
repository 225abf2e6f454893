"""``advisor rules list|show ID|lint DIR``: document and check the knowledge base.

``list`` prints one row per rule (id, concern, techniques, guidance ids); ``show`` explains one
rule (what it does, why, an example that fires it, what to do); ``lint`` checks user rule
files (schema, conditions, overrides, test cases) and lists every problem (exit 2) or none
(exit 0). Imports nothing heavy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from advisor.errors import RuleError

__all__ = ["rules"]

_DIR_OPTION = click.option(
    "--rules-dir",
    "--rules",
    "rules_dir",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Also load the rule files of this folder (repeatable).",
)
_FORMAT_OPTION = click.option(
    "--format",
    "format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)


def _dirs(value: Any) -> tuple[Path, ...]:
    if value is None:
        return ()
    if isinstance(value, str | Path):
        return (Path(value),)
    return tuple(Path(v) for v in value)


@click.group("rules")
def rules() -> None:
    """List, show and lint the rules of the knowledge base."""


@rules.command("list")
@_DIR_OPTION
@_FORMAT_OPTION
def list_rules(rules_dir: Any, format: str) -> int:
    """One row per rule: id, concern, techniques it acts on, guidance ids it cites."""
    from advisor.engine import load_rules

    ruleset = load_rules(_dirs(rules_dir))
    if format == "json":
        from advisor.cli._console import print_json

        print_json(
            [
                {
                    "id": r.id,
                    "slug": r.slug,
                    "title": r.title,
                    "concern": r.concern,
                    "techniques": list(r.techniques),
                    "guidance": list(r.guidance),
                    "builtin": r.builtin,
                    "enabled": r.enabled,
                    "file": str(r.path),
                }
                for r in ruleset
            ]
        )
        return 0
    from rich.table import Table

    from advisor.cli._console import out_console

    table = Table(show_edge=False, pad_edge=False)
    for column in ("id", "concern", "title", "techniques", "guidance"):
        table.add_column(column, overflow="fold")
    for r in ruleset:
        mark = "" if r.builtin else " (user)"
        style = "dim" if not r.enabled else None
        table.add_row(
            r.id + mark,
            r.concern,
            r.title,
            ", ".join(r.techniques),
            ", ".join(r.guidance),
            style=style,
        )
    out_console.print(table)
    out_console.print(
        f"{len(ruleset)} rules from {len(ruleset.files)} files; 'advisor rules show ID' explains one.",
        soft_wrap=True,
    )
    return 0


# Facts a case may hold that `advisor recommend` has a flag for: fact -> flag builder.
_FLAGS = {
    "has_batchnorm": lambda v: "--has-batchnorm" if v else "--no-batchnorm",
    "pretrained": lambda v: "--pretrained" if v else "--from-scratch",
    "no_flip": lambda v: "--no-flip" if v else "",
    "dropout_rate": lambda v: f"--has-dropout {v}",
}


def _example(rule) -> str:
    """The first firing case as an ``advisor recommend`` command, or as facts when it cannot be."""
    from advisor.cli._recommend import recommend
    from advisor.engine import ALIASES, DECLARED_KEYS

    # The facts `advisor recommend` takes as `--name VALUE` (the others are in _FLAGS).
    value_flags = {
        p.name for p in recommend.params if p.name in DECLARED_KEYS and not p.is_flag
    } - {"task", "has_dropout"}  # --has-dropout takes a RATE, the fact is yes/no
    cases = rule.cases.get("fire") or []
    if not cases:
        return "(no example given)"
    case = cases[0]
    flags = []
    for key, value in case.items():
        key = ALIASES.get(key, key)  # a case written with the old name `task`
        if key in _FLAGS:
            flags.append(_FLAGS[key](value))
        elif key in value_flags:
            flags.append(f"--{key.replace('_', '-')} {value}")
        else:
            # measured only (gap, noise, has_residual ...): show the fact set instead.
            return "facts " + ", ".join(f"{k}={v!r}" for k, v in case.items())
    return " ".join(["advisor recommend", *[f for f in flags if f]])


@rules.command("show")
@click.argument("rule_id")
@_DIR_OPTION
@_FORMAT_OPTION
def show_rule(rule_id: str, rules_dir: Any, format: str) -> int:
    """Explain one rule: what it does, why, an example that fires it, what to do."""
    from advisor._validation import did_you_mean
    from advisor.engine import describe_effect, load_rules

    ruleset = load_rules(_dirs(rules_dir))
    rule = ruleset.get(rule_id.upper())
    if rule is None:
        hint = did_you_mean(rule_id.upper(), ruleset.ids()) or (
            " Run 'advisor rules list' for the ids."
        )
        raise RuleError(f"rule '{rule_id}' does not exist.{hint}")
    if format == "json":
        from advisor.cli._console import print_json

        print_json(rule.to_dict())
        return 0
    from rich.markup import escape

    from advisor.cli._console import out_console

    effects = "; ".join(describe_effect(e) for e in rule.effects)
    origin = "built-in" if rule.builtin else "user rule"
    if rule.id in ruleset.overridden:
        origin += f", overrides the built-in rule of {ruleset.overridden[rule.id].path.name}"
    lines = [
        f"[bold]{rule.id}[/] {escape(rule.slug)}: {escape(rule.title)}",
        f"[bold]Concern:[/] {escape(rule.concern)} ({escape(rule.path.name)}, {origin})",
        f"[bold]Guidance:[/] {', '.join(rule.guidance) or '-'}    [bold]Source:[/] {escape(rule.source)}",
        f"[bold]What it does:[/] when {escape(rule.when)}: {escape(effects)}",
        f"[bold]Why:[/] {escape(rule.rationale)}",
        f"[bold]Example (fires):[/] {escape(_example(rule))}",
        f"[bold]What to do:[/] {escape(rule.fix)}",
    ]
    if not rule.enabled:
        lines.append("[bold]Disabled[/] (enabled = false)")
    for line in lines:
        out_console.print(line, soft_wrap=True)
    return 0


@rules.command("lint")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--require-cases", is_flag=True, help="Fail rules that lack fire/no_fire test cases.")
def lint(directory: Path, require_cases: bool) -> int:
    """Check the rule files of DIRECTORY (or one file): schema, conditions, overrides, test cases.

    Exit 0 when clean; exit 2 listing every problem as FILE: rule ID: FIELD: problem.
    """
    from advisor.engine import lint_rules

    found, problems = lint_rules(directory, require_cases=require_cases)
    if problems:
        raise RuleError(f"{directory}: {len(problems)} problem(s) in the rule files.", problems)
    from advisor.cli._console import out_console

    cases = sum(len(r.cases.get("fire", [])) + len(r.cases.get("no_fire", [])) for r in found)
    out_console.print(
        f"{directory}: {len(found)} rules, {cases} test cases: no problems.", soft_wrap=True
    )
    return 0
