"""Narrow terminals: titles keep the file name, table cells never break inside a layer name."""

from __future__ import annotations

import io
import re

from rich.console import Console
from rich.table import Table

from advisor._terminal import Breakable, fit_path

LONG = (
    "/home/someone/experiments/2024-12-03/a_long_folder_name/lightning_logs/version_0/metrics.csv"
)
LAYERS = [
    "transformer_encoder_layers.1.self_attention_output_projection",
    "transformer_encoder_layers.11.feed_forward_intermediate_dense",
]


def _text(renderable, width: int = 80) -> str:
    console = Console(width=width, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.file.getvalue()


def test_fit_path_keeps_the_end_of_a_path():
    assert fit_path("short.csv", 20) == "short.csv"
    shortened = fit_path(LONG, 40)
    assert len(shortened) <= 40 and shortened.endswith("version_0/metrics.csv")
    assert shortened.startswith("…/")
    name = fit_path("/x/" + "a" * 50 + ".csv", 20)
    assert len(name) == 20 and name.endswith(".csv") and "…" in name


def test_breakable_cells_break_only_after_dots():
    table = Table()
    table.add_column("layer", min_width=max(Breakable.widest_part(name) for name in LAYERS))
    for header in ("alpha", "reading", "stable rank", "spectral norm"):
        table.add_column(header)
    for name in LAYERS:
        table.add_row(Breakable(name), "7.91", "under_trained", "63.50", "1.16")
    out = _text(table)
    pieces = [p for name in LAYERS for p in re.findall(r"[^.]+\.?", name)]
    cells = [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│")]
    assert max(len(line) for line in out.splitlines()) <= 80
    for cell in filter(None, cells):  # each wrapped line is whole parts of a name
        assert any(cell.startswith(p) for p in pieces), cell
        assert all(part in pieces for part in re.findall(r"[^.]+\.?", cell)), cell


def test_weight_table_keeps_layer_names_whole_at_80_columns():
    from advisor.inspect._report import _weights_tables
    from advisor.inspect._spectral import LayerWeights, WeightReport

    layers = [
        LayerWeights(name, "linear", [256, 256], alpha=9.0 - i, reading="under_trained",
                     stable_rank=60.0, spectral_norm=1.2)
        for i, name in enumerate(LAYERS)
    ]  # fmt: skip
    out = "".join(_text(t) for t in _weights_tables(WeightReport(layers=layers), 80))
    assert max(len(line) for line in out.splitlines()) <= 80
    flat = out.replace("\n", " ")
    for name in LAYERS:
        head, _, tail = name.rpartition(".")
        assert tail in out  # the last part of every name is printed whole
        assert head.split(".")[0] in flat


def test_fit_panel_title_keeps_the_file_name(tmp_path):
    import advisor

    folder = tmp_path / "a_very_long_folder_name_for_experiments" / "another_level_of_nesting"
    folder.mkdir(parents=True)
    log = folder / "training_metrics_of_the_run.csv"
    log.write_text(
        "epoch,loss,val_loss\n"
        + "".join(f"{e},{1 / (e + 1)},{1 / (e + 1) + 0.1}\n" for e in range(20))
    )
    fit = advisor.curves.diagnose_fit(advisor.load_curves(log))
    first = _text(fit).splitlines()[0]
    assert "training_metrics_of_the_run.csv" in first and len(first) <= 80
    report = advisor.check(log)
    assert "training_metrics_of_the_run.csv" in _text(report).splitlines()[0]
