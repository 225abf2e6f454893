"""Every generated snippet runs a training step on a tiny model, and its loss has a gradient.

Issue 11: with ``--classes 1`` the stage-1 code used ``CrossEntropyLoss``, which is -0.0 with a
zero gradient on an (N, 1) float target. Here the code of every set-up (classification,
regression, forecasting; image, text, tabular, sequence inputs) is executed for one epoch of
one batch, and the loss must move the weights.
"""

from __future__ import annotations

import pytest
from practitioner_setups import SETUPS

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from advisor.engine import recommend  # noqa: E402
from advisor.regularizers import Stack  # noqa: E402
from advisor.regularizers._codegen import stack_to_code  # noqa: E402

BATCH = 16
VOCAB = 50


class _ImageNet(nn.Module):
    """Conv stem, one residual block (for stochastic depth), pooled head."""

    def __init__(self, channels: int, out: int):
        super().__init__()
        self.stem = nn.Conv2d(channels, 8, 3, padding=1)
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(8, out))

    def forward(self, x):
        h = torch.relu(self.stem(x))
        h = h + self.block(h)
        return self.head(h.mean(dim=(2, 3)))


class _TextNet(nn.Module):
    def __init__(self, out: int):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 16)
        self.norm = nn.LayerNorm(16)
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(16, out))

    def forward(self, x):
        return self.head(self.norm(self.embed(x).mean(dim=1)))


class _SequenceNet(nn.Module):
    """(N, C, T) series through a GRU, last state to the head."""

    def __init__(self, channels: int, out: int):
        super().__init__()
        self.gru = nn.GRU(channels, 16, batch_first=True)
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(16, out))

    def forward(self, x):
        _, h = self.gru(x.transpose(1, 2))
        return self.head(h[-1])


def _outputs(facts) -> int:
    classes = facts.get("classes")
    if facts.get("objective") == "forecasting" or classes in (None, 1):
        return 1
    return min(classes, 5)  # a few logits stand in for a large vocabulary or label set


def _batch(setup, out: int):
    facts = setup.facts
    if setup.data == "image":
        channels = facts.get("channels", 3)
        model, x = _ImageNet(channels, out), torch.randn(BATCH, channels, 12, 12)
    elif setup.data == "text":
        model, x = _TextNet(out), torch.randint(0, VOCAB, (BATCH, 10))
    elif setup.data == "sequence":
        model, x = _SequenceNet(3, out), torch.randn(BATCH, 3, 20)
    else:
        model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, out))
        x = torch.randn(BATCH, 6)
    y = torch.randint(0, out, (BATCH,)) if out > 1 else torch.randn(BATCH, 1)
    return model, x, y


def _run(code: str, model, x, y, out: int):
    scope = {
        "model": model,
        "train_loader": [(x, y)],
        "epochs": 1,
        "num_classes": out,
        "lr": 1e-3,  # the named placeholder the header asks for
        "val_loss": 1.0,
    }
    exec(compile(code, "<snippet>", "exec"), scope)
    return scope


def _check_trained(scope):
    loss = scope["loss"]
    assert torch.isfinite(loss) and loss.item() != 0.0
    grads = [q.grad for q in scope["model"].parameters() if q.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads), "the loss has no gradient"


@pytest.mark.parametrize("name", sorted(SETUPS))
@pytest.mark.parametrize("stages", ["stage 1", "whole plan"])
def test_generated_code_trains(name, stages):
    setup = SETUPS[name]
    recs = recommend(setup.facts)
    stack = Stack.from_dict(recs.to_stack(max_stage=1 if stages == "stage 1" else None))
    code = stack_to_code(stack, setup=recs.setup)
    out = _outputs(setup.facts)
    torch.manual_seed(0)
    model, x, y = _batch(setup, out)
    _check_trained(_run(code, model, x, y, out))


def test_stage_one_snippet_is_the_code_tested_here():
    from advisor.engine._render import stage_one_snippet

    recs = recommend(SETUPS["regression-mlp"].facts)
    stack = Stack.from_dict(recs.to_stack(max_stage=1))
    assert stage_one_snippet(recs) == stack_to_code(stack, setup=recs.setup)


@pytest.mark.parametrize(
    ("facts", "loss"),
    [
        ({"classes": 1}, "MSELoss"),
        ({"objective": "regression"}, "MSELoss"),
        ({"objective": "forecasting"}, "MSELoss"),
        ({"classes": 10}, "CrossEntropyLoss"),
    ],
)
def test_loss_matches_the_objective(facts, loss):
    recs = recommend({**facts, "fit": "overfitting"})
    code = stack_to_code(Stack.from_dict(recs.to_stack(max_stage=1)), setup=recs.setup)
    assert loss in code
    assert ("CrossEntropyLoss" in code) == (loss == "CrossEntropyLoss")


def test_regression_snippet_learns_from_float_targets():
    # The symptom of the issue: CrossEntropyLoss on (N, 1) targets is -0.0 with zero gradient.
    recs = recommend(SETUPS["regression-mlp"].facts)
    code = stack_to_code(Stack.from_dict(recs.to_stack(max_stage=1)), setup=recs.setup)
    torch.manual_seed(0)
    model, x, y = _batch(SETUPS["regression-mlp"], 1)
    for target in (y, y.squeeze(1)):  # (N, 1) and (N,) targets both train
        _check_trained(_run(code, model, x, target, 1))


def test_learning_rate_is_the_users_or_a_named_placeholder():
    declared = {"classes": 10, "fit": "overfitting"}
    recs = recommend({**declared, "lr": 3e-4})
    code = stack_to_code(Stack.from_dict(recs.to_stack(max_stage=1)), setup=recs.setup)
    assert "lr = 0.0003" in code and "lr=1e-3" not in code and "0.001" not in code
    bert = recommend(SETUPS["bert-base-finetune"].facts)
    code = stack_to_code(Stack.from_dict(bert.to_stack(max_stage=1)), setup=bert.setup)
    assert "lr = " not in code and "lr=lr" in code
    header = next(line for line in code.splitlines() if line.startswith("# lr:"))
    assert "2e-5..5e-5" in header


def test_optimizer_in_effect_is_the_one_built():
    for optimizer, built in (("sgd", "torch.optim.SGD("), ("adam", "torch.optim.Adam(")):
        recs = recommend({"classes": 10, "fit": "overfitting", "optimizer": optimizer})
        code = stack_to_code(Stack.from_dict(recs.to_stack(max_stage=1)), setup=recs.setup)
        assert built in code
    assert "momentum=0.9" in stack_to_code(Stack.of("l2"), setup={"optimizer": "sgd"})


def test_token_ids_are_never_augmented():
    code = stack_to_code(Stack.of("data_augmentation"), setup={"objective": "classification"})
    model, x, y = _batch(SETUPS["bert-base-finetune"], 2)
    torch.manual_seed(0)
    _check_trained(_run(code, model, x, y, 2))
