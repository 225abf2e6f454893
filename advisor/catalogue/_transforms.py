"""The data-augmentation transforms: which fit which modality, and which the input allows.

One table says, per transform, the modalities it applies to, whether it needs colour (3
channels) and whether it mirrors the input. ``transforms_for`` gives the default set of a
modality for a given input; ``fit_transforms`` filters a chosen list the same way. The
engine, ``Stack`` validation and ``advisor.regularizers`` all read these names.

Example:
    >>> transforms_for("image", channels=1, no_flip=True)
    ('rotation', 'scale', 'crop', 'brightness', 'contrast')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from advisor._validation import did_you_mean
from advisor.errors import ConfigError

__all__ = [
    "AUGMENT_KINDS",
    "COLOR",
    "DEFAULT_TRANSFORMS",
    "TRANSFORMS",
    "TRANSFORM_NAMES",
    "Transform",
    "check_transforms",
    "expand_transforms",
    "fit_transforms",
    "transforms_for",
]


@dataclass(frozen=True)
class Transform:
    """One augmentation transform.

    Attributes:
        name: the name in ``params["transforms"]``.
        kind: the batch layout ``advisor.regularizers`` applies it to: ``image`` ``(N, C, H, W)``,
            ``sequence`` ``(N, C, T)``, ``tabular`` ``(N, F)``.
        default: in the default set of its kind (``vflip`` and ``translate`` are not).
        rgb: needs 3 colour channels (saturation, hue mix the channels).
        mirrors: mirrors the input (never when orientation carries the label).
        what: one line.
    """

    name: str
    kind: str
    default: bool
    what: str
    rgb: bool = False
    mirrors: bool = False


_TABLE = (
    Transform("rotation", "image", True, "rotate by up to 30 degrees x magnitude"),
    Transform(
        "flip", "image", True, "horizontal mirror with probability magnitude / 2", mirrors=True
    ),
    # Upside-down natural images and digits are not the same class: off unless asked.
    Transform(
        "vflip", "image", False, "vertical mirror with probability magnitude / 2", mirrors=True
    ),
    Transform("scale", "image", True, "zoom by up to 25 % x magnitude"),
    Transform("crop", "image", True, "random crop: shift by up to 12.5 % x magnitude"),
    # The same shift as crop: listed for users who think of it that way, not in the default set.
    Transform("translate", "image", False, "shift by up to 12.5 % x magnitude"),
    Transform("brightness", "image", True, "brightness by up to 40 % x magnitude"),
    Transform("contrast", "image", True, "contrast by up to 40 % x magnitude"),
    Transform("saturation", "image", True, "saturation by up to 40 % x magnitude", rgb=True),
    Transform("hue", "image", True, "hue by up to 0.1 turn x magnitude", rgb=True),
    Transform("jitter", "sequence", True, "additive noise, 0.1 x magnitude of the scale"),
    Transform("scaling", "sequence", True, "per-channel gain by up to 20 % x magnitude"),
    Transform("time_mask", "sequence", True, "zero a random span of up to 20 % x magnitude"),
    Transform("noise", "tabular", True, "Gaussian noise, 0.1 x magnitude of each feature's std"),
)

TRANSFORMS: dict[str, Transform] = {t.name: t for t in _TABLE}
TRANSFORM_NAMES: tuple[str, ...] = tuple(TRANSFORMS)
# "color" is the guide's word for the four photometric transforms.
COLOR: tuple[str, ...] = ("brightness", "contrast", "saturation", "hue")
# Modality (a fact) -> the batch layout its transforms work on; text has none that keep labels.
AUGMENT_KINDS: dict[str, str | None] = {
    "image": "image",
    "sequence": "sequence",
    "audio": "sequence",
    "tabular": "tabular",
    "text": None,
}
# The default set per batch layout, in the order advisor.regularizers applies them.
DEFAULT_TRANSFORMS: dict[str, tuple[str, ...]] = {
    "image": ("rotation", "scale", "crop", "flip", "brightness", "contrast", "saturation", "hue"),
    "sequence": ("jitter", "scaling", "time_mask"),
    "tabular": ("noise",),
}


def expand_transforms(names: Iterable[str]) -> list[str]:
    """``color`` expanded to its four transforms, duplicates dropped, order kept.

    Example:
        >>> len(expand_transforms(["crop", "color", "crop"])) == 1 + len(COLOR)
        True
    """
    out = [t for name in names for t in (COLOR if name == "color" else (name,))]
    return list(dict.fromkeys(out))


def _allowed(t: Transform, *, channels: int | None, no_flip: bool) -> bool:
    if t.rgb and channels is not None and channels != 3:
        return False
    return not (t.mirrors and no_flip)


def transforms_for(
    modality: str, *, channels: int | None = None, no_flip: bool = False
) -> tuple[str, ...]:
    """The default transforms of a modality for this input (empty for text).

    Colour transforms need 3 channels (kept when ``channels`` is unknown); mirrors are
    dropped when ``no_flip`` (orientation carries the label).
    """
    kind = AUGMENT_KINDS.get(modality, modality)
    return tuple(
        name
        for name in DEFAULT_TRANSFORMS.get(kind or "", ())
        if _allowed(TRANSFORMS[name], channels=channels, no_flip=no_flip)
    )


def fit_transforms(
    names: Iterable[str],
    *,
    modality: str | None = None,
    channels: int | None = None,
    no_flip: bool = False,
) -> tuple[list[str], list[str]]:
    """Split chosen transforms into those that fit the input and those that do not.

    Returns:
        ``(kept, dropped)``: a transform is dropped when it belongs to another modality (when
        ``modality`` is known), needs colour the input lacks, or mirrors orientation-sensitive
        data.

    Example:
        >>> fit_transforms(["flip", "saturation", "rotation"], channels=1)
        (['flip', 'rotation'], ['saturation'])
    """
    kind = AUGMENT_KINDS.get(modality, modality) if modality is not None else None
    kept, dropped = [], []
    for name in expand_transforms(names):
        t = TRANSFORMS[name]
        ok = _allowed(t, channels=channels, no_flip=no_flip) and (kind is None or t.kind == kind)
        (kept if ok else dropped).append(name)
    return kept, dropped


def check_transforms(value: Any, *, of: str, name: str = "transforms") -> list[str] | None:
    """Check a ``transforms`` parameter: ``None`` or a list of known names (``color`` expands).

    An empty list means "not chosen", like ``None``: every transform that fits the batch.

    Example:
        >>> check_transforms(None, of="data_augmentation") is None
        True
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(x, str) for x in value):
        raise ConfigError(f"{name} of {of} must be a list of names, got {value!r}.")
    known = (*TRANSFORM_NAMES, "color")
    for item in value:
        if item not in known:
            raise ConfigError(
                f"{name} of {of} has unknown transform {item!r}; allowed: "
                f"{', '.join(TRANSFORM_NAMES)}." + did_you_mean(item, known)
            )
    return expand_transforms(value) or None
