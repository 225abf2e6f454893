"""Weight diagnostics plot: per-layer heavy-tail exponent alpha and the worst layer's spectrum.

Heavy-Tailed Self-Regularisation (Martin & Mahoney, JMLR 2021) reads a layer as well trained
when the power-law exponent ``alpha`` of its eigenvalue tail lies in 2-6, over-fit below 2 and
close to random above 6. The left panel draws each analysed layer's alpha against that band;
the right panel the empirical spectral density (log-log histogram of the eigenvalues of
``W^T W``) of the layer furthest outside it, with the fitted power-law tail from ``xmin``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advisor.errors import ConfigError
from advisor.report._figures import COLORS, new_figure

__all__ = ["layer_table", "plot_weights", "worst_layer"]

BAND = (2.0, 6.0)  # the HT-SR well-trained band of alpha


def _weights_of(obj: Any) -> Any:
    """A ModelReport / Diagnosis gives its WeightReport; a WeightReport or dict is itself."""
    for attr in ("model_report",):
        inner = getattr(obj, attr, None)
        if inner is not None:
            obj = inner
    weights = getattr(obj, "weights", None)
    if weights is not None and not callable(weights):
        return weights
    return obj


def _layers(obj: Any) -> list[Any]:
    weights = _weights_of(obj)
    if weights is None:
        return []
    layers = getattr(weights, "layers", None)
    if layers is None and isinstance(weights, dict):
        layers = weights.get("layers")
    return list(layers or [])


def _get(layer: Any, key: str) -> Any:
    return layer.get(key) if isinstance(layer, dict) else getattr(layer, key, None)


def layer_table(obj: Any) -> list[dict[str, Any]]:
    """One row per layer: name, alpha, shape, flag (over/under-trained or why it was skipped)."""
    rows = []
    for layer in _layers(obj):
        alpha = _get(layer, "alpha")
        reading = _get(layer, "reading")
        flag = {
            "over_trained": "over-trained (alpha < 2)",
            "under_trained": "under-trained (alpha > 6)",
        }.get(reading or "")
        rows.append(
            {
                "name": str(_get(layer, "name")),
                "alpha": alpha,
                "shape": _get(layer, "shape"),
                "flag": flag or (None if alpha is not None else _get(layer, "note")),
            }
        )
    return rows


def _distance(alpha: float) -> float:
    return max(BAND[0] - alpha, alpha - BAND[1], 0.0)


def worst_layer(obj: Any) -> Any | None:
    """The analysed layer furthest outside the 2-6 band (or the one nearest its edge)."""
    analysed = [layer for layer in _layers(obj) if _get(layer, "alpha") is not None]
    if not analysed:
        return None

    def badness(layer: Any) -> tuple[float, float]:
        a = float(_get(layer, "alpha"))
        return (_distance(a), -min(a - BAND[0], BAND[1] - a))

    return max(analysed, key=badness)


def _eigenvalues(layer: Any, module: Any) -> np.ndarray | None:
    """The layer's eigenvalues: kept on the report when it has them, else computed from ``module``."""
    for key in ("evals", "eigenvalues", "esd"):
        value = _get(layer, key)
        if value is not None:
            return np.asarray(value.cpu() if hasattr(value, "cpu") else value, dtype=float)
    if module is None:
        return None
    import torch

    state = module.state_dict() if hasattr(module, "state_dict") else module
    name = str(_get(layer, "name"))
    tensor = state.get(name) if name in state else state.get(f"{name}.weight")
    if tensor is None:
        raise ConfigError(
            f"plot_weights: layer {name!r} is not in the module given; pass the model the report came from."
        )
    w = tensor.detach().to(torch.float64)
    if w.dim() == 2:
        mats = w.unsqueeze(0)
    else:  # conv kernels: one out x in matrix per kernel position, as the analysis does
        mats = w.reshape(w.shape[0], w.shape[1], -1).permute(2, 0, 1)
    return (torch.linalg.svdvals(mats) ** 2).flatten().cpu().numpy()


def plot_weights(obj: Any, *, module: Any = None) -> Any:
    """Per-layer alpha with the 2-6 band, and the spectrum of the worst layer.

    Args:
        obj: a ``ModelReport`` (or ``Diagnosis``) with weight diagnostics, its ``WeightReport``,
            or the ``weights`` dict of the JSON output.
        module: the model (or its state dict) the report came from; used to compute the worst
            layer's eigenvalues when the report did not keep them.

    Returns:
        A ``matplotlib.figure.Figure`` (one panel when no spectrum is available).

    Example:
        >>> report = advisor.inspect_module(model)  # doctest: +SKIP
        >>> plot_weights(report, module=model).savefig("weights.png")  # doctest: +SKIP
    """
    layers = [layer for layer in _layers(obj) if _get(layer, "alpha") is not None]
    if not layers:
        raise ConfigError(
            "plot_weights: no layer has a power-law alpha; inspect with spectral=True "
            "and a model with Linear/Conv layers of at least 8 eigenvalues."
        )
    worst = worst_layer(obj)
    evals = _eigenvalues(worst, module) if worst is not None else None
    ncols = 2 if evals is not None and evals.size else 1
    fig, axes = new_figure(ncols=ncols, figsize=(12.0 if ncols == 2 else 7.5, 4.4))
    ax = axes[0][0]
    names = [str(_get(layer, "name")) for layer in layers]
    alphas = np.array([float(_get(layer, "alpha")) for layer in layers])
    ax.axhspan(*BAND, color=COLORS["band"], alpha=0.12, label="well-trained band (2-6)", gid="band")
    colors = [COLORS["bad"] if _distance(a) > 0 else COLORS["train"] for a in alphas]
    x = np.arange(len(alphas))
    ax.scatter(x, alphas, c=colors, s=36, zorder=3, gid="alpha")
    ax.plot(x, alphas, color=COLORS["neutral"], lw=0.8, alpha=0.5)
    if worst is not None:
        i = names.index(str(_get(worst, "name")))
        ax.annotate(
            f"worst layer {names[i]!r}\nalpha {alphas[i]:.2f}",
            xy=(i, alphas[i]),
            xytext=(10, 14),
            textcoords="offset points",
            fontsize=8,
            arrowprops={"arrowstyle": "->"},
            gid="worst",
        )
    ax.set_xticks(
        x,
        [_short(n) for n in names],
        rotation=60 if len(names) > 4 else 0,
        ha="right" if len(names) > 4 else "center",
        fontsize=7,
    )
    ax.set_xlabel("layer")
    ax.set_ylabel("alpha (power-law exponent)")
    ax.set_title("per-layer alpha", fontsize=10)
    top = max(float(alphas.max()), BAND[1]) * 1.15
    ax.set_ylim(0, top)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(loc="upper right", fontsize=8)

    if ncols == 2:
        sx = axes[0][1]
        positive = evals[evals > 1e-5]
        bins = np.logspace(np.log10(positive.min()), np.log10(positive.max()), 40)
        sx.hist(
            positive,
            bins=bins,
            density=True,
            color=COLORS["train"],
            alpha=0.6,
            label="eigenvalues of W^T W",
        )
        alpha = float(_get(worst, "alpha"))
        xmin = _get(worst, "xmin")
        if xmin is not None and np.isfinite(xmin) and (positive >= xmin).sum() >= 2:
            tail = positive[positive >= xmin]
            xs = np.logspace(np.log10(xmin), np.log10(positive.max()), 50)
            # Scale the fitted pdf so it integrates to the tail's share of all eigenvalues.
            pdf = (alpha - 1) / xmin * (xs / xmin) ** (-alpha) * tail.size / positive.size
            sx.plot(
                xs,
                pdf,
                color=COLORS["bad"],
                lw=2,
                label=f"power law, alpha {alpha:.2f}",
                gid="powerlaw",
            )
            sx.axvline(xmin, color=COLORS["neutral"], ls=":", lw=1.2, label=f"xmin {xmin:.3g}")
        sx.set_xscale("log")
        sx.set_yscale("log")
        sx.set_xlabel("eigenvalue")
        sx.set_ylabel("density")
        sx.set_title(f"spectrum of the worst layer: {_get(worst, 'name')}", fontsize=10)
        sx.legend(loc="best", fontsize=8)
    counts = sum(_distance(a) > 0 for a in alphas)
    fig.suptitle(
        f"weight diagnostics: {counts} of {len(alphas)} layers outside the 2-6 band", fontsize=11
    )
    return fig


def _short(name: str) -> str:
    return name if len(name) <= 24 else "..." + name[-21:]
