"""Batched, on-device data augmentation of whole tensors (no per-sample loop, no PIL).

One ``magnitude`` knob in ``[0, 1]`` scales every transform (0 is the exact identity), so the
tuner searches one number. Random parameters are drawn per sample as tensors, on the batch's
device (or on the given ``torch.Generator``'s device, then moved), and all geometric transforms
are fused into one affine matrix per image and applied with a single
``F.affine_grid`` + ``F.grid_sample`` call (Jaderberg et al. 2015, "Spatial Transformer
Networks"). Photometric transforms are elementwise or per-image 3x3 colour matrices.

Images ``(N, C, H, W)``, at magnitude ``m``:
    rotation   angle ~ U(-30 m, 30 m) degrees (aspect-correct)
    scale      zoom  ~ U(1 - 0.25 m, 1 + 0.25 m)
    crop/translate  shift ~ U(-0.125 m, 0.125 m) of the width/height (random crop + pad)
    flip       horizontal flip with probability 0.5 m (off with ``no_flip``)
    vflip      vertical flip with probability 0.5 m (off with ``no_flip``; not in the default set)
    brightness x * (1 + b), b ~ U(-0.4 m, 0.4 m)
    contrast   blend with the image mean, factor ~ U(1 - 0.4 m, 1 + 0.4 m)
    saturation blend with the grey image, factor ~ U(1 - 0.4 m, 1 + 0.4 m) (RGB only)
    hue        rotation of the YIQ chroma plane by ~ U(-0.1 m, 0.1 m) turns (RGB only)
Sequences ``(N, C, T)``:
    jitter     + N(0, (0.1 m * per-channel std)^2) noise (Um et al. 2017)
    scaling    * (1 + N(0, (0.2 m)^2)) per sample and channel
    time_mask  zero a random window of up to 0.2 m * T steps (SpecAugment, Park et al. 2019)
Tabular ``(N, F)``:
    noise      + N(0, (0.1 m * per-feature batch std)^2) (Gaussian noise injection, Bishop 1995)

Values are not clamped (inputs are usually normalised). kornia.augmentation offers the same
geometric ops; ``benchmarks/bench_augment.py`` measures both and this module's fused single
``grid_sample`` was kept (one kernel for all geometric transforms; see the README figures).

Example:
    >>> import torch
    >>> x = torch.rand(16, 3, 32, 32)
    >>> g = torch.Generator().manual_seed(0)
    >>> augment(x, magnitude=0.5, generator=g).shape
    torch.Size([16, 3, 32, 32])
    >>> torch.equal(augment(x, magnitude=0.0), x)
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from advisor.errors import ConfigError

__all__ = [
    "DEFAULT_TRANSFORMS",
    "BatchAugment",
    "augment",
    "augment_images",
    "augment_sequences",
    "augment_tabular",
]

GEOMETRIC = ("rotation", "scale", "crop", "translate", "flip", "vflip")
PHOTOMETRIC = ("brightness", "contrast", "saturation", "hue")
DEFAULT_TRANSFORMS: dict[str, tuple[str, ...]] = {
    # vflip is off by default: upside-down natural images and digits are not the same class.
    "image": ("rotation", "scale", "crop", "flip", "brightness", "contrast", "saturation", "hue"),
    "sequence": ("jitter", "scaling", "time_mask"),
    "tabular": ("noise",),
}
_MODALITY_NDIM = {"image": 4, "sequence": 3, "tabular": 2}

# Largest change at magnitude 1, with the usual ranges of RandAugment/torchvision defaults.
MAX_ROTATION_DEG = 30.0
MAX_SCALE = 0.25
MAX_SHIFT = 0.125
MAX_COLOUR = 0.4
MAX_HUE = 0.1
MAX_JITTER = 0.1
MAX_SCALING = 0.2
MAX_TIME_MASK = 0.2
MAX_NOISE = 0.1


def _rand(
    shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    if generator is None:
        return torch.rand(shape, device=like.device, dtype=like.dtype)
    out = torch.rand(shape, generator=generator, device=generator.device, dtype=like.dtype)
    return out.to(like.device, non_blocking=True)


def _randn(
    shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    if generator is None:
        return torch.randn(shape, device=like.device, dtype=like.dtype)
    out = torch.randn(shape, generator=generator, device=generator.device, dtype=like.dtype)
    return out.to(like.device, non_blocking=True)


def _sym(u: torch.Tensor, half_width: float) -> torch.Tensor:
    """Map U(0, 1) to U(-half_width, half_width)."""
    return (u * 2.0 - 1.0) * half_width


def _check(x: torch.Tensor, modality: str, magnitude: float) -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ConfigError(
            f"data augmentation needs a floating-point tensor batch, got {type(x).__name__}"
            f"{' of dtype ' + str(x.dtype) if isinstance(x, torch.Tensor) else ''}; convert with x.float()."
        )
    if x.ndim != _MODALITY_NDIM[modality]:
        raise ConfigError(
            f"{modality} augmentation needs a batch of {_MODALITY_NDIM[modality]} dimensions, got shape {tuple(x.shape)}."
        )
    if not 0.0 <= magnitude <= 1.0:
        raise ConfigError(f"magnitude of data_augmentation must be in [0, 1], got {magnitude!r}.")


def _resolve(modality: str, transforms: Sequence[str] | None) -> tuple[str, ...]:
    if transforms is None:
        return DEFAULT_TRANSFORMS[modality]
    allowed = GEOMETRIC + PHOTOMETRIC if modality == "image" else DEFAULT_TRANSFORMS[modality]
    for t in transforms:
        if t not in allowed:
            raise ConfigError(
                f"transform {t!r} does not apply to {modality} data; allowed: {', '.join(allowed)}."
            )
    return tuple(transforms)


def affine_matrices(
    n: int,
    height: int,
    width: int,
    *,
    magnitude: float,
    transforms: Sequence[str],
    like: torch.Tensor,
    generator: torch.Generator | None = None,
    no_flip: bool = False,
) -> torch.Tensor:
    """Per-sample ``(N, 2, 3)`` matrices (output -> input, normalised coordinates) for ``grid_sample``."""
    u = _rand((n, 6), like, generator)
    zeros = like.new_zeros(n)
    ones = like.new_ones(n)
    angle = (
        _sym(u[:, 0], math.radians(MAX_ROTATION_DEG) * magnitude)
        if "rotation" in transforms
        else zeros
    )
    zoom = 1.0 + _sym(u[:, 1], MAX_SCALE * magnitude) if "scale" in transforms else ones
    shifting = "crop" in transforms or "translate" in transforms
    tx = _sym(u[:, 2], 2 * MAX_SHIFT * magnitude) if shifting else zeros
    ty = _sym(u[:, 3], 2 * MAX_SHIFT * magnitude) if shifting else zeros
    flip_p = 0.5 * magnitude
    fh = (
        torch.where(u[:, 4] < flip_p, -ones, ones) if "flip" in transforms and not no_flip else ones
    )
    fv = (
        torch.where(u[:, 5] < flip_p, -ones, ones)
        if "vflip" in transforms and not no_flip
        else ones
    )
    cos, sin = torch.cos(angle), torch.sin(angle)
    # Rotation in pixel space, expressed in normalised coordinates: D^-1 R D with D = diag(W, H),
    # so non-square images rotate without shearing. Zooming in (zoom > 1) samples a smaller area.
    aspect = height / width
    a = cos * fh / zoom
    b = -sin * aspect * fv / zoom
    c = sin / aspect * fh / zoom
    d = cos * fv / zoom
    return torch.stack([torch.stack([a, b, tx], 1), torch.stack([c, d, ty], 1)], 1)


def _const(values, like: torch.Tensor) -> torch.Tensor:
    """A small constant on ``like``'s device; a non-blocking copy does not wait for the device."""
    return torch.tensor(values, dtype=like.dtype).to(like.device, non_blocking=True)


# RGB <-> YIQ (NTSC); a hue shift is a rotation of the (I, Q) plane.
_RGB2YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))
# Inverted once here (NumPy), so the step never calls a LAPACK routine on the device.
_YIQ2RGB = tuple(map(tuple, np.linalg.inv(np.array(_RGB2YIQ)).tolist()))


def _hue_matrices(shift: torch.Tensor) -> torch.Tensor:
    t = _const(_RGB2YIQ, shift)
    t_inv = _const(_YIQ2RGB, shift)
    theta = shift * 2 * math.pi
    cos, sin = torch.cos(theta), torch.sin(theta)
    one, zero = torch.ones_like(cos), torch.zeros_like(cos)
    rot = torch.stack(
        [
            torch.stack([one, zero, zero], 1),
            torch.stack([zero, cos, -sin], 1),
            torch.stack([zero, sin, cos], 1),
        ],
        1,
    )
    return t_inv @ rot @ t


def augment_images(
    x: torch.Tensor,
    *,
    magnitude: float,
    transforms: Sequence[str] | None = None,
    no_flip: bool = False,
    generator: torch.Generator | None = None,
    padding_mode: str = "zeros",
) -> torch.Tensor:
    """Augment a batch of images ``(N, C, H, W)``; returns a new tensor of the same shape/dtype/device.

    Example:
        >>> y = augment_images(torch.rand(4, 1, 8, 8), magnitude=0.3, transforms=["rotation"])
    """
    _check(x, "image", magnitude)
    chosen = _resolve("image", transforms)
    if magnitude == 0.0 or not chosen or x.shape[0] == 0:
        return x
    n, _, h, w = x.shape
    out = x
    geometric = [t for t in chosen if t in GEOMETRIC and not (no_flip and t in ("flip", "vflip"))]
    if geometric:
        theta = affine_matrices(
            n,
            h,
            w,
            magnitude=magnitude,
            transforms=geometric,
            like=x,
            generator=generator,
            no_flip=no_flip,
        )
        grid = _affine_grid(theta, h, w)
        out = F.grid_sample(
            out, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False
        )
    photometric = [t for t in chosen if t in PHOTOMETRIC]
    if photometric:
        out = _colour(out, photometric, magnitude=magnitude, generator=generator)
    return out


def _affine_grid(theta: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``F.affine_grid(theta, (N, C, h, w), align_corners=False)`` as broadcast arithmetic.

    The same sampling points (pixel centres ``(2i + 1) / size - 1``), but elementwise: the
    library version is a batched ``(HW x 3) @ (3 x 2)`` matrix product, which is slow on CPU
    for such thin matrices (measured 10x slower at 256 x 32 x 32).
    """
    xs = ((torch.arange(w, device=theta.device, dtype=theta.dtype) * 2 + 1) / w - 1).view(1, 1, w)
    ys = ((torch.arange(h, device=theta.device, dtype=theta.dtype) * 2 + 1) / h - 1).view(1, h, 1)
    t = theta.view(-1, 6, 1, 1).unbind(1)
    gx = t[0] * xs + t[1] * ys + t[2]
    gy = t[3] * xs + t[4] * ys + t[5]
    return torch.stack([gx, gy], dim=-1)


def _colour(
    x: torch.Tensor, chosen: Sequence[str], *, magnitude: float, generator: torch.Generator | None
) -> torch.Tensor:
    """Brightness, contrast, saturation and hue, in that order, fused into one affine map.

    Each of the four is affine in the pixel colour (a per-image 3x3 matrix ``A`` and offset
    ``b``: brightness ``A = beta I``; contrast ``A = c I, b = (1 - c) * mean grey``; saturation
    ``A = s I + (1 - s) 1 w^T``; hue a YIQ rotation), so their composition is one affine map,
    applied to the pixels in one pass instead of four.
    """
    n, ch = x.shape[:2]
    u = _rand((n, 4), x, generator)
    bright = 1.0 + _sym(u[:, 0], MAX_COLOUR * magnitude) if "brightness" in chosen else None
    contrast = 1.0 + _sym(u[:, 1], MAX_COLOUR * magnitude) if "contrast" in chosen else None
    if ch != 3:  # one scalar gain and offset per image
        gain, offset = x.new_ones(n), x.new_zeros(n)
        if bright is not None:
            gain = gain * bright
        if contrast is not None:
            mean = x.mean(dim=(1, 2, 3)) * gain
            gain, offset = gain * contrast, (1.0 - contrast) * mean
        return x * gain.view(n, 1, 1, 1) + offset.view(n, 1, 1, 1)
    w = _const([0.299, 0.587, 0.114], x)
    eye = torch.eye(3, dtype=x.dtype, device=x.device).expand(n, 3, 3)
    a = eye.clone()
    b = x.new_zeros(n, 3)
    if bright is not None:
        a = a * bright.view(n, 1, 1)
    if contrast is not None:
        # grey mean of the current image = w . (A mu + b), mu = channel means of x
        mu = x.mean(dim=(2, 3))
        grey_mean = ((a @ mu.unsqueeze(-1)).squeeze(-1) + b) @ w
        c = contrast.view(n, 1)
        a = a * c.unsqueeze(-1)
        b = b * c + (1.0 - c) * grey_mean.view(n, 1)
    if "saturation" in chosen:
        s = (1.0 + _sym(u[:, 2], MAX_COLOUR * magnitude)).view(n, 1, 1)
        sat = s * eye + (1.0 - s) * w.view(1, 1, 3).expand(n, 3, 3)
        a, b = sat @ a, (sat @ b.unsqueeze(-1)).squeeze(-1)
    if "hue" in chosen:
        hue = _hue_matrices(_sym(u[:, 3], MAX_HUE * magnitude))
        a, b = hue @ a, (hue @ b.unsqueeze(-1)).squeeze(-1)
    # out_i = sum_j A_ij x_j + b_i, as three broadcast multiply-adds (no thin bmm)
    av = a.view(n, 3, 3, 1, 1)
    out = av[:, :, 0] * x[:, 0:1] + av[:, :, 1] * x[:, 1:2] + av[:, :, 2] * x[:, 2:3]
    return out + b.view(n, 3, 1, 1)


def augment_sequences(
    x: torch.Tensor,
    *,
    magnitude: float,
    transforms: Sequence[str] | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Augment a batch of sequences ``(N, C, T)`` with jitter, scaling and time masking."""
    _check(x, "sequence", magnitude)
    chosen = _resolve("sequence", transforms)
    if magnitude == 0.0 or not chosen or x.shape[0] == 0:
        return x
    n, ch, t = x.shape
    out = x
    if "jitter" in chosen:
        std = x.std(dim=(0, 2), unbiased=False, keepdim=True)
        out = out + _randn(tuple(x.shape), x, generator) * (MAX_JITTER * magnitude) * std
    if "scaling" in chosen:
        out = out * (1.0 + _randn((n, ch, 1), x, generator) * (MAX_SCALING * magnitude))
    if "time_mask" in chosen:
        u = _rand((n, 2), x, generator)
        length = torch.floor(u[:, 0] * (MAX_TIME_MASK * magnitude * t))
        start = torch.floor(u[:, 1] * (t - length + 1))
        steps = torch.arange(t, device=x.device, dtype=x.dtype).view(1, t)
        masked = (steps >= start.view(n, 1)) & (steps < (start + length).view(n, 1))
        out = out.masked_fill(masked.view(n, 1, t), 0.0)
    return out


def augment_tabular(
    x: torch.Tensor,
    *,
    magnitude: float,
    transforms: Sequence[str] | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Add Gaussian noise scaled by each feature's batch standard deviation to ``(N, F)``."""
    _check(x, "tabular", magnitude)
    chosen = _resolve("tabular", transforms)
    if magnitude == 0.0 or not chosen or x.shape[0] == 0:
        return x
    std = x.std(dim=0, unbiased=False, keepdim=True)
    return x + _randn(tuple(x.shape), x, generator) * (MAX_NOISE * magnitude) * std


_BY_MODALITY = {"image": augment_images, "sequence": augment_sequences, "tabular": augment_tabular}
_NDIM_MODALITY = {4: "image", 3: "sequence", 2: "tabular"}


def modality_of(x: torch.Tensor) -> str:
    """``image`` for 4-D, ``sequence`` for 3-D and ``tabular`` for 2-D batches."""
    found = _NDIM_MODALITY.get(x.ndim)
    if found is None:
        raise ConfigError(
            f"cannot tell the data kind of a batch of shape {tuple(x.shape)}; "
            "augmentation handles (N, C, H, W), (N, C, T) and (N, F) batches."
        )
    return found


def augment(
    x: torch.Tensor,
    *,
    magnitude: float,
    transforms: Sequence[str] | None = None,
    modality: str = "auto",
    no_flip: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Augment a batch, choosing image/sequence/tabular transforms by ``modality`` (or ``ndim``)."""
    kind = modality_of(x) if modality == "auto" else modality
    if kind not in _BY_MODALITY:
        raise ConfigError(f"modality must be auto, image, sequence or tabular, got {modality!r}.")
    if transforms is not None:
        # A stack may list transforms of several kinds; keep those that fit this batch.
        allowed = GEOMETRIC + PHOTOMETRIC if kind == "image" else DEFAULT_TRANSFORMS[kind]
        transforms = [t for t in transforms if t in allowed]
    if kind == "image":
        return augment_images(
            x, magnitude=magnitude, transforms=transforms, no_flip=no_flip, generator=generator
        )
    return _BY_MODALITY[kind](x, magnitude=magnitude, transforms=transforms, generator=generator)


class BatchAugment(nn.Module):
    """Module form of :func:`augment`; identity in eval mode or at magnitude 0.

    Example:
        >>> aug = BatchAugment(magnitude=0.3, no_flip=True)
        >>> x = aug(torch.rand(8, 1, 8, 8))
    """

    def __init__(
        self,
        *,
        magnitude: float = 0.3,
        transforms: Sequence[str] | None = None,
        modality: str = "auto",
        no_flip: bool = False,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if not 0.0 <= magnitude <= 1.0:
            raise ConfigError(
                f"magnitude of data_augmentation must be in [0, 1], got {magnitude!r}."
            )
        self.magnitude = float(magnitude)
        self.transforms = None if transforms is None else list(transforms)
        self.modality = modality
        self.no_flip = no_flip
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The augmented batch in training mode; ``x`` unchanged in eval mode."""
        if not self.training:
            return x
        return augment(
            x,
            magnitude=self.magnitude,
            transforms=self.transforms,
            modality=self.modality,
            no_flip=self.no_flip,
            generator=self.generator,
        )

    def extra_repr(self) -> str:
        """``magnitude``, ``transforms`` and ``no_flip``, for the module's repr."""
        return f"magnitude={self.magnitude}, transforms={self.transforms}, no_flip={self.no_flip}"
