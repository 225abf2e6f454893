"""advisor: tells which regularization a PyTorch model needs, and proves it.

The public API is small and imported lazily (``import advisor`` does not import
torch)::

    import advisor
    curves = advisor.load_curves("lightning_logs/version_3/metrics.csv")
    report = advisor.diagnose(curves=curves)          # fit verdict + evidence
    report = advisor.diagnose("model.ckpt")           # + model facts, weights, advice
    recs = advisor.recommend(task="image", samples=2000, params=11e6, fit="overfitting")
    applied = advisor.apply(model, recs.to_stack())   # model, optimizer groups, loss, ...
    result = advisor.tune(make_model, (X, y), task="classification", stack=recs)
    gate = advisor.check("metrics.csv", max_gap=0.2)
"""

from __future__ import annotations

import importlib
from typing import Any

from advisor._version import __version__
from advisor.errors import (
    AdvisorError,
    CheckpointError,
    ConfigError,
    CurveFormatError,
    DataError,
    RuleError,
    UnsafeCheckpointError,
)

_LAZY: dict[str, str] = {
    "load_curves": "advisor.curves",
    "load_runs": "advisor.curves",
    "Curves": "advisor.curves",
    "Series": "advisor.curves",
    "FitDiagnosis": "advisor.curves",
    "diagnose": "advisor._api",
    "Diagnosis": "advisor._api",
    "recommend": "advisor._api",
    "Recommendations": "advisor.engine",
    "Facts": "advisor.engine",
    "apply": "advisor.regularizers",
    "Applied": "advisor.regularizers",
    "Stack": "advisor.regularizers",
    "tune": "advisor.tuning",
    "TuneResult": "advisor.tuning",
    "check": "advisor.gate",
    "CheckReport": "advisor.gate",
    "inspect_checkpoint": "advisor.inspect",
    "inspect_module": "advisor.inspect",
    "ModelReport": "advisor.inspect",
    "Recorder": "advisor.report",
}

__all__ = [
    "AdvisorError",
    "CheckpointError",
    "ConfigError",
    "CurveFormatError",
    "DataError",
    "RuleError",
    "UnsafeCheckpointError",
    "__version__",
    *_LAZY,
]


# Subpackages reachable as attributes after a bare ``import advisor`` (advisor.report.plot ...).
_SUBPACKAGES = frozenset(
    {"curves", "inspect", "engine", "regularizers", "tuning", "gate", "report"}
)


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"advisor.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'advisor' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
