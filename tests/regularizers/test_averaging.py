"""Weight averaging (stack piece ``ema``): the math, apply(), the stack spec and the snippet."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advisor.errors import ConfigError
from advisor.regularizers import ExponentialMovingAverage, Stack, apply


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def test_first_update_copies_then_exponential_average():
    net = _net()
    ema = ExponentialMovingAverage(net, decay=0.9)
    with torch.no_grad():
        net[0].weight.add_(1.0)
    ema.update(net)
    assert torch.equal(ema.module[0].weight, net[0].weight)
    expected = net[0].weight.detach().clone()
    for _ in range(3):
        with torch.no_grad():
            net[0].weight.mul_(2.0)
        net(torch.randn(16, 4))  # moves the BatchNorm running statistics
        ema.update(net)
        expected = 0.9 * expected + 0.1 * net[0].weight.detach()
    torch.testing.assert_close(ema.module[0].weight, expected)
    # float buffers are averaged, integer buffers copied
    assert not torch.equal(ema.module[1].running_mean, net[1].running_mean)
    assert int(ema.module[1].num_batches_tracked) == int(net[1].num_batches_tracked) == 3
    assert ema.updates == 4 and not ema.module.training
    assert all(not p.requires_grad for p in ema.module.parameters())
    assert set(ema.state_dict()) == set(net.state_dict())


@pytest.mark.parametrize("decay", [0.0, 1.0, 1.5, -0.1, True, "0.9"])
def test_decay_must_lie_strictly_between_0_and_1(decay):
    with pytest.raises(ConfigError, match="decay of ema must be a number > 0 and < 1"):
        ExponentialMovingAverage(_net(), decay=decay)
    with pytest.raises(ConfigError, match="decay of ema must be"):
        Stack.from_dict(
            {"version": 1, "pieces": [{"technique": "ema", "params": {"decay": decay}}]}
        )


def test_update_with_another_model_is_a_clear_error():
    ema = ExponentialMovingAverage(_net())
    with pytest.raises(ConfigError, match="other parameters than the one it averages"):
        ema.update(nn.Linear(4, 3))


def test_apply_updates_the_average_after_the_proximal_step():
    net = _net()
    applied = apply(net, Stack.of("l1", ema={"decay": 0.5}), lr=0.1)
    assert applied.ema is not None and applied.eval_model is applied.ema.module
    assert any("moving average" in n and "eval_model" in n for n in applied.notes)
    opt = torch.optim.SGD(applied.param_groups, lr=0.1)
    for _ in range(2):
        x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
        loss = applied.loss_fn(applied.model(x), y) + applied.penalty(applied.model)
        opt.zero_grad()
        loss.backward()
        opt.step()
        before = applied.ema.module[0].weight.detach().clone()
        applied.post_step(applied.model)
    # the average moved half-way to the thresholded weights
    expected = 0.5 * before + 0.5 * applied.model[0].weight.detach()
    torch.testing.assert_close(applied.ema.module[0].weight, expected)
    assert applied.ema.updates == 2
    # without ema the model itself is evaluated
    plain = apply(net, Stack.of("l2"))
    assert plain.ema is None and plain.eval_model is plain.model


def test_stack_round_trip_and_snippet_runs():
    stack = Stack.of("l2", ema={"decay": 0.99})
    assert Stack.from_json(stack.to_json()) == stack
    assert stack["ema"].params == {"decay": 0.99}
    code = stack.to_code()
    assert "AveragedModel" in code and "get_ema_multi_avg_fn(0.99)" in code
    scope = {
        "model": _net(),
        "epochs": 1,
        "lr": 1e-3,  # the snippet asks for the learning rate the user trains with
        "train_loader": [(torch.randn(8, 4), torch.randint(0, 3, (8,)))],
    }
    exec(code, scope)  # the copy-paste snippet runs as printed
    assert int(scope["ema"].n_averaged) == 1
