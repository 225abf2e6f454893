import optuna
import pytest
from tune_models import STACK

from advisor.errors import ConfigError
from advisor.regularizers import Stack
from advisor.tuning import full_stack
from advisor.tuning._space import resolve_stack, search_space, suggest


def test_rules_space_suggests_each_piece_param():
    stack = Stack.from_dict(STACK)
    assert set(search_space(stack)) == {"l2.weight_decay", "dropout.p"}
    values = suggest(optuna.trial.FixedTrial({"l2.weight_decay": 1e-3, "dropout.p": 0.4}), stack)
    assert values == {"l2": {"weight_decay": 1e-3}, "dropout": {"p": 0.4}}
    assert stack.with_params(values)["dropout"].params["p"] == 0.4


def test_full_space_fits_the_task():
    cls = full_stack("classification", input_ndim=4).techniques
    reg = full_stack("regression", input_ndim=2).techniques
    assert {"label_smoothing", "mixup", "data_augmentation"} <= set(cls)
    assert "label_smoothing" not in reg and "data_augmentation" not in reg
    assert all(p.search_space for p in full_stack("regression", input_ndim=2))


def test_stack_from_file_and_errors(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(Stack.from_dict(STACK).to_json())
    assert resolve_stack(path).techniques == ["l2", "dropout"]
    with pytest.raises(ConfigError, match="no such stack file"):
        resolve_stack(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="stack is required"):
        resolve_stack(None)
