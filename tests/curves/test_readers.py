"""Readers on the permissively licensed real logs in tests/data/real/ and on small written cases."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from advisor.curves import find_curve_files, load_curves, load_runs
from advisor.curves._align import align
from advisor.curves._normalise import mode_of, normalise_key
from advisor.curves._types import Series
from advisor.errors import CurveFormatError

ROOT = Path(__file__).resolve().parents[2]


# --- real files bundled in the repository -------------------------------------------------------


def test_lightning_mnist_v0(bundled_real_dir):
    c = load_curves(bundled_real_dir / "mnist20k-v0.csv")
    assert c.format == "lightning"
    assert set(c.series) == {
        ("train", "loss"),
        ("train", "accuracy"),
        ("val", "loss"),
        ("val", "accuracy"),
    }
    assert c.n_epochs == 20
    assert c.val_loss.key == "val_loss"
    assert c.val_loss.epochs.tolist() == list(range(20))
    assert c.val_loss.values[0] == pytest.approx(0.26829397678375244)
    assert c.val_loss.values[-1] == pytest.approx(0.0347973071038723)
    # train_loss is logged every 50 steps only: the epoch value is the mean of those steps
    assert c.train_loss.values[0] == pytest.approx(1.0083740523883276)
    assert c.get("val", "accuracy").mode == "max" and c.get("val", "accuracy").scale == "fraction"
    assert c.val_loss.mode == "min"
    assert any("validation-only row(s) at epoch 20" in n for n in c.notes)
    assert any("averaged within each epoch" in n for n in c.notes)


def test_lightning_mnist_v5_dense_steps(bundled_real_dir):
    c = load_curves(bundled_real_dir / "mnist20k-v5.csv")
    assert c.n_epochs == 20
    assert c.train_loss.values[-1] == pytest.approx(0.011396019147743198)
    assert c.val_loss.values[-1] == pytest.approx(0.02731865458190441)


def test_lightning_directory_newest_version_and_hparams(bundled_real_dir, tmp_path):
    logs = tmp_path / "lightning_logs"
    for name, src in (("version_0", "mnist20k-v0.csv"), ("version_10", "mnist20k-v5.csv")):
        (logs / name).mkdir(parents=True)
        shutil.copy(bundled_real_dir / src, logs / name / "metrics.csv")
    shutil.copy(bundled_real_dir / "mnist20k-v0-hparams.yaml", logs / "version_0" / "hparams.yaml")
    (logs / "version_2_911").mkdir()
    shutil.copy(bundled_real_dir / "mnist20k-v0.csv", logs / "version_2_911" / "metrics.csv")
    (logs / "version_11").mkdir()  # crashed run: hparams.yaml only, must be skipped
    (logs / "version_11" / "hparams.yaml").write_text("lr: 1\n")

    newest = load_curves(tmp_path)
    assert newest.run == "version_10"
    assert newest.val_loss.values[-1] == pytest.approx(0.02731865458190441)
    assert any("newest of 3 versions" in n for n in newest.notes)

    runs = load_runs(tmp_path, all_versions=True)
    assert [r.run for r in runs] == ["version_0", "version_2_911", "version_10"]
    assert runs[0].hparams == {"dropout": 0.5, "learning_rate": 0.001}
    assert load_curves(logs, all_versions=True, run=1).run == "version_0"


def test_hf_trainer_mt5_snapshot(bundled_real_dir):
    c = load_curves(bundled_real_dir / "mt5-az-summarize-steps.json")
    assert c.format == "hf-trainer"
    assert len(c.train_loss) == 700 and len(c.val_loss) == 70
    assert c.train_loss.values[0] == pytest.approx(25.5062)  # extreme first value kept as logged
    assert c.val_loss.epochs[0] == pytest.approx(0.03) and c.val_loss.epochs[-1] == pytest.approx(
        2.23
    )
    assert c.val_loss.values[-1] == pytest.approx(2.065276861190796)
    assert c.get("val", "rouge1").mode == "max"
    assert c.hparams["max_steps"] == 9411
    assert any("snapshot at step 7000 of max_steps 9411" in n for n in c.notes)


def test_hf_checkpoint_dir_takes_newest(bundled_real_dir, tmp_path):
    for step in (900, 7000):  # natural order: checkpoint-7000 is newer than checkpoint-900
        (tmp_path / f"checkpoint-{step}").mkdir()
        shutil.copy(
            bundled_real_dir / "mt5-az-summarize-steps.json",
            tmp_path / f"checkpoint-{step}" / "trainer_state.json",
        )
    c = load_curves(tmp_path)
    assert c.source == tmp_path / "checkpoint-7000" / "trainer_state.json"


def test_yolo_csv_and_tfevents_agree_except_revalidation(bundled_real_dir):
    csv_c = load_curves(bundled_real_dir / "yolo-cls-mushroom-train5.csv")
    tb_c = load_curves(bundled_real_dir / "yolo-cls-mushroom-train5.tfevents")
    assert csv_c.format == "ultralytics" and tb_c.format == "tensorboard"
    assert (
        set(csv_c.series)
        == set(tb_c.series)
        == {("train", "loss"), ("val", "loss"), ("val", "top1"), ("val", "top5")}
    )
    for key, s in csv_c.series.items():
        t = tb_c.series[key]
        assert s.epochs.tolist() == t.epochs.tolist() == list(range(1, 51))
        # results.csv rounds to 5 significant digits; the event file holds float32
        np.testing.assert_allclose(s.values[:-1], t.values[:-1], rtol=1e-4)
    # the documented n+1 point: the best checkpoint re-validated at the last step
    assert csv_c.get("val", "top1").values[-1] == pytest.approx(0.37712)
    assert tb_c.get("val", "top1").values[-1] == pytest.approx(0.4025424)
    assert any("logged twice at the same step" in n for n in tb_c.notes)
    assert any("1-based" in n for n in csv_c.notes)


def test_event_file_found_by_content_under_any_name(bundled_real_dir, tmp_path):
    renamed = tmp_path / "run.bin"
    shutil.copy(bundled_real_dir / "yolo-cls-mushroom-train5.tfevents", renamed)
    assert load_curves(renamed).format == "tensorboard"


def test_event_directory_and_find_curve_files(bundled_real_dir, tmp_path):
    run = tmp_path / "runs" / "classify" / "train5"
    run.mkdir(parents=True)
    shutil.copy(
        bundled_real_dir / "yolo-cls-mushroom-train5.tfevents",
        run / "events.out.tfevents.1727641305.host.1.0",
    )
    shutil.copy(bundled_real_dir / "yolo-cls-mushroom-train5.csv", run / "results.csv")
    found = find_curve_files(tmp_path)
    assert sorted(p.name for p in found) == [
        "events.out.tfevents.1727641305.host.1.0",
        "results.csv",
    ]
    assert load_curves(run).format == "tensorboard"
    assert find_curve_files(tmp_path / "absent") == []


# --- small written cases -------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


def test_keras_csv_appended_runs(tmp_path):
    p = write(
        tmp_path,
        "training.log",
        "epoch,accuracy,loss,val_accuracy,val_loss\n"
        "0,0.5,1.0,0.4,1.1\n1,0.6,0.8,0.5,0.9\n0,0.3,1.5,0.3,1.4\n1,0.4,1.2,0.35,1.3\n2,0.5,1.0,0.4,1.2\n",
    )
    runs = load_runs(p)
    assert [r.run for r in runs] == ["run 1 of 2", "run 2 of 2"]
    assert [r.n_epochs for r in runs] == [2, 3]
    last = load_curves(p)
    assert last.format == "keras-csv" and last.val_loss.values.tolist() == [1.4, 1.3, 1.2]
    assert any("holds 2 runs" in n and "run=K" in n for n in last.notes)
    assert load_curves(p, run=1).val_loss.values.tolist() == [1.1, 0.9]
    with pytest.raises(CurveFormatError, match="run must be an int from 1 to 2"):
        load_curves(p, run=3)


def test_grid_csv_hyperparameters_per_run(tmp_path):
    p = write(
        tmp_path,
        "grid.csv",
        "Epoch,loss,val_loss,time,optimization,lr\n"
        "1,2.0,2.1,10.5,Adam,0.1\n2,1.0,1.1,10.5,Adam,0.1\n1,3.0,3.1,9.0,SGD,0.01\n",
    )
    runs = load_runs(p)
    assert [r.hparams for r in runs] == [
        {"optimization": "Adam", "lr": 0.1},
        {"optimization": "SGD", "lr": 0.01},
    ]


def test_keras_history_json_and_percent_json(tmp_path):
    p = write(
        tmp_path,
        "h.json",
        json.dumps(
            {
                "loss": [1.0, 0.5],
                "val_loss": [1.2, 0.9],
                "acc": [50.0, 75.0],
                "val_acc": [40.0, 60.0],
                "backbone": "b0",
            }
        ),
    )
    c = load_curves(p)
    assert c.format == "json" and c.hparams == {"backbone": "b0"}
    assert c.get("val", "accuracy").values.tolist() == [0.4, 0.6]
    assert any("percent" in n for n in c.notes)
    p2 = write(tmp_path, "k.json", json.dumps({"loss": [1.0, 0.5], "val_loss": [1.2, 0.9]}))
    assert load_curves(p2).format == "keras-json"


def test_records_json(tmp_path):
    p = write(
        tmp_path,
        "r.json",
        json.dumps([{"epoch": 0, "loss": 1.0, "val_loss": 1.1}, {"epoch": 1, "loss": 0.5}]),
    )
    c = load_curves(p)
    assert c.val_loss.values[0] == 1.1 and math.isnan(c.val_loss.values[1])


def test_count_accuracy_kept_as_counts(tmp_path):
    p = write(
        tmp_path, "m.csv", "epoch,train_acc,val_acc,loss,val_loss\n0,120,90,1,1\n1,126,98,0.5,0.9\n"
    )
    c = load_curves(p)
    assert c.get("val", "accuracy").scale == "count" and c.get(
        "val", "accuracy"
    ).values.tolist() == [90, 98]


def test_hf_nan_token_summary_and_eval_sets(tmp_path):
    state = (
        '{"log_history": ['
        '{"epoch": 0, "step": 0, "eval_a_loss": 2.0, "eval_a_runtime": 1},'
        '{"epoch": 0, "step": 0, "eval_b_loss": 3.0, "eval_b_runtime": 1},'
        '{"epoch": 0.5, "step": 5, "loss": NaN},'
        '{"epoch": 1.0, "step": 10, "loss": 1.5},'
        '{"epoch": 1.0, "step": 10, "eval_a_loss": 1.8, "eval_a_runtime": 1},'
        '{"epoch": 1.0, "step": 10, "eval_b_loss": 2.8, "eval_b_runtime": 1},'
        '{"epoch": 1.0, "step": 10, "train_loss": 1.7, "train_runtime": 3}]}'
    )
    c = load_curves(write(tmp_path, "trainer_state.json", state))
    assert c.val_loss.key == "eval_a_loss" and c.val_loss.values.tolist() == [2.0, 1.8]
    assert c.get("val", "b_loss").values.tolist() == [3.0, 2.8]
    assert math.isnan(c.train_loss.values[0]) and c.train_loss.values[1] == 1.5
    assert any("summary entry" in n for n in c.notes)
    assert any("epoch 0, before any training" in n for n in c.notes)


def test_text_log_with_gbk_bytes(tmp_path):
    text = (
        "2025-06-04 17:36:55,374 - INFO - \xd1\xb5\xc1\xb7:\n".encode("latin-1")
        + b"2025-06-04 17:36:55,379 - INFO -   batch_size: 128\n"
        + b"2025-06-04 17:39:02,341 - INFO - Epoch 1/3, Train Loss: 1.6279, Test Acc: 59.86%\n"
        + b"2025-06-04 17:41:24,241 - INFO - Epoch 2/3, Train Loss: 1.2434, Test Acc: 69.33%\n"
        + b"2025-06-04 17:41:24,241 - INFO - Epoch 3/3, Train Loss: 1.1, Test Acc: 70.00%\n"
        + b"2025-06-04 17:41:24,241 - INFO - Best test accuracy: 70.00%\n"
    )
    c = load_curves(write(tmp_path, "training.log", text))
    assert c.format == "text-log" and c.hparams == {"batch_size": 128}
    assert c.train_loss.values.tolist() == [1.6279, 1.2434, 1.1]
    assert c.get("val", "accuracy").values.tolist() == pytest.approx([0.5986, 0.6933, 0.70])
    assert set(c.series) == {("train", "loss"), ("val", "accuracy")}
    assert any(
        "test-set series Test Acc logged during training are used as validation" in n
        for n in c.notes
    )


def test_keras_console_text_log(tmp_path):
    text = (
        "Epoch 1/2\n100/100 [====] - 2s - loss: 0.9 - accuracy: 0.6 - val_loss: 1.0 - val_accuracy: 0.5\n"
        "Epoch 2/2\n100/100 [====] - 2s - loss: 0.7 - accuracy: 0.7 - val_loss: 0.95 - val_accuracy: 0.55\n"
    )
    c = load_curves(write(tmp_path, "out.txt", text))
    assert c.val_loss.values.tolist() == [1.0, 0.95] and c.train_loss.epochs.tolist() == [1, 2]


def test_explicit_mapping(tmp_path):
    p = write(tmp_path, "custom.csv", "it,cost_a,cost_b,quality\n0,1.0,1.2,0.3\n1,0.8,1.1,0.4\n")
    with pytest.raises(CurveFormatError, match="no train or validation metric recognised"):
        load_curves(p)
    c = load_curves(p, train_key="cost_a", val_key="cost_b", metric_key="quality")
    assert c.train_loss.values.tolist() == [1.0, 0.8] and c.val_loss.key == "cost_b"
    assert c.get("val", "quality").values.tolist() == [0.3, 0.4]
    with pytest.raises(
        CurveFormatError, match=r"--val 'cost_bb' names no series.*Did you mean 'cost_b'"
    ):
        load_curves(p, val_key="cost_bb")


def test_test_columns_become_validation_only_when_logged_during_training(tmp_path):
    p = write(tmp_path, "t.csv", "epoch,loss,test_loss\n0,1,1.1\n1,0.5,0.9\n")
    c = load_curves(p)
    assert c.val_loss.key == "test_loss"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "the file is empty"),
        (b"\n\n  \n", "only whitespace"),
        (b"epoch,loss,val_loss\n", "no data rows"),
        (b"epoch,loss,val_loss\n0,abc,1\n", r"non-numeric value 'abc' in column 'loss' at line 2"),
        (b"foo,bar\n1,2\n", "no train or validation metric recognised \\(columns: foo, bar\\)"),
        (b"\x00\x01\x02binary\x00", "binary file"),
        (b"PK\x03\x04rest", "zip archive"),
        (b'{"loss": [1, 2', "not valid JSON"),
        (b'{"name": "x"}', "no lists of numbers"),
        (b"epoch,loss\n0,1,2,3\n", "line 2 has 4 fields"),
        (b"just some words\nand more\n", "no train or validation metric recognised"),
    ],
)
def test_bad_input_gets_one_line_error(tmp_path, content, match):
    p = write(tmp_path, "bad.csv", content)
    with pytest.raises(CurveFormatError, match=match) as info:
        load_curves(p)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(p))


def test_missing_path_and_empty_dir(tmp_path):
    with pytest.raises(CurveFormatError, match="no such file"):
        load_curves(tmp_path / "nope.csv")
    with pytest.raises(CurveFormatError, match="no learning-curve logs found"):
        load_curves(tmp_path)


def test_truncated_event_file_is_a_clean_error(bundled_real_dir, tmp_path):
    data = (bundled_real_dir / "yolo-cls-mushroom-train5.tfevents").read_bytes()
    p = write(tmp_path, "cut.tfevents", data[:60])
    try:
        c = load_curves(p)
    except CurveFormatError:
        return
    assert c.format == "tensorboard"


# --- names, modes, alignment ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("val_loss", ("val", "loss", "")),
        ("valid_loss", ("val", "loss", "")),
        ("eval_loss", ("val", "loss", "")),
        ("validation/loss", ("val", "loss", "")),
        ("val_acc", ("val", "accuracy", "")),
        ("val_accuracy", ("val", "accuracy", "")),
        ("dev/avg_loss", ("val", "loss", "")),
        ("Validation Loss", ("val", "loss", "")),
        ("train_loss_epoch", ("train", "loss", "epoch")),
        ("loss", ("train", "loss", "")),
        ("acc", ("train", "accuracy", "")),
        ("metrics/accuracy_top1", ("val", "top1", "")),
        ("metrics/mAP50-95(B)", ("val", "map", "")),
        ("val/box_loss", ("val", "box_loss", "")),
        ("test_acc", ("test", "accuracy", "")),
        ("eval/loss", ("val", "loss", "")),
        ("Loss/train", ("train", "loss", "")),
        ("validation/epoch_loss", ("val", "loss", "")),
        ("eval_f1", ("val", "f1", "")),
        ("val_perplexity", ("val", "perplexity", "")),
    ],
)
def test_normalise_key(key, expected):
    assert normalise_key(key) == expected


@pytest.mark.parametrize(
    "key", ["epoch", "step", "lr", "learning_rate", "lr/pg0", "eval_runtime", "time", "VGG"]
)
def test_bookkeeping_is_not_a_metric(key):
    assert normalise_key(key) is None


def test_modes():
    assert [
        mode_of(m)
        for m in ("loss", "accuracy", "f1", "auc", "perplexity", "box_loss", "rouge1", "mae")
    ] == ["min", "max", "max", "max", "min", "min", "max", "min"]


def test_align_dense_train_to_sparse_validation():
    train = Series("train", "loss", "loss", [0.5, 1.0, 1.5, 2.0], [4.0, 2.0, 3.0, 1.0])
    val = Series("val", "loss", "eval_loss", [0.0, 1.0, 2.0, 3.0], [5.0, 2.5, 2.2, 2.1])
    epochs, t, v = align(train, val)
    assert epochs.tolist() == [0, 1, 2, 3] and v.tolist() == [5.0, 2.5, 2.2, 2.1]
    assert math.isnan(t[0]) and t[1:].tolist() == [3.0, 2.0, 1.0]


# --- import cost ---------------------------------------------------------------------------------


def test_loading_a_csv_does_not_import_torch(bundled_real_dir):
    code = (
        "import sys; from advisor.curves import load_curves; "
        f"load_curves({str(bundled_real_dir / 'mnist20k-v0.csv')!r}); "
        "heavy = [m for m in ('torch', 'tensorboard', 'pandas', 'optuna', 'sklearn', 'matplotlib') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- event files written here with tensorboard's own writer --------------------------------------


def write_events(directory: Path, points: list[tuple[str, int, float]]) -> None:
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(directory))
    for tag, step, value in points:
        writer.add_event(
            Event(step=step, summary=Summary(value=[Summary.Value(tag=tag, simple_value=value)]))
        )
    writer.close()


def test_lightning_events_joined_to_epoch_tag(tmp_path):
    points = []
    for epoch in range(3):
        for step in range(epoch * 10, epoch * 10 + 10, 5):
            points += [("train_loss_step", step, 1.0 + step), ("epoch", step, float(epoch))]
        points += [
            ("val_loss", epoch * 10 + 9, 0.5 - epoch * 0.1),
            ("epoch", epoch * 10 + 9, float(epoch)),
        ]
    write_events(tmp_path, points)
    c = load_curves(tmp_path)
    assert c.format == "tensorboard"
    assert c.val_loss.epochs.tolist() == [0, 1, 2] and c.val_loss.values == pytest.approx(
        [0.5, 0.4, 0.3]
    )
    assert c.train_loss.values.tolist() == [
        3.5,
        13.5,
        23.5,
    ]  # mean of the two step values per epoch
    assert any("train_loss_step logged per batch" in n for n in c.notes)


def test_keras_tensorboard_train_and_validation_dirs(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "validation").mkdir()
    write_events(tmp_path / "train", [("epoch_loss", 0, 1.0), ("epoch_loss", 1, 0.8)])
    write_events(tmp_path / "validation", [("epoch_loss", 0, 1.1), ("epoch_loss", 1, 0.9)])
    c = load_curves(tmp_path)
    assert c.train_loss.values.tolist() == pytest.approx([1.0, 0.8])
    assert c.val_loss.values.tolist() == pytest.approx([1.1, 0.9])


def test_unsafe_hparams_yaml_is_skipped_not_fatal(bundled_real_dir, tmp_path):
    shutil.copy(bundled_real_dir / "mnist20k-v0.csv", tmp_path / "metrics.csv")
    (tmp_path / "hparams.yaml").write_text("model: !!python/object:os.system {}\n")
    c = load_curves(tmp_path)
    assert c.hparams == {} and any("not plain YAML" in n for n in c.notes)


def test_directory_with_one_loose_log_and_with_several(tmp_path):
    write(tmp_path, "my_run.csv", "epoch,loss,val_loss\n0,1,1.1\n1,0.5,0.9\n")
    assert load_curves(tmp_path).source == tmp_path / "my_run.csv"
    write(tmp_path, "other.csv", "epoch,loss,val_loss\n0,1,1.1\n")
    with pytest.raises(CurveFormatError, match="2 candidate logs and none with a known name"):
        load_curves(tmp_path)


def test_fastai_history_metrics_are_validation(tmp_path):
    p = write(
        tmp_path,
        "history.csv",
        "epoch,train_loss,valid_loss,accuracy,time\n0,1.2,1.0,0.6,00:12\n1,0.9,0.8,0.7,00:11\n",
    )
    c = load_curves(p)
    assert c.format == "fastai"
    assert (
        c.get("val", "accuracy").values.tolist() == [0.6, 0.7]
        and c.get("train", "accuracy") is None
    )
    assert c.val_loss.key == "valid_loss"


def test_json_lines(tmp_path):
    p = write(
        tmp_path,
        "metrics.json",
        '{"epoch": 0, "loss": 1.0, "val_loss": 1.2}\n{"epoch": 1, "loss": 0.7, "val_loss": 1.0}\n',
    )
    c = load_curves(p)
    assert c.val_loss.values.tolist() == [1.2, 1.0]
    with pytest.raises(CurveFormatError, match="not valid JSON"):
        load_curves(write(tmp_path, "bad.json", '{"epoch": 0}\n[1, 2]\n'))


def test_version_dir_with_only_hparams(tmp_path):
    (tmp_path / "hparams.yaml").write_text("lr: 0.1\n")
    with pytest.raises(CurveFormatError, match="holds hparams.yaml but no metrics.csv"):
        load_curves(tmp_path)


_CSV = "epoch,train_loss,val_loss\n0,1.0,1.1\n1,0.9,1.0\n2,0.8,1.0\n"


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf" + _CSV.encode(),  # UTF-8 with BOM
        _CSV.encode("utf-16"),  # BOM + native order (LE here)
        b"\xfe\xff" + _CSV.encode("utf-16-be"),
        b"\xff\xfe" + _CSV.encode("utf-16-le"),
        _CSV.encode("utf-16-le"),  # no BOM: recognised by its zero bytes
        _CSV.encode("utf-32"),
    ],
    ids=["utf-8-sig", "utf-16", "utf-16-be", "utf-16-le", "utf-16-le-no-bom", "utf-32"],
)
def test_encoded_csv_is_decoded_not_called_binary(tmp_path, data):
    c = load_curves(write(tmp_path, "metrics.csv", data))
    assert c.train_loss.values.tolist() == [1.0, 0.9, 0.8]
    assert c.val_loss.values.tolist() == [1.1, 1.0, 1.0]
    assert not any("epoch" in n and "dropped" in n for n in c.notes)


def test_non_utf8_bytes_in_csv_header_name_the_expected_encoding(tmp_path):
    with pytest.raises(CurveFormatError) as info:
        load_curves(write(tmp_path, "metrics.csv", b"\xb5\xd1" + _CSV.encode()))
    message = str(info.value)
    assert "\n" not in message and "0xb5" in message and "not UTF-8" in message
    assert "re-save the log as UTF-8" in message


def test_truncated_utf16_is_one_line(tmp_path):
    with pytest.raises(CurveFormatError, match="not valid UTF-16 LE.*re-save the log as UTF-8"):
        load_curves(write(tmp_path, "metrics.csv", _CSV.encode("utf-16")[:-1]))


def test_literal_replacement_character_in_a_utf8_header_is_not_an_encoding_error(tmp_path):
    text = "epoch,train_loss,val_loss,note\ufffd\n0,1.0,1.1,1\n1,0.9,1.0,1\n"
    c = load_curves(write(tmp_path, "metrics.csv", text.encode()))
    assert c.train_loss.values.tolist() == [1.0, 0.9]
