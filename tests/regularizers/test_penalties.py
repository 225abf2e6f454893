"""Weight penalties: parameter selection, exact L2 gradient, L1 proximal zeros, vmap."""

from __future__ import annotations

import torch
from torch import nn

from advisor.regularizers import (
    decayed_names,
    elastic_net_penalty,
    l1_penalty,
    l1_proximal_step,
    l2_penalty,
    param_groups,
    soft_threshold,
    sparsity,
)


def _net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.BatchNorm2d(4),
        nn.Flatten(),
        nn.Linear(4 * 36, 8),
        nn.LayerNorm(8),
        nn.Linear(8, 3),
    )


def test_biases_and_norm_parameters_are_excluded():
    assert decayed_names(_net()) == ["0.weight", "3.weight", "5.weight"]


def test_exclude_and_include_patterns():
    net = _net()
    assert decayed_names(net, exclude=["5.*"]) == ["0.weight", "3.weight"]
    assert "0.bias" in decayed_names(net, include=["0.bias"])


def test_frozen_parameters_are_skipped():
    net = _net()
    net[0].weight.requires_grad_(False)
    assert "0.weight" not in decayed_names(net)


def test_param_groups_cover_every_parameter_once():
    net = _net()
    groups = param_groups(net, weight_decay=0.05)
    assert [g["weight_decay"] for g in groups] == [0.05, 0.0]
    ids = [id(p) for g in groups for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in net.parameters())
    torch.optim.AdamW(groups, lr=1e-3)  # optimizer-ready


def test_l2_gradient_is_weight_decay_times_w():
    w = torch.randn(5, 3, requires_grad=True)
    l2_penalty({"w": w}, ["w"], weight_decay=0.3).backward()
    torch.testing.assert_close(w.grad, 0.3 * w.detach())


def test_l2_penalty_value():
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert l2_penalty({"w": w, "b": torch.ones(2)}, ["w"], weight_decay=2.0).item() == 30.0


def test_l1_and_elastic_net_values():
    w = torch.tensor([1.0, -2.0])
    assert l1_penalty({"w": w}, ["w"], strength=0.5).item() == 1.5
    # 0.5 * (0.25 * 3 + 0.75 / 2 * 5)
    value = elastic_net_penalty({"w": w}, ["w"], strength=0.5, l1_ratio=0.25).item()
    assert abs(value - 0.5 * (0.25 * 3 + 0.75 / 2 * 5)) < 1e-6


def test_empty_names_give_zero_on_the_params_device():
    z = l2_penalty({"w": torch.ones(2, dtype=torch.float64)}, [])
    assert z.item() == 0.0 and z.dtype == torch.float64


def test_soft_threshold_formula():
    w = torch.tensor([-0.3, -0.1, 0.0, 0.05, 0.5])
    torch.testing.assert_close(soft_threshold(w, 0.1), torch.tensor([-0.2, 0.0, 0.0, 0.0, 0.4]))


def test_proximal_step_gives_exact_zeros_and_sparsity():
    lin = nn.Linear(10, 10)
    with torch.no_grad():
        lin.weight.copy_(torch.linspace(-1, 1, 100).view(10, 10))
    l1_proximal_step([lin.weight], 0.5)
    zeros = (lin.weight == 0).sum().item()
    assert zeros == int(((torch.linspace(-1, 1, 100)).abs() <= 0.5).sum())
    assert sparsity(lin) == zeros / 100


def test_l1_training_reaches_exact_zeros_where_subgradient_does_not():
    torch.manual_seed(0)
    x = torch.randn(64, 20)
    y = x[:, :3].sum(1, keepdim=True)  # only 3 of 20 inputs matter

    def fit(proximal: bool) -> float:
        torch.manual_seed(1)
        lin = nn.Linear(20, 1)
        opt = torch.optim.SGD(lin.parameters(), lr=0.05)
        for _ in range(300):
            loss = (lin(x) - y).pow(2).mean()
            if not proximal:
                loss = loss + l1_penalty(dict(lin.named_parameters()), ["weight"], strength=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if proximal:
                l1_proximal_step([lin.weight], 0.05 * 0.05)
        return sparsity(lin, ["weight"])

    assert fit(proximal=True) >= 0.8
    assert fit(proximal=False) == 0.0


def test_penalties_work_under_vmap_over_stacked_folds():
    from torch.func import functional_call, stack_module_state, vmap

    models = [nn.Linear(3, 2) for _ in range(4)]
    params, _ = stack_module_state(models)

    def pen(p):
        return l2_penalty(p, ["weight"], weight_decay=1.0) + l1_penalty(p, ["weight"], strength=0.1)

    batched = vmap(pen)(params)
    expected = torch.stack([pen(dict(m.named_parameters())) for m in models])
    torch.testing.assert_close(batched, expected)
    # and inside a functional loss
    x = torch.randn(5, 3)
    out = vmap(lambda p: functional_call(models[0], p, (x,)).sum() + pen(p))(params)
    assert out.shape == (4,)
