"""Every checkpoint format is read into the same facts."""

from __future__ import annotations

import torch
from torch import nn

from advisor.inspect import inspect_checkpoint, inspect_module


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 5))


MLP_PARAMS = 20 * 64 + 64 + 64 * 5 + 5


def test_plain_state_dict(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(_mlp().state_dict(), path)
    report = inspect_checkpoint(path, spectral=False)
    m = report.model
    assert report.format == "state_dict-zip"
    assert m.params_total == MLP_PARAMS
    assert m.params_trainable is None and "requires_grad" in m.reasons["params_trainable"]
    assert (m.family, m.depth, m.input_features, m.num_classes) == ("mlp", 2, 20, 5)
    assert m.dropout is None and "state_dict" in m.reasons["dropout"]
    assert report.weights is None


def test_nested_dict_with_optimizer(tmp_path):
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    path = tmp_path / "checkpoint.pth"
    torch.save(
        {
            "epoch": 12,
            "model_state_dict": model.state_dict(),
            "optimizer_state_dict": opt.state_dict(),
        },
        path,
    )
    report = inspect_checkpoint(path, spectral=False)
    assert report.model.params_total == MLP_PARAMS
    assert (report.model.optimizer, report.model.weight_decay, report.model.learning_rate) == (
        "SGD",
        5e-4,
        0.05,
    )
    assert report.training["epoch"] == 12


def test_ddp_prefix_is_stripped(tmp_path):
    path = tmp_path / "model.bin"
    torch.save({f"module.{k}": v for k, v in _mlp().state_dict().items()}, path)
    report = inspect_checkpoint(path, spectral=False)
    assert report.model.input_features == 20
    assert "module." in report.model.evidence["keys"]


def test_legacy_format(tmp_path):
    path = tmp_path / "old.pth"
    torch.save(_mlp().state_dict(), path, _use_new_zipfile_serialization=False)
    report = inspect_checkpoint(path, spectral=False)
    assert report.format == "legacy-pickle" and report.model.params_total == MLP_PARAMS


def test_safetensors_matches_state_dict(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "model.safetensors"
    save_file(_mlp().state_dict(), path)
    report = inspect_checkpoint(path, device="cpu")
    assert report.format == "safetensors"
    assert report.model.params_total == MLP_PARAMS
    assert [layer.name for layer in report.weights.layers] == ["0", "3"]


def test_torchscript_keeps_module_facts(tmp_path):
    path = tmp_path / "scripted.pt"
    torch.jit.script(_mlp()).save(str(path))
    report = inspect_checkpoint(path, spectral=False)
    m = report.model
    assert report.format == "torchscript"
    assert (m.params_total, m.params_trainable, m.family, m.num_classes) == (
        MLP_PARAMS,
        MLP_PARAMS,
        "mlp",
        5,
    )
    assert m.layers["linear"] == 2


def test_live_module_is_richest():
    model = _mlp()
    model[0].weight.requires_grad_(False)
    report = inspect_module(model, samples=1000, spectral=False)
    m = report.model
    assert m.params_total == MLP_PARAMS
    assert m.params_trainable == MLP_PARAMS - 20 * 64
    assert m.dropout is True and m.dropout_rates == {"2": 0.3}
    assert m.params_per_sample == MLP_PARAMS / 1000
    assert report.to_dict()["format"] == "module"


def test_to_dict_schema(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(_mlp().state_dict(), path)
    data = inspect_checkpoint(path, device="cpu").to_dict()
    assert set(data) >= {"model", "weights", "training", "source", "format", "curve_files"}
    assert data["source"] == str(path)
    # Every null fact says why.
    nulls = [k for k, v in data["model"].items() if v is None]
    assert nulls and all(k in data["model"]["reasons"] for k in nulls)
    import json

    json.loads(inspect_checkpoint(path, device="cpu").to_json())


def test_rich_rendering_mentions_nulls_and_alpha(tmp_path):
    from rich.console import Console

    path = tmp_path / "model.pt"
    torch.save(_mlp().state_dict(), path)
    console = Console(width=160, record=True)
    console.print(inspect_checkpoint(path, device="cpu"))
    text = console.export_text()
    assert "params_total" in text and "null" in text and "state_dict cannot tell" in text
    assert "alpha" in text


def test_hf_dir_with_pytorch_bin_and_classification_head(tmp_path):
    import json

    config = {
        "model_type": "toy",
        "architectures": ["ToyForSequenceClassification"],
        "num_hidden_layers": 2,
        "hidden_size": 20,
        "classifier_dropout": 0.2,
        "id2label": {"0": "neg", "1": "pos", "2": "neutral"},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    torch.save(_mlp().state_dict(), tmp_path / "pytorch_model.bin")
    report = inspect_checkpoint(tmp_path, spectral=False)
    m = report.model
    assert report.format == "hf-dir" and m.params_total == MLP_PARAMS
    assert (m.num_classes, m.blocks, m.dropout_rates, m.pretrained) == (
        3,
        2,
        {"classifier_dropout": 0.2},
        True,
    )


def test_sharded_safetensors_dir(tmp_path):
    import json

    from safetensors.torch import save_file

    state = _mlp().state_dict()
    first = {k: v for k, v in state.items() if k.startswith("0.")}
    second = {k: v for k, v in state.items() if k.startswith("3.")}
    save_file(first, tmp_path / "model-00001-of-00002.safetensors")
    save_file(second, tmp_path / "model-00002-of-00002.safetensors")
    weight_map = {k: "model-00001-of-00002.safetensors" for k in first}
    weight_map |= {k: "model-00002-of-00002.safetensors" for k in second}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "toy", "architectures": ["ToyModel"]})
    )
    report = inspect_checkpoint(tmp_path, device="cpu")
    assert report.model.params_total == MLP_PARAMS
    assert {layer.name for layer in report.weights.layers} == {"0", "3"}


def test_lightning_style_namespace_hparams_load_without_trust(tmp_path):
    import argparse

    path = tmp_path / "old.ckpt"
    ckpt = {
        "state_dict": {f"model.{k}": v for k, v in _mlp().state_dict().items()},
        "pytorch-lightning_version": "1.9.0",
        "epoch": 3,
        "global_step": 120,
        "optimizer_states": [],
        "hyper_parameters": argparse.Namespace(dropout=0.3, batch_size=32),
    }
    torch.save(ckpt, path)
    report = inspect_checkpoint(path, spectral=False)
    assert report.format == "lightning"
    assert report.model.dropout_rates == {"dropout": 0.3}
    assert report.model.early_stopping is False
    assert (
        report.model.optimizer is None and "no optimizer state" in report.model.reasons["optimizer"]
    )
