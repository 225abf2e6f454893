"""Dropout: functional form, setting rates, fx insertion keeping eval outputs and state_dict."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advisor.errors import ConfigError
from advisor.regularizers import dropout, insert_dropout, set_dropout


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.head = nn.Linear(8, 16), nn.Linear(16, 16), nn.Linear(16, 3)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = nn.functional.gelu(self.fc2(x))
        return self.head(x)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.act = nn.ReLU()
        self.head = nn.Linear(4 * 8 * 8, 2)

    def forward(self, x):
        return self.head(self.act(self.bn(self.conv(x))).flatten(1))


class Untraceable(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow
            return self.fc(x)
        return -self.fc(x)


def test_functional_dropout_preserves_expectation_and_is_identity_at_eval():
    x = torch.ones(200_000)
    assert torch.equal(dropout(x, 0.4, training=False), x)
    g = torch.Generator().manual_seed(0)
    y = dropout(x, 0.4, generator=g)
    assert abs(y.mean().item() - 1.0) < 0.01
    assert abs((y == 0).float().mean().item() - 0.4) < 0.01
    assert abs(dropout(x, 0.4).mean().item() - 1.0) < 0.01


def test_functional_dropout_reproducible_with_generator():
    x = torch.randn(100)
    a = dropout(x, 0.5, generator=torch.Generator().manual_seed(3))
    b = dropout(x, 0.5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_functional_dropout_under_vmap_differs_per_member():
    from torch.func import vmap

    out = vmap(lambda t: dropout(t, 0.5), randomness="different")(torch.ones(4, 1000))
    assert not torch.equal(out[0], out[1])


def test_set_dropout_changes_existing_modules_only():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1), nn.Dropout2d(0.2))
    assert set_dropout(net, 0.4) == 2
    assert net[1].p == 0.4 and net[2].p == 0.4


def test_insert_dropout_mlp_places_and_eval_identity():
    torch.manual_seed(0)
    net = MLP()
    new, where = insert_dropout(net, p=0.25)
    # the dropout after gelu already sits before the head: no second one there
    assert where == ["Dropout(0.25) after relu", "Dropout(0.25) after gelu"]
    drops = [m for m in new.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 2 and all(d.p == 0.25 for d in drops)
    x = torch.randn(5, 8)
    net.eval(), new.eval()
    torch.testing.assert_close(new(x), net(x), rtol=0, atol=0)
    new.train()
    assert not torch.equal(new(x), net(x))


def test_insert_dropout_does_not_mutate_the_users_model_and_state_dict_loads():
    net = MLP()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    new, _ = insert_dropout(net, p=0.5)
    assert not any(isinstance(m, nn.Dropout) for m in net.modules())
    assert new.state_dict().keys() == net.state_dict().keys()
    new.load_state_dict(before)  # strict: same names
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert new.fc1.weight is not net.fc1.weight


def test_insert_dropout_cnn_uses_spatial_dropout():
    new, where = insert_dropout(CNN(), p=0.3, spatial_p=0.1)
    kinds = [
        type(m).__name__ for m in new.modules() if isinstance(m, nn.modules.dropout._DropoutNd)
    ]
    assert kinds == ["Dropout2d", "Dropout"]
    assert where == ["Dropout2d(0.1) after act (ReLU)", "Dropout(0.3) before head head"]
    new.eval()
    assert new(torch.randn(2, 1, 8, 8)).shape == (2, 2)


def test_insert_dropout_is_idempotent_where_dropout_exists():
    new, _ = insert_dropout(MLP(), p=0.2)
    _, where = insert_dropout(new, p=0.2)
    assert where == []


def test_untraceable_model_gives_clear_error():
    with pytest.raises(
        ConfigError, match=r"dropout: cannot trace Untraceable with torch.fx"
    ) as info:
        insert_dropout(Untraceable(), p=0.2)
    assert "\n" not in str(info.value)
