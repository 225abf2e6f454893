"""Search spaces: the rules-narrowed one (from the stack's pieces) and the full one.

The rules engine hands every piece of a recommended stack a narrow ``search_space``; the
tuner suggests exactly those parameters (Optuna names ``technique.param``). The *full* space
(``space="full"``) is the baseline the narrowing is measured against: every technique that
fits the task with wide ranges, as someone tuning without advice would search.
"""

from __future__ import annotations

from typing import Any

from advisor.errors import ConfigError

__all__ = ["SPACES", "full_stack", "resolve_stack", "search_space", "suggest"]

SPACES = ("rules", "full")

# Wide ranges someone without advice would search (each covers the literature's usual values).
_FULL: dict[str, dict[str, dict[str, Any]]] = {
    "l2": {"weight_decay": {"type": "float", "low": 1e-6, "high": 1e-1, "log": True}},
    "l1": {"strength": {"type": "float", "low": 1e-7, "high": 1e-2, "log": True}},
    "dropout": {"p": {"type": "float", "low": 0.0, "high": 0.8}},
    "label_smoothing": {"smoothing": {"type": "float", "low": 0.0, "high": 0.3}},
    "mixup": {"alpha": {"type": "float", "low": 0.05, "high": 1.0, "log": True}},
    "data_augmentation": {"magnitude": {"type": "float", "low": 0.0, "high": 1.0}},
    "early_stopping": {"patience": {"type": "int", "low": 2, "high": 30}},
}


def resolve_stack(stack: Any):
    """Accept a ``Stack``, ``Recommendations``, stack dict or a path to stack JSON."""
    from pathlib import Path

    from advisor.regularizers import Stack

    if stack is None:
        raise ConfigError(
            "stack is required: pass Recommendations, a Stack, a stack dict or a stack.json path."
        )
    if isinstance(stack, str | Path):
        path = Path(stack)
        if not path.is_file():
            raise ConfigError(
                f"{path}: no such stack file; write one with `advisor recommend --format json` or TuneResult.best_stack."
            )
        return Stack.from_json(path.read_text(encoding="utf-8"))
    return Stack.from_dict(stack)


def full_stack(task: str, *, input_ndim: int):
    """Every technique that fits the task, with the wide ranges of the full space.

    Label smoothing and mixup only make sense for classification; data augmentation is left
    out for tabular data (noise injection is its only transform there and the L2/dropout
    ranges already cover it).
    """
    from advisor.regularizers import Stack

    techniques = ["l2", "l1", "dropout", "early_stopping"]
    if task == "classification":
        techniques += ["label_smoothing", "mixup"]
    if input_ndim >= 3:
        techniques.append("data_augmentation")
    pieces = []
    for t in techniques:
        space = _FULL[t]
        params = {
            name: (
                spec["low"]
                if spec["type"] != "float" or spec.get("log")
                else (spec["low"] + spec["high"]) / 2
            )
            for name, spec in space.items()
        }
        if t == "early_stopping":
            params = {"patience": 10}
        pieces.append({"technique": t, "params": params, "search_space": space})
    return Stack.from_dict({"version": 1, "pieces": pieces})


def search_space(stack) -> dict[str, dict[str, Any]]:
    """Flat Optuna space ``{"technique.param": spec}`` of a stack."""
    return {f"{p.technique}.{name}": spec for p in stack for name, spec in p.search_space.items()}


def suggest(trial, stack) -> dict[str, dict[str, Any]]:
    """Ask the trial for every parameter of the stack's search space; nested ``{tech: {param: v}}``."""
    values: dict[str, dict[str, Any]] = {}
    for name, spec in search_space(stack).items():
        tech, _, param = name.partition(".")
        kind = spec["type"]
        if kind == "categorical":
            value = trial.suggest_categorical(name, spec["choices"])
        elif kind == "int":
            value = trial.suggest_int(
                name,
                int(spec["low"]),
                int(spec["high"]),
                step=int(spec.get("step", 1)),
                log=bool(spec.get("log", False)),
            )
        else:
            step = spec.get("step")
            value = trial.suggest_float(
                name,
                float(spec["low"]),
                float(spec["high"]),
                step=step,
                log=bool(spec.get("log", False)) if step is None else False,
            )
        values.setdefault(tech, {})[param] = value
    return values


def fixed_params(stack) -> dict[str, dict[str, Any]]:
    """The stack's current values of its searchable parameters (what the first trial tries)."""
    return {name: stack_value for name, stack_value in _flat_values(stack).items()}


def _flat_values(stack) -> dict[str, Any]:
    return {f"{p.technique}.{n}": p.params[n] for p in stack for n in p.search_space}
