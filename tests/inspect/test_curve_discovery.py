"""Learning curves next to a checkpoint are found; the search never wanders above the run."""

from __future__ import annotations

import json

import torch

from advisor.inspect import find_curves_near, inspect_checkpoint
from advisor.inspect._inspect import _own_curve_search


def _ckpt(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torch.nn.Linear(4, 2).state_dict(), path)
    return path


def test_climbs_out_of_checkpoints_folder(tmp_path):
    run = tmp_path / "lightning_logs" / "version_3"
    ckpt = _ckpt(run / "checkpoints" / "epoch=9.ckpt")
    (run / "metrics.csv").write_text("epoch,train_loss,val_loss\n0,1.0,1.1\n")
    assert [p.name for p in inspect_checkpoint(ckpt, spectral=False).curve_files] == ["metrics.csv"]


def test_trainer_state_beside_hf_style_checkpoint(tmp_path):
    ckpt = _ckpt(tmp_path / "out" / "checkpoint-500" / "pytorch_model.bin")
    (ckpt.parent / "trainer_state.json").write_text(json.dumps({"log_history": []}))
    assert [p.name for p in find_curves_near(ckpt)] == ["trainer_state.json"]


def test_does_not_climb_into_unrelated_parents(tmp_path):
    (tmp_path / "metrics.csv").write_text("epoch,loss\n0,1\n")
    ckpt = _ckpt(tmp_path / "project" / "model.pt")
    assert find_curves_near(ckpt) == []


def test_fallback_search_patterns(tmp_path):
    (tmp_path / "lightning_logs" / "version_0").mkdir(parents=True)
    (tmp_path / "lightning_logs" / "version_0" / "metrics.csv").write_text("epoch\n")
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "events.out.tfevents.1.host").write_bytes(b"")
    names = sorted(p.name for p in _own_curve_search(tmp_path))
    assert names == ["events.out.tfevents.1.host", "metrics.csv"]


def test_ignores_logs_of_unrelated_nested_projects(tmp_path):
    """exp/model.pt must not read exp/old_project/lightning_logs/version_0/metrics.csv."""
    ckpt = _ckpt(tmp_path / "exp" / "model.pt")
    old = tmp_path / "exp" / "old_project" / "lightning_logs" / "version_0"
    old.mkdir(parents=True)
    (old / "metrics.csv").write_text("epoch,train_loss,val_loss\n0,1.0,1.1\n1,0.9,1.0\n")
    (tmp_path / "exp" / "old_project" / "history.json").write_text("{}")
    assert find_curves_near(ckpt) == []
    assert inspect_checkpoint(ckpt, spectral=False).curve_files == []


def test_logger_layouts_directly_under_the_checkpoint_newest_first(tmp_path):
    import os

    exp = tmp_path / "exp"
    ckpt = _ckpt(exp / "model.pt")
    paths = []
    for i, rel in enumerate(
        [
            "lightning_logs/version_0/metrics.csv",
            "runs/Jan01_host/events.out.tfevents.1.host",
            "history.json",
            "lightning_logs/version_1/metrics.csv",
        ]
    ):
        p = exp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
        os.utime(p, (1_000_000 + i, 1_000_000 + i))
        paths.append(p.resolve())
    found = find_curves_near(ckpt)
    assert found == paths[::-1]  # the newest run (version_1) is the one used
    report = inspect_checkpoint(ckpt, spectral=False)
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(report)
    text = console.export_text()
    assert f"Learning curves beside the checkpoint: {paths[-1]}" in text and "3 older logs" in text
