"""Entry point: the ``advisor`` click group, lazy sub-commands, config and error handling.

Exit codes (documented in the README): 0 success / all checks passed, 1 a check
failed (``advisor check``: regression found), 2 bad usage or unreadable input,
130 interrupted.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from advisor._config import load_tool_config, validate_keys
from advisor.errors import AdvisorError, RuleError

__all__ = ["SHARED_CONFIG_KEYS", "cli", "main"]

# name -> "module:attribute"; each module is imported only when its command runs.
_COMMANDS: dict[str, tuple[str, str]] = {
    "diagnose": (
        "advisor.cli._diagnose:diagnose",
        "Diagnose a training run: fit, model, weights and advice.",
    ),
    "check": (
        "advisor.cli._check:check",
        "CI gate: fail (exit 1) when a run regressed into overfitting.",
    ),
    "recommend": (
        "advisor.cli._recommend:recommend",
        "Advice from declared facts alone (no files).",
    ),
    "rules": ("advisor.cli._rules:rules", "List, show and lint the rules of the knowledge base."),
    "tune": (
        "advisor.cli._tune:tune",
        "Tune the recommended regularizer stack with Optuna and k-fold CV.",
    ),
}

# Keys of [tool.advisor] itself that apply to every command having the matching option.
SHARED_CONFIG_KEYS = frozenset(
    {
        "task",
        "modality",
        "objective",
        "samples",
        "classes",
        "pretrained",
        "budget",
        "gpu-hours",
        "batch-size",
        "no-flip",
        "channels",
        "optimizer",
        "lr",
        "norm",
        "label-smoothing",
        "residual",
        "sparse",
        "rules-dir",
        "device",
        "trust",
        "format",
    }
)


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target[0].split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help without importing every command module.
        rows = [(name, _COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name, cmd, rest = super().resolve_command(ctx, args)
        if cmd is not None:
            _apply_config(ctx, name, cmd)
        return name, cmd, rest


def _apply_config(ctx: click.Context, name: str, cmd: click.Command) -> None:
    """Load [tool.advisor] (+ [tool.advisor.<name>]) into the sub-command's default_map."""
    table, path = load_tool_config()
    if not table:
        return
    shared = {k: v for k, v in table.items() if not isinstance(v, dict)}
    validate_keys(shared, SHARED_CONFIG_KEYS, where=f"{path} [tool.advisor]")
    params = {p.name: p for p in cmd.params if p.name}
    defaults: dict[str, Any] = {}
    for key, value in shared.items():
        if key.replace("-", "_") in params:
            defaults[key.replace("-", "_")] = value
    own = table.get(name, {})
    if isinstance(own, dict) and own:
        allowed = {p.replace("_", "-") for p in params}
        flat = {k: v for k, v in own.items() if not isinstance(v, dict)}
        validate_keys(flat, allowed, where=f"{path} [tool.advisor.{name}]")
        defaults.update({k.replace("-", "_"): v for k, v in flat.items()})
    if defaults:
        ctx.default_map = {**(ctx.default_map or {}), name: defaults}


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="regularization-advisor", prog_name="advisor")
def cli() -> None:
    """Tell which regularization a PyTorch model needs, and prove it.

    Run `advisor COMMAND --help` for a command's options.
    """


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI and turn errors into exit codes."""
    err = sys.stderr
    try:
        code = cli.main(args=argv, prog_name="advisor", standalone_mode=False)
    except click.exceptions.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "advisor"
        print(f"advisor: error: {_one_line(exc.format_message())} (see '{where} --help')", file=err)
        sys.exit(2)
    except click.exceptions.ClickException as exc:
        print(f"advisor: error: {_one_line(exc.format_message())}", file=err)
        sys.exit(2)
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("advisor: interrupted", file=err)
        sys.exit(130)
    except RuleError as exc:
        print(f"advisor: error: {_one_line(str(exc))}", file=err)
        for problem in exc.problems:
            print(f"  - {_one_line(problem)}", file=err)
        sys.exit(2)
    except AdvisorError as exc:
        print(f"advisor: error: {_one_line(str(exc))}", file=err)
        sys.exit(2)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        name = getattr(exc, "filename", None) or ""
        print(
            f"advisor: error: {name}: {exc.strerror or exc}; check the path and its permissions.",
            file=err,
        )
        sys.exit(2)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(code if isinstance(code, int) else 0)
