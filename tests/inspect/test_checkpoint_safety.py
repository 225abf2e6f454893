"""Bad and hostile input: one clear CheckpointError, never code execution."""

from __future__ import annotations

import json
import pickle
import struct
import sys
import zipfile

import pytest
import torch
from torch import nn

from advisor.errors import AdvisorError, CheckpointError, ConfigError, UnsafeCheckpointError
from advisor.inspect import inspect_checkpoint, inspect_module


class _CreatesFile:
    """Unpickling this calls open(target, "w"): the file appearing proves code ran."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text
    return text


def test_malicious_pickle_really_runs_code_when_unpickled(tmp_path):
    # Guard that the payload below is live: plain pickle.loads creates the file.
    target = tmp_path / "proof.txt"
    pickle.loads(pickle.dumps(_CreatesFile(target)))
    assert target.exists()


@pytest.mark.parametrize("writer", ["torch.save", "raw-pickle"])
def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path, writer):
    target = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pt"
    payload = {"weight": torch.zeros(2), "x": _CreatesFile(target)}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=4))
    with pytest.raises(CheckpointError) as info:
        inspect_checkpoint(path)
    assert not target.exists()
    message = _one_line(info.value)
    assert str(path) in message
    if writer == "torch.save":
        assert isinstance(info.value, UnsafeCheckpointError)
        assert "open" in message and "--trust" in message and "code" in message


def test_pickled_module_refused_by_default_loaded_with_trust(tmp_path):
    path = tmp_path / "full.pt"
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.Dropout(0.1), nn.Linear(16, 2))
    torch.save(model, path)
    with pytest.raises(UnsafeCheckpointError) as info:
        inspect_checkpoint(path, spectral=False)
    assert "Sequential" in _one_line(info.value) and "--trust" in str(info.value)
    report = inspect_checkpoint(path, trust=True, spectral=False)
    assert report.format == "pickled-module"
    assert report.model.dropout_rates == {"2": 0.1}
    assert report.model.normalization_kinds == ["batch_norm"]


def test_pickle_needing_unknown_class(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "gone_module.py").write_text("class Thing:\n    pass\n")
    monkeypatch.syspath_prepend(str(pkg))
    import gone_module

    path = tmp_path / "thing.pt"
    torch.save({"w": torch.zeros(1), "thing": gone_module.Thing()}, path)
    monkeypatch.delitem(sys.modules, "gone_module")
    (pkg / "gone_module.py").unlink()
    with pytest.raises(UnsafeCheckpointError):
        inspect_checkpoint(path)
    with pytest.raises(CheckpointError) as info:
        inspect_checkpoint(path, trust=True)
    assert "cannot be imported" in _one_line(info.value)


def test_truncated_archive(tmp_path):
    path = tmp_path / "cut.pt"
    torch.save(nn.Linear(64, 64).state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        inspect_checkpoint(path)


def test_zip_bomb_sized_header(tmp_path):
    path = tmp_path / "bomb.pt"
    torch.save(nn.Linear(4, 4).state_dict(), path)
    data = bytearray(path.read_bytes())
    central = data.find(b"PK\x01\x02")
    assert central > 0
    struct.pack_into("<I", data, central + 24, 0xFFFFFFF0)  # declared uncompressed size: ~4 GiB
    path.write_bytes(bytes(data))
    assert max(i.file_size for i in zipfile.ZipFile(path).infolist()) == 0xFFFFFFF0
    with pytest.raises(CheckpointError, match="zip bomb"):
        inspect_checkpoint(path)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        inspect_checkpoint(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        inspect_checkpoint(tmp_path / "nope.ckpt")


def test_state_dict_with_non_tensor_values(tmp_path):
    path = tmp_path / "mixed.pt"
    torch.save({"fc.weight": torch.zeros(3, 3), "fc.bias": "zeros"}, path)
    with pytest.raises(CheckpointError) as info:
        inspect_checkpoint(path)
    assert "'fc.bias' is a str, not a tensor" in _one_line(info.value)


def test_tensor_that_is_not_a_dict(tmp_path):
    path = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointError, match="not a state_dict"):
        inspect_checkpoint(path)


def test_directory_without_weights(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(CheckpointError, match="no model weights"):
        inspect_checkpoint(tmp_path)


def test_corrupt_safetensors(tmp_path):
    path = tmp_path / "bad.safetensors"
    header = b'{"w": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 4000000]}}'
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\x00" * 16)
    with pytest.raises(CheckpointError, match="corrupt safetensors"):
        inspect_checkpoint(path)


def test_safetensors_with_absurd_header_length(tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 2**60) + b"{}")
    with pytest.raises(CheckpointError, match="not a valid safetensors"):
        inspect_checkpoint(path)


def test_bad_options(tmp_path):
    path = tmp_path / "m.pt"
    torch.save(nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(ConfigError, match="samples"):
        inspect_checkpoint(path, samples=0)
    with pytest.raises(ConfigError, match="device"):
        inspect_checkpoint(path, device="tpu:banana")
    with pytest.raises(ConfigError, match=r"nn\.Module"):
        inspect_module("not a module")
    assert issubclass(CheckpointError, AdvisorError)


def test_raw_malicious_pickle_is_one_clear_line_like_the_zip_case(tmp_path, capsys):
    from advisor.cli import main

    target = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pt"
    path.write_bytes(
        pickle.dumps({"weight": torch.zeros(2), "x": _CreatesFile(target)}, protocol=4)
    )
    with pytest.raises(UnsafeCheckpointError) as info:
        inspect_checkpoint(path)
    message = _one_line(info.value)
    assert "open" in message and "--trust" in message and "code" in message
    with pytest.raises(SystemExit) as code:
        main(["diagnose", str(path)])
    err = capsys.readouterr().err
    assert code.value.code == 2 and not target.exists()
    # No torch warning, no truncated "Weights only load failed ..." text: one line.
    assert err.count("\n") == 1 and "--trust" in err and "Warning" not in err


def test_raw_pickle_of_plain_values_names_the_fix(tmp_path):
    path = tmp_path / "plain.pt"
    path.write_bytes(pickle.dumps({"weight": [1.0, 2.0]}, protocol=4))
    with pytest.raises(CheckpointError) as info:
        inspect_checkpoint(path)
    message = _one_line(info.value)
    assert "Weights only load failed" not in message and "torch.save" in message
