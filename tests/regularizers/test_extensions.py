"""The extension seam: a technique's module alone decides what apply(), to_code() and the tuner do.

The catalogue entry of ``swa`` is pointed at a stand-in module (written here, in a temporary
folder) whose ``EXTENSION`` keeps a copy of the weights of the last epoch; nothing else
changes, and ``apply()``, ``Stack.to_code()`` and the tuner's folds all use the stand-in.
"""

from __future__ import annotations

import ast
import dataclasses
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from advisor.catalogue import TECHNIQUES
from advisor.regularizers import Stack, apply, extension_of
from advisor.tuning import TrainConfig, cross_validate, make_folds

ROOT = Path(__file__).resolve().parents[2]

STAND_IN = '''
from advisor.regularizers import Extension


class LastEpochCopy:
    """Evaluates the weights as they were at the end of the last epoch."""

    def __init__(self, model):
        import copy

        self.copy = copy.deepcopy(model)
        self.epochs = 0

    @property
    def eval_module(self):
        return self.copy if self.epochs else None

    def to(self, device):
        self.copy.to(device)
        return self

    def epoch_end(self, model, optimizer=None):
        self.copy.load_state_dict(model.state_dict())
        self.epochs += 1


def build(model, params, context):
    return LastEpochCopy(model), [f"stand-in for {context.epochs} epochs"]


def write_code(code, params):
    code.epoch_end += ["stand_in = copy.deepcopy(" + code.model + ")"]


EXTENSION = Extension("swa", build=build, write_code=write_code)
'''


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    (tmp_path / "stand_in_ext.py").write_text(textwrap.dedent(STAND_IN), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = dataclasses.replace(TECHNIQUES["swa"], impl="stand_in_ext")
    monkeypatch.setitem(TECHNIQUES, "swa", entry)
    extension_of.cache_clear()
    yield
    extension_of.cache_clear()
    sys.modules.pop("stand_in_ext", None)


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def test_apply_builds_and_drives_the_extension(stand_in):
    applied = apply(_net(), Stack.of("swa"), epochs=3)
    assert type(applied.swa).__name__ == "LastEpochCopy"
    assert applied.extensions == {"swa": applied.swa}
    assert "stand-in for 3 epochs" in applied.notes
    assert applied.eval_model is applied.model  # nothing to evaluate before an epoch ends
    with torch.no_grad():
        applied.model[0].weight.fill_(0.5)
    applied.epoch_end(applied.model)
    assert applied.eval_model is applied.swa.copy
    assert torch.equal(applied.eval_model[0].weight, applied.model[0].weight)


def test_to_code_writes_the_extension_lines(stand_in):
    code = Stack.of("swa").to_code()
    assert "    stand_in = copy.deepcopy(model)" in code
    assert "swa_model" not in code  # the real module's lines are not written


def test_tuner_runs_it_in_sequential_folds_and_vectorised_refuses(stand_in):
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.normal(size=(60, 4)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 2, size=60))
    folds, _ = make_folds(y.numpy(), task="classification", folds=2, seed=0)
    config = TrainConfig(max_epochs=2, batch_size=16)
    stack = Stack.of("swa")
    out = cross_validate(
        _net, stack, {}, X, y, folds, task="classification", config=config,
        device=torch.device("cpu"), seed=0, mode="sequential",
    )  # fmt: skip
    assert len(out.scores) == 2
    with pytest.raises(NotImplementedError, match="swa runs in sequential folds only"):
        cross_validate(
            _net, stack, {}, X, y, folds, task="classification", config=config,
            device=torch.device("cpu"), seed=0, mode="vectorized",
        )  # fmt: skip


def test_a_module_without_a_matching_extension_is_refused(tmp_path, monkeypatch):
    (tmp_path / "wrong_ext.py").write_text("EXTENSION = None\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(TECHNIQUES, "swa", dataclasses.replace(TECHNIQUES["swa"], impl="wrong_ext"))
    extension_of.cache_clear()
    try:
        with pytest.raises(TypeError, match="must define EXTENSION"):
            extension_of("swa")
    finally:
        extension_of.cache_clear()
        sys.modules.pop("wrong_ext", None)


def _names_in(path: Path) -> set[str]:
    """Every string constant and identifier of a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)
        elif isinstance(node, ast.Name | ast.Attribute):
            names.add(node.id if isinstance(node, ast.Name) else node.attr)
    return names


@pytest.mark.parametrize(
    "module",
    [
        "regularizers/_apply.py",
        "regularizers/_codegen.py",
        "tuning/_folds_base.py",
        "tuning/_folds_sequential.py",
        "tuning/_folds_vectorised.py",
    ],
)
def test_the_training_loops_never_name_an_extension_technique(module):
    extension_techniques = {t for t, entry in TECHNIQUES.items() if entry.impl}
    assert extension_techniques  # swa at least
    assert not _names_in(ROOT / "advisor" / module) & extension_techniques
