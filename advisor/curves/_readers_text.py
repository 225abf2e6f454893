"""Reader for plain-text training logs (``Epoch 12/35, Train Loss: 0.8007, Test Acc: 81.07%``).

Lines naming an epoch carry ``name: value`` pairs; a Keras console log puts the pairs on the line
after ``Epoch 3/10``, so pairs on a line without an epoch belong to the epoch announced just
before when that line had none. A ``%`` after a value marks percent. Indented ``key: value`` lines
before the first epoch (a config dump) go into ``hparams``. Files are decoded as UTF-8 with
undecodable bytes replaced (logs written on a GBK console exist).

``decode_log`` decodes every text log: a byte-order mark selects UTF-8-sig, UTF-16 or UTF-32
(LE/BE), ASCII text in BOM-less UTF-16 is recognised by its zero bytes, and anything else is
UTF-8 with each undecodable byte kept as a lone surrogate (U+DC80-U+DCFF), so a reader can tell a
byte that was not UTF-8 from a U+FFFD character written in the file (``undecodable_at``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from advisor.curves._normalise import RawRun, RawSeries, normalise_key
from advisor.errors import CurveFormatError

_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32 LE"),
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32 BE"),
    (b"\xef\xbb\xbf", "utf-8-sig", "UTF-8"),
    (b"\xff\xfe", "utf-16-le", "UTF-16 LE"),
    (b"\xfe\xff", "utf-16-be", "UTF-16 BE"),
)
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def sniff_encoding(head: bytes) -> tuple[str, str] | None:
    """``(codec, label)`` of a log that is not plain UTF-8: from its BOM, or BOM-less UTF-16.

    ``None`` means UTF-8 (the default). Called on the first bytes, before the binary check:
    UTF-16 text is full of zero bytes and must not be taken for a binary file.
    """
    for bom, codec, label in _BOMS:
        if head.startswith(bom):
            return codec, label
    if len(head) >= 8:
        even, odd = head[0::2], head[1::2]
        pairs = min(len(even), len(odd))
        if even[:pairs].count(0) == 0 and odd[:pairs].count(0) >= 0.9 * pairs:
            return "utf-16-le", "UTF-16 LE (no BOM)"
        if odd[:pairs].count(0) == 0 and even[:pairs].count(0) >= 0.9 * pairs:
            return "utf-16-be", "UTF-16 BE (no BOM)"
    return None


def decode_log(data: bytes, source: Path) -> str:
    """Decode a text log (see the module docstring); raise one line when a declared encoding lies."""
    found = sniff_encoding(data[:4096])
    if found is None:
        return data.decode("utf-8", errors="surrogateescape")
    codec, label = found
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise CurveFormatError(
            f"{source}: looks like {label} text (byte-order mark or zero bytes) but byte {exc.start} "
            f"is not valid {label} ({exc.reason}); re-save the log as UTF-8."
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def undecodable_at(text: str) -> int:
    """Index of the first byte ``decode_log`` could not decode as UTF-8, or -1."""
    match = _UNDECODABLE.search(text)
    return -1 if match is None else match.start()


def count_undecodable(text: str) -> int:
    """How many bytes of ``text`` were not UTF-8 (the lone surrogates ``decode_log`` keeps)."""
    return len(_UNDECODABLE.findall(text))


def replace_undecodable(text: str) -> str:
    """The text with every undecodable byte replaced by U+FFFD (what readers and JSON see)."""
    return _UNDECODABLE.sub("\ufffd", text) if undecodable_at(text) >= 0 else text


def undecodable_message(text: str, source: Path, where: str) -> str | None:
    """One line naming the first byte that is not UTF-8 in ``text``, or ``None`` when all decoded."""
    at = undecodable_at(text)
    if at < 0:
        return None
    byte = ord(text[at]) - 0xDC00
    return (
        f"{source}: the {where} holds byte 0x{byte:02x}, which is not UTF-8 (expected encoding: UTF-8, "
        "or UTF-16/UTF-8 with a byte-order mark); re-save the log as UTF-8."
    )


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
