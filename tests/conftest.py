"""Shared fixtures: where the real data lives, and tools that must exist in CI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Real learning-curve logs nobody on the team wrote (../shared beside the checkout).
REAL_CURVES = ROOT.parent / "shared" / "data" / "real-curves"
# The permissively licensed subset copied into the repository (see tests/data/real/PROVENANCE.md).
BUNDLED_REAL = ROOT / "tests" / "data" / "real"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def real_curves_dir() -> Path:
    """The shared real-curves folder; tests using it skip (with the reason) where it is absent."""
    if not REAL_CURVES.is_dir():
        pytest.skip(
            f"{REAL_CURVES} is absent (it sits beside the project checkout in CI, not in a user's clone)"
        )
    return REAL_CURVES


@pytest.fixture(scope="session")
def bundled_real_dir() -> Path:
    return BUNDLED_REAL


def require_tool(name: str, *candidates: str) -> str:
    """Return the path of a system tool; skip without it, but fail in CI where .ci/run installs it."""
    for cand in (name, *candidates):
        found = shutil.which(cand) or (cand if Path(cand).is_file() else None)
        if found:
            return found
    message = f"'{name}' is not installed (.ci/run installs it with apt-get)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(autouse=True, scope="session")
def _one_thread_per_worker():
    """pytest -n 2 on 2 cores: one intra-op thread per worker avoids oversubscription."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    torch.set_num_threads(1)
    yield
