"""One hyper-parameter of a technique: its default and why, its checks, its search ranges.

A ``Param`` is the single place a default, a valid range and a search range are written.
``Stack`` validation calls :meth:`Param.check`, the engine starts its plan from ``default``
and ``advised``, the tuner's full space reads ``full``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from advisor._validation import check_choice, check_flag, check_number
from advisor.errors import ConfigError

__all__ = ["KINDS", "Param", "float_space", "int_space"]

# float / int: a number within [low, high]; bool; choice: one of ``choices``; text: a
# non-empty string; patterns: fnmatch patterns (or None); transforms: transform names.
KINDS = ("float", "int", "bool", "choice", "text", "patterns", "transforms")


def float_space(low: float, high: float, *, log: bool = False) -> dict[str, Any]:
    """An Optuna float range ``{"type": "float", "low", "high", "log"?}``."""
    space: dict[str, Any] = {"type": "float", "low": low, "high": high}
    if log:
        space["log"] = True
    return space


def int_space(low: int, high: int) -> dict[str, Any]:
    """An Optuna int range ``{"type": "int", "low", "high"}``."""
    return {"type": "int", "low": low, "high": high}


@dataclass(frozen=True)
class Param:
    """One hyper-parameter of a technique.

    Attributes:
        name: the key in the stack piece's ``params``.
        default: the starting value (``Stack`` fills it in, the engine's plan starts there).
        reason: one line saying why this default.
        kind: one of ``KINDS``.
        low, high, low_open, high_open: the valid range of a number (``None``: unbounded);
            a number whose default is ``None`` is optional (``None`` passes).
        choices: the allowed values of a ``choice``.
        advised: the search range the engine's plan starts from (rules narrow it); ``None``
            when the plan does not search it.
        full: the wide range of the tuner's ``space="full"`` (someone tuning without advice).
        planned: the engine's plan writes this parameter (the others take ``default``).
    """

    name: str
    default: Any
    reason: str
    kind: str = "float"
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] = ()
    advised: dict[str, Any] | None = None
    full: dict[str, Any] | None = None
    planned: bool = True

    def check(self, value: Any, *, of: str) -> Any:
        """Return ``value`` checked (and normalised) for this parameter of technique ``of``.

        Raises:
            ConfigError: one line, "p of dropout must be a number >= 0 and <= 0.95, got 1.5."

        Example:
            >>> Param("p", 0.3, "why", low=0.0, high=0.95).check(0.5, of="dropout")
            0.5
        """
        kind = self.kind
        if value is None and self.default is None and kind in ("float", "int"):
            return None  # an optional number (its default None means "not set")
        if kind in ("float", "int"):
            return check_number(
                self.name,
                value,
                of=of,
                low=self.low,
                high=self.high,
                low_open=self.low_open,
                high_open=self.high_open,
                integer=kind == "int",
            )
        if kind == "bool":
            return check_flag(self.name, value, of=of)
        if kind == "choice":
            return check_choice(self.name, value, self.choices, of=of)
        if kind == "text":
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{self.name} of {of} must be a metric name, got {value!r}.")
            return value
        if kind == "patterns":
            return _patterns(self.name, value, of=of)
        from advisor.catalogue._transforms import check_transforms

        return check_transforms(value, of=of, name=self.name)

    def check_type(self, value: Any) -> str | None:
        """What is wrong with ``value`` for this parameter (type and range), or ``None``.

        For rule files, which set starting values: the same checks as :meth:`check`, as a
        problem text instead of an exception.
        """
        try:
            self.check(value, of="x")
        except ConfigError as exc:
            text = str(exc).removeprefix(f"{self.name} of x ").rstrip(".")
            return text
        return None


def _patterns(name: str, value: Any, *, of: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(
        f"{name} of {of} must be a list of fnmatch patterns like ['*.bias'], got {value!r}."
    )
