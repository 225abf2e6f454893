"""Checkpoint inspection: safe loading of every format, model facts, spectral weight analysis.

Names are resolved lazily so that ``import advisor.inspect`` does not import torch (the CLI
decides whether a path is a checkpoint with the torch-free ``sniff_checkpoint``)::

    from advisor.inspect import inspect_checkpoint
    report = inspect_checkpoint("lightning_logs/version_0/checkpoints/last.ckpt", samples=60_000)
    print(report.to_json())
"""

from __future__ import annotations

import importlib
from typing import Any

from advisor.inspect._sniff import sniff_checkpoint

_LAZY = {
    "inspect_checkpoint": "advisor.inspect._inspect",
    "inspect_module": "advisor.inspect._inspect",
    "find_curves_near": "advisor.inspect._inspect",
    "ModelReport": "advisor.inspect._report",
    "ModelFacts": "advisor.inspect._facts",
    "WeightReport": "advisor.inspect._spectral",
    "LayerWeights": "advisor.inspect._spectral",
    "analyze_weights": "advisor.inspect._spectral",
    "fit_power_law": "advisor.inspect._spectral",
}

__all__ = ["sniff_checkpoint", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'advisor.inspect' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
