"""A real Lightning checkpoint: weights, optimizer, callbacks, hyper-parameters, curves beside it."""

from __future__ import annotations

import pytest

from advisor.inspect import inspect_checkpoint, sniff_checkpoint

pytestmark = pytest.mark.slow  # the session fixture trains for two epochs (~5 s with the import)


def test_sniffed_as_lightning(lightning_run):
    assert sniff_checkpoint(lightning_run) == "lightning"


def test_facts_and_training(lightning_run):
    report = inspect_checkpoint(lightning_run, samples=64, device="cpu")
    m = report.model
    params = 10 * 32 + 32 + 32 * 4 + 4
    assert report.format == "lightning"
    assert (m.params_total, m.params_trainable) == (params, params)
    assert "model." in m.evidence["keys"]  # LightningModule attribute prefix stripped
    assert (m.input_features, m.num_classes, m.family) == (10, 4, "mlp")
    assert (m.optimizer, m.weight_decay, m.learning_rate) == ("AdamW", 0.01, 3e-3)
    assert (m.early_stopping, m.early_stopping_patience, m.early_stopping_monitor) == (
        True,
        7,
        "val_loss",
    )
    assert m.dropout is True and m.dropout_rates == {"dropout": 0.25}
    assert m.params_per_sample == params / 64
    t = report.training
    assert t["epoch"] == 1 and t["global_step"] == 8
    assert t["lr_schedulers"][0]["type"] == "StepLR" and t["lr_schedulers"][0]["step_size"] == 5
    assert t["model_checkpoint"]["monitor"] == "val_loss"
    assert t["hyper_parameters"]["batch_size"] == 16
    assert t["optimizers"][0]["param_groups"][0]["weight_decay"] == 0.01
    assert report.weights is not None and len(report.weights.layers) == 2


def test_curves_found_beside_checkpoint(lightning_run):
    report = inspect_checkpoint(lightning_run, spectral=False)
    names = [p.name for p in report.curve_files]
    assert "metrics.csv" in names
    assert all(p.is_file() for p in report.curve_files)
    assert report.to_dict()["curve_files"]
