"""Argument checks with one message template, and the words every command shares.

In the spirit of scikit-learn's parameter validation: every check names the argument, what
it belongs to, what is allowed and what was given, in one line
("patience of early_stopping must be an int >= 1, got 0."), with a "did you mean" for
misspelt names. It sits at the bottom of the package: it imports nothing from advisor but
``advisor.errors``, so the catalogue, the engine, the regularizers, the tuner and the CLI can
all use it.

It also holds the one vocabulary of the data and the goal of a run (``modality`` and
``objective``) and the deprecation of the old ``task`` word, which meant the modality in the
rules engine and the objective in ``tune``/``apply``.

Example:
    >>> check_number("p", 0.3, of="dropout", low=0.0, high=0.95)
    0.3
    >>> split_task("timeseries", warn=False)
    (None, 'forecasting')
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Iterable
from typing import Any

from advisor.errors import ConfigError

__all__ = [
    "MODALITIES",
    "OBJECTIVES",
    "TASK_WORDS",
    "check_choice",
    "check_flag",
    "check_number",
    "close_match",
    "deprecation_note",
    "did_you_mean",
    "resolve_vocabulary",
    "split_task",
]

# What the inputs are. Rules read it as the fact ``modality`` (``task`` is its old name).
MODALITIES: tuple[str, ...] = ("image", "sequence", "text", "tabular", "audio")
# What the model predicts: a class, a number, or the next values of a series.
OBJECTIVES: tuple[str, ...] = ("classification", "regression", "forecasting")
# Every value the deprecated ``task`` took, and the (modality, objective) it means now.
# ``timeseries`` was the tuner's word for forecasting (TimeSeriesSplit, no look-ahead).
TASK_WORDS: dict[str, tuple[str | None, str | None]] = {
    **{m: (m, None) for m in MODALITIES},
    "classification": (None, "classification"),
    "regression": (None, "regression"),
    "forecasting": (None, "forecasting"),
    "timeseries": (None, "forecasting"),
}


# --------------------------------------------------------------------------- did you mean


def close_match(word: Any, options: Iterable[Any], *, cutoff: float = 0.6) -> str | None:
    """The option closest to ``word`` (difflib's ratio at least ``cutoff``), or ``None``."""
    texts = [str(o) for o in options]
    close = difflib.get_close_matches(str(word), texts, n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(
    word: Any, options: Iterable[Any], *, parens: bool = False, cutoff: float = 0.6
) -> str:
    """``" Did you mean 'x'?"`` (or ``" (did you mean 'x'?)"`` with ``parens``), or ``""``.

    Example:
        >>> did_you_mean("dropuot", ["dropout", "l2"])
        " Did you mean 'dropout'?"
    """
    close = close_match(word, options, cutoff=cutoff)
    if close is None:
        return ""
    return f" (did you mean '{close}'?)" if parens else f" Did you mean '{close}'?"


# --------------------------------------------------------------------------- checks


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return " and ".join(parts)


def check_number(
    name: str,
    value: Any,
    *,
    of: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
    error: type[Exception] = ConfigError,
) -> float | int:
    """Check a finite number (an int with ``integer``) within ``[low, high]``; return it.

    A float with an integral value counts as an int (Optuna and JSON may hand back ``10.0``)
    and is returned as an int. Bools are refused: ``True`` is not a rate.

    Raises:
        ConfigError (or ``error``): "{name} of {of} must be an int >= 1, got 0."

    Example:
        >>> check_number("patience", 10.0, of="early_stopping", low=1, integer=True)
        10
    """
    kind = "an int" if integer else "a number"
    if integer and isinstance(value, float) and value.is_integer():
        value = int(value)
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    bounds = _bounds(low, high, low_open, high_open)
    if isinstance(value, bool) or not ok or not math.isfinite(value):
        raise error(
            f"{name} of {of} must be {kind}{' ' + bounds if bounds else ''}, got {value!r}."
        )
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise error(f"{name} of {of} must be {kind} {bounds}, got {value!r}.")
    return value


def check_choice(
    name: str,
    value: Any,
    choices: Iterable[Any],
    *,
    of: str,
    error: type[Exception] = ConfigError,
) -> Any:
    """Check that ``value`` is one of ``choices``; return it.

    Raises:
        ConfigError (or ``error``): "mode of early_stopping must be one of 'min', 'max',
        got 'up'." plus a did-you-mean for a near miss.
    """
    options = tuple(choices)
    if value not in options:
        hint = did_you_mean(value, options) if isinstance(value, str) else ""
        allowed = ", ".join(map(repr, options))
        raise error(f"{name} of {of} must be one of {allowed}, got {value!r}.{hint}")
    return value


def check_flag(name: str, value: Any, *, of: str, error: type[Exception] = ConfigError) -> bool:
    """Check a true/false value (a real bool, not 0/1 or "yes"); return it."""
    if not isinstance(value, bool):
        raise error(f"{name} of {of} must be true or false, got {value!r}.")
    return value


# --------------------------------------------------------------------------- vocabulary


def deprecation_note(old: str, new: str) -> str:
    """The one-line text of a deprecation: what to write instead, and when the old goes.

    Example:
        >>> deprecation_note("--task image", "--modality image")
        '--task image is deprecated; use --modality image (the old spelling goes in the next release).'
    """
    return f"{old} is deprecated; use {new} (the old spelling goes in the next release)."


def split_task(
    task: str | None, *, of: str = "task", warn: bool = True, stacklevel: int = 3
) -> tuple[str | None, str | None]:
    """The ``(modality, objective)`` an old ``task`` value means.

    ``image``/``sequence``/``text``/``tabular``/``audio`` are modalities;
    ``classification``/``regression`` are objectives; ``timeseries`` is the objective
    ``forecasting``. With ``warn`` a ``DeprecationWarning`` says what to write instead.

    Raises:
        ConfigError: a value no command ever took, with a did-you-mean.

    Example:
        >>> split_task("image", warn=False)
        ('image', None)
    """
    if task is None:
        return None, None
    word = str(task).strip().lower()
    if word not in TASK_WORDS:
        raise ConfigError(
            f"{of} must be a modality ({', '.join(MODALITIES)}) or an objective "
            f"({', '.join(OBJECTIVES)}), got {task!r}.{did_you_mean(word, TASK_WORDS)}"
        )
    modality, objective = TASK_WORDS[word]
    if warn:
        new = f"modality={modality!r}" if modality else f"objective={objective!r}"
        old = f"task={task!r}" + ("" if of == "task" else f" ({of})")
        warnings.warn(deprecation_note(old, new), DeprecationWarning, stacklevel=stacklevel)
    return modality, objective


def resolve_vocabulary(
    *,
    modality: str | None = None,
    objective: str | None = None,
    task: str | None = None,
    of: str = "task",
    warn: bool = True,
    stacklevel: int = 4,
) -> tuple[str | None, str | None]:
    """Merge the new words and the deprecated ``task`` into one checked ``(modality, objective)``.

    What every command and function taking a task calls at its boundary: ``modality`` and
    ``objective`` are checked against ``MODALITIES``/``OBJECTIVES`` (the legacy
    ``objective="timeseries"`` becomes ``forecasting``); ``task`` is split by
    :func:`split_task` (warning when ``warn``) and must not contradict them.

    Raises:
        ConfigError: an unknown word, or ``task`` saying something else than
            ``modality``/``objective``.

    Example:
        >>> resolve_vocabulary(modality="image", objective="classification")
        ('image', 'classification')
    """
    if modality is not None:
        modality = check_choice("modality", str(modality).strip().lower(), MODALITIES, of=of)
    if objective is not None:
        word = str(objective).strip().lower()
        word = "forecasting" if word == "timeseries" else word
        objective = check_choice("objective", word, OBJECTIVES, of=of)
    old_modality, old_objective = split_task(task, of=of, warn=warn, stacklevel=stacklevel)
    for new_name, new, old in (
        ("modality", modality, old_modality),
        ("objective", objective, old_objective),
    ):
        if old is not None and new is not None and old != new:
            raise ConfigError(
                f"task {task!r} of {of} contradicts {new_name} {new!r}; drop task "
                f"(deprecated) and keep {new_name}."
            )
    return modality or old_modality, objective or old_objective
