"""Label smoothing and soft-target cross-entropy against the formula."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from advisor.errors import ConfigError
from advisor.regularizers import SmoothedCrossEntropy, label_smoothing_loss, soft_cross_entropy


def _formula(logits, target, eps):
    k = logits.shape[-1]
    q = F.one_hot(target, k).float() * (1 - eps) + eps / k
    return -(q * torch.log_softmax(logits, -1)).sum(-1).mean()


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_hard_targets_match_the_formula(eps):
    torch.manual_seed(0)
    logits, y = torch.randn(16, 5), torch.randint(0, 5, (16,))
    torch.testing.assert_close(
        label_smoothing_loss(logits, y, smoothing=eps), _formula(logits, y, eps)
    )


def test_soft_one_hot_targets_equal_hard_targets():
    torch.manual_seed(1)
    logits, y = torch.randn(8, 4), torch.randint(0, 4, (8,))
    soft = F.one_hot(y, 4).float()
    torch.testing.assert_close(
        label_smoothing_loss(logits, soft, smoothing=0.2),
        label_smoothing_loss(logits, y, smoothing=0.2),
    )


def test_soft_cross_entropy_known_value_and_reductions():
    logits = torch.zeros(2, 2)
    target = torch.tensor([[0.5, 0.5], [1.0, 0.0]])
    assert abs(soft_cross_entropy(logits, target).item() - 0.693147) < 1e-5
    assert soft_cross_entropy(logits, target, reduction="none").shape == (2,)
    assert abs(soft_cross_entropy(logits, target, reduction="sum").item() - 2 * 0.693147) < 1e-5
    with pytest.raises(ConfigError, match="reduction"):
        soft_cross_entropy(logits, target, reduction="avg")


def test_minimum_of_smoothed_loss_is_at_the_smoothed_distribution():
    # The gradient vanishes where softmax(z) == (1 - eps) * onehot + eps / K.
    eps, k = 0.1, 4
    q = torch.full((k,), eps / k)
    q[2] += 1 - eps
    logits = q.log().unsqueeze(0).requires_grad_(True)
    label_smoothing_loss(logits, torch.tensor([2]), smoothing=eps).backward()
    assert logits.grad.abs().max() < 1e-6


def test_module_and_validation():
    loss_fn = SmoothedCrossEntropy(0.1)
    assert "smoothing=0.1" in repr(loss_fn)
    assert loss_fn(torch.randn(3, 2), torch.tensor([0, 1, 1])).ndim == 0
    with pytest.raises(ConfigError, match="smoothing of label_smoothing"):
        SmoothedCrossEntropy(1.0)


def test_under_vmap():
    from torch.func import vmap

    logits, y = torch.randn(3, 6, 4), torch.randint(0, 4, (3, 6))
    out = vmap(lambda z, t: label_smoothing_loss(z, t, smoothing=0.1))(logits, y)
    expected = torch.stack([_formula(logits[i], y[i], 0.1) for i in range(3)])
    torch.testing.assert_close(out, expected)
