"""Matplotlib plumbing shared by every plot: figures without pyplot, PNG bytes, colours.

Figures are built from ``matplotlib.figure.Figure`` directly instead of ``pyplot`` so that
plotting never selects or changes the user's backend (a notebook keeps its inline backend,
a headless CI machine needs no display). Saving to PNG goes through the Agg renderer, which
``Figure.savefig`` picks by itself for the ``png`` format. This module imports matplotlib; it
is only imported when something is drawn.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from matplotlib.figure import Figure

__all__ = ["COLORS", "AdvisorFigure", "figure_to_base64", "figure_to_png", "new_figure"]

# One palette for every plot and the HTML badges (colour-blind safe, Okabe-Ito).
COLORS = {
    "train": "#0072B2",
    "val": "#D55E00",
    "best": "#009E73",
    "onset": "#CC79A7",
    "gap": "#E69F00",
    "stop": "#009E73",
    "band": "#009E73",
    "bad": "#D55E00",
    "neutral": "#555555",
    "baseline": "#555555",
}


class AdvisorFigure(Figure):
    """A plain matplotlib ``Figure`` that also shows itself in Jupyter.

    Figures made without pyplot are not managed by the notebook's inline backend, so IPython
    would print only their repr; ``_repr_png_`` makes ``result.plot()`` display as an image
    whatever the backend.
    """

    def _repr_png_(self) -> bytes:
        return figure_to_png(self)


def new_figure(
    *, nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (7.0, 4.0)
) -> tuple[Any, Any]:
    """A constrained-layout ``Figure`` and its 2-D array of axes (always 2-D, never squeezed)."""
    fig = AdvisorFigure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def figure_to_png(fig: Any, *, dpi: int = 100) -> bytes:
    """The figure rendered as PNG bytes (Agg)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def figure_to_base64(fig: Any, *, dpi: int = 100) -> str:
    """The figure as a ``data:image/png;base64,...`` URI for inline ``<img>`` tags."""
    return "data:image/png;base64," + base64.b64encode(figure_to_png(fig, dpi=dpi)).decode("ascii")
