"""Mixup and CutMix: the mixing math, label mass, reproducibility."""

from __future__ import annotations

import pytest
import torch

from advisor.errors import ConfigError
from advisor.regularizers import cutmix_batch, mixup_batch, one_hot


def test_one_hot_and_soft_pass_through():
    assert one_hot(torch.tensor([2, 0]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]
    soft = torch.tensor([[0.2, 0.8]])
    assert torch.equal(one_hot(soft, 2), soft)


def test_mixup_with_given_lambda_is_a_convex_combination():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(6, 3), torch.tensor([0, 1, 2, 0, 1, 2])
    xm, ym = mixup_batch(x, y, num_classes=3, lam=0.7, generator=g)
    # every mixed row is 0.7 * x_i + 0.3 * x_j for some j, with labels to match
    for i in range(6):
        j = [k for k in range(6) if torch.allclose(xm[i], 0.7 * x[i] + 0.3 * x[k])]
        assert j, f"row {i} is not a mixture"
        assert torch.allclose(
            ym[i], 0.7 * one_hot(y[i : i + 1], 3)[0] + 0.3 * one_hot(y[j[0] : j[0] + 1], 3)[0]
        )
    torch.testing.assert_close(ym.sum(1), torch.ones(6))


def test_mixup_reproducible_and_regression_targets():
    x, y = torch.randn(8, 2), torch.randn(8)
    a = mixup_batch(x, y, alpha=0.4, generator=torch.Generator().manual_seed(5))
    b = mixup_batch(x, y, alpha=0.4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[1].shape == (8,)


def test_cutmix_pastes_a_box_and_mixes_labels_by_area():
    x = torch.zeros(2, 1, 10, 10)
    x[1] = 1.0
    y = torch.tensor([0, 1])
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        xm, ym = cutmix_batch(x, y, num_classes=2, generator=g)
        for i in range(2):
            # the other image is constant and different, so the changed pixels are the box;
            # the other class's label weight equals that area (0 when paired with itself)
            pasted = (xm[i] != x[i]).float().mean().item()
            assert ym[i, 1 - y[i]].item() == pytest.approx(pasted, abs=1e-6)
        torch.testing.assert_close(ym.sum(1), torch.ones(2))


def test_cutmix_on_sequences_and_errors():
    xm, _ = cutmix_batch(torch.randn(4, 2, 50), torch.tensor([0, 1, 0, 1]), num_classes=2, lam=0.5)
    assert xm.shape == (4, 2, 50)
    with pytest.raises(ConfigError, match="use mixup"):
        cutmix_batch(torch.randn(4, 3), torch.tensor([0, 1, 0, 1]), num_classes=2)
    with pytest.raises(ConfigError, match="floating-point"):
        mixup_batch(torch.zeros(2, 3, dtype=torch.uint8), torch.tensor([0, 1]), num_classes=2)
    with pytest.raises(ConfigError, match="num_classes"):
        mixup_batch(torch.randn(4, 3), torch.tensor([0, 1, 0, 1]))


def test_cuda_generator_is_rejected_clearly():
    class FakeGen:
        device = torch.device("cuda")

    with pytest.raises(ConfigError, match="CPU torch.Generator"):
        mixup_batch(torch.randn(2, 2), torch.randn(2), generator=FakeGen())
