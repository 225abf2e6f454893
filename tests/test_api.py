"""``advisor.diagnose``: path dispatch (curves, checkpoint with curves beside it), in-memory input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import advisor
from advisor._api import Diagnosis
from advisor.curves import Curves, Series
from advisor.errors import ConfigError, CurveFormatError

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT / "tests" / "data" / "real" / "mnist20k-v0.csv"


def test_lazy_exports():
    assert advisor.diagnose is advisor._api.diagnose
    assert advisor.Diagnosis is Diagnosis
    assert advisor.FitDiagnosis.__name__ == "FitDiagnosis"


def test_curves_path_gives_fit_facts_and_advice():
    d = advisor.diagnose(MNIST)
    assert d.fit.verdict in {"good_fit", "not_converged"}
    assert d.sources == [str(MNIST)]
    data = d.to_dict()
    assert list(data)[:7] == [
        "source",
        "sources",
        "fit",
        "model",
        "weights",
        "facts",
        "recommendations",
    ]
    assert data["facts"] is not None and data["recommendations"] is not None


def test_in_memory_curves_without_recommendations():
    e = np.arange(20.0)
    curves = Curves(
        {
            ("train", "loss"): Series("train", "loss", "loss", e, 1 / (e + 1)),
            ("val", "loss"): Series("val", "loss", "val_loss", e, 1.1 / (e + 1) + 0.05),
        },
        "csv",
    )
    d = advisor.diagnose(curves=curves, recommend=False)
    assert d.fit is not None and d.facts is None and d.recommendations is None
    assert d.sources == [] and d.to_dict()["source"] is None


def test_nothing_to_diagnose_is_config_error():
    with pytest.raises(ConfigError, match="needs a path"):
        advisor.diagnose()


def test_missing_path():
    with pytest.raises(CurveFormatError, match="no such file"):
        advisor.diagnose("does-not-exist.csv")


def test_declared_facts_reach_the_engine():
    d = advisor.diagnose(MNIST, classes=10, samples=60000, task="image")
    assert d.fit.chance["classes"] == 10
    facts = d.to_dict()["facts"]
    assert "samples" in str(facts) and "60000" in str(facts)


def test_checkpoint_with_curves_beside_it(tmp_path):
    torch = pytest.importorskip("torch")
    run_dir = tmp_path / "lightning_logs" / "version_0"
    run_dir.mkdir(parents=True)
    shutil.copy(MNIST, run_dir / "metrics.csv")
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 3)
    )
    torch.save(model.state_dict(), tmp_path / "model.pt")
    d = advisor.diagnose(tmp_path / "model.pt", spectral=False, device="cpu")
    assert d.model_report is not None and d.to_dict()["model"] is not None
    assert d.fit is not None and d.sources[0] == str(tmp_path / "model.pt")
    assert d.sources[1].endswith("metrics.csv")


def test_checkpoint_alone_notes_missing_curves(tmp_path):
    torch = pytest.importorskip("torch")
    # The curve search climbs a few folders from the checkpoint: nest it so that it finds none.
    ckpt = tmp_path / "a" / "b" / "c" / "d" / "model.pt"
    ckpt.parent.mkdir(parents=True)
    torch.save(torch.nn.Linear(4, 2).state_dict(), ckpt)
    d = advisor.diagnose(ckpt, spectral=False, device="cpu", recommend=False)
    assert d.fit is None and d.to_dict()["fit"] is None
    assert any("no learning-curve log" in n for n in d.notes)
