"""A built wheel installs and runs: the package, its console script and its rules ship.

The wheel is built from the checkout (hatchling, no build isolation: no network), installed
with ``--no-deps`` into a fresh virtual environment whose dependencies are this environment's
(a ``.pth`` file points at its site-packages), and run from outside the checkout, so nothing
is imported from the source tree. About 5 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    run = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False, **kwargs)
    assert run.returncode == 0, f"{args}\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    return run


def test_built_wheel_installs_and_runs(tmp_path: Path):
    try:
        import hatchling  # noqa: F401  (the build backend; the dev extra installs it)
    except ImportError:
        if IN_CI:
            pytest.fail("hatchling is not installed (the dev extra installs it)")
        pytest.skip("hatchling is not installed (the dev extra installs it)")
    before = sorted(p.name for p in ROOT.iterdir())
    dist = tmp_path / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(ROOT),
        ]
    )
    (wheel,) = dist.glob("regularization_advisor-*.whl")
    assert sorted(p.name for p in ROOT.iterdir()) == before  # the build left nothing behind

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    (site / "advisor-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ]
    )

    script = python.parent / ("advisor.exe" if os.name == "nt" else "advisor")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = _run([str(python), "-c", "import advisor; print(advisor.__file__)"], cwd=outside)
    assert Path(where.stdout.strip()).is_relative_to(venv)  # the wheel's copy, not the checkout
    version = _run([str(script), "--version"], cwd=outside)
    assert "0.1.0" in version.stdout or "version" in version.stdout
    rules = _run([str(script), "rules", "list"], cwd=outside)
    assert "rules from" in rules.stdout  # the knowledge base shipped as advisor/rules/
    shipped = _run(
        [
            str(python),
            "-c",
            "from advisor.engine import builtin_rules_dir; print(builtin_rules_dir())",
        ],
        cwd=outside,
    )
    assert Path(shipped.stdout.strip()).is_relative_to(venv)
