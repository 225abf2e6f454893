"""The condition language: None-safe semantics and load-time checks."""

from __future__ import annotations

import pytest

from advisor.engine import Condition
from advisor.engine._expr import ConditionError


def test_known_fact_comparison():
    cond = Condition("samples < 5000")
    assert cond.evaluate({"samples": 2000})
    assert not cond.evaluate({"samples": 20000})


@pytest.mark.parametrize(
    "text", ["samples < 5000", "samples >= 5000", "samples > 1", "samples <= 1e9"]
)
def test_ordering_with_unknown_is_false(text):
    assert Condition(text).evaluate({"samples": None}) is False


def test_arithmetic_with_unknown_is_unknown():
    assert not Condition("params / samples > 10").evaluate({"params": 1e6, "samples": None})
    assert Condition("params / samples > 10").evaluate({"params": 1e6, "samples": 100})


def test_division_by_zero_is_unknown():
    assert not Condition("params / gpu_hours > 1").evaluate({"params": 1.0, "gpu_hours": 0.0})


def test_known_function_and_membership():
    cond = Condition("known(fit) and task in ['image', 'audio']")
    assert cond.evaluate({"fit": "overfitting", "task": "audio"})
    assert not cond.evaluate({"fit": None, "task": "audio"})
    assert Condition("fit in ['overfitting', None]").evaluate({"fit": None})


def test_equality_with_unknown_follows_python():
    assert Condition("has_batchnorm != True").evaluate({"has_batchnorm": None})
    assert not Condition("has_batchnorm == True").evaluate({"has_batchnorm": None})


def test_names_are_collected():
    assert Condition("min(samples, 10) > 3 and not has_norm").names == {"samples", "has_norm"}


def test_unknown_fact_is_reported_with_suggestion():
    with pytest.raises(
        ConditionError, match=r"unknown fact 'sampels' \(did you mean 'samples'\?\)"
    ):
        Condition("sampels < 10")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('true')", "not a function"),
        ("samples.__class__", "Attribute"),
        ("open('x')", "not a function"),
        ("[x for x in [1]]", "ListComp"),
        ("lambda: 1", "Lambda"),
        ("samples <", "not a valid expression"),
        ("fit == 'overfiting'", "did you mean 'overfitting'"),
        ("task in ['image', 'video']", "never equals"),
        ("samples > '10'", "number samples with the string"),
        ("task == 3", "text fact task with the number"),
        ("max(samples, default=1)", "keyword"),
    ],
)
def test_unsafe_or_wrong_conditions_are_rejected(text, message):
    with pytest.raises(ConditionError, match=message):
        Condition(text)


def test_type_error_at_evaluation_is_a_condition_error():
    with pytest.raises(ConditionError, match="cannot be evaluated"):
        Condition("task + 1 > 2").evaluate({"task": "image"})


@pytest.mark.parametrize(
    "module",
    ["_expr", "_facts", "_rule_schema", "_rule", "_loader", "_lint", "_recommend", "_render"],
)
def test_docstring_examples_run(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"advisor.engine.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
