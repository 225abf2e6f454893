"""Stochastic depth: drop_path math, residual detection in fx graphs and known block types."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advisor.errors import ConfigError
from advisor.regularizers import DropPath, add_stochastic_depth, drop_path


class Residual(nn.Module):
    def __init__(self, width=8, depth=4):
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(width, width), nn.ReLU()) for _ in range(depth)
        )
        self.head = nn.Linear(width, 2)

    def forward(self, x):
        for block in self.blocks:
            x = x + block(x)
        return self.head(x)


class BasicBlock(nn.Module):
    """Shaped like torchvision's BasicBlock (torchvision does not import beside this torch)."""

    def __init__(self, c=4):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)
        self.relu, self.downsample = nn.ReLU(), None

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + x)


def test_drop_path_identity_at_eval_and_expectation_in_training():
    x = torch.ones(100_000, 3)
    assert torch.equal(drop_path(x, 0.3, training=False), x)
    y = drop_path(x, 0.3, generator=torch.Generator().manual_seed(0))
    assert abs(y.mean().item() - 1.0) < 0.01
    rows_dropped = (y == 0).all(dim=1).float().mean().item()  # whole samples are dropped
    assert abs(rows_dropped - 0.3) < 0.01
    assert abs(drop_path(x, 0.3).mean().item() - 1.0) < 0.01


def test_drop_path_batch_dim_and_module():
    x = torch.ones(5, 1000, 2)  # (T, N, E) sequence-first
    y = drop_path(x, 0.5, batch_dim=1)
    assert (y == y[:1]).all()  # same decision for every time step of a sample
    m = DropPath(0.2)
    assert "p=0.2" in repr(m)
    m.eval()
    assert torch.equal(m(x), x)
    with pytest.raises(ConfigError):
        DropPath(1.0)


def test_fx_residuals_get_linear_schedule_and_eval_identity():
    torch.manual_seed(0)
    net = Residual(depth=4)
    new, where = add_stochastic_depth(net, p=0.4)
    rates = [m.p for m in new.modules() if isinstance(m, DropPath)]
    assert rates == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert len(where) == 4
    x = torch.randn(6, 8)
    net.eval(), new.eval()
    torch.testing.assert_close(new(x), net(x), rtol=0, atol=0)
    new.load_state_dict(net.state_dict())  # same names


def test_training_drops_some_branches():
    torch.manual_seed(0)
    new, _ = add_stochastic_depth(Residual(depth=2), p=0.9)
    new.train()
    x = torch.randn(64, 8)
    outs = {tuple(new(x)[:1].detach().flatten().tolist()) for _ in range(10)}
    assert len(outs) > 1


def test_resnet_style_block_keeps_names_and_eval_output():
    torch.manual_seed(0)
    net = nn.Sequential(BasicBlock(), BasicBlock())
    new, where = add_stochastic_depth(net, p=0.2)
    assert where == ["residual branch of 0 (p=0.1)", "residual branch of 1 (p=0.2)"]
    assert set(new.state_dict()) == set(net.state_dict())
    assert type(net[0]) is BasicBlock  # the user's model is untouched
    x = torch.randn(2, 4, 6, 6)
    net.eval(), new.eval()
    torch.testing.assert_close(new(x), net(x))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_encoder_layers(norm_first, batch_first):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(
        8, 2, 16, dropout=0.0, batch_first=batch_first, norm_first=norm_first
    )
    enc = nn.TransformerEncoder(layer, num_layers=3, enable_nested_tensor=False)
    new, where = add_stochastic_depth(enc, p=0.3)
    assert len(where) == 3 and where[-1].endswith("(p=0.3)")
    x = torch.randn(4, 5, 8)
    enc.eval(), new.eval()
    torch.testing.assert_close(new(x), enc(x), rtol=1e-5, atol=1e-5)
    new.train()
    assert new(x).shape == x.shape
    assert set(new.state_dict()) == set(enc.state_dict())
    assert isinstance(new.layers[0], nn.TransformerEncoderLayer)


def test_timm_style_drop_path_attributes_are_set():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.drop_path1, self.drop_path2 = nn.Identity(), nn.Identity()

        def forward(self, x):
            return x + self.drop_path2(self.fc(x + self.drop_path1(self.fc(x))))

    new, where = add_stochastic_depth(nn.Sequential(Block(), Block()), p=0.4)
    assert where[0] == "drop_path1 of 0 (p=0.1)"
    rates = [m.p for m in new.modules() if isinstance(m, DropPath)]
    assert rates == pytest.approx([0.1, 0.2, 0.3, 0.4])


def test_model_without_residuals_is_an_error():
    with pytest.raises(ConfigError, match="no residual connection"):
        add_stochastic_depth(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), p=0.1)
