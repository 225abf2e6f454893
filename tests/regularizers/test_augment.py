"""Batched augmentation: shape/dtype/device kept, identity at 0, reproducible, exact flips."""

from __future__ import annotations

import pytest
import torch

from advisor.errors import ConfigError
from advisor.regularizers import (
    BatchAugment,
    augment,
    augment_images,
    augment_sequences,
    augment_tabular,
)

IMAGE_TRANSFORMS = [
    "rotation",
    "flip",
    "vflip",
    "scale",
    "crop",
    "translate",
    "brightness",
    "contrast",
    "saturation",
    "hue",
]


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(6, 3, 12, 10), (6, 1, 8, 8), (6, 4, 7, 9)])
def test_images_keep_shape_dtype_device_and_change(shape, dtype):
    x = torch.rand(shape, dtype=dtype)
    y = augment_images(x, magnitude=0.8, transforms=IMAGE_TRANSFORMS, generator=_gen())
    assert y.shape == x.shape and y.dtype == x.dtype and y.device == x.device
    assert not torch.equal(x, y)


@pytest.mark.parametrize(
    ("fn", "x"),
    [
        (augment_images, torch.rand(4, 3, 8, 8)),
        (augment_sequences, torch.randn(4, 2, 30)),
        (augment_tabular, torch.randn(4, 5)),
    ],
)
def test_identity_at_magnitude_zero(fn, x):
    assert torch.equal(fn(x, magnitude=0.0, generator=_gen()), x)


def test_reproducible_with_seeded_generator():
    x = torch.rand(8, 3, 16, 16)
    a = augment_images(x, magnitude=0.5, generator=_gen(7))
    b = augment_images(x, magnitude=0.5, generator=_gen(7))
    c = augment_images(x, magnitude=0.5, generator=_gen(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    s = torch.randn(4, 2, 20)
    assert torch.equal(
        augment_sequences(s, magnitude=0.5, generator=_gen(1)),
        augment_sequences(s, magnitude=0.5, generator=_gen(1)),
    )


def test_flip_is_exact_and_no_flip_disables_it():
    x = torch.rand(400, 1, 5, 7)
    y = augment_images(x, magnitude=1.0, transforms=["flip"], generator=_gen())
    flipped = torch.isclose(y, x.flip(-1), atol=1e-5).flatten(1).all(1)
    kept = torch.isclose(y, x, atol=1e-5).flatten(1).all(1)
    assert (flipped | kept).all()
    assert 0.35 < flipped.float().mean().item() < 0.65  # probability 0.5 at magnitude 1
    z = augment_images(
        x, magnitude=1.0, transforms=["flip", "vflip"], no_flip=True, generator=_gen()
    )
    assert torch.equal(z, x)


def test_photometric_brightness_and_channel_specific_ops():
    x = torch.rand(16, 3, 4, 4) + 0.1
    y = augment_images(x, magnitude=1.0, transforms=["brightness"], generator=_gen())
    ratio = y / x
    assert torch.allclose(
        ratio, ratio[:, :1, :1, :1].expand_as(ratio), atol=1e-5
    )  # one factor per image
    assert ((ratio[:, 0, 0, 0] >= 0.6 - 1e-5) & (ratio[:, 0, 0, 0] <= 1.4 + 1e-5)).all()
    grey = torch.rand(4, 1, 4, 4)
    assert torch.equal(
        augment_images(grey, magnitude=1.0, transforms=["saturation", "hue"], generator=_gen()),
        grey,
    )


def test_hue_rotation_keeps_grey_pixels_and_luma():
    x = torch.rand(8, 1, 6, 6).expand(8, 3, 6, 6).contiguous()  # grey RGB
    y = augment_images(x, magnitude=1.0, transforms=["hue"], generator=_gen())
    torch.testing.assert_close(y, x, atol=1e-4, rtol=0)


def test_sequence_time_mask_zeroes_a_window():
    x = torch.ones(50, 1, 100)
    y = augment_sequences(x, magnitude=1.0, transforms=["time_mask"], generator=_gen())
    zeros = (y == 0).sum(-1).flatten()
    assert zeros.max() <= 20 and zeros.sum() > 0
    for row in y[:, 0]:  # contiguous window
        idx = (row == 0).nonzero().flatten()
        if len(idx):
            assert idx[-1] - idx[0] + 1 == len(idx)


def test_tabular_noise_scale_follows_feature_std():
    x = torch.randn(10_000, 2) * torch.tensor([1.0, 10.0])
    y = augment_tabular(x, magnitude=1.0, generator=_gen())
    noise_std = (y - x).std(0)
    assert noise_std[1] / noise_std[0] == pytest.approx(10.0, rel=0.1)
    assert noise_std[0] == pytest.approx(0.1, rel=0.1)


def test_augment_dispatch_filters_transforms_by_modality():
    # a stack may name image transforms; a tabular batch ignores them
    x = torch.randn(4, 3)
    assert torch.equal(augment(x, magnitude=0.5, transforms=["rotation"]), x)
    assert augment(torch.rand(2, 1, 4, 4), magnitude=0.5).shape == (2, 1, 4, 4)


def test_module_identity_in_eval():
    aug = BatchAugment(magnitude=0.5)
    x = torch.rand(2, 3, 8, 8)
    aug.eval()
    assert aug(x) is x
    aug.train()
    assert not torch.equal(aug(x), x)
    assert "magnitude=0.5" in repr(aug)


def test_errors():
    with pytest.raises(ConfigError, match="floating-point"):
        augment_images(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), magnitude=0.5)
    with pytest.raises(ConfigError, match="4 dimensions"):
        augment_images(torch.zeros(2, 4, 4), magnitude=0.5)
    with pytest.raises(ConfigError, match="magnitude"):
        augment_images(torch.zeros(2, 1, 4, 4), magnitude=2.0)
    with pytest.raises(ConfigError, match="does not apply to sequence"):
        augment_sequences(torch.zeros(2, 1, 4), magnitude=0.5, transforms=["rotation"])
    with pytest.raises(ConfigError, match="cannot tell the data kind"):
        augment(torch.zeros(2, 1, 1, 4, 4), magnitude=0.5)


def test_fast_affine_grid_equals_torch_affine_grid():
    import torch.nn.functional as F

    from advisor.regularizers._augment import _affine_grid, affine_matrices

    theta = affine_matrices(
        5,
        7,
        11,
        magnitude=1.0,
        transforms=["rotation", "scale", "crop", "flip"],
        like=torch.zeros(1),
    )
    expected = F.affine_grid(theta, [5, 1, 7, 11], align_corners=False)
    torch.testing.assert_close(_affine_grid(theta, 7, 11), expected)


def _sequential_colour(x, u, m):
    """The textbook order, one transform at a time (reference for the fused version)."""
    from advisor.regularizers._augment import _hue_matrices

    w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    n = x.shape[0]
    u = u.view(n, 4, 1, 1, 1).unbind(1)
    out = x * (1 + (u[0] * 2 - 1) * 0.4 * m)
    mean = (out * w).sum(1, keepdim=True).mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * (1 + (u[1] * 2 - 1) * 0.4 * m) + mean
    grey = (out * w).sum(1, keepdim=True)
    out = (out - grey) * (1 + (u[2] * 2 - 1) * 0.4 * m) + grey
    hue = _hue_matrices((u[3].view(n) * 2 - 1) * 0.1 * m)
    return torch.einsum("nij,njhw->nihw", hue, out)


def test_fused_colour_map_equals_the_sequential_definition():
    x = torch.rand(6, 3, 5, 5, dtype=torch.float64)
    y = augment_images(
        x,
        magnitude=0.9,
        transforms=["brightness", "contrast", "saturation", "hue"],
        generator=_gen(4),
    )
    u = torch.rand((6, 4), generator=_gen(4), dtype=torch.float64)
    torch.testing.assert_close(y, _sequential_colour(x, u, 0.9))


def test_contrast_on_grey_images_keeps_the_mean():
    x = torch.rand(8, 1, 6, 6)
    y = augment_images(x, magnitude=1.0, transforms=["contrast"], generator=_gen())
    torch.testing.assert_close(y.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)))
    assert not torch.allclose(y, x)
