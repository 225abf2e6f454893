"""Facts on real architectures: ResNet-18 and ViT-Small, live and as state_dicts, and MiniLM."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advisor.inspect import inspect_checkpoint, inspect_module
from advisor.inspect._zoo import resnet18, vit_small


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return resnet18(num_classes=10)


def test_resnet_module_facts(resnet):
    m = inspect_module(resnet, spectral=False).model
    assert m.params_total == 11_181_642
    assert (m.family, m.residual, m.input_channels, m.num_classes) == ("resnet", True, 3, 10)
    assert m.layers["conv"] == 20 and m.layers["linear"] == 1 and m.depth == 21
    assert m.normalization_kinds == ["batch_norm"] and m.dropout is False


def test_resnet_state_dict_facts(resnet, tmp_path):
    path = tmp_path / "resnet.pt"
    torch.save(resnet.state_dict(), path)
    m = inspect_checkpoint(path, spectral=False).model
    assert m.params_total == 11_181_642  # running stats and num_batches_tracked are not parameters
    assert (m.family, m.residual, m.input_channels, m.num_classes, m.depth) == (
        "resnet",
        True,
        3,
        10,
        21,
    )
    assert "downsample" in m.evidence["residual"]
    assert m.layers["normalization"] == 20


def test_vit_facts():
    model = vit_small(num_classes=100, dropout=0.1)
    m = inspect_module(model, spectral=False).model
    assert m.params_total == 21_704_164
    assert (m.family, m.residual, m.blocks, m.num_classes) == ("transformer", True, 12, 100)
    assert m.layers["attention"] == 12 and set(m.dropout_rates.values()) == {0.1}
    sd = {k: v for k, v in model.state_dict().items()}
    from advisor.inspect._facts_tensors import facts_from_tensors
    from advisor.inspect._tensor_source import TensorSource

    facts, _ = facts_from_tensors(TensorSource(sd))
    facts.finish(samples=None)
    assert (facts.family, facts.blocks, facts.layers["attention"], facts.num_classes) == (
        "transformer",
        12,
        12,
        100,
    )


def test_recurrent_state_dict(tmp_path):
    model = nn.ModuleDict(
        {
            "emb": nn.Embedding(500, 32),
            "rnn": nn.LSTM(32, 64, num_layers=2),
            "out": nn.Linear(64, 7),
        }
    )
    path = tmp_path / "lstm.pt"
    torch.save(model.state_dict(), path)
    m = inspect_checkpoint(path, spectral=False).model
    assert (
        m.family,
        m.layers["recurrent"],
        m.layers["embedding"],
        m.vocab_size,
        m.num_classes,
    ) == ("rnn", 2, 1, 500, 7)
    assert "token ids" in m.reasons["input_features"]


@pytest.mark.slow
def test_minilm_real_pretrained_checkpoint(minilm_dir):
    report = inspect_checkpoint(minilm_dir, device="cpu")
    m = report.model
    assert report.format == "hf-dir"
    assert m.params_total == 22_713_216  # BertModel incl. pooler; position_ids buffer excluded
    assert (m.blocks, m.model_type, m.hidden_size, m.vocab_size) == (6, "bert", 384, 30522)
    assert (
        m.layers["attention"] == 6
        and m.normalization is True
        and "layer_norm" in m.normalization_kinds
    )
    assert m.dropout_rates == {"attention_probs_dropout_prob": 0.1, "hidden_dropout_prob": 0.1}
    assert m.pretrained is True and m.family == "transformer"
    assert m.num_classes is None and "classification head" in m.reasons["num_classes"]
    summary = report.weights.summary()
    assert summary["layers_analysed"] >= 37
    assert summary["fraction_well_trained"] > 0.75 and summary["verdict"] == "well_trained"
    assert 3.0 < summary["alpha_median"] < 5.0


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_diverged_checkpoint_reports_nonfinite_layers(tmp_path, capsys, value):
    """A diverged run (NaN/inf weights) is a model fact, not an eigvalsh traceback."""
    import json

    from advisor.cli import main

    net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.Linear(32, 4))
    with torch.no_grad():
        net[0].weight[0, 0] = value
        net[3].bias[1] = value
    path = tmp_path / "model.pt"
    torch.save(net.state_dict(), path)
    report = inspect_checkpoint(path, device="cpu")
    assert report.model.nonfinite_layers == 2
    assert report.model.nonfinite_layer_names == ["0", "3"]
    notes = {layer.name: layer.note for layer in report.weights.layers}
    assert "non-finite" in notes["0"] and notes["2"] is None
    assert inspect_module(net, spectral=False).model.nonfinite_layers == 2
    clean = inspect_module(nn.Linear(4, 2), spectral=False).model
    assert clean.nonfinite_layers == 0 and clean.to_dict()["nonfinite_layer_names"] == []
    with pytest.raises(SystemExit) as code:
        main(["diagnose", str(path), "--format", "json", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code.value.code == 0
    assert json.loads(out)["model"]["nonfinite_layers"] == 2


def test_lone_weights_file_uses_the_config_beside_it(tmp_path):
    """model.safetensors (or pytorch_model.bin) given alone reads config.json like its directory."""
    import json

    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(0)
    state = {
        "embeddings.word_embeddings.weight": torch.randn(100, 16, generator=gen),
        "embeddings.LayerNorm.weight": torch.ones(16),
        "embeddings.LayerNorm.bias": torch.zeros(16),
        "encoder.layer.0.attention.self.query.weight": torch.randn(16, 16, generator=gen),
        "encoder.layer.0.attention.self.key.weight": torch.randn(16, 16, generator=gen),
        "encoder.layer.0.output.dense.weight": torch.randn(16, 16, generator=gen),
        "pooler.dense.weight": torch.randn(16, 16, generator=gen),
        "pooler.dense.bias": torch.zeros(16),
    }
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": 16,
        "num_hidden_layers": 1,
        "vocab_size": 100,
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
    }
    save_file(state, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(config))
    lone = inspect_checkpoint(tmp_path / "model.safetensors", spectral=False).model
    whole = inspect_checkpoint(tmp_path, spectral=False).model
    assert lone.num_classes is None and "classification head" in lone.reasons["num_classes"]
    assert lone.pretrained is True and lone.dropout_rates == whole.dropout_rates
    assert lone.to_dict() == whole.to_dict()
    # The same for a .bin state_dict beside the config; another tool's config.json is ignored.
    torch.save(state, tmp_path / "pytorch_model.bin")
    assert inspect_checkpoint(tmp_path / "pytorch_model.bin", spectral=False).model.pretrained
    other = tmp_path / "other"
    other.mkdir()
    save_file(state, str(other / "model.safetensors"))
    (other / "config.json").write_text(json.dumps({"lr": 0.1}))
    alone = inspect_checkpoint(other / "model.safetensors", spectral=False).model
    assert alone.pretrained is None and alone.num_classes == 16
