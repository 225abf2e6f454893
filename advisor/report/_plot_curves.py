"""Learning-curve plot with the fit verdict drawn on it.

The left panel shows the series the diagnosis judged (normally train and validation loss);
where a fit diagnosis is given it marks the best validation point, the overfitting onset,
the generalisation gap (shaded between the curves from the onset on, or over the whole run
when no onset was found) and the recommended stopping epoch. A right panel shows one more
validation metric (accuracy, F1 ... or the loss when the verdict was judged on a metric)
when the run logged one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from advisor.errors import ConfigError
from advisor.report._figures import COLORS, new_figure

__all__ = ["LABEL_BEST", "LABEL_GAP", "LABEL_ONSET", "LABEL_STOP", "fit_dict", "plot_curves"]

# Artist labels/gids the tests (and users customising a figure) look up by name.
LABEL_BEST = "best"
LABEL_ONSET = "overfitting onset"
LABEL_GAP = "generalisation gap"
LABEL_STOP = "recommended stop"


def fit_dict(fit: Any) -> dict[str, Any] | None:
    """A FitDiagnosis (or its dict, or None) as a plain dict."""
    if fit is None:
        return None
    if isinstance(fit, dict):
        return fit
    return fit.to_dict()


@dataclass
class _Pair:
    """A validation curve and its training twin, as plotted."""

    metric: str
    val_label: str
    val_x: np.ndarray
    val_y: np.ndarray
    train_label: str | None = None
    train_x: np.ndarray | None = None
    train_y: np.ndarray | None = None
    smooth_x: np.ndarray | None = None
    smooth_y: np.ndarray | None = None


def _finite(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    mask = np.isfinite(x) & np.isfinite(y)
    return x[mask], y[mask]


def _pair_from_curves(curves: Any, split_metric: tuple[str, str]) -> _Pair | None:
    val = curves.get(*split_metric)
    if val is None:
        return None
    train = curves.get("train", val.metric)
    pair = _Pair(val.metric, f"val {val.metric} ({val.key})", *_finite(val.epochs, val.values))
    if train is not None:
        pair.train_label = f"train {train.metric} ({train.key})"
        pair.train_x, pair.train_y = _finite(train.epochs, train.values)
    return pair


def _pair_from_fit(fit: Any) -> _Pair:
    pair = _Pair(
        fit.primary_metric,
        f"val {fit.primary_metric} ({fit.primary_key})",
        *_finite(fit.val_epochs, fit.val_values),
    )
    if fit.train_values is not None and fit.train_epochs is not None:
        pair.train_label = f"train {fit.primary_metric} ({fit.train_key})"
        pair.train_x, pair.train_y = _finite(fit.train_epochs, fit.train_values)
    if fit.val_smoothed is not None and len(fit.val_smoothed) > 2:
        pair.smooth_x, pair.smooth_y = _finite(fit.val_smoothed_epochs, fit.val_smoothed)
    return pair


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def plot_curves(
    curves: Any = None, fit: Any = None, *, title: str | None = None, log_y: bool | None = None
) -> Any:
    """Plot learning curves, annotated with the fit verdict when ``fit`` is given.

    Args:
        curves: a ``Curves`` object, or None when ``fit`` is a ``FitDiagnosis`` (it keeps
            the series it judged).
        fit: the ``FitDiagnosis`` of the run (or the ``fit`` dict of a diagnosis JSON).
        title: figure title; by default the verdict and the run's source.
        log_y: log scale on the left axis; by default when the values span over 30x.

    Returns:
        A ``matplotlib.figure.Figure``.

    Example:
        >>> curves = advisor.load_curves("lightning_logs/version_0/metrics.csv")  # doctest: +SKIP
        >>> fig = plot_curves(curves, advisor.curves.diagnose_fit(curves))  # doctest: +SKIP
        >>> fig.savefig("curves.png")  # doctest: +SKIP
    """
    fit_d = fit_dict(fit)
    main: _Pair | None = None
    if fit is not None and hasattr(fit, "val_values"):
        main = _pair_from_fit(fit)
    elif curves is not None:
        metric = ((fit_d or {}).get("primary") or {}).get("metric") or "loss"
        main = _pair_from_curves(curves, ("val", metric)) or next(
            (
                p
                for key in curves.series
                if key[0] == "val" and (p := _pair_from_curves(curves, key))
            ),
            None,
        )
        if main is None and curves.series:  # train-only run: nothing to judge, still draw it
            s = next(iter(curves.series.values()))
            main = _Pair(s.metric, f"{s.split} {s.metric} ({s.key})", *_finite(s.epochs, s.values))
    if main is None:
        raise ConfigError("plot_curves: nothing to plot; pass a Curves object or a FitDiagnosis.")

    extra = None
    if curves is not None:
        others = [key for key in curves.series if key[0] == "val" and key[1] != main.metric]
        others.sort(key=lambda key: (key[1] not in ("accuracy", "loss", "top1", "f1"), key[1]))
        extra = _pair_from_curves(curves, others[0]) if others else None

    ncols = 2 if extra is not None else 1
    fig, axes = new_figure(ncols=ncols, figsize=(12.0 if ncols == 2 else 7.5, 4.4))
    ax = axes[0][0]
    _draw_pair(ax, main, log_y=log_y)
    if fit_d is not None:
        _annotate(ax, main, fit_d)
    ax.legend(loc="best", fontsize=8)
    if extra is not None:
        ex = axes[0][1]
        _draw_pair(ex, extra, log_y=False)
        for key, color, style in (
            ("onset_epoch", COLORS["onset"], ":"),
            ("stop_epoch", COLORS["stop"], "--"),
        ):
            epoch = _number((fit_d or {}).get(key))
            if epoch is not None:
                ex.axvline(epoch, color=color, ls=style, lw=1.2)
        ex.legend(loc="best", fontsize=8)
    fig.suptitle(title if title is not None else _title(curves, fit_d), fontsize=11)
    return fig


def _draw_pair(ax: Any, pair: _Pair, *, log_y: bool | None) -> None:
    dense = len(pair.val_x) > 40
    if pair.train_x is not None and pair.train_x.size:
        ax.plot(
            pair.train_x,
            pair.train_y,
            color=COLORS["train"],
            lw=1.3,
            alpha=0.85,
            label=pair.train_label,
        )
    ax.plot(
        pair.val_x,
        pair.val_y,
        color=COLORS["val"],
        lw=1.6,
        marker=None if dense else "o",
        ms=3,
        label=pair.val_label,
    )
    if pair.smooth_x is not None and pair.smooth_x.size:
        ax.plot(
            pair.smooth_x,
            pair.smooth_y,
            color=COLORS["val"],
            lw=1.0,
            ls="--",
            alpha=0.5,
            label="val (running median)",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel(pair.metric)
    ax.grid(alpha=0.3)
    if log_y is None:
        values = np.concatenate(
            [pair.val_y, pair.train_y if pair.train_y is not None else np.array([])]
        )
        log_y = bool(values.size and (values > 0).all() and values.max() / values.min() > 30)
    if log_y:
        ax.set_yscale("log")


def _annotate(ax: Any, pair: _Pair, fit: dict[str, Any]) -> None:
    """Best point, onset, shaded gap and stop epoch."""
    best_epoch = _number(fit.get("best_epoch"))
    best_value = _number(fit.get("best_value"))
    if best_epoch is not None and best_value is None and pair.val_x.size:
        best_value = float(pair.val_y[int(np.argmin(np.abs(pair.val_x - best_epoch)))])
    if best_epoch is not None and best_value is not None:
        ax.plot(
            [best_epoch],
            [best_value],
            marker="*",
            ms=15,
            color=COLORS["best"],
            ls="none",
            label=f"{LABEL_BEST} (epoch {best_epoch:g})",
            zorder=5,
            gid=LABEL_BEST,
        )
        # Put the label on the side with room: left of a best point in the right half of the run.
        right_half = pair.val_x.size and best_epoch > (pair.val_x.min() + pair.val_x.max()) / 2
        ax.annotate(
            f"best {pair.metric} {best_value:.4g}\nat epoch {best_epoch:g}",
            xy=(best_epoch, best_value),
            xytext=(-16 if right_half else 16, 24),
            textcoords="offset points",
            fontsize=8,
            ha="right" if right_half else "left",
            color=COLORS["best"],
            arrowprops={"arrowstyle": "->", "color": COLORS["best"]},
            gid=LABEL_BEST,
        )

    onset = _number(fit.get("onset_epoch"))
    if onset is not None:
        ax.axvline(
            onset,
            color=COLORS["onset"],
            ls=":",
            lw=1.6,
            label=f"{LABEL_ONSET} (epoch {onset:g})",
            gid=LABEL_ONSET,
        )

    if pair.train_x is not None and pair.train_x.size >= 2 and pair.val_x.size >= 2:
        order = np.argsort(pair.train_x)
        train_at_val = np.interp(pair.val_x, pair.train_x[order], pair.train_y[order])
        start = onset if onset is not None else -np.inf
        keep = pair.val_x >= start
        if keep.sum() >= 2:
            ax.fill_between(
                pair.val_x[keep],
                train_at_val[keep],
                pair.val_y[keep],
                color=COLORS["gap"],
                alpha=0.25,
                label=LABEL_GAP,
                gid=LABEL_GAP,
            )

    stop = _number(fit.get("stop_epoch"))
    if stop is not None:
        ax.axvline(
            stop,
            color=COLORS["stop"],
            ls="--",
            lw=1.6,
            label=f"{LABEL_STOP} (epoch {stop:g})",
            gid=LABEL_STOP,
        )


def _title(curves: Any, fit: dict[str, Any] | None) -> str:
    where = None
    if curves is not None:
        where = curves.run or (curves.source.name if getattr(curves, "source", None) else None)
    elif fit is not None:
        where = fit.get("run") or fit.get("source")
    if fit is None:
        return f"learning curves - {where}" if where else "learning curves"
    verdict = str(fit.get("verdict", "?")).replace("_", " ")
    text = f"verdict: {verdict}"
    confidence = _number(fit.get("confidence"))
    if confidence is not None:
        text += f" (confidence {confidence:.2f})"
    return f"{text} - {where}" if where else text
