"""Recognise a checkpoint's format from its bytes, without importing torch.

``advisor diagnose PATH`` must decide quickly whether PATH is a checkpoint or a learning-curve
log, and ``import torch`` alone costs about two seconds. This module looks only at magic bytes,
the zip directory, the safetensors JSON header and ``config.json``; it never unpickles anything.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

__all__ = ["FORMATS", "HF_WEIGHT_FILES", "sniff_checkpoint"]

FORMATS = ("state_dict-zip", "lightning", "safetensors", "hf-dir", "torchscript", "legacy-pickle")

# Weight files a Hugging Face model directory may hold, in the order transformers prefers them.
HF_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)

_ZIP_MAGIC = b"PK\x03\x04"
# Markers that only a Lightning checkpoint's pickle holds (keys of the checkpoint dict).
_LIGHTNING_MARKERS = (b"pytorch-lightning_version", b"optimizer_states", b"lr_schedulers")
# The pickle of a state_dict is small (tensor data lives in separate zip entries), so reading
# up to this much of it to look for the markers is cheap; beyond it we stop looking.
_MAX_PICKLE_SCAN = 16 * 1024 * 1024
# A safetensors header is JSON describing the tensors; 100 MB is the library's own limit.
_MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024


def sniff_checkpoint(path: str | Path) -> str | None:
    """Return the checkpoint format of ``path``, or ``None`` when it is not a checkpoint.

    Formats: ``"state_dict-zip"`` (``torch.save`` zip archive), ``"lightning"`` (a Lightning
    ``.ckpt``), ``"safetensors"``, ``"hf-dir"`` (a directory with ``config.json`` beside the
    weights), ``"torchscript"`` (``torch.jit.save`` archive), ``"legacy-pickle"`` (pre-1.6
    ``torch.save`` or a raw pickle). Never imports torch and never unpickles.

    Example:
        >>> sniff_checkpoint("metrics.csv") is None
        True
    """
    p = Path(path)
    if p.is_dir():
        return "hf-dir" if find_hf_weights(p) is not None else None
    if not p.is_file():
        return None
    try:
        with p.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return None
    if head.startswith(_ZIP_MAGIC):
        return _sniff_zip(p)
    if _looks_like_safetensors(p, head):
        return "safetensors"
    # Protocol-2+ pickles start with PROTO (0x80) and a protocol number; torch's legacy format
    # starts with a pickled magic number, which is such a pickle too.
    if len(head) >= 2 and head[0] == 0x80 and 1 <= head[1] <= 5:
        return "legacy-pickle"
    return None


def find_hf_weights(directory: Path) -> Path | None:
    """The weight file of a Hugging Face model directory, or ``None`` when it is not one."""
    if not (directory / "config.json").is_file():
        return None
    for name in HF_WEIGHT_FILES:
        if (directory / name).is_file():
            return directory / name
    shards = sorted(directory.glob("*.safetensors"))
    return shards[0] if shards else None


def read_json_config(path: Path) -> dict | None:
    """``config.json`` as a dict, or ``None`` when it is absent or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _looks_like_safetensors(path: Path, head: bytes) -> bool:
    if len(head) < 9:
        return False
    (header_len,) = struct.unpack("<Q", head[:8])
    size = path.stat().st_size
    return 2 <= header_len <= min(_MAX_SAFETENSORS_HEADER, size - 8) and head[8:9] == b"{"


def _sniff_zip(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            # torch.save writes "<archive>/data.pkl"; torch.jit.save adds "<archive>/code/"
            # and "<archive>/constants.pkl".
            if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
                return "torchscript"
            pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
            if not pickles:
                return None
            with zf.open(pickles[0]) as fh:
                blob = fh.read(_MAX_PICKLE_SCAN)
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, EOFError):
        # A damaged archive still announces itself as a checkpoint by its magic bytes; the
        # loader reports what is wrong with it.
        return "state_dict-zip"
    if any(marker in blob for marker in _LIGHTNING_MARKERS):
        return "lightning"
    return "state_dict-zip"
