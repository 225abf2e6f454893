"""Property-based tests: random and damaged checkpoints, and random ``advisor tune`` inputs, give
one clean ``AdvisorError`` line or a result, never a traceback.

Example counts (CI runs every one, each test well under 30 s on one core): checkpoints
1,200 random state_dict structures + 2,500 corrupt safetensors headers + 1,200 damaged zip
members + 2,500 random bytes = 7,400; ``advisor tune`` inputs 1,000 data files + 1,000 model
files = 2,000; with tests/curves/test_fuzz_readers.py (7 tests x 150 = 1,050) the fuzzing
generates 10,450 cases in total.
"""

from __future__ import annotations

import atexit
import io
import json
import shutil
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.errors import AdvisorError
from advisor.inspect import inspect_checkpoint

_TMP = Path(tempfile.mkdtemp(prefix="advisor-fuzz-ckpt-"))
atexit.register(shutil.rmtree, _TMP, True)


def _fuzz(n: int):
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


def _clean_error(exc: AdvisorError) -> None:
    message = str(exc)
    assert message and "\n" not in message, message
    assert "Traceback" not in message


def inspect_bytes(data: bytes, name: str, *, spectral: bool = False) -> None:
    """Inspect ``data`` saved as ``name``: a report or an AdvisorError line, nothing else."""
    folder = _TMP / "ckpt"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    try:
        report = inspect_checkpoint(path, spectral=spectral, device="cpu")
    except AdvisorError as exc:
        _clean_error(exc)
        return
    json.dumps(report.to_dict(), default=str)


# ------------------------------------------------------------------ random state_dict structures

_FLOATS = st.sampled_from([0.0, 1.0, -2.5, 1e30, float("nan"), float("inf"), float("-inf")])


@st.composite
def tensors(draw):
    shape = draw(st.lists(st.integers(0, 9), min_size=0, max_size=4))
    dtype = draw(st.sampled_from([torch.float32, torch.float16, torch.int64, torch.bool]))
    numel = int(np.prod(shape)) if shape else 1
    fill = draw(st.lists(_FLOATS, min_size=1, max_size=3))
    values = torch.tensor([fill[i % len(fill)] for i in range(numel)], dtype=torch.float64)
    if dtype in (torch.int64, torch.bool):
        values = torch.nan_to_num(values, nan=0.0, posinf=1.0, neginf=-1.0)
    return values.reshape(shape).to(dtype)


_KEYS = st.sampled_from(
    [
        "weight",
        "bias",
        "fc.weight",
        "fc.bias",
        "layers.0.weight",
        "layers.1.attn.in_proj_weight",
        "conv1.weight",
        "bn1.running_mean",
        "bn1.running_var",
        "embed.weight",
        "rnn.weight_ih_l0",
        "model.fc.weight",
        "module.fc.weight",
        "state_dict",
        "model",
        "model_state_dict",
        "optimizer_states",
        "optimizer",
        "pytorch-lightning_version",
        "hyper_parameters",
        "callbacks",
        "lr_schedulers",
        "epoch",
        "_metadata",
        "",
    ]
)
_LEAVES = st.one_of(
    tensors(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=10),
    st.none(),
    st.booleans(),
)
_TREES = st.recursive(
    _LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(_KEYS, children, max_size=5),
    ),
    max_leaves=12,
)


@_fuzz(1200)
@given(st.dictionaries(_KEYS, _TREES, max_size=6), st.booleans(), st.booleans())
def test_random_state_dict_structures(obj, zipped, spectral):
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=zipped)
    inspect_bytes(buffer.getvalue(), "random.pt", spectral=spectral)


# ------------------------------------------------------------------ corrupt safetensors headers


def _safetensors_bytes() -> bytes:
    from safetensors.torch import save

    return save({"fc.weight": torch.randn(16, 8), "fc.bias": torch.zeros(16)})


_ST = _safetensors_bytes()
_ST_HEADER_LEN = struct.unpack("<Q", _ST[:8])[0]

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=10,
)
_DTYPES = st.sampled_from(["F32", "F16", "BF16", "I64", "BOOL", "F64", "X9", "", 3])


@st.composite
def safetensors_headers(draw):
    kind = draw(st.sampled_from(["entry", "json", "length", "bytes"]))
    if kind == "entry":
        header = {
            draw(st.sampled_from(["fc.weight", "w", "__metadata__", ""])): {
                "dtype": draw(_DTYPES),
                "shape": draw(st.lists(st.integers(-2, 40), max_size=3)),
                "data_offsets": draw(st.lists(st.integers(-8, 2000), max_size=3)),
            }
        }
        if draw(st.booleans()):
            header["__metadata__"] = draw(_JSON)
        blob = json.dumps(header).encode()
        return struct.pack("<Q", len(blob)) + blob + draw(st.binary(max_size=600))
    if kind == "json":
        blob = json.dumps(draw(_JSON)).encode()
        return struct.pack("<Q", len(blob)) + blob + _ST[8 + _ST_HEADER_LEN :]
    if kind == "length":
        length = draw(st.integers(0, 2**64 - 1))
        return struct.pack("<Q", length) + _ST[8:]
    data = bytearray(_ST)
    at = draw(st.integers(0, 8 + _ST_HEADER_LEN))
    junk = draw(st.binary(min_size=1, max_size=6))
    data[at : at + len(junk)] = junk
    return bytes(data)


@_fuzz(2500)
@given(safetensors_headers(), st.booleans())
def test_corrupt_safetensors_headers(data, spectral):
    inspect_bytes(data, "model.safetensors", spectral=spectral)


# ------------------------------------------------------------------ damaged zip members


def _zip_checkpoint() -> bytes:
    buffer = io.BytesIO()
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Linear(16, 4))
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, buffer)
    return buffer.getvalue()


_ZIP = _zip_checkpoint()
_MEMBERS = zipfile.ZipFile(io.BytesIO(_ZIP)).namelist()


@st.composite
def damaged_zips(draw):
    kind = draw(st.sampled_from(["truncate", "garble", "member"]))
    if kind == "truncate":
        return _ZIP[: draw(st.integers(0, len(_ZIP) - 1))]
    if kind == "garble":
        data = bytearray(_ZIP)
        at = draw(st.integers(0, len(data) - 1))
        junk = draw(st.binary(min_size=1, max_size=16))
        data[at : at + len(junk)] = junk
        return bytes(data)
    # Rewrite the archive with one member truncated, replaced by junk, or dropped.
    target = draw(st.sampled_from(_MEMBERS))
    action = draw(st.sampled_from(["truncate", "junk", "drop"]))
    source = zipfile.ZipFile(io.BytesIO(_ZIP))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for name in _MEMBERS:
            content = source.read(name)
            if name == target:
                if action == "drop":
                    continue
                if action == "truncate":
                    content = content[: draw(st.integers(0, max(len(content) - 1, 0)))]
                else:
                    content = draw(st.binary(max_size=64))
            zf.writestr(name, content)
    return out.getvalue()


@_fuzz(1200)
@given(damaged_zips())
def test_damaged_zip_members(data):
    inspect_bytes(data, "damaged.pt")


@_fuzz(2500)
@given(st.binary(max_size=400), st.sampled_from(["x.pt", "x.ckpt", "x.safetensors", "x.bin"]))
def test_random_bytes_as_checkpoint(data, name):
    inspect_bytes(data, name)


# ------------------------------------------------------------------ advisor tune inputs


def _check_tune_inputs(model_spec: str, data_path: Path, task: str | None) -> None:
    """What ``advisor tune`` does before any storage exists: load, validate, probe the model."""
    from advisor.cli._tune import _check_model_cli, _tune_task
    from advisor.tuning import as_tensors, load_data_file, load_factory, make_folds

    try:
        model_fn = load_factory(model_spec)
        X, y = load_data_file(data_path, target="y")
        tune_task = _tune_task(task, y)
        data = as_tensors((X, y), task=tune_task)
        make_folds(data.y.numpy(), task=tune_task, folds=3, seed=0)
        _check_model_cli(model_fn, data, tune_task, "full", None, None, model_spec)
    except AdvisorError as exc:
        _clean_error(exc)


_ARRAYS = st.one_of(
    st.builds(
        lambda shape, fill, dtype: np.full(shape, fill).astype(dtype),
        st.lists(st.integers(0, 7), min_size=0, max_size=3).map(tuple),
        st.sampled_from([0, 1, 2, -1, 0.5, np.nan, np.inf]),
        st.sampled_from(["float32", "int64", "bool", "float64", "U2", "complex64"]),
    ),
    st.builds(
        lambda n, k: (np.arange(n) % max(k, 1)).astype("int64"),
        st.integers(0, 40),
        st.integers(0, 5),
    ),
)


def _as_tensor(array):
    # torch has no string tensors: those stay numpy arrays (torch.save pickles them).
    return torch.as_tensor(array) if array.dtype.kind in "biufc" else array


@st.composite
def data_files(draw):
    kind = draw(st.sampled_from(["npz", "pt", "csv", "bytes"]))
    if kind == "npz":
        buffer = io.BytesIO()
        arrays = draw(st.dictionaries(st.sampled_from(["X", "y", "z"]), _ARRAYS, max_size=3))
        np.savez(buffer, **arrays)
        return "d.npz", buffer.getvalue()
    if kind == "pt":
        buffer = io.BytesIO()
        obj = draw(
            st.one_of(
                st.dictionaries(st.sampled_from(["X", "y"]), _ARRAYS.map(_as_tensor)),
                _LEAVES,
            )
        )
        torch.save(obj, buffer)
        return "d.pt", buffer.getvalue()
    if kind == "csv":
        header = draw(st.lists(st.sampled_from(["a", "b", "y", "", "y"]), min_size=1, max_size=4))
        rows = draw(
            st.lists(
                st.lists(st.sampled_from(["0", "1", "2", "x", "", "nan", "1e400"]), max_size=5),
                max_size=30,
            )
        )
        text = ",".join(header) + "\n" + "\n".join(",".join(r) for r in rows)
        return "d.csv", text.encode()
    name = draw(st.sampled_from(["d.npz", "d.pt", "d.csv", "d.parquet", "d.txt"]))
    return name, draw(st.binary(max_size=300))


_GOOD_X = np.random.default_rng(0).normal(size=(30, 6)).astype("float32")
_GOOD_Y = (np.arange(30) % 3).astype("int64")

_MODEL_BODIES = st.sampled_from(
    [
        "return nn.Sequential(nn.Linear(6, 3))",
        "return nn.Sequential(nn.Linear(7, 3))",
        "return nn.Linear(6, 1)",
        "return nn.Conv2d(3, 4, 3)",
        "return nn.Embedding(10, 3)",
        "return nn.LSTM(6, 3)",
        "raise RuntimeError('boom\\nsecond line')",
        "raise KeyError('p')",
        "raise SystemExit(3)",
        "return None",
        "return 'model'",
        "return nn.Sequential()",
        "return nn.Flatten()",
        "return nn.Identity()",
        "import no_such_module_xyz",
        "return nn.Linear(6, 3).double()",
    ]
)
_MODULE_HEADERS = st.sampled_from(
    [
        "import torch\nfrom torch import nn\n",
        "from torch import nn\nimport no_such_module_abc\n",
        "from torch import nn\nraise ValueError('import-time failure')\n",
        "from torch import nn\ndef broken(:\n",
        "",
    ]
)
_COUNTER = [0]
_SIGNATURES = st.sampled_from(["make()", "make(params)", "make(params, extra)", "make(*a)"])


@_fuzz(1000)
@given(data_files(), st.sampled_from([None, "classification", "regression", "image"]))
def test_random_tune_data_files(data, task):
    name, blob = data
    folder = _TMP / "tune-data"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(blob)
    model = folder / "ok_model.py"
    model.write_text(
        "from torch import nn\ndef make():\n    return nn.Sequential(nn.Linear(6, 3))\n"
    )
    _check_tune_inputs(f"{model}:make", path, task)


@_fuzz(1000)
@given(
    _MODULE_HEADERS,
    _SIGNATURES,
    _MODEL_BODIES,
    st.sampled_from(["make", "missing", "nn"]),
    st.sampled_from([None, "classification", "regression"]),
)
def test_random_tune_model_files(header, signature, body, attr, task):
    folder = _TMP / "tune-model"
    folder.mkdir(exist_ok=True)
    data = folder / "d.npz"
    if not data.exists():
        np.savez(data, X=_GOOD_X, y=_GOOD_Y)
    _COUNTER[0] += 1  # a fresh file name: a rewrite within one second could reuse stale bytecode
    model = folder / f"user_model_{_COUNTER[0]}.py"
    model.write_text(f"{header}\ndef {signature}:\n    {body}\n")
    _check_tune_inputs(f"{model}:{attr}", data, task)


@pytest.mark.parametrize("name", ["d.npz", "d.pt"])
def test_data_file_with_strings_is_a_data_error(tmp_path, name):
    from advisor.errors import DataError
    from advisor.tuning import as_tensors, load_data_file

    path = tmp_path / name
    X = np.array([["a", "b"]] * 8)
    if name.endswith(".npz"):
        np.savez(path, X=X, y=np.zeros(8))
    else:
        torch.save({"X": torch.zeros(8, 2, dtype=torch.complex64), "y": torch.zeros(8)}, path)
    with pytest.raises(DataError) as info:
        as_tensors(load_data_file(path), task="regression")
    _clean_error(info.value)


def test_a_tensor_where_lightning_keeps_a_list_is_a_note(tmp_path):
    # Found by the fuzz test above: `tensor([]) or []` raised RuntimeError, not a note.
    path = tmp_path / "odd.ckpt"
    torch.save(
        {"lr_schedulers": torch.tensor([]), "state_dict": {"fc.weight": torch.zeros(3, 4)}},
        path,
    )
    report = inspect_checkpoint(path, spectral=False, device="cpu")
    assert "training metadata skipped: malformed" in report.training["note"]
