"""apply(): what a training loop gets for a stack, and that a loop runs with it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advisor.errors import ConfigError
from advisor.regularizers import Applied, EarlyStopping, Stack, apply


def _cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 64, 16),
        nn.ReLU(),
        nn.Linear(16, 10),
    )


def _batch(n=16):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_empty_stack_is_the_plain_training_step():
    model = _cnn()
    applied = apply(model, Stack())
    x, y = _batch()
    assert applied.batch_transform(x, y) == (x, y)
    assert applied.batch_transform.is_identity
    assert applied.penalty(applied.model).item() == 0.0
    assert applied.early_stopping is None
    applied.post_step(applied.model)  # no-op
    torch.testing.assert_close(
        applied.loss_fn(model(x), y), nn.functional.cross_entropy(model(x), y)
    )
    assert [g["weight_decay"] for g in applied.param_groups] == [0.0, 0.0]


def test_full_stack_training_loop_runs_and_model_is_a_copy():
    model = _cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    stack = Stack.of(
        "batch_norm",
        "dropout",
        "l1",
        "l2",
        "label_smoothing",
        "data_augmentation",
        "mixup",
        "cutmix",
        "early_stopping",
        l1={"strength": 1e-2},
    )
    applied = apply(model, stack, lr=1e-2, generator=torch.Generator().manual_seed(0))
    assert isinstance(applied, Applied) and isinstance(applied.early_stopping, EarlyStopping)
    assert applied.model is not model
    opt = applied.optimizer(torch.optim.SGD, lr=1e-2)
    x, y = _batch()
    for _ in range(3):
        xb, yb = applied.batch_transform(x, y)
        assert yb.shape == (16, 10) and yb.is_floating_point()  # soft mixed targets
        loss = applied.loss_fn(applied.model(xb), yb) + applied.penalty(applied.model)
        opt.zero_grad()
        loss.backward()
        opt.step()
        applied.post_step(applied.model)
    assert torch.isfinite(loss)
    assert 0.0 < applied.sparsity() <= 1.0  # the proximal step made exact zeros
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    text = str(applied)
    assert "batch_norm" in text and "L1 proximal" in text


def test_decoupled_l2_goes_to_param_groups_coupled_to_penalty():
    model = _cnn()
    groups = apply(model, Stack.of(l2={"weight_decay": 0.01})).param_groups
    assert groups[0]["weight_decay"] == 0.01 and len(groups[0]["params"]) == 3
    coupled = apply(model, Stack.of(l2={"weight_decay": 0.01, "decoupled": False}))
    expected = 0.005 * sum(
        p.pow(2).sum() for n, p in coupled.model.named_parameters() if n.endswith("weight")
    )
    torch.testing.assert_close(coupled.penalty(coupled.model), expected)
    assert all(g["weight_decay"] == 0.0 for g in coupled.param_groups)


def test_elastic_net_splits_into_decay_and_proximal():
    applied = apply(_cnn(), Stack.of(elastic_net={"strength": 0.1, "l1_ratio": 0.25}), lr=0.5)
    assert applied.param_groups[0]["weight_decay"] == pytest.approx(0.075)
    assert applied.proximal.threshold == pytest.approx(0.5 * 0.025)
    assert applied.post_step.proximal is applied.proximal and applied.post_step.ema is None
    assert applied.weight_decay == pytest.approx(0.075) and applied.penalty.is_zero
    pen = apply(_cnn(), Stack.of(elastic_net={"strength": 0.1, "proximal": False}))
    assert pen.penalty(pen.model).item() > 0
    assert (pen.penalty.l2, pen.penalty.l1) == pytest.approx((0.05, 0.05))  # l1_ratio 0.5
    assert pen.proximal is None and pen.post_step.is_identity


def test_the_plan_is_data():
    """What apply() set up can be read, not guessed: names, strengths, the loss, the EMA."""
    applied = apply(
        _cnn(),
        Stack.of("label_smoothing", "ema", l1={"strength": 0.01}, l2={"decoupled": False}),
        lr=0.1,
    )
    assert applied.loss.kind == "cross_entropy" and applied.loss.smoothing == 0.1
    assert applied.penalty.names == tuple(applied.penalized) and applied.penalty.l2 == 1e-4
    assert applied.proximal.names == tuple(applied.penalized)
    assert applied.proximal.threshold == pytest.approx(0.1 * 0.01)
    assert applied.post_step.ema is applied.ema and not applied.post_step.is_identity
    per_sample = applied.loss.build(reduction="none")
    out = per_sample(torch.randn(5, 3), torch.randint(0, 3, (5,)))
    assert out.shape == (5,)
    regression = apply(_cnn(), Stack(), task="regression")
    assert regression.loss.kind == "mse" and isinstance(regression.loss_fn, torch.nn.MSELoss)


def test_l1_proximal_without_lr_or_optimizer_says_what_to_do():
    applied = apply(_cnn(), Stack.of("l1"))  # no lr: read from the optimizer at each step
    with pytest.raises(ConfigError, match=r"applied\.param_groups.*apply\(model, stack, lr=...\)"):
        applied.post_step(applied.model)  # no optimizer was built over param_groups


def test_existing_dropout_rates_are_set_not_inserted():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 2))
    applied = apply(model, Stack.of(dropout={"p": 0.45}))
    assert applied.model[2].p == 0.45 and model[2].p == 0.1
    assert "existing" in applied.notes[0]
    with pytest.raises(ConfigError, match="found no nn.Dropout"):
        apply(nn.Linear(2, 2), Stack.of(dropout={"where": "existing"}))


def test_batch_norm_small_batch_caveat():
    notes = apply(_cnn(), Stack.of("batch_norm"), batch_size=4).notes
    assert any("batch size 4 < 16" in n for n in notes)


def test_stochastic_depth_through_apply():
    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

        def forward(self, x):
            x = x + self.a(x)
            return x + self.b(x)

    applied = apply(Res(), Stack.of(stochastic_depth={"p": 0.2}), task="regression")
    assert "2 residual branches" in applied.notes[0]


def test_regression_task():
    applied = apply(nn.Linear(3, 1), Stack.of("mixup", "data_augmentation"), task="regression")
    assert isinstance(applied.loss_fn, nn.MSELoss)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    xb, yb = applied.batch_transform(x, y)
    assert xb.shape == x.shape and yb.shape == y.shape
    with pytest.raises(ConfigError, match="label_smoothing applies to classification"):
        apply(nn.Linear(3, 1), Stack.of("label_smoothing"), task="regression")


def test_mixup_and_cutmix_alternate():
    applied = apply(_cnn(), Stack.of("mixup", "cutmix"), generator=torch.Generator().manual_seed(0))
    x, y = _batch()
    kinds = set()
    for _ in range(12):
        xb, _ = applied.batch_transform(x, y)
        # cutmix leaves pixels outside the box untouched, mixup changes (almost) all of them
        kinds.add(bool((xb == x).float().mean() > 0.2))
    assert kinds == {True, False}


def test_accepts_stack_dicts_and_rejects_bad_arguments():
    applied = apply(
        _cnn(),
        {"version": 1, "pieces": [{"technique": "label_smoothing", "params": {"smoothing": 0.2}}]},
    )
    assert applied.loss_fn.smoothing == 0.2
    with pytest.raises(ConfigError, match="torch.nn.Module"):
        apply("model", Stack())
    with pytest.raises(ConfigError, match="task of apply"):
        apply(_cnn(), Stack(), task="segmentation")
    with pytest.raises(ConfigError, match="lr of apply"):
        apply(_cnn(), Stack(), lr=-1)
    with pytest.raises(ConfigError, match="num_classes"):
        apply(nn.Conv2d(1, 1, 1), Stack.of("mixup"))


def test_inplace_modifies_the_given_model():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1))
    assert apply(model, Stack.of("dropout"), inplace=True).model is model
    assert model[1].p == 0.3
