"""Reader for TensorBoard event files, through tensorboard's maintained event loader.

Event files are TFRecord files of ``Event`` protos. They are recognised by content (the first
record's length header and its masked CRC-32C), so renamed files are found too; tensorboard is
imported only once a file is known to be an event file (it takes ~0.4 s to import). The x axis of a
scalar is the global step; where Lightning logged an ``epoch`` scalar, each point is joined to
the epoch at its step and per-batch points are averaged per epoch. Ultralytics logs step = epoch
and writes the final re-validation of the best checkpoint at the last step again: the last value
per step is kept.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from advisor.curves._normalise import RawRun, RawSeries, join_epochs
from advisor.errors import CurveFormatError

__all__ = ["event_runs", "is_event_file"]

_CRC_TABLE: list[int] = []


def _crc32c(data: bytes) -> int:
    if not _CRC_TABLE:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            _CRC_TABLE.append(c)
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked_crc(data: bytes) -> int:
    crc = _crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def is_event_file(head: bytes) -> bool:
    """True when ``head`` (the first bytes of a file) starts with a valid TFRecord header."""
    if len(head) < 12:
        return False
    length, crc = struct.unpack("<QI", head[:12])
    return 0 < length < (1 << 30) and crc == _masked_crc(head[:8])


def _load_scalars(path: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util import tensor_util

    scalars: dict[str, list[tuple[int, float]]] = {}
    try:
        for event in EventFileLoader(str(path)).Load():
            if not event.HasField("summary"):
                continue
            for value in event.summary.value:
                kind = value.WhichOneof("value")
                if kind == "simple_value":
                    v = float(value.simple_value)
                elif kind == "tensor":
                    if value.metadata.plugin_data.plugin_name not in ("scalars", ""):
                        continue
                    try:
                        arr = tensor_util.make_ndarray(value.tensor)
                    except Exception:
                        continue
                    if arr.size != 1 or arr.dtype.kind not in "fiub":
                        continue
                    v = float(arr.reshape(-1)[0])
                else:
                    continue
                scalars.setdefault(value.tag, []).append((int(event.step), v))
    except Exception as exc:
        raise CurveFormatError(
            f"{path}: TensorBoard event file could not be read ({type(exc).__name__}: {exc}); the file may be"
            " truncated or corrupt."
        ) from None
    return scalars


def event_runs(
    paths: list[Path], *, source: Path, split_hints: dict[Path, str] | None = None
) -> list[RawRun]:
    """Read one run from one or more event files (a run directory may hold several)."""
    scalars: dict[str, list[tuple[int, float]]] = {}
    for p in paths:
        hint = (split_hints or {}).get(p)
        for tag, pts in _load_scalars(p).items():
            key = f"{hint}/{tag}" if hint else tag
            scalars.setdefault(key, []).extend(pts)
    notes: list[str] = []
    if not scalars:
        raise CurveFormatError(
            f"{source}: the TensorBoard event file holds no scalar summaries; log losses with"
            " add_scalar / self.log so they can be read."
        )
    epoch_pts = scalars.pop("epoch", None)
    series: list[RawSeries] = []
    if epoch_pts:
        ep = np.asarray(sorted(epoch_pts), dtype=np.float64)
        steps_e, epochs_e = ep[:, 0], ep[:, 1]
        for tag, pts in scalars.items():
            series.append(join_epochs(tag, np.asarray(pts, dtype=np.float64), steps_e, epochs_e))
        notes.append("x axis joined to the logged 'epoch' scalar by global step")
    else:
        repeated = []
        for tag, pts in scalars.items():
            last: dict[int, float] = {}
            for step, v in pts:
                if step in last:
                    repeated.append(tag)
                last[step] = v
            steps = np.asarray(sorted(last), dtype=np.float64)
            series.append(
                RawSeries(tag, steps, np.asarray([last[int(s)] for s in steps], dtype=np.float64))
            )
        notes.append("no 'epoch' scalar: the logged step is used as the epoch")
        if repeated:
            tags = ", ".join(dict.fromkeys(repeated))
            notes.append(
                f"{tags} logged twice at the same step (Ultralytics re-validates the best checkpoint at the"
                " end); kept the last value per step"
            )
    return [RawRun(series=series, format="tensorboard", source=source, notes=notes)]
