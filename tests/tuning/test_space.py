import optuna
import pytest
from tune_models import STACK

from advisor.errors import ConfigError
from advisor.regularizers import Stack
from advisor.tuning import full_stack
from advisor.tuning._space import centre_space, resolve_stack, rules_stack, search_space, suggest


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


def _plan():
    """An engine plan as ``Recommendations.to_stack()`` writes it: every piece has a stage."""
    import advisor

    recs = advisor.recommend(modality="image", samples=1797, classes=10, fit="overfitting")
    return Stack.from_dict(recs)


def test_rules_stack_keeps_stage_one_and_the_next_technique():
    plan = _plan()
    later = [p.technique for p in plan if p.extra["stage"] > 1]
    narrowed = rules_stack(plan, later_stages=1)
    stage_one = [p.technique for p in plan if p.extra["stage"] == 1]
    assert narrowed.techniques == stage_one + later[:1]
    assert len(search_space(narrowed)) < len(search_space(plan))
    assert rules_stack(plan, later_stages=0).techniques == stage_one
    assert rules_stack(plan).techniques == plan.techniques


def test_rules_stack_is_narrower_than_the_full_space():
    narrowed = search_space(rules_stack(_plan(), later_stages=1))
    full = search_space(full_stack("classification", input_ndim=2))
    assert len(narrowed) < len(full)


def test_rules_stack_centres_ranges_on_the_advice_and_keeps_fixed_pieces():
    plan = _plan()
    narrowed = rules_stack(plan)
    assert narrowed["early_stopping"].search_space == {}  # the plan fixes patience
    assert narrowed["early_stopping"].params == plan["early_stopping"].params
    for piece in narrowed:
        for name, spec in piece.search_space.items():
            value = piece.params[name]
            assert spec["low"] <= value <= spec["high"]
            if spec.get("log"):
                assert spec["high"] / value == pytest.approx(value / spec["low"], rel=1e-3)
            else:
                assert spec["high"] - value == pytest.approx(value - spec["low"])
    # magnitude 0.3 in the rules' [0, 1] becomes [0, 0.6]
    assert narrowed["data_augmentation"].search_space["magnitude"]["high"] == pytest.approx(0.6)


def test_hand_written_stack_is_searched_as_given():
    stack = Stack.from_dict(STACK)
    assert rules_stack(stack) == stack
    assert rules_stack(Stack.from_dict({"version": 1, "pieces": []})).techniques == []


@pytest.mark.parametrize("later", [-1, 1.5, True, "1"])
def test_rules_stack_rejects_bad_later_stages(later):
    with pytest.raises(ConfigError, match=r"later_stages must be None \(all\) or an int >= 0"):
        rules_stack(_plan(), later_stages=later)


@pytest.mark.parametrize(
    ("spec", "value", "low", "high"),
    [
        ({"type": "float", "low": 0.0, "high": 1.0}, 0.3, 0.0, 0.6),
        ({"type": "float", "low": 0.1, "high": 0.5}, 0.3, 0.1, 0.5),
        ({"type": "float", "low": 1e-7, "high": 1e-2, "log": True}, 1e-5, 1e-7, 1e-3),
        ({"type": "int", "low": 2, "high": 30}, 10, 2, 18),
        ({"type": "float", "low": 0.0, "high": 1.0}, 0.0, 0.0, 1.0),  # on a bound: kept
        ({"type": "float", "low": 0.0, "high": 1.0}, 2.0, 0.0, 1.0),  # outside: kept
        ({"type": "float", "low": 0.0, "high": 1.0}, None, 0.0, 1.0),  # no value: kept
    ],
)
def test_centre_space(spec, value, low, high):
    out = centre_space(spec, value)
    assert out["low"] == pytest.approx(low) and out["high"] == pytest.approx(high)
    assert out["type"] == spec["type"] and out.get("log") == spec.get("log")


def test_centre_space_leaves_categorical_and_stepped_ranges():
    cat = {"type": "categorical", "choices": ["a", "b"]}
    stepped = {"type": "float", "low": 0.0, "high": 1.0, "step": 0.25}
    assert centre_space(cat, "a") == cat and centre_space(stepped, 0.25) == stepped


def test_tune_searches_the_narrowed_plan_and_starts_from_the_advice(tmp_path):
    from tune_models import blobs, tiny_mlp

    import advisor
    from advisor.tuning import TrainConfig, tune

    recs = advisor.recommend(task="tabular", samples=120, classes=3, fit="overfitting")
    result = tune(
        tiny_mlp,
        blobs(),
        task="classification",
        stack=recs,
        n_trials=1,
        folds=2,
        storage=str(tmp_path / "s.journal"),
        train=TrainConfig(max_epochs=1),
        device="cpu",
        progress=False,
        search="flat",
    )
    narrowed = rules_stack(Stack.from_dict(recs))
    assert result.candidate_stack.techniques == narrowed.techniques
    assert set(result.candidate_params) == set(search_space(narrowed))
    assert result.candidate_params == {
        f"{p.technique}.{k}": p.params[k] for p in narrowed for k in p.search_space
    }
