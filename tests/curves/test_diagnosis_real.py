"""The fit diagnosis on every real run in the shared folder, and on clearly-labelled ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.curves import load_curves, load_runs
from advisor.curves._diagnosis import VERDICTS, diagnose_fit
from advisor.errors import CurveFormatError

# Runs whose regime the PROVENANCE/SUMMARY notes state plainly.
LABELLED = {
    "lightning/eeg-clf-v26.csv": {"overfitting"},  # severe overfit
    "lightning/eeg-trm-v8-nan-persist.csv": {"diverging"},  # NaN from epoch 32, kept running
    "lightning/eeg-trm-v7-nan.csv": {"diverging"},
    "lightning/eeg-trm34-v0-blowup-nan.csv": {"diverging"},
    "lightning/eeg-trm14-v3-spike-nan.csv": {"diverging"},  # spike recovers, NaN later
    "lightning/swav-cnn-v10-blowup.csv": {"diverging"},  # 0.19 -> 22.8 in 5 epochs
    "lightning/eeg-clf-v20.csv": {"underfitting", "diverging"},  # stuck near ln 6
    "lightning/eeg-clf-v16.csv": {"not_converged", "underfitting"},  # slow descent from ln 6
    "lightning/mnist20k-v0.csv": {"good_fit", "not_converged"},
    "lightning/mnist20k-v5.csv": {"good_fit", "not_converged"},
    "keras/voiceid-speaker250-50ep.log": {
        "overfitting"
    },  # val loss best at epoch 0, +30 % by the end
}


def _curve_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix != ".md" and not p.name.endswith("hparams.yaml")
    )


@pytest.mark.slow
def test_every_real_run_is_diagnosed_without_crash(real_curves_dir):
    verdicts = {}
    for path in _curve_files(real_curves_dir):
        try:
            runs = load_runs(path)
        except CurveFormatError:
            continue  # the readers' tests cover unreadable files
        for curves in runs:
            try:
                fit = diagnose_fit(curves)
            except CurveFormatError as exc:
                # Allowed only for runs without a usable validation series, with a one-line reason.
                assert "\n" not in str(exc) and ("validation" in str(exc) or "epoch" in str(exc))
                continue
            assert fit.verdict in VERDICTS
            assert 0.0 <= fit.confidence <= 1.0
            assert fit.evidence and all(isinstance(e, str) for e in fit.evidence)
            if fit.best_index is not None:
                assert 0 <= fit.best_index < len(fit.val_values)
            fit.to_json()  # strict JSON: must not raise on NaN
            verdicts[(path.name, curves.run)] = fit.verdict
    assert len(verdicts) > 150  # 196 runs in the folder, a few without validation
    assert set(verdicts.values()) == set(VERDICTS)  # every regime is represented in the data


@pytest.mark.parametrize("name", sorted(LABELLED))
def test_labelled_runs(real_curves_dir, name):
    fit = diagnose_fit(load_curves(real_curves_dir / name))
    assert fit.verdict in LABELLED[name], fit.evidence


def test_first_nan_epoch_is_reported(real_curves_dir):
    fit = diagnose_fit(load_curves(real_curves_dir / "lightning/eeg-trm-v8-nan-persist.csv"))
    assert fit.first_nonfinite_epoch is not None and 28 <= fit.first_nonfinite_epoch <= 34
    assert fit.stop_epoch < fit.first_nonfinite_epoch


def test_onset_on_severe_overfit(real_curves_dir):
    fit = diagnose_fit(load_curves(real_curves_dir / "lightning/eeg-clf-v26.csv"))
    assert fit.onset_index is not None and fit.onset_epoch < 100
    assert fit.gap["end_abs"] > fit.gap["best_abs"]


def test_chance_level_inferred_for_eeg(real_curves_dir):
    fit = diagnose_fit(load_curves(real_curves_dir / "lightning/eeg-clf-v20.csv"))
    assert fit.chance is not None and fit.chance["classes"] == 6


def test_loss_up_accuracy_up_gives_both_readings(real_curves_dir):
    fit = diagnose_fit(load_curves(real_curves_dir / "keras/voiceid-speaker250-50ep.log"))
    assert any("disagree" in e for e in fit.evidence)


def test_training_only_nan_components_are_diverging(real_curves_dir):
    # No validation rows, and the two training loss components are NaN: judged from training alone.
    fit = diagnose_fit(load_curves(real_curves_dir / "lightning/cub-v5-nan.csv"))
    assert fit.train_only and fit.verdict == "diverging"


def test_bundled_mnist_is_good(bundled_real_dir):
    fit = diagnose_fit(load_curves(bundled_real_dir / "mnist20k-v0.csv"))
    assert fit.verdict in {"good_fit", "not_converged"}
    assert fit.best_epoch >= 10


def test_cifar_grid_runs_stuck_at_ln10_are_dead(real_curves_dir):
    # SUMMARY.md: 69 of the 144 grid runs sit at ln 10 = 2.303 (42 after an extreme first epoch).
    runs = load_runs(real_curves_dir / "keras/cifar10-vgg-grid-144runs.csv")
    fits = [diagnose_fit(r) for r in runs]
    dead = [f for f in fits if f.rule == "dead-at-chance"]
    assert 50 <= len(dead) <= 75
    assert all(f.chance["classes"] == 10 for f in dead)
