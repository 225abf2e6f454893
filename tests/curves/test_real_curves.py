"""Every real log in ../shared/data/real-curves/ is read (or refused with its reason) and diagnosed.

Most of those files carry no licence, so they are read in place and these tests skip where the
folder is absent (a user's clone). Exact figures below were checked against the files by hand.
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np
import pytest

from advisor.curves import load_curves, load_runs
from advisor.errors import AdvisorError

# SUMMARY.md's edge cases that the fit diagnosis may refuse: no validation series at all.
REFUSED_BY_DIAGNOSIS = {"lightning/cub-v5-nan.csv"}

# file -> (format, runs in the file, epochs of the last run, "split/metric" keys of the last run)
EXPECTED = {
    "hf-trainer/codebert-clinical-10ep.json": (
        "hf-trainer",
        1,
        542,
        ["train/loss", "val/accuracy", "val/f1", "val/loss", "val/precision", "val/recall"],
    ),
    "hf-trainer/mt5-az-summarize-steps.json": (
        "hf-trainer",
        1,
        700,
        ["train/loss", "val/loss", "val/rouge1", "val/rouge2", "val/rougel", "val/rougelsum"],
    ),
    "hf-trainer/multigroup-eval-30ep.json": (
        "hf-trainer",
        1,
        31,
        [
            "train/loss",
            "val/accuracy",
            "val/g1_accuracy",
            "val/g1_loss",
            "val/g2_accuracy",
            "val/g2_loss",
            "val/g3_accuracy",
            "val/g3_loss",
            "val/g4_accuracy",
            "val/g4_loss",
            "val/g5_accuracy",
            "val/g5_loss",
            "val/loss",
        ],
    ),
    "hf-trainer/spam-fraud-steps-3ep.json": (
        "hf-trainer",
        1,
        33,
        ["train/loss", "val/accuracy", "val/loss"],
    ),
    "keras/animals100-history-20ep.json": (
        "keras-json",
        1,
        20,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "keras/braintumor-appended-4runs.csv": (
        "keras-csv",
        4,
        5,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "keras/car-cnn-100ep.log": (
        "keras-csv",
        1,
        100,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "keras/cifar10-vgg-grid-144runs.csv": (
        "keras-csv",
        144,
        20,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "keras/en-jv-lstm-63ep.csv": (
        "keras-csv",
        1,
        63,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "keras/fer-100ep.csv": (
        "csv",
        1,
        100,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "keras/maize-history-10ep.json": (
        "keras-json",
        1,
        10,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "keras/voiceid-10ep.log": (
        "keras-csv",
        1,
        10,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "keras/voiceid-intro-10ep.log": (
        "keras-csv",
        1,
        10,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "keras/voiceid-speaker10-15ep.log": (
        "keras-csv",
        1,
        15,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "keras/voiceid-speaker250-50ep.log": (
        "keras-csv",
        1,
        50,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "lightning/cub-v5-nan.csv": (
        "lightning",
        1,
        1,
        ["train/classification_loss", "train/regression_loss"],
    ),
    "lightning/cub-v7.csv": (
        "lightning",
        1,
        8,
        [
            "train/classification_loss",
            "train/regression_loss",
            "val/classification_loss",
            "val/regression_loss",
        ],
    ),
    "lightning/eeg-clf-v16.csv": (
        "lightning",
        1,
        96,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "lightning/eeg-clf-v20.csv": (
        "lightning",
        1,
        31,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "lightning/eeg-clf-v26.csv": (
        "lightning",
        1,
        374,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "lightning/eeg-mel-res-v0.csv": (
        "lightning",
        1,
        311,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "lightning/eeg-tcn-head2-v18.csv": (
        "lightning",
        1,
        34,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "lightning/eeg-tcn-silu-v2-long.csv": (
        "lightning",
        1,
        2292,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "lightning/eeg-tcn-v1.csv": (
        "lightning",
        1,
        38,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "lightning/eeg-trm-v7-nan.csv": (
        "lightning",
        1,
        33,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "lightning/eeg-trm-v8-nan-persist.csv": (
        "lightning",
        1,
        123,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "lightning/eeg-trm14-v3-spike-nan.csv": (
        "lightning",
        1,
        703,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "lightning/eeg-trm34-v0-blowup-nan.csv": (
        "lightning",
        1,
        565,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "lightning/forestcover-v16.csv": (
        "lightning",
        1,
        14,
        ["train/accuracy", "train/loss", "train/loss_0", "val/accuracy", "val/loss", "val/loss_0"],
    ),
    "lightning/forestcover-v2.csv": (
        "lightning",
        1,
        9,
        ["train/accuracy", "train/loss", "train/loss_0", "val/accuracy", "val/loss", "val/loss_0"],
    ),
    "lightning/forestcover-v23.csv": (
        "lightning",
        1,
        15,
        ["train/accuracy", "train/loss", "train/loss_0", "val/accuracy", "val/loss", "val/loss_0"],
    ),
    "lightning/mnist20k-v0.csv": (
        "lightning",
        1,
        20,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "lightning/mnist20k-v5.csv": (
        "lightning",
        1,
        20,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "lightning/robert-sts-v10.csv": (
        "lightning",
        1,
        14,
        ["val/loss", "val/pearson", "val/spearman"],
    ),
    "lightning/robert-sts-v12.csv": (
        "lightning",
        1,
        12,
        ["val/loss", "val/pearson", "val/spearman"],
    ),
    "lightning/robert-sts-v25.csv": (
        "lightning",
        1,
        10,
        ["val/loss", "val/pearson", "val/spearman"],
    ),
    "lightning/swav-cnn-v10-blowup.csv": (
        "lightning",
        1,
        4,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "lightning/swav-cnn-v18.csv": (
        "lightning",
        1,
        20,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "other/cifar10-textlog-35ep.log": ("text-log", 1, 35, ["train/loss", "val/accuracy"]),
    "other/effnet-face-v6-27ep.json": (
        "json",
        1,
        27,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "other/effnet-fer-phases-90ep.json": (
        "json",
        1,
        90,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "other/emotion-pct-noepoch.csv": (
        "csv",
        1,
        30,
        ["train/accuracy", "train/loss", "val/accuracy", "val/loss"],
    ),
    "other/yolo-cls-acne-train4.csv": (
        "ultralytics",
        1,
        50,
        ["train/loss", "val/loss", "val/top1", "val/top5"],
    ),
    "other/yolo-cls-acne-train6.csv": (
        "ultralytics",
        1,
        200,
        ["train/loss", "val/loss", "val/top1", "val/top5"],
    ),
    "other/yolo-cls-mushroom-train5.csv": (
        "ultralytics",
        1,
        50,
        ["train/loss", "val/loss", "val/top1", "val/top5"],
    ),
    "other/yolo-det-printfail-train8.csv": (
        "ultralytics",
        1,
        10,
        [
            "train/box_loss",
            "train/cls_loss",
            "train/dfl_loss",
            "val/box_loss",
            "val/cls_loss",
            "val/dfl_loss",
            "val/map",
            "val/map50",
            "val/precision",
            "val/recall",
        ],
    ),
    "tensorboard/cgi-vs-ai-v49.tfevents": ("tensorboard", 1, 15, ["train/loss", "val/loss"]),
    "tensorboard/cgi-vs-ai-v51.tfevents": ("tensorboard", 1, 14, ["train/loss", "val/loss"]),
    "tensorboard/cgi-vs-ai-v52.tfevents": ("tensorboard", 1, 30, ["train/loss", "val/loss"]),
    "tensorboard/cgi-vs-ai-v53.tfevents": ("tensorboard", 1, 30, ["train/loss", "val/loss"]),
    "tensorboard/yolo-cls-mushroom-train5.tfevents": (
        "tensorboard",
        1,
        50,
        ["train/loss", "val/loss", "val/top1", "val/top5"],
    ),
    "tensorboard/yolo-det-printfail-train8.tfevents": (
        "tensorboard",
        1,
        10,
        [
            "train/box_loss",
            "train/cls_loss",
            "train/dfl_loss",
            "val/box_loss",
            "val/cls_loss",
            "val/dfl_loss",
            "val/map",
            "val/map50",
            "val/precision",
            "val/recall",
        ],
    ),
}


def test_every_file_in_the_folder_is_listed(real_curves_dir):
    found = {
        str(p.relative_to(real_curves_dir))
        for p in real_curves_dir.glob("*/*")
        if p.suffix not in (".md", ".yaml")
    }
    assert found == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_file_is_read(real_curves_dir, name):
    fmt, n_runs, n_epochs, keys = EXPECTED[name]
    runs = load_runs(real_curves_dir / name)
    assert len(runs) == n_runs
    last = runs[-1]
    assert last.format == fmt
    assert last.n_epochs == n_epochs
    assert sorted(f"{s}/{m}" for s, m in last.series) == keys
    for s in last.series.values():
        assert s.mode == (
            "max"
            if s.metric
            in (
                "accuracy",
                "f1",
                "precision",
                "recall",
                "top1",
                "top5",
                "map",
                "map50",
                "pearson",
                "spearman",
            )
            or "accuracy" in s.metric
            or s.metric.startswith("rouge")
            else "min"
        )
    assert last.to_json()  # NaN becomes null, the rest serialises


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_file_is_diagnosed_without_a_crash(real_curves_dir, name):
    if importlib.util.find_spec("advisor.curves._diagnosis") is None:
        pytest.skip("advisor.curves._diagnosis is not there yet")
    from advisor.curves import diagnose_fit

    for curves in load_runs(real_curves_dir / name)[-3:]:
        try:
            verdict = diagnose_fit(curves).to_dict()["verdict"]
        except AdvisorError as exc:  # a documented edge case may be refused, in one clear line
            assert name in REFUSED_BY_DIAGNOSIS, str(exc)
            assert "\n" not in str(exc) and str(exc).startswith(str(real_curves_dir / name))
        else:
            assert verdict


def test_lightning_test_row_is_dropped(real_curves_dir):
    c = load_curves(real_curves_dir / "lightning/eeg-trm-v7-nan.csv")
    assert c.val_loss.epochs[-1] == 32 and np.isnan(c.val_loss.values[-1])  # NaN kept as logged
    assert np.isnan(c.val_loss.values[26]) and np.isfinite(c.val_loss.values[25])
    assert "dropped 1 test-only row(s) at epoch 33 (a test pass, not validation)" in c.notes
    assert ("train", "class_0_acc") not in c.series


def test_lightning_epoch_twins_and_counts(real_curves_dir):
    c = load_curves(real_curves_dir / "lightning/swav-cnn-v18.csv")
    assert c.train_loss.key == "train_loss_epoch" and c.val_loss.key == "val_loss_epoch"
    acc = c.get("train", "accuracy")
    assert acc.scale == "count" and acc.values[-1] == pytest.approx(126.09658813476562)
    assert any("counts of correct samples" in n for n in c.notes)


def test_lightning_validation_only_dev_names(real_curves_dir):
    c = load_curves(real_curves_dir / "lightning/robert-sts-v10.csv")
    assert c.train_loss is None and c.val_loss.key == "dev/avg_loss"
    assert c.val_loss.values[0] == pytest.approx(0.04185691475868225)
    assert c.get("val", "pearson").mode == "max"


def test_lightning_two_heads_without_total(real_curves_dir):
    c = load_curves(real_curves_dir / "lightning/cub-v7.csv")
    assert c.val_loss is None and len(c.get("val", "classification_loss")) == 7
    assert any("no total val loss" in n for n in c.notes)


def test_all_nan_single_epoch_is_loaded(real_curves_dir):
    c = load_curves(real_curves_dir / "lightning/cub-v5-nan.csv")
    assert c.n_epochs == 1 and not c.metrics("val")
    assert np.isnan(c.get("train", "classification_loss").values).all()


def test_long_run_is_fast(real_curves_dir):
    path = real_curves_dir / "lightning/eeg-tcn-silu-v2-long.csv"
    load_curves(path)
    start = time.perf_counter()
    c = load_curves(path)
    elapsed = time.perf_counter() - start
    assert c.n_epochs == 2292
    assert elapsed < 1.0  # generous bound for loaded CI machines; benchmarks/ has the figure


def test_keras_appended_runs(real_curves_dir):
    runs = load_runs(real_curves_dir / "keras/braintumor-appended-4runs.csv")
    assert [r.n_epochs for r in runs] == [5, 4, 10, 5]
    assert [r.run for r in runs][-1] == "run 4 of 4"
    assert runs[0].val_loss.values[0] == pytest.approx(1.0451288223266602)
    c = load_curves(real_curves_dir / "keras/braintumor-appended-4runs.csv")
    assert any("holds 4 runs" in n and "run=K (1-4)" in n for n in c.notes)


def test_keras_grid_of_144_runs(real_curves_dir):
    runs = load_runs(real_curves_dir / "keras/cifar10-vgg-grid-144runs.csv")
    assert len(runs) == 144
    assert sum(r.n_epochs for r in runs) == 3006
    assert runs[0].hparams == {
        "optimization": "Adam",
        "batch_size": 16,
        "learning_rate": 0.05,
        "VGG": 1,
    }
    assert runs[0].train_loss.values[0] == pytest.approx(2.641810178756714)
    assert runs[0].train_loss.epochs[0] == 1


def test_keras_history_json_has_no_epoch(real_curves_dir):
    c = load_curves(real_curves_dir / "keras/animals100-history-20ep.json")
    assert c.format == "keras-json" and c.train_loss.values[0] == pytest.approx(2.4931857585906982)
    assert "ignored non-metric columns lr" in c.notes


def test_hf_multiple_eval_sets(real_curves_dir):
    c = load_curves(real_curves_dir / "hf-trainer/multigroup-eval-30ep.json")
    assert c.val_loss.key == "eval_g0_loss" and c.val_loss.epochs[0] == 0 and len(c.val_loss) == 31
    assert c.val_loss.values[0] == pytest.approx(5.741583347320557)
    assert c.get("val", "g5_loss").key == "eval_g5_loss"


def test_hf_summary_entry_dropped(real_curves_dir):
    c = load_curves(real_curves_dir / "hf-trainer/codebert-clinical-10ep.json")
    assert len(c.val_loss) == 10 and c.val_loss.values[-1] == pytest.approx(0.21420730650424957)
    assert c.train_loss.values[-1] == pytest.approx(0.0003)


def test_tensorboard_lightning_epoch_join(real_curves_dir):
    c = load_curves(real_curves_dir / "tensorboard/cgi-vs-ai-v51.tfevents")
    assert c.val_loss.epochs.tolist() == list(range(16, 30))  # resumed run: epochs as logged
    assert c.val_loss.values[0] == pytest.approx(0.67142254114151)
    assert c.train_loss.values[-1] == pytest.approx(0.7197442650794983)


def test_ultralytics_padded_header(real_curves_dir):
    c = load_curves(real_curves_dir / "other/yolo-cls-mushroom-train5.csv")
    assert c.get("val", "top1").key == "metrics/accuracy_top1"


def test_text_log(real_curves_dir):
    c = load_curves(real_curves_dir / "other/cifar10-textlog-35ep.log")
    assert c.train_loss.values[11] == pytest.approx(0.8007) and c.train_loss.epochs[11] == 12
    assert c.get("val", "accuracy").values[11] == pytest.approx(0.8107)
    assert c.hparams["weight_decay"] == pytest.approx(0.00015)


def test_percent_accuracy_without_epoch_column(real_curves_dir):
    c = load_curves(real_curves_dir / "other/emotion-pct-noepoch.csv")
    assert c.get("val", "accuracy").values[0] == pytest.approx(0.6401564537157758)
    assert c.val_loss.epochs[0] == 0 and c.n_epochs == 30


def test_lightning_hparams_beside_metrics(real_curves_dir, tmp_path):
    version = tmp_path / "lightning_logs" / "version_23"
    version.mkdir(parents=True)
    (version / "metrics.csv").write_bytes(
        (real_curves_dir / "lightning/forestcover-v23.csv").read_bytes()
    )
    (version / "hparams.yaml").write_bytes(
        (real_curves_dir / "lightning/forestcover-v23-hparams.yaml").read_bytes()
    )
    c = load_curves(tmp_path)
    assert c.run == "version_23" and len(c.hparams) > 10
