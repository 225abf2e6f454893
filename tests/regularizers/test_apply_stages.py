"""apply() and the engine's plan: stage 1 by default, stages= to choose, the L1 step's
learning rate from the optimizer, and one schema from `advisor recommend` to apply and tune."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import advisor
from advisor.cli import main
from advisor.errors import ConfigError
from advisor.regularizers import Stack, apply

RUN = Path(__file__).resolve().parents[2] / "examples" / "runs" / "mnist20k"
PLAN_FACTS = {"modality": "tabular", "samples": 300, "classes": 10, "fit": "overfitting"}
PLAN_FLAGS = [
    "--modality",
    "tabular",
    "--samples",
    "300",
    "--classes",
    "10",
    "--fit",
    "overfitting",
]


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 10))


@pytest.fixture(scope="module")
def plan():
    recs = advisor.recommend(**PLAN_FACTS)
    assert len({r.stage for r in recs if r.kind == "regularizer"}) > 1  # a plan with stages
    return recs


def _stage_one(recs) -> list[str]:
    return [r.technique for r in recs if r.kind == "regularizer" and r.stage == 1]


def test_a_plan_applies_its_stage_one_and_says_what_it_left(plan):
    applied = apply(_mlp(), plan)
    assert applied.stack.techniques == _stage_one(plan)
    left = [r.technique for r in plan if r.kind == "regularizer" and r.stage != 1]
    note = applied.notes[0]
    assert note.startswith("applied stage 1 of the plan")
    assert all(t in note for t in left) and "stages='all'" in note


def test_stages_all_an_int_or_a_list_choose(plan):
    everything = [r.technique for r in plan if r.kind == "regularizer"]
    assert apply(_mlp(), plan, stages="all").stack.techniques == everything
    two = [r.technique for r in plan if r.kind == "regularizer" and r.stage == 2]
    assert apply(_mlp(), plan, stages=2).stack.techniques == two
    assert apply(_mlp(), plan, stages=[1, 2]).stack.techniques == _stage_one(plan) + two


def test_a_stack_is_applied_whole_unless_stages_are_given(plan):
    """A stack (built, saved or tuned: TuneResult.best_stack) is what someone chose."""
    stack = Stack.from_dict(plan)
    assert apply(_mlp(), stack).stack == stack
    assert apply(_mlp(), plan.to_stack()).stack.techniques == stack.techniques
    assert apply(_mlp(), stack, stages=1).stack.techniques == _stage_one(plan)
    # A piece added by hand (no stage) is always applied.
    mixed = Stack.from_dict([*plan.to_stack()["pieces"], {"technique": "ema"}])
    assert "ema" in apply(_mlp(), mixed, stages=1).stack.techniques


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        (0, "must be 'all', an int >= 1 or a list of them, got 0"),
        ("first", "got 'first'"),
        ([], "got \\[\\]"),
        (True, "got True"),
        ([9], "selects no piece: the plan's stages are 1, 2"),
    ],
)
def test_bad_stages_are_one_line_errors(plan, stages, message):
    with pytest.raises(ConfigError, match=message):
        apply(_mlp(), plan, stages=stages)


def test_stages_on_a_stack_without_stages_is_an_error():
    with pytest.raises(ConfigError, match="no piece of this stack has a stage"):
        apply(_mlp(), Stack.of("l2"), stages=1)


def test_the_l1_step_reads_the_optimizer_learning_rate_and_follows_its_schedule():
    applied = apply(_mlp(), Stack.of(l1={"strength": 0.1}))
    assert applied.proximal.threshold is None and applied.proximal.strength == 0.1
    opt = torch.optim.SGD(applied.param_groups, lr=0.5)
    schedule = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
    assert applied.proximal.current_threshold() == pytest.approx(0.05)
    x, y = torch.randn(32, 8), torch.randint(0, 10, (32,))
    opt.zero_grad()
    applied.loss_fn(applied.model(x), y).backward()
    opt.step()
    applied.post_step(applied.model)
    assert applied.sparsity() > 0  # threshold 0.05 zeroes small weights
    schedule.step()
    assert applied.proximal.current_threshold() == pytest.approx(0.005)
    fixed = apply(_mlp(), Stack.of(l1={"strength": 0.1}), lr=0.2)  # the tuner passes lr
    assert fixed.proximal.threshold == pytest.approx(0.02)


def test_the_readme_loop_runs_on_a_plan_without_lr():
    """The tour: apply a plan whose stage 1 has the L1 proximal step, build the optimizer over
    param_groups, train a few steps; no lr= anywhere but the optimizer's."""
    document = {  # the shape `advisor recommend --format json` writes (other keys left out)
        "recommendations": [],
        "stack": {
            "version": 1,
            "pieces": [
                {"technique": "l1", "params": {"strength": 1e-3}, "stage": 1},
                {"technique": "early_stopping", "stage": 1},
                {"technique": "dropout", "stage": 2},
            ],
        },
    }
    applied = apply(_mlp(), document)
    assert applied.stack.techniques == ["l1", "early_stopping"]
    assert applied.proximal is not None and applied.proximal.threshold is None
    opt = torch.optim.AdamW(applied.param_groups, lr=1e-2)
    x, y = torch.randn(64, 8), torch.randint(0, 10, (64,))
    for _ in range(3):
        xb, yb = applied.batch_transform(x, y)
        loss = applied.loss_fn(applied.model(xb), yb) + applied.penalty(applied.model)
        opt.zero_grad()
        loss.backward()
        opt.step()
        applied.post_step(applied.model)
    assert torch.isfinite(loss)
    assert applied.proximal.current_threshold() == pytest.approx(1e-2 * 1e-3)


def _recommend_json(capsys, *extra) -> dict:
    with pytest.raises(SystemExit) as info:
        main(["recommend", *PLAN_FLAGS, *extra, "--format", "json"])
    assert info.value.code == 0
    return json.loads(capsys.readouterr().out)


def test_recommend_json_round_trips_to_stack_tune_and_apply(plan, tmp_path, capsys):
    """`advisor recommend --format json > plan.json` is a stack file: one schema."""
    from advisor.tuning._space import resolve_stack

    document = _recommend_json(capsys)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    expected = Stack.from_dict(plan.to_stack())
    assert Stack.from_dict(document) == expected
    assert Stack.from_json(path.read_text()) == expected
    assert resolve_stack(path) == expected  # advisor tune --stack plan.json
    assert resolve_stack(str(path)).to_dict() == Stack.from_dict(document["stack"]).to_dict()
    # advisor.apply takes the file (and the dict) as the plan: stage 1.
    assert apply(_mlp(), path).stack.techniques == _stage_one(plan)
    assert apply(_mlp(), document).stack.techniques == _stage_one(plan)
    # The stack written back is the same stack again.
    assert Stack.from_json(expected.to_json()) == expected


def test_diagnose_json_is_a_stack_file_too(tmp_path):
    diagnosis = advisor.diagnose(RUN, classes=10)
    document = json.loads(diagnosis.to_json())
    stack = Stack.from_dict(document)
    assert stack.techniques == [
        r["technique"] for r in document["recommendations"] if r["kind"] == "regularizer"
    ]
    assert all(p.stage is not None for p in stack)


def test_a_file_that_is_no_stack_says_so(tmp_path):
    path = tmp_path / "curves.json"
    path.write_text(json.dumps({"loss": [1, 2]}))
    with pytest.raises(ConfigError, match="no 'pieces' list.*advisor recommend --format json"):
        apply(_mlp(), path)
    with pytest.raises(ConfigError, match="no such stack file"):
        apply(_mlp(), tmp_path / "missing.json")
