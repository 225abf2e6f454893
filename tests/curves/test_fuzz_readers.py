"""Property-based tests: random and truncated input to every reader gives a clean error, never a crash."""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.curves import load_runs
from advisor.errors import CurveFormatError

BUNDLED = Path(__file__).resolve().parents[1] / "data" / "real"
REAL_FILES = sorted(p for p in BUNDLED.iterdir() if p.suffix in (".csv", ".json", ".tfevents"))
_TMP = Path(tempfile.mkdtemp(prefix="advisor-fuzz-"))
atexit.register(shutil.rmtree, _TMP, True)
# 7 tests x 150 = 1,050 cases; with tests/inspect/test_fuzz_checkpoints.py (checkpoints and
# advisor tune inputs, 9,400 cases) the fuzzing generates 10,450 cases per CI run.
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_bytes_as(data: bytes, name: str) -> None:
    """Load ``data`` saved under ``name``: any result is fine, any error must be a CurveFormatError."""
    path = _TMP / name
    path.write_bytes(data)
    try:
        runs = load_runs(path)
    except CurveFormatError as exc:
        message = str(exc)
        assert message and "\n" not in message, message
        return
    for curves in runs:
        assert curves.series
        curves.to_json()


@FUZZ
@given(
    st.binary(max_size=600),
    st.sampled_from(["x.csv", "x.json", "x.log", "x.tfevents", "metrics.csv"]),
)
def test_random_bytes(data, name):
    read_bytes_as(data, name)


@FUZZ
@given(st.sampled_from(REAL_FILES), st.floats(min_value=0.0, max_value=1.0))
def test_truncated_real_files(path, fraction):
    data = path.read_bytes()
    read_bytes_as(data[: int(len(data) * fraction)], path.name)


@FUZZ
@given(
    st.sampled_from(REAL_FILES),
    st.integers(min_value=0, max_value=10_000),
    st.binary(min_size=1, max_size=8),
)
def test_corrupted_real_files(path, offset, junk):
    data = bytearray(path.read_bytes()[:12_000])
    at = offset % max(len(data), 1)
    data[at : at + len(junk)] = junk
    read_bytes_as(bytes(data), path.name)


_NAMES = st.sampled_from(
    [
        "epoch",
        "step",
        "loss",
        "val_loss",
        "acc",
        "val_acc",
        "train_loss_step",
        "train_loss_epoch",
        "test_acc",
        "Epoch",
        "lr",
        "foo",
        "",
        "val/loss",
        "metrics/accuracy_top1",
        "eval_loss",
    ]
)
_CELLS = st.sampled_from(
    [
        "",
        "0",
        "1",
        "2",
        "0.5",
        "-1",
        "nan",
        "inf",
        "-inf",
        "1e400",
        "abc",
        "tensor(0.3)",
        "100",
        "250.5",
        '"',
        "1,2",
        " 3 ",
        "NaN",
    ]
)


@FUZZ
@given(
    st.lists(_NAMES, min_size=1, max_size=6),
    st.lists(st.lists(_CELLS, max_size=8), max_size=12),
    st.sampled_from([",", "\t", ";"]),
)
def test_random_csv(header, rows, delim):
    text = delim.join(header) + "\n" + "\n".join(delim.join(r) for r in rows)
    read_bytes_as(text.encode(), "random.csv")


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=True)
    | st.integers()
    | st.sampled_from([10**400, -(10**400)])  # beyond float range
    | st.sampled_from(["loss", "val_loss", "x"]),
    lambda children: (
        st.lists(children, max_size=6)
        | st.dictionaries(
            st.sampled_from(
                [
                    "loss",
                    "val_loss",
                    "acc",
                    "epoch",
                    "step",
                    "log_history",
                    "eval_loss",
                    "history",
                    "eval_runtime",
                    "train_runtime",
                    "global_step",
                    "max_steps",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


@FUZZ
@given(_JSON, st.sampled_from(["trainer_state.json", "history.json"]))
def test_random_json(value, name):
    read_bytes_as(json.dumps(value).encode(), name)


@FUZZ
@given(st.lists(st.lists(_NAMES, max_size=3), max_size=8), st.lists(_CELLS, max_size=20))
def test_random_trainer_state_entries(keys, cells):
    entries = []
    it = iter(cells)
    for ks in keys:
        entry = {}
        for k in ks:
            cell = next(it, "1")
            try:
                entry[k or "epoch"] = float(cell)
            except ValueError:
                entry[k or "epoch"] = cell
        entries.append(entry)
    read_bytes_as(json.dumps({"log_history": entries}).encode(), "trainer_state.json")


_LOG_PARTS = st.sampled_from(
    [
        "Epoch 1/3",
        "Epoch 2",
        "epoch=3",
        "Train Loss: 0.5",
        "Test Acc: 81%",
        "loss: nan",
        "val_loss: 1e9",
        " - ",
        ", ",
        "Best: 3",
        "  lr: 0.1",
        "\ufffd",
        "acc = -",
        "Epoch",
    ]
)


@FUZZ
@given(st.lists(st.lists(_LOG_PARTS, max_size=5), max_size=10))
def test_random_text_logs(lines):
    read_bytes_as("\n".join("".join(parts) for parts in lines).encode(), "training.log")


def test_test_rows_at_a_non_finite_epoch_are_dropped_without_a_crash():
    # Found by test_random_csv: the note naming the dropped test rows' epochs did int(nan).
    for epoch in ("nan", "inf"):
        text = f"step,epoch,epoch,epoch,epoch,test_acc\n,{epoch},,,,0\n"
        read_bytes_as(text.encode(), f"test_rows_{epoch}.csv")
