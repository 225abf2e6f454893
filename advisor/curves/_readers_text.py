"""Reader for plain-text training logs (``Epoch 12/35, Train Loss: 0.8007, Test Acc: 81.07%``).

Lines naming an epoch carry ``name: value`` pairs; a Keras console log puts the pairs on the line
after ``Epoch 3/10``, so pairs on a line without an epoch belong to the epoch announced just
before when that line had none. A ``%`` after a value marks percent. Indented ``key: value`` lines
before the first epoch (a config dump) go into ``hparams``. Files are decoded as UTF-8 with
undecodable bytes replaced (logs written on a GBK console exist).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from advisor.curves._normalise import RawRun, RawSeries, normalise_key
from advisor.errors import CurveFormatError

__all__ = ["looks_like_text_log", "text_runs"]

_EPOCH = re.compile(r"(?<![A-Za-z0-9])epoch\s*[:=#]?\s*\[?\s*(\d+)(?:\s*/\s*(\d+))?", re.IGNORECASE)
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?nan|[-+]?inf"
_PAIR = re.compile(
    rf"(?<![A-Za-z0-9])([A-Za-z][A-Za-z0-9 _/\-\.]*?)\s*[:=]\s*({_NUM})\s*(%?)", re.IGNORECASE
)
_LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d[ T][\d:,\.]+\s*(?:-\s*)?(?:[A-Z]+\s*- ?)?")
_CONFIG_LINE = re.compile(r"^\s+([A-Za-z_][\w\-\.]*)\s*[:=]\s*(\S.*?)\s*$")


def _pairs(line: str) -> list[tuple[str, float, bool]]:
    out = []
    for key, value, pct in _PAIR.findall(line):
        key = key.strip(" -.")
        if not key or _EPOCH.fullmatch(key) or key.lower() in ("epoch", "step"):
            continue
        if normalise_key(key) is None:
            continue
        out.append((key, float(value), pct == "%"))
    return out


def looks_like_text_log(text: str) -> bool:
    """True when some line names an epoch and some line holds ``name: value`` metric pairs."""
    if not _EPOCH.search(text, 0, 50_000):
        return False
    epoch_lines = pair_lines = 0
    for line in text.splitlines()[:5000]:
        if _EPOCH.search(line):
            epoch_lines += 1
        if ":" in line or "=" in line:
            pair_lines += bool(_pairs(line))
        if epoch_lines and pair_lines:
            return True
    return False


def _scalar(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def text_runs(text: str, source: Path) -> list[RawRun]:
    """Read a text log into one raw run."""
    points: dict[str, dict[float, float]] = {}
    percent: set[str] = set()
    hparams: dict[str, Any] = {}
    current: float | None = None
    current_has_pairs = False
    for raw_line in text.splitlines():
        line = _LOG_PREFIX.sub("", raw_line)
        m = _EPOCH.search(line)
        if m:
            current = float(m.group(1))
            rest = line[m.end() :]
            pairs = _pairs(rest)
            current_has_pairs = bool(pairs)
        elif current is None:
            cfg = _CONFIG_LINE.match(line)
            if cfg:
                hparams[cfg.group(1)] = _scalar(cfg.group(2))
            continue
        elif current_has_pairs:
            continue  # a summary line after the epoch's own line ("Best test accuracy: 85%")
        else:
            pairs = _pairs(line)
        for key, value, pct in pairs:
            points.setdefault(key, {})[current] = value
            if pct:
                percent.add(key)
    if not points:
        raise CurveFormatError(
            f"{source}: no 'Epoch N ... name: value' lines found in this text log; log one line per epoch"
            " like 'Epoch 3/10, loss: 0.41, val_loss: 0.52' or write a CSV."
        )
    series = []
    for key, pts in points.items():
        ep = np.asarray(sorted(pts), dtype=np.float64)
        series.append(
            RawSeries(
                key, ep, np.asarray([pts[e] for e in ep], dtype=np.float64), percent=key in percent
            )
        )
    notes = []
    if hparams:
        notes.append(
            f"configuration lines before the first epoch kept in hparams ({len(hparams)} keys)"
        )
    return [RawRun(series=series, format="text-log", source=source, notes=notes, hparams=hparams)]
