"""BatchNorm insertion with fx."""

from __future__ import annotations

import torch
from torch import nn

from advisor.regularizers import LastDimBatchNorm, insert_batch_norm


def test_inserts_after_conv_and_hidden_linear_not_head():
    net = nn.Sequential(
        nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6, 8), nn.ReLU(), nn.Linear(8, 3)
    )
    new, where = insert_batch_norm(net)
    assert where == ["after 0 (Conv1d)", "after 3 (Linear)"]
    norms = [
        type(m).__name__ for m in new.modules() if isinstance(m, nn.modules.batchnorm._NormBase)
    ]
    assert norms == ["BatchNorm1d", "LastDimBatchNorm"]
    out = new(torch.randn(5, 2, 8))
    assert out.shape == (5, 3)
    # the original keeps its layers; new weights are copies
    assert not any(isinstance(m, nn.modules.batchnorm._NormBase) for m in net.modules())


def test_skips_layers_already_normalised_and_linear_switch():
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(36 * 4, 5),
        nn.Linear(5, 2),
    )
    _, where = insert_batch_norm(net)
    assert where == ["after 4 (Linear)"]
    _, where = insert_batch_norm(net, linear=False)
    assert where == []


def test_original_state_dict_loads_non_strictly_and_eval_is_near_identity():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 36, 2))
    new, _ = insert_batch_norm(net, momentum=0.2)
    result = new.load_state_dict(net.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert all(k.startswith("batch_norm_") for k in result.missing_keys)
    new.eval(), net.eval()
    x = torch.randn(4, 1, 8, 8)
    # fresh running stats (mean 0, var 1): y = x / sqrt(1 + eps)
    torch.testing.assert_close(new(x), net(x), rtol=1e-4, atol=1e-4)
    assert new.batch_norm_0.momentum == 0.2


def test_last_dim_batch_norm_on_tokens():
    bn = LastDimBatchNorm(6)
    x = torch.randn(4, 5, 6) * 3 + 2
    y = bn(x)
    assert y.shape == x.shape
    flat = y.reshape(-1, 6)
    torch.testing.assert_close(flat.mean(0), torch.zeros(6), atol=1e-5, rtol=0)
