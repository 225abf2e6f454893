"""CUDA: everything follows the model/batch device and the per-step path never syncs the host.

Skipped without CUDA. ``torch.cuda.set_sync_debug_mode("error")`` turns any host-device
synchronisation inside the step (``.item()``, ``nonzero``, boolean indexing...) into an error.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advisor.regularizers import (
    Stack,
    apply,
    augment,
    cutmix_batch,
    drop_path,
    dropout,
    l1_penalty,
    l2_penalty,
    label_smoothing_loss,
    mixup_batch,
)

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


class _NoSync:
    def __enter__(self):
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")

    def __exit__(self, *exc):
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("shape", [(8, 3, 16, 16), (8, 2, 40), (8, 5)])
def test_augmentation_stays_on_device_without_sync(shape):
    x = torch.rand(shape, device="cuda")
    with _NoSync():
        y = augment(x, magnitude=0.7)
    assert y.device == x.device and y.shape == x.shape and y.dtype == x.dtype
    g = torch.Generator(device="cuda").manual_seed(0)
    a = augment(x, magnitude=0.7, generator=g)
    b = augment(x, magnitude=0.7, generator=torch.Generator(device="cuda").manual_seed(0))
    assert torch.equal(a, b)


def test_cpu_generator_with_cuda_batch():
    x = torch.rand(4, 3, 8, 8, device="cuda")
    y = augment(x, magnitude=0.5, generator=torch.Generator().manual_seed(0))
    assert y.device == x.device


def test_mixing_without_sync():
    x, y = torch.rand(8, 3, 16, 16, device="cuda"), torch.randint(0, 10, (8,), device="cuda")
    with _NoSync():
        xm, ym = mixup_batch(x, y, num_classes=10)
        xc, yc = cutmix_batch(x, y, num_classes=10)
    assert xm.is_cuda and ym.is_cuda and xc.is_cuda and yc.is_cuda


def test_functional_pieces_on_cuda():
    x = torch.randn(16, 4, device="cuda")
    with _NoSync():
        assert dropout(x, 0.5).is_cuda and drop_path(x, 0.5).is_cuda
        params = {"w": x}
        assert l2_penalty(params, ["w"]).is_cuda and l1_penalty(params, ["w"]).is_cuda
        assert label_smoothing_loss(
            x, torch.zeros(16, dtype=torch.long, device="cuda"), smoothing=0.1
        ).is_cuda


def test_full_stack_step_on_cuda_without_sync():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 16 * 16, 32),
        nn.ReLU(),
        nn.Linear(32, 10),
    ).cuda()
    stack = Stack.of(
        "batch_norm", "dropout", "l1", "l2", "label_smoothing", "data_augmentation", "mixup", "cutmix",
        "ema", l2={"weight_decay": 1e-3, "decoupled": False},
    )  # fmt: skip
    applied = apply(model, stack, lr=1e-3)
    net = applied.model
    assert all(p.is_cuda for p in net.parameters()) and all(b.is_cuda for b in net.buffers())
    opt = torch.optim.SGD(applied.param_groups, lr=1e-3)
    x, y = torch.rand(16, 3, 16, 16, device="cuda"), torch.randint(0, 10, (16,), device="cuda")
    for _ in range(3):
        with _NoSync():
            xb, yb = applied.batch_transform(x, y)
            loss = applied.loss_fn(net(xb), yb) + applied.penalty(net)
            opt.zero_grad()
            loss.backward()
        opt.step()
        with _NoSync():
            applied.post_step(net)
    assert loss.is_cuda and applied.penalty(net).is_cuda
    assert applied.ema.updates == 3 and all(p.is_cuda for p in applied.eval_model.parameters())
