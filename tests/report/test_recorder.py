"""Recorder: logging rules, in-memory curves, live diagnosis, CSV round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest

import advisor
from advisor.errors import ConfigError
from advisor.report import Recorder


def _overfit_run(rec: Recorder, epochs: int = 30) -> None:
    for epoch in range(epochs):
        train = 1.0 * math.exp(-epoch / 6)
        val = (
            0.6 + 0.02 * (epoch - 10) ** 2 / 10 if epoch > 10 else 1.0 * math.exp(-epoch / 6) + 0.45
        )
        rec.log(epoch, train_loss=train, val_loss=val, val_acc=0.9 - 0.002 * max(0, epoch - 10))


def test_top_level_name_resolves_to_report_recorder():
    assert advisor.Recorder is Recorder


def test_log_builds_curves_with_normalised_names():
    rec = Recorder()
    rec.log(0, train_loss=1.0, val_loss=1.2, val_acc=0.5)
    rec.log(1, train_loss=0.8, val_loss=1.0, val_acc=0.6)
    curves = rec.to_curves()
    assert curves.format == "recorder"
    assert set(curves.series) == {("train", "loss"), ("val", "loss"), ("val", "accuracy")}
    assert curves.get("val", "accuracy").mode == "max"
    np.testing.assert_array_equal(curves.val_loss.values, [1.2, 1.0])
    np.testing.assert_array_equal(curves.val_loss.epochs, [0, 1])


def test_same_epoch_merges_train_and_val_logged_separately():
    rec = Recorder()
    rec.log(0, train_loss=1.0)
    rec.log(0, val_loss=1.1)
    rec.log(1, train_loss=0.9, val_loss=1.0)
    assert rec.n_epochs == 2
    assert rec.history("val_loss") == [1.1, 1.0]


def test_missing_values_are_nan_in_history_and_absent_in_the_series():
    rec = Recorder()
    rec.log(0, train_loss=1.0)
    rec.log(1, train_loss=0.9, val_loss=1.0)
    assert math.isnan(rec.history("val_loss")[0])
    assert len(rec.to_curves().val_loss) == 1


def test_tensor_and_numpy_values_are_accepted():
    torch = pytest.importorskip("torch")
    rec = Recorder()
    rec.log(0, train_loss=torch.tensor(0.5), val_loss=np.float32(0.25))
    assert rec.history("train_loss") == [0.5]
    assert rec.history("val_loss") == [0.25]


@pytest.mark.parametrize(
    ("epoch", "metrics", "fragment"),
    [
        (-1, {"val_loss": 1.0}, "epoch must be an int >= 0, got -1"),
        (1.5, {"val_loss": 1.0}, "epoch must be an int >= 0, got 1.5"),
        (True, {"val_loss": 1.0}, "epoch must be an int >= 0"),
        (0, {}, "no metric given"),
        (0, {"val_loss": "low"}, "metric 'val_loss' must be a number, got str 'low'"),
    ],
)
def test_bad_log_calls_raise_one_line_config_errors(epoch, metrics, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace(")", r"\)")) as info:
        Recorder().log(epoch, **metrics)
    assert "\n" not in str(info.value)


def test_epochs_must_not_go_back():
    rec = Recorder()
    rec.log(3, val_loss=1.0)
    with pytest.raises(ConfigError, match="epoch 1 is before the last epoch logged \\(3\\)"):
        rec.log(1, val_loss=0.9)


def test_history_of_unknown_key_names_the_logged_ones():
    rec = Recorder()
    rec.log(0, val_loss=1.0)
    with pytest.raises(ConfigError, match="logged: val_loss"):
        rec.history("val_acc")


def test_diagnose_sees_overfitting_live():
    rec = Recorder()
    _overfit_run(rec)
    fit = rec.diagnose()
    assert fit.verdict == "overfitting"
    assert fit.best_epoch is not None and 5 <= fit.best_epoch <= 15


def test_diagnose_before_any_log_is_an_error():
    with pytest.raises(ConfigError, match="nothing logged yet"):
        Recorder().diagnose()


def test_save_round_trips_through_load_curves(tmp_path):
    rec = Recorder()
    _overfit_run(rec, epochs=12)
    rec.log(12, train_loss=float("nan"), val_loss=2.0, val_acc=0.5, lr=0.01)
    path = rec.save(tmp_path / "run" / "metrics.csv")
    back = advisor.load_curves(path)
    memory = rec.to_curves()
    assert set(back.series) == set(memory.series)
    for key, series in memory.series.items():
        np.testing.assert_allclose(back.series[key].epochs, series.epochs)
        np.testing.assert_allclose(back.series[key].values, series.values, equal_nan=True)
    assert advisor.curves.diagnose_fit(back).verdict == rec.diagnose().verdict


def test_save_refuses_to_overwrite_unless_asked(tmp_path):
    rec = Recorder()
    rec.log(0, train_loss=1.0, val_loss=1.0)
    path = rec.save(tmp_path / "m.csv")
    first = path.read_text()
    rec.log(1, train_loss=0.5, val_loss=0.7)
    with pytest.raises(ConfigError, match="exists; pass overwrite=True"):
        rec.save(path)
    assert path.read_text() == first
    rec.save(path, overwrite=True)
    assert path.read_text().count("\n") == 3


def test_save_empty_recorder_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="nothing logged yet"):
        Recorder().save(tmp_path / "m.csv")
    assert not (tmp_path / "m.csv").exists()


def test_recorder_renders_live_verdict_in_html():
    rec = Recorder()
    _overfit_run(rec)
    html = rec._repr_html_()
    assert "overfitting" in html and "<img" in html
    assert rec.plot().axes


def test_recorder_prints_itself_in_the_terminal():
    from rich.console import Console

    console = Console(record=True, width=100)
    rec = Recorder()
    rec.log(0, train_loss=1.0)
    rec.log(1, train_loss=0.5)
    console.print(rec)
    text = console.export_text()
    assert "Recorder: 2 epochs of train_loss" in text and "training curve alone" in text
    _overfit_run(full := Recorder())
    console.print(full)
    assert "overfitting" in console.export_text()
