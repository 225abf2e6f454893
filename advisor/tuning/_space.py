"""Search spaces: the rules-narrowed one (from the stack's pieces) and the full one.

The rules engine hands every piece of a recommended stack a ``search_space`` and a ``stage``;
the tuner suggests exactly the parameters of the pieces it keeps (Optuna names
``technique.param``). For an engine plan, :func:`rules_stack` keeps what the guidance says to
try (G4.1 "start simple, add one technique at a time", G4.5 "test combinations, don't stack
everything"): the stage-1 pieces plus the first ``later_stages`` techniques of the later stages
(all of them by default), and centres every range on the rule-derived starting value (G4.4 "start moderate and move from the
evidence"); the tuner enqueues that starting point as the first trial. A stack written by hand
(pieces without a ``stage``) is searched as given. The *full* space (``space="full"``) is the
baseline the narrowing is measured against: every technique that fits the task with wide
ranges, as someone tuning without advice would search.
"""

from __future__ import annotations

from typing import Any

from advisor.errors import ConfigError

__all__ = [
    "EMPTY_STACK",
    "SPACES",
    "centre_space",
    "centred_piece",
    "empty_stack",
    "flat_params",
    "full_stack",
    "nested_params",
    "resolve_stack",
    "rules_stack",
    "search_space",
    "split_stages",
    "suggest",
]

SPACES = ("rules", "full")
EMPTY_STACK = {"version": 1, "pieces": []}  # the user's current setup: no added regularization


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


def full_stack(task: str, *, input_ndim: int, channels: int | None = None, no_flip: bool = False):
    """Every technique that fits the task, with the wide ranges of the full space.

    The ranges are the catalogue's full ranges (``advisor.catalogue``, ``Param.full``), each
    covering the literature's usual values, as someone without advice would search them.

    Label smoothing and mixup only make sense for classification; data augmentation is left
    out for tabular data (noise injection is its only transform there and the L2/dropout
    ranges already cover it). Its transforms are the catalogue's for the input
    (``transforms_for``): no colour transforms on a greyscale image (``channels`` 1), no
    mirroring when ``no_flip`` (orientation carries the label).

    Example:
        >>> aug = full_stack("classification", input_ndim=4, channels=1, no_flip=True)
        >>> aug["data_augmentation"].params["transforms"]
        ['rotation', 'scale', 'crop', 'brightness', 'contrast']
    """
    from advisor.catalogue import TECHNIQUES, transforms_for
    from advisor.regularizers import Stack

    techniques = ["l2", "l1", "dropout", "early_stopping"]
    if task == "classification":
        techniques += ["label_smoothing", "mixup"]
    if input_ndim >= 3:
        techniques.append("data_augmentation")
    pieces = []
    for t in techniques:
        space = TECHNIQUES[t].full_space()
        if t == "early_stopping":
            # Patience is searched from the catalogue's default, not from the range's end.
            params = {"patience": TECHNIQUES[t].params["patience"].default}
        else:
            params = {
                name: (
                    spec["low"]
                    if spec["type"] != "float" or spec.get("log")
                    else (spec["low"] + spec["high"]) / 2
                )
                for name, spec in space.items()
            }
        if t == "data_augmentation":
            modality = "image" if input_ndim >= 4 else "sequence"
            params["transforms"] = list(
                transforms_for(modality, channels=channels, no_flip=no_flip)
            )
            params["no_flip"] = no_flip
        pieces.append({"technique": t, "params": params, "search_space": space})
    return Stack.from_dict({"version": 1, "pieces": pieces})


def split_stages(stack) -> tuple[list[Any], list[Any]] | None:
    """(the pieces of the plan's first stage, the later pieces by stage in plan order), or
    None for a stack whose pieces lack a stage (written by hand) or an empty one."""
    if not stack.pieces or any(p.stage is None for p in stack):
        return None
    first = min(p.stage for p in stack)
    base = [p for p in stack if p.stage == first]
    later = sorted((p for p in stack if p.stage != first), key=lambda p: p.stage)  # stable
    return base, later


def rules_stack(stack, *, later_stages: int | None = None):
    """The rules space of a stack: the plan's first stages, ranges centred on the advice.

    An engine plan (every piece has a ``stage``, as ``Recommendations.to_stack()`` writes) is
    cut to its stage-1 pieces plus the first ``later_stages`` pieces of the later stages in plan
    order (stage, then score: the next techniques the plan would add); ``None`` keeps them all.
    Each kept parameter range is then centred on the piece's starting value
    (:func:`centre_space`). Pieces without a search space (early stopping, whose patience the
    plan fixes) are kept and applied, not searched. A stack without stages (written by hand) is
    returned unchanged: its author chose its pieces and ranges.

    Args:
        stack: a ``Stack``.
        later_stages: how many later-stage techniques join stage 1 (int >= 0), or ``None``
            for all of them.

    Returns:
        A new ``Stack``.

    Raises:
        ConfigError: ``later_stages`` is not ``None`` or an int >= 0.

    Example:
        >>> import advisor
        >>> recs = advisor.recommend(task="tabular", samples=1797, classes=10, fit="overfitting")
        >>> rules_stack(Stack.from_dict(recs), later_stages=1).techniques  # doctest: +SKIP
        ['early_stopping', 'l2', 'data_augmentation', 'l1']
    """
    from advisor.regularizers import Stack

    n = later_stages
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise ConfigError(
            "later_stages must be None (all) or an int >= 0 (later-stage techniques tuned with"
            f" stage 1), got {n!r}."
        )
    stages = split_stages(stack)
    if stages is None:
        return stack
    base, later = stages
    keep = {id(p) for p in base + later[: len(later) if n is None else n]}
    pieces = [centred_piece(p).to_dict() for p in stack if id(p) in keep]
    return Stack.from_dict({"version": stack.version, "pieces": pieces})


def centred_piece(piece):
    """``piece`` with every searched range centred on its starting value (:func:`centre_space`)."""
    from advisor.regularizers import Piece

    space = {n: centre_space(spec, piece.params.get(n)) for n, spec in piece.search_space.items()}
    return Piece(piece.technique, dict(piece.params), space, dict(piece.extra))


def centre_space(spec: dict[str, Any], value: Any) -> dict[str, Any]:
    """The widest range inside ``spec`` that is symmetric around ``value``.

    Symmetric in log space for ``log`` ranges (``1e-5`` in ``[1e-7, 1e-2]`` gives
    ``[1e-7, 1e-3]``: two decades on each side). Categorical and stepped ranges, values outside
    the range and values on a bound (no room on one side) leave the range unchanged.

    Example:
        >>> centre_space({"type": "float", "low": 0.0, "high": 1.0}, 0.3)
        {'type': 'float', 'low': 0.0, 'high': 0.6}
    """
    import math

    kind = spec.get("type")
    if (
        kind not in ("int", "float")
        or spec.get("step") not in (None, 1)
        or isinstance(value, bool)
        or not isinstance(value, int | float)
    ):
        return dict(spec)
    low, high = spec["low"], spec["high"]
    if not low < value < high:
        return dict(spec)
    if spec.get("log") and low > 0:
        half = min(math.log(value / low), math.log(high / value))
        new_low, new_high = value / math.exp(half), value * math.exp(half)
        # exp/log round-off must not step outside the rules' range.
        new_low, new_high = max(low, float(f"{new_low:.6g}")), min(high, float(f"{new_high:.6g}"))
    else:
        half = min(value - low, high - value)
        new_low, new_high = value - half, value + half
        if kind == "float":
            new_low, new_high = round(new_low, 12), round(new_high, 12)
    if kind == "int":
        new_low, new_high = math.ceil(new_low), math.floor(new_high)
    else:
        new_low, new_high = float(new_low), float(new_high)
    return {**spec, "low": new_low, "high": new_high}


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


def flat_params(stack) -> dict[str, Any]:
    """``{"technique.param": value}`` of a stack's searched parameters (Optuna's names); ``{}``
    for None."""
    if stack is None:
        return {}
    return {f"{p.technique}.{n}": p.params[n] for p in stack for n in p.search_space}


def nested_params(stack) -> dict[str, dict[str, Any]]:
    """``{technique: {param: value}}`` of a stack's searched parameters (what a model factory
    taking a config receives)."""
    return {p.technique: {n: p.params[n] for n in p.search_space} for p in stack}


def empty_stack():
    """The stack of the user's current setup: no added regularization."""
    from advisor.regularizers import Stack

    return Stack.from_dict(EMPTY_STACK)
