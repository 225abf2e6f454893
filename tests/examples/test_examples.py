"""Every example in examples/ runs: the scripts (subprocess) and quickstart.ipynb (nbclient).

Each runs in a copy of examples/ under a temporary folder, so nothing (study journals,
saved curves) is written into the checkout, with its own empty system temporary folder
(``TMPDIR``), which must be empty again afterwards. Marked ``examples`` and ``slow``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))
# Scripts that need an optional extra: skipped (with the reason) where it is not installed.
NEEDS = {"lightning_callback.py": "lightning", "lightning_apply.py": "lightning"}

pytestmark = [pytest.mark.examples, pytest.mark.slow]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    target = tmp_path / "examples"
    shutil.copytree(
        EXAMPLES, target, ignore=shutil.ignore_patterns(".advisor", "__pycache__", "*.pyc")
    )
    return target


@pytest.fixture
def system_tmp(tmp_path: Path, monkeypatch) -> Path:
    """An empty TMPDIR for the example (and a kernel started from here); checked afterwards."""
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


def left_behind(folder: Path) -> list[str]:
    # `import torch` itself creates its compiler cache folder torchinductor_<user> there.
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("torchinductor_"))


def test_every_script_is_collected():
    names = {path.name for path in SCRIPTS}
    assert "lightning_callback.py" in names
    assert (EXAMPLES / "quickstart.ipynb").is_file()


@pytest.mark.parametrize("script", SCRIPTS, ids=[path.name for path in SCRIPTS])
def test_script_runs(script: Path, workdir: Path, system_tmp: Path):
    if script.name in NEEDS:
        pytest.importorskip(NEEDS[script.name])
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    run = subprocess.run(
        [sys.executable, str(workdir / script.name)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert run.returncode == 0, f"{script.name} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert not left_behind(system_tmp), f"{script.name} left {left_behind(system_tmp)} in TMPDIR"
    if script.name == "lightning_callback.py":
        assert "verdict: overfitting" in run.stdout
        assert "advisor: the run started overfitting" in run.stderr
        assert "overfitting warned at epoch: None" not in run.stdout
    if script.name == "plain_pytorch_loop.py":
        # A real overfitting run that the plan's stage 1 then fixes on held-out data.
        assert "2. diagnosis: overfitting" in run.stdout
        assert "(better)" in run.stdout, run.stdout
    if script.name == "timeseries_sunspots.py":
        assert "Untouched test block" in run.stdout
        assert (
            "better than the baseline" in run.stdout
            or "worse than the baseline" in run.stdout
            or "the same score" in run.stdout
        )


def test_quickstart_is_stored_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_quickstart_notebook_executes(workdir: Path, system_tmp: Path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(workdir / "quickstart.ipynb", as_version=4)
    # The kernelspec's "python" is replaced by this interpreter (jupyter_client does so for
    # the native kernel), so the notebook runs in the same environment as the tests.
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    # No warnings in what a reader sees (deprecations, tqdm without ipywidgets, Optuna's log).
    stderr = [out.text for out in outputs if out.output_type == "stream" and out.name == "stderr"]
    assert not stderr, stderr
    assert not left_behind(system_tmp), left_behind(system_tmp)
    html = "".join(out.get("data", {}).get("text/html", "") for out in outputs)
    text = "".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    assert "good fit" in html and "overfitting" in html  # the bundled run, then the recorded one
    assert "Tuning study" in html and "COMPLETE" in html  # the study and its trials
    assert (
        sum("image/png" in out.get("data", {}) for out in outputs) >= 2
    )  # fit.plot() and result.plot()
    assert "verdict: good_fit" in text and "diagnosis.html" in text


def test_ci_workflow_gate_passes_on_the_bundled_run(tmp_path: Path):
    # The `advisor check` steps of examples/ci/advisor-gate.yml, run as CI would run them
    # (paths relative to the repository root, here a copy holding examples/).
    yaml = pytest.importorskip("yaml")
    shutil.copytree(
        EXAMPLES, tmp_path / "examples", ignore=shutil.ignore_patterns(".advisor", "__pycache__")
    )
    workflow = yaml.safe_load((EXAMPLES / "ci" / "advisor-gate.yml").read_text())
    steps = [
        step["run"].strip()
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if "run" in step
    ]
    gates = [cmd for cmd in steps if cmd.startswith("advisor check")]
    assert gates, "the workflow has no `advisor check` step"
    advisor_bin = Path(sys.executable).with_name("advisor")
    for command in gates:
        run = subprocess.run(
            command.replace("advisor", str(advisor_bin), 1),
            shell=True,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode == 0, f"{command}\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    assert (tmp_path / "advisor-junit.xml").is_file()
