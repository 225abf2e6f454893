"""sniff_checkpoint recognises every format from bytes alone, without torch."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import pytest
import torch

from advisor.inspect import sniff_checkpoint


def test_state_dict_zip(tmp_path):
    path = tmp_path / "w.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), path)
    assert sniff_checkpoint(path) == "state_dict-zip"


def test_legacy_pickle(tmp_path):
    path = tmp_path / "w.pth"
    torch.save({"w": torch.zeros(2)}, path, _use_new_zipfile_serialization=False)
    assert sniff_checkpoint(path) == "legacy-pickle"


def test_safetensors(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "w.safetensors"
    save_file({"w": torch.zeros(2, 2)}, path)
    assert sniff_checkpoint(path) == "safetensors"


def test_torchscript(tmp_path):
    path = tmp_path / "m.pt"
    torch.jit.script(torch.nn.Linear(3, 2)).save(str(path))
    assert sniff_checkpoint(path) == "torchscript"


def test_hf_dir(minilm_dir):
    assert sniff_checkpoint(minilm_dir) == "hf-dir"


@pytest.mark.parametrize("content", [b"epoch,loss\n0,1.0\n", b"", b"\x00" * 64])
def test_non_checkpoint_files(tmp_path, content):
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    assert sniff_checkpoint(path) is None


def test_safetensors_header_longer_than_file_is_not_safetensors(tmp_path):
    path = tmp_path / "bomb.safetensors"
    path.write_bytes(struct.pack("<Q", 10**12) + b'{"a": 1}')
    assert sniff_checkpoint(path) is None


def test_directory_without_weights(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    assert sniff_checkpoint(tmp_path) is None
    assert sniff_checkpoint(tmp_path / "missing.pt") is None


def test_importing_sniff_and_package_does_not_import_torch():
    code = (
        "import sys, advisor.inspect, advisor.inspect._sniff;"
        "from advisor.inspect import sniff_checkpoint;"
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
