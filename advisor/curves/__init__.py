"""Learning curves: readers for every logger format, and the fit diagnosis.

Names are resolved lazily so that importing one reader does not import them all.
"""

from __future__ import annotations

import importlib
from typing import Any

from advisor.curves._types import HIGHER_IS_BETTER, Curves, Series

_LAZY = {
    "load_curves": "advisor.curves._load",
    "load_runs": "advisor.curves._load",
    "find_curve_files": "advisor.curves._load",
    "newest_first": "advisor.curves._load",
    "diagnose_fit": "advisor.curves._diagnosis",
    "FitDiagnosis": "advisor.curves._diagnosis",
    "VERDICTS": "advisor.curves._fit_result",
    "normalise_key": "advisor.curves._normalise",
    "mode_of": "advisor.curves._normalise",
    "fmt_epoch": "advisor.curves._fit_finding",
    # live warnings (Recorder, Lightning and Trainer callbacks)
    "LiveMonitor": "advisor.curves._online",
    "LiveAlert": "advisor.curves._online",
    "trainer_log_curves": "advisor.curves._readers_json",
    # the reader toolkit (adding a log reader: docs/development.md)
    "RawRun": "advisor.curves._normalise",
    "RawSeries": "advisor.curves._normalise",
    "Mapping": "advisor.curves._normalise",
    "build_curves": "advisor.curves._normalise",
    "MlflowTarget": "advisor.curves._readers_mlflow",
    "mlflow_runs": "advisor.curves._readers_mlflow",
    "parse_mlflow_spec": "advisor.curves._readers_mlflow",
    "MLFLOW_INSTALL_HINT": "advisor.curves._readers_mlflow",
    "SEVERITIES": "advisor.curves._fit_result",
}

__all__ = ["HIGHER_IS_BETTER", "Curves", "Series", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'advisor.curves' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
