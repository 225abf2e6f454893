"""The report package's surface: cheap import, dispatch, the CLI report flags end to end."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from advisor.cli._main import cli
from tests.report._builders import ROOT_RUN


@pytest.mark.slow
def test_importing_report_and_recording_imports_no_heavy_library():
    code = (
        "import sys, advisor, advisor.report\n"
        "rec = advisor.Recorder()\n"
        "rec.log(0, train_loss=1.0, val_loss=1.0)\n"
        "heavy = [m for m in ('matplotlib', 'torch', 'optuna', 'lightning') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == ""


@pytest.mark.slow
def test_plot_never_imports_pyplot():
    code = (
        "import sys, advisor\n"
        f"c = advisor.load_curves({ROOT_RUN!r})\n"
        "c.plot(); c._repr_html_()\n"
        "print('matplotlib.pyplot' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


def test_figures_display_themselves_in_jupyter():
    import advisor

    fig = advisor.load_curves(ROOT_RUN).plot()
    assert fig._repr_png_().startswith(b"\x89PNG")


@pytest.mark.slow
def test_cli_diagnose_writes_html_and_markdown_reports(tmp_path):
    runner = CliRunner()
    html = tmp_path / "report.html"
    result = runner.invoke(cli, ["diagnose", ROOT_RUN, "--format", "html", "--output", str(html)])
    assert result.exit_code == 0, result.output
    text = html.read_text(encoding="utf-8")
    assert "<!DOCTYPE html>" in text and "good fit" in text and "data:image/png;base64," in text
    md = tmp_path / "report.md"
    result = runner.invoke(cli, ["diagnose", ROOT_RUN, "--format", "markdown", "--output", str(md)])
    assert result.exit_code == 0, result.output
    assert "![learning curves with the verdict](report-curves.png)" in md.read_text()
    assert (tmp_path / "report-curves.png").is_file()
