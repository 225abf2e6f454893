"""The committed baseline of ``advisor check``: what a good run measured, in a small JSON file.

``advisor check PATH --update-baseline`` writes it (atomically: a temporary file in the same
folder, then ``os.replace``); ``--baseline FILE`` compares a new run with it. The file is meant
to be committed next to the training code so that a pull request that makes the model
generalise worse fails the build.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from advisor.errors import ConfigError

__all__ = ["BASELINE_VERSION", "baseline_from_fit", "read_baseline", "write_baseline"]

BASELINE_VERSION = 2
# Version 1: one run's values (no spread); version 2: the fingerprint of one or several runs
# (``advisor.gate._fingerprint``). Both are read.
_READABLE = (1, 2)
_REQUIRED = {1: ("primary", "best_val", "mode"), 2: ("measures",)}


def baseline_from_fit(
    fit: Any, *, metric: dict[str, Any] | None = None, source: str | None = None
) -> dict[str, Any]:
    """The version-1 baseline record of one diagnosed run (``fit`` is a ``FitDiagnosis``).

    Kept for callers of the old format; ``advisor check --update-baseline`` writes the
    version-2 fingerprint (``fingerprint_from_runs``), which adds the run-to-run spread and noise.

    Example:
        >>> record = baseline_from_fit(diagnose_fit(curves))   # doctest: +SKIP
        >>> record["best_val"]                                  # doctest: +SKIP
        0.0412
    """
    from advisor._jsonutil import to_jsonable

    return to_jsonable(
        {
            "advisor_baseline": 1,
            "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "source": source if source is not None else fit.source,
            "primary": fit.primary_key,
            "mode": fit.mode,
            "best_val": fit.best_value,
            "best_epoch": fit.best_epoch,
            "gap_end": fit.gap.get("end_abs"),
            "val_rise": fit.val_rise.get("abs"),
            "verdict": fit.verdict,
            "metric": metric,
        }
    )


def read_baseline(path: str | Path) -> dict[str, Any]:
    """Read and validate a baseline file; a missing or malformed file is a ``ConfigError``."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(
            f"{p}: baseline file not found; create it from a good run with "
            f"'advisor check RUN --baseline {p} --update-baseline'."
        )
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{p}: baseline is not valid JSON ({exc.__class__.__name__}); regenerate it with --update-baseline."
        ) from None
    if not isinstance(data, dict) or data.get("advisor_baseline") not in _READABLE:
        raise ConfigError(
            f"{p}: not an advisor baseline (version 1 or {BASELINE_VERSION} expected); regenerate it with --update-baseline."
        )
    missing = [k for k in _REQUIRED[data["advisor_baseline"]] if k not in data]
    if not missing and data["advisor_baseline"] == 2 and not isinstance(data["measures"], dict):
        missing = ["measures"]
    if missing:
        raise ConfigError(
            f"{p}: baseline lacks {', '.join(missing)}; regenerate it with --update-baseline."
        )
    return data


def write_baseline(path: str | Path, record: dict[str, Any]) -> Path:
    """Write ``record`` to ``path`` atomically (never leaves a half-written file) and return the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, indent=2, sort_keys=True, allow_nan=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p
