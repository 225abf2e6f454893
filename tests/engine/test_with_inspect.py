"""The engine on facts measured by advisor.inspect from a real torch module."""

from __future__ import annotations

import pytest

from advisor.engine import build_facts, recommend


def test_inspected_cnn_with_batchnorm_and_dropout():
    torch = pytest.importorskip("torch")
    inspect = pytest.importorskip("advisor.inspect")
    nn = torch.nn
    layers = []
    channels = 3
    for _ in range(10):
        layers += [nn.Conv2d(channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()]
        channels = 8
    model = nn.Sequential(*layers, nn.Flatten(), nn.Dropout(0.5), nn.Linear(8 * 8 * 8, 10))
    report = inspect.inspect_module(model, spectral=False, device="cpu")
    model_dict = report.model.to_dict() if hasattr(report.model, "to_dict") else report.model
    fit = {"verdict": "overfitting", "onset_epoch": 30, "n_epochs": 40}
    facts = build_facts(fit=fit, model=model_dict, declared={"modality": "image", "samples": 2000})
    assert facts["has_batchnorm"] is True and facts.fact("has_batchnorm").origin == "measured"
    assert facts["dropout_rate"] == pytest.approx(0.5)
    assert facts["depth"] >= 10
    recs = recommend(facts)
    assert "batch_norm" not in recs.techniques()
    assert set(recs.techniques()[:2]) == {"data_augmentation", "early_stopping"}
    assert any("rate 0.5" in note for note in recs.get("dropout").notes)
