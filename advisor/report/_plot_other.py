"""Plot of a recommendation list: the score of each technique, grouped by stage."""

from __future__ import annotations

from typing import Any

import numpy as np

from advisor.errors import ConfigError
from advisor.report._figures import new_figure

__all__ = ["plot_recommendations"]

# One colour per stage (stage 1 = try first).
_STAGE_COLORS = ["#0072B2", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#555555"]


def plot_recommendations(recs: Any) -> Any:
    """Horizontal bars: each recommended technique's score, coloured by stage, best on top.

    Example:
        >>> plot_recommendations(advisor.recommend(task="image", fit="overfitting"))  # doctest: +SKIP
    """
    from advisor.report._sections import _recs_list, _stage_key

    items = sorted(_recs_list(recs), key=_stage_key)
    if not items:
        raise ConfigError("plot_recommendations: no recommendation to plot.")
    stages = sorted(
        {str(r.get("stage")) for r in items},
        key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s),
    )
    fig, axes = new_figure(figsize=(7.5, 0.45 * len(items) + 1.4))
    ax = axes[0][0]
    y = np.arange(len(items))[::-1]
    for stage_index, stage in enumerate(stages):
        rows = [i for i, r in enumerate(items) if str(r.get("stage")) == stage]
        ax.barh(
            y[rows],
            [float(items[i].get("score") or 0.0) for i in rows],
            color=_STAGE_COLORS[stage_index % len(_STAGE_COLORS)],
            label=f"stage {stage}",
        )
    ax.set_yticks(y, [str(r.get("technique")) for r in items], fontsize=9)
    ax.set_xlabel("score")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("recommended regularization, by stage", fontsize=10)
    return fig
