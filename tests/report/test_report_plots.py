"""Plots return Figures with the artists a reader relies on: curves, best point, onset, gap, stop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from advisor.curves import Curves, Series, diagnose_fit, load_curves
from advisor.errors import ConfigError
from advisor.report import plot, plot_curves, plot_recommendations, plot_tuning, plot_weights
from advisor.report._plot_curves import LABEL_BEST, LABEL_GAP, LABEL_ONSET, LABEL_STOP


def _curves(train, val, acc=None) -> Curves:
    epochs = np.arange(len(train), dtype=float)
    series = {
        ("train", "loss"): Series("train", "loss", "train_loss", epochs, np.asarray(train, float)),
        ("val", "loss"): Series("val", "loss", "val_loss", epochs, np.asarray(val, float)),
    }
    if acc is not None:
        series[("val", "accuracy")] = Series(
            "val", "accuracy", "val_acc", epochs, np.asarray(acc, float), mode="max"
        )
    return Curves(series=series, format="recorder")


@pytest.fixture(scope="module")
def overfit():
    e = np.arange(40, dtype=float)
    train = np.exp(-e / 8)
    val = 0.35 + 0.6 * np.exp(-e / 6) + 0.004 * np.maximum(e - 12, 0) ** 1.5
    acc = 0.9 - 0.002 * np.maximum(e - 12, 0)
    curves = _curves(train, val, acc)
    return curves, diagnose_fit(curves)


def _labels(ax) -> list[str]:
    return [artist.get_label() for artist in [*ax.get_lines(), *ax.collections]]


def test_overfit_plot_marks_best_onset_gap_and_stop(overfit):
    curves, fit = overfit
    assert fit.verdict == "overfitting" and fit.onset_epoch is not None
    fig = plot_curves(curves, fit)
    ax = fig.axes[0]
    labels = _labels(ax)
    assert any(lab.startswith("train loss") for lab in labels)
    assert any(lab.startswith("val loss") for lab in labels)
    best = [line for line in ax.get_lines() if line.get_gid() == LABEL_BEST]
    assert len(best) == 1
    np.testing.assert_allclose(best[0].get_xdata(), [fit.best_epoch])
    onset = [line for line in ax.get_lines() if line.get_gid() == LABEL_ONSET]
    assert onset and onset[0].get_xdata()[0] == pytest.approx(fit.onset_epoch)
    stop = [line for line in ax.get_lines() if line.get_gid() == LABEL_STOP]
    assert stop and stop[0].get_xdata()[0] == pytest.approx(fit.stop_epoch)
    gap = [c for c in ax.collections if c.get_gid() == LABEL_GAP]
    assert len(gap) == 1
    # The shaded gap starts at the onset, not at epoch 0.
    xs = np.concatenate([p.vertices[:, 0] for p in gap[0].get_paths()])
    assert xs.min() >= fit.onset_epoch - 1e-9
    assert any(t.get_gid() == LABEL_BEST and "best loss" in t.get_text() for t in ax.texts)
    assert "overfitting" in fig._suptitle.get_text()


def test_second_panel_shows_the_validation_metric(overfit):
    curves, fit = overfit
    fig = plot_curves(curves, fit)
    assert len(fig.axes) == 2
    assert fig.axes[1].get_ylabel() == "accuracy"


def test_fit_alone_is_enough_to_plot(overfit):
    _, fit = overfit
    fig = fit.plot()
    assert len(fig.axes) == 1
    assert any(line.get_gid() == LABEL_BEST for line in fig.axes[0].get_lines())


def test_curves_without_fit_have_no_annotations(overfit):
    curves, _ = overfit
    fig = curves.plot()
    ax = fig.axes[0]
    assert not [
        a
        for a in [*ax.get_lines(), *ax.collections]
        if a.get_gid() in (LABEL_BEST, LABEL_GAP, LABEL_STOP)
    ]
    assert fig._suptitle.get_text().startswith("learning curves")


def test_no_gap_when_there_is_no_train_curve():
    e = np.arange(10.0)
    curves = Curves(
        series={("val", "loss"): Series("val", "loss", "val_loss", e, 1 / (e + 1))}, format="csv"
    )
    fig = plot_curves(curves, diagnose_fit(curves))
    assert not [c for c in fig.axes[0].collections if c.get_gid() == LABEL_GAP]


def test_real_lightning_run(bundled_real_dir):
    path = (
        bundled_real_dir.parent.parent.parent
        / "examples/runs/mnist20k/lightning_logs/version_0/metrics.csv"
    )
    curves = load_curves(path)
    fig = plot_curves(curves, diagnose_fit(curves))
    assert len(fig.axes) == 2
    assert "metrics.csv" in fig._suptitle.get_text()


def test_log_scale_chosen_for_losses_spanning_decades():
    e = np.arange(20.0)
    curves = _curves(10 ** (-e / 5), 10 ** (-e / 6))
    assert plot_curves(curves).axes[0].get_yscale() == "log"
    assert plot_curves(curves, log_y=False).axes[0].get_yscale() == "linear"


def test_plotting_does_not_touch_the_pyplot_backend():
    import matplotlib

    before = matplotlib.get_backend() if "matplotlib.pyplot" in __import__("sys").modules else None
    plot_curves(_curves([1, 0.5, 0.3], [1, 0.6, 0.5]))
    if before is not None:
        assert matplotlib.get_backend() == before


def test_plot_of_unknown_object_is_a_config_error():
    with pytest.raises(ConfigError, match="cannot render a dict"):
        plot({"verdict": "x"})


# ------------------------------------------------------------------------------------- weights


class _Layer:
    def __init__(self, name, alpha, xmin=None, evals=None):
        self.name, self.alpha, self.xmin, self.shape, self.note = name, alpha, xmin, [64, 64], None
        self.reading = (
            None
            if alpha is None
            else ("over_trained" if alpha < 2 else "under_trained" if alpha > 6 else "well_trained")
        )
        if evals is not None:
            self.evals = evals


class WeightReport:  # named like the real class: dispatch is by class name
    def __init__(self, layers):
        self.layers = layers

    def to_dict(self):
        return {"layers": [vars(layer) for layer in self.layers]}


def test_weights_plot_has_band_alphas_and_worst_spectrum():
    rng = np.random.default_rng(0)
    evals = np.sort((1 - rng.random(500)) ** (-1 / 0.6))  # heavy tail, alpha ~ 1.6
    report = WeightReport(
        [
            _Layer("fc1", 3.1),
            _Layer("fc2", 1.6, xmin=2.0, evals=evals),
            _Layer("fc3", 4.0),
            _Layer("emb", None),
        ]
    )
    fig = plot_weights(report)
    alpha_ax, spectrum_ax = fig.axes
    band = [p for p in alpha_ax.patches if p.get_gid() == "band"]
    assert band and band[0].get_extents() is not None
    scatter = next(c for c in alpha_ax.collections if c.get_gid() == "alpha")
    np.testing.assert_allclose(scatter.get_offsets()[:, 1], [3.1, 1.6, 4.0])
    assert any(t.get_gid() == "worst" and "fc2" in t.get_text() for t in alpha_ax.texts)
    assert "fc2" in spectrum_ax.get_title()
    assert spectrum_ax.get_xscale() == "log" and spectrum_ax.patches  # histogram bars
    assert any(line.get_gid() == "powerlaw" for line in spectrum_ax.get_lines())
    assert "1 of 3 layers outside" in fig._suptitle.get_text()


def test_weights_spectrum_computed_from_the_module_when_not_kept():
    torch = pytest.importorskip("torch")
    from advisor.inspect._spectral import analyze_weights

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 16))
    report = analyze_weights(
        [
            (n.removesuffix(".weight"), "linear", p)
            for n, p in model.named_parameters()
            if p.dim() == 2
        ]
    )
    assert len(plot_weights(report).axes) == 2  # the analysis keeps each layer's eigenvalues
    for layer in report.layers:  # as a report read back from JSON: alphas, no eigenvalues
        layer.evals = None
    assert len(plot_weights(report).axes) == 1  # no eigenvalues, no module: alpha panel only
    fig = plot_weights(report, module=model)
    assert len(fig.axes) == 2 and fig.axes[1].patches


def test_weights_without_any_alpha_is_a_config_error():
    with pytest.raises(ConfigError, match="no layer has a power-law alpha"):
        plot_weights(WeightReport([_Layer("tiny", None)]))


# ------------------------------------------------------------------------------------- tuning


def _tune_dict(n=12, folds=5, seed=0):
    rng = np.random.default_rng(seed)
    trials = []
    for i in range(n):
        base = 0.85 + 0.01 * i / n
        trials.append(
            {
                "number": i,
                "state": "COMPLETE",
                "params": {"dropout.p": 0.1 + 0.03 * i, "l2.weight_decay": 1e-4},
                "fold_scores": list(base + 0.01 * rng.standard_normal(folds)),
            }
        )
    return {
        "direction": "maximize",
        "trials": trials,
        "importances": {"dropout.p": 0.8, "l2.weight_decay": 0.2},
        "baseline": {"fold_scores": [0.84, 0.85, 0.83, 0.845, 0.86]},
    }


def test_tuning_plot_history_baseline_importances_and_folds():
    data = _tune_dict()
    fig = plot_tuning(data)
    history, importances, folds = fig.axes
    trials = next(c for c in history.collections if c.get_gid() == "trials")
    assert len(trials.get_offsets()) == 12
    best_line = next(line for line in history.get_lines() if line.get_gid() == "best_so_far")
    y = best_line.get_ydata()
    assert np.all(np.diff(y) >= 0)  # maximize: the best so far never goes down
    baseline = next(line for line in history.get_lines() if line.get_gid() == "baseline")
    assert baseline.get_ydata()[0] == pytest.approx(np.mean(data["baseline"]["fold_scores"]))
    assert [t.get_text() for t in importances.get_yticklabels()] == ["l2.weight_decay", "dropout.p"]
    assert [t.get_text() for t in folds.get_xticklabels()] == [f"fold {k}" for k in range(1, 6)]
    assert any(line.get_gid() == "best_folds" for line in folds.get_lines())
    assert any(line.get_gid() == "baseline_folds" for line in folds.get_lines())


def test_tuning_minimize_best_so_far_goes_down():
    data = _tune_dict()
    data["direction"] = "minimize"
    best_line = next(
        line for line in plot_tuning(data).axes[0].get_lines() if line.get_gid() == "best_so_far"
    )
    assert np.all(np.diff(best_line.get_ydata()) <= 0)


@pytest.mark.slow
def test_tuning_from_an_optuna_study_computes_importances():
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        a, b = trial.suggest_float("a", 0, 1), trial.suggest_float("b", 0, 1)
        scores = [1 - (a - 0.3) ** 2 - 0.01 * b + 0.001 * k for k in range(3)]
        trial.set_user_attr("fold_scores", scores)
        return float(np.mean(scores))

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=10)

    class TuneResult:
        def __init__(self, study):
            self.study = study

        def to_dict(self):
            return {"direction": "maximize", "baseline": {"value": 0.9}}

    fig = plot_tuning(TuneResult(study))
    assert len(fig.axes) == 3
    names = {t.get_text() for t in fig.axes[1].get_yticklabels()}
    assert names == {"a", "b"}


def test_tuning_with_no_completed_trial_is_a_config_error():
    with pytest.raises(ConfigError, match="no completed trial"):
        plot_tuning(
            {"direction": "maximize", "trials": [{"number": 0, "state": "FAIL", "value": None}]}
        )


# ----------------------------------------------------------------------------- recommendations


class Recommendations:
    def __init__(self, items):
        self.items = items

    def to_dict(self):
        return self.items


def test_recommendation_bars_by_stage():
    recs = Recommendations(
        [
            {"technique": "early_stopping", "score": 0.9, "stage": 1},
            {"technique": "dropout", "score": 0.7, "stage": 2},
            {"technique": "l2", "score": 0.8, "stage": 1},
        ]
    )
    fig = plot_recommendations(recs)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["early_stopping", "l2", "dropout"]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["stage 1", "stage 2"]
    assert math.isclose(max(p.get_width() for p in ax.patches), 0.9)


def test_diverging_run_with_nan_plots_the_finite_part():
    e = np.arange(12, dtype=float)
    val = np.r_[1 / (e[:6] + 1), [np.nan] * 6]
    curves = _curves(1 / (e + 1), val)
    fit = diagnose_fit(curves)
    assert fit.verdict == "diverging"
    fig = plot_curves(curves, fit)
    val_line = next(
        line for line in fig.axes[0].get_lines() if line.get_label().startswith("val loss")
    )
    assert len(val_line.get_xdata()) == 6 and np.isfinite(val_line.get_ydata()).all()
    assert "diverging" in fig._suptitle.get_text()


def test_train_only_curves_still_plot():
    e = np.arange(5.0)
    curves = Curves(
        series={("train", "loss"): Series("train", "loss", "loss", e, 1 / (e + 1))}, format="csv"
    )
    fig = plot_curves(curves)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["train loss (loss)"]
