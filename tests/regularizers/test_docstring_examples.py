"""The examples in the regularizers' docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "_stack", "_penalties", "_losses", "_early_stopping", "_mix", "_augment", "_surgery", "_stochastic_depth", "_apply", "_swa", "_extensions",
]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"advisor.regularizers.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
