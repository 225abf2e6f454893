"""Rule conditions: a small, safe expression language over facts (simpleeval, never ``eval``).

A condition is one Python-like expression, e.g.
``fit == 'overfitting' and size_class == 'small' and task in ['image', 'audio']``.
Names are fact names (``advisor.engine.FACT_SPECS``); the functions are ``known``, ``min``,
``max`` and ``abs``; literals are numbers, strings, lists, ``True``, ``False``, ``None``.

Unknown facts are ``None`` and the language is None-safe, so a rule about a fact that was
neither measured nor declared simply does not fire:

- ordering comparisons (``<``, ``<=``, ``>``, ``>=``) with ``None`` on either side are false;
- arithmetic with ``None`` gives ``None`` (and so does division by zero);
- ``==``, ``!=``, ``in``, ``not``, ``and``, ``or`` behave as in Python
  (``has_batchnorm != True`` is true when the fact is unknown; ``not has_batchnorm`` too);
- ``known(x)`` is true when ``x`` is not ``None``.

Names are checked when a rule file is loaded: a misspelt fact, a function that does not
exist, an attribute access or a string compared with an enum fact outside its choices is an
error naming the file, the rule and the field.
"""

from __future__ import annotations

import ast
import itertools
import operator
from collections.abc import Callable, Mapping
from typing import Any

import simpleeval

from advisor._validation import did_you_mean
from advisor.engine._fact_specs import FACT_SPECS

__all__ = ["FUNCTIONS", "Condition", "ConditionError"]


class ConditionError(ValueError):
    """A condition that cannot be compiled or evaluated (wrapped into ``RuleError`` by callers)."""


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if a is None or b is None:
            return False
        return op(a, b)

    return compare


# Cost bounds: a condition is evaluated for every recommendation, and `advisor rules lint`
# must finish on any file. Arithmetic takes numbers only (no 'a' * 10**9), number literals
# stay within +-1e18, ** takes a literal exponent of at most 16 in magnitude, and a result
# beyond 1e300 is an error instead of an ever larger integer.
MAX_LITERAL = 1e18
MAX_EXPONENT = 16
MAX_RESULT = 1e300
MAX_CONDITION_LENGTH = 2000


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float)  # bool is an int: True + 1 is allowed


def _arith(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def compute(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        if not (_is_number(a) and _is_number(b)):
            raise TypeError(
                f"arithmetic needs numbers, got {type(a).__name__} and {type(b).__name__}"
            )
        try:
            result = op(a, b)
        except ZeroDivisionError:
            return None
        except OverflowError:
            raise ValueError("a result is too large (beyond 1e300)") from None
        if abs(result) > MAX_RESULT:
            raise ValueError("a result is too large (beyond 1e300)")
        return result

    return compute


def _bounded_power(a: Any, b: Any) -> Any:
    if abs(b) > MAX_EXPONENT:
        raise ValueError(f"the exponent {b!r} of ** is beyond +-{MAX_EXPONENT}")
    return simpleeval.safe_power(a, b)


def _unary(op: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda a: None if a is None else op(a)


_OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: _arith(operator.add),
    ast.Sub: _arith(operator.sub),
    ast.Mult: _arith(operator.mul),
    ast.Div: _arith(operator.truediv),
    ast.FloorDiv: _arith(operator.floordiv),
    ast.Mod: _arith(operator.mod),
    ast.Pow: _arith(_bounded_power),
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Gt: _ordered(operator.gt),
    ast.Lt: _ordered(operator.lt),
    ast.GtE: _ordered(operator.ge),
    ast.LtE: _ordered(operator.le),
    ast.Not: operator.not_,
    ast.USub: _unary(operator.neg),
    ast.UAdd: _unary(operator.pos),
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}


def _none_safe(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        if any(a is None for a in args):
            return None
        return fn(*args)

    return call


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "known": lambda value: value is not None,
    "min": _none_safe(min),
    "max": _none_safe(max),
    "abs": _none_safe(abs),
}
_CONSTANTS = {"True": True, "False": False, "None": None, "true": True, "false": False}
_ALLOWED_NODES = (
    ast.Expression,
    ast.Expr,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Call,
    ast.IfExp,
)


class Condition:
    """A compiled, checked condition over facts.

    Example:
        >>> cond = Condition("known(samples) and samples < 5000")
        >>> cond.evaluate({"samples": 2000}), cond.evaluate({"samples": None})
        (True, False)
        >>> sorted(cond.names)
        ['samples']
    """

    def __init__(self, text: str):
        self.text = text
        if len(text) > MAX_CONDITION_LENGTH:
            raise ConditionError(
                f"is {len(text)} characters long, more than {MAX_CONDITION_LENGTH}; split the rule: {text[:60]!r}..."
            )
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except (SyntaxError, RecursionError, MemoryError) as exc:
            msg = getattr(exc, "msg", None) or "nested too deeply"
            raise ConditionError(f"is not a valid expression ({msg}): {text!r}") from None
        try:
            self.names = frozenset(_check_tree(tree))
        except ConditionError as exc:
            raise ConditionError(f"{exc}: {text!r}") from None
        self._evaluator = simpleeval.EvalWithCompoundTypes(
            operators=_OPERATORS, functions=FUNCTIONS, names={}
        )
        self._parsed = self._evaluator.parse(text.strip())

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        """True when the condition holds for ``facts`` (unknown facts are ``None``)."""
        names = dict(_CONSTANTS)
        names.update({name: facts.get(name) for name in self.names})
        self._evaluator.names = names
        try:
            result = self._evaluator.eval(self.text.strip(), previously_parsed=self._parsed)
        except (
            TypeError,
            ValueError,
            OverflowError,
            RecursionError,
            simpleeval.InvalidExpression,
        ) as exc:
            raise ConditionError(
                f"cannot be evaluated on these facts ({exc}): {self.text!r}"
            ) from None
        return bool(result)

    def __repr__(self) -> str:
        return f"Condition({self.text!r})"


def _check_tree(tree: ast.AST) -> set[str]:
    """Return the fact names a condition reads; raise ``ConditionError`` on anything not allowed."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            what = type(node).__name__
            raise ConditionError(
                f"uses {what}, which conditions do not allow (only comparisons, and/or/not, arithmetic, lists and the functions {', '.join(FUNCTIONS)})"
            )
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                shown = ast.unparse(node.func)
                raise ConditionError(
                    f"calls '{shown}', which is not a function of the language ({', '.join(FUNCTIONS)})"
                )
            if node.keywords:
                raise ConditionError(
                    f"passes keyword arguments to '{node.func.id}'; pass them by position"
                )
        elif isinstance(node, ast.Name):
            if node.id in FUNCTIONS or node.id in _CONSTANTS:
                continue
            if node.id not in FACT_SPECS:
                hint = did_you_mean(node.id, FACT_SPECS, parens=True)
                raise ConditionError(f"unknown fact '{node.id}'{hint}")
            names.add(node.id)
        elif isinstance(node, ast.Compare):
            _check_enum_literals(node)
        elif isinstance(node, ast.Constant) and _is_number(node.value):
            if not abs(node.value) <= MAX_LITERAL:  # also catches inf/nan (1e999)
                raise ConditionError(
                    f"uses the number {node.value!r}, beyond +-{MAX_LITERAL:g} (no fact is that large)"
                )
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = _literal_number(node.right)
            if exponent is None or abs(exponent) > MAX_EXPONENT:
                raise ConditionError(
                    f"raises to the power {ast.unparse(node.right)!r}; the exponent of ** must be a "
                    f"number literal between -{MAX_EXPONENT} and {MAX_EXPONENT} (bounded cost)"
                )
    # Function names appear as Name nodes too; keep only facts.
    return {n for n in names if n in FACT_SPECS}


def _literal_number(node: ast.AST) -> float | None:
    """The value of a number literal (``3``, ``-0.5``), or ``None`` for anything else."""
    sign = 1
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        sign *= -1 if isinstance(node.op, ast.USub) else 1
        node = node.operand
    if isinstance(node, ast.Constant) and _is_number(node.value):
        return sign * node.value
    return None


def _literals(node: ast.AST) -> list[Any] | None:
    if isinstance(node, ast.Constant):
        return [node.value]
    if isinstance(node, ast.List | ast.Tuple) and all(
        isinstance(e, ast.Constant) for e in node.elts
    ):
        return [e.value for e in node.elts]
    return None


def _check_enum_literals(node: ast.Compare) -> None:
    """``fit == 'overfiting'`` can never be true: report the typo instead of a silent rule."""
    operands = [node.left, *node.comparators]
    for left, right in itertools.pairwise(operands):
        for name_node, other in ((left, right), (right, left)):
            if not isinstance(name_node, ast.Name):
                continue
            spec = FACT_SPECS.get(name_node.id)
            values = _literals(other)
            if spec is None or values is None:
                continue
            for value in values:
                if spec.kind == "enum" and isinstance(value, str) and value not in spec.choices:
                    hint = did_you_mean(value, spec.choices, parens=True)
                    raise ConditionError(
                        f"compares {spec.name} with {value!r}, which it never equals; choices: {', '.join(spec.choices)}{hint}"
                    )
                if spec.kind in ("int", "float") and isinstance(value, str):
                    raise ConditionError(
                        f"compares the number {spec.name} with the string {value!r}"
                    )
                if (
                    spec.kind == "enum"
                    and isinstance(value, int | float)
                    and not isinstance(value, bool)
                ):
                    raise ConditionError(
                        f"compares the text fact {spec.name} with the number {value!r}"
                    )
