"""Terminal view of a ``FitDiagnosis``: verdict panel, sparkline of the curves, evidence.

Kept out of ``advisor.curves`` so that results stay apart from their rendering.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from advisor.curves import fmt_epoch

__all__ = ["render_fit", "sparkline"]


# ----------------------------------------------------------------------------- terminal view

_BLOCKS = "▁▂▃▄▅▆▇█"
_VERDICT_STYLE = {
    "overfitting": "bold red",
    "diverging": "bold magenta",
    "underfitting": "bold yellow",
    "not_converged": "bold cyan",
    "good_fit": "bold green",
}
_VERDICT_HINT = {
    "overfitting": "validation gets worse while training improves: regularise or stop earlier",
    "diverging": "the optimisation failed (non-finite, exploding, or dead at chance level)",
    "underfitting": "the model has learned little: more capacity, less regularisation, better LR",
    "not_converged": "still clearly improving when it stopped: train longer",
    "good_fit": "validation has levelled off without worsening",
}


def sparkline(
    epochs: np.ndarray,
    values: np.ndarray,
    *,
    lo: float,
    hi: float,
    x0: float,
    x1: float,
    width: int,
) -> str:
    """One line of block characters; NaN/inf cells are drawn as ``×``, empty cells as a space.

    The value range ``lo..hi`` is given by the caller so that train and validation share one
    scale; values outside it are clipped (an extreme first epoch does not flatten the rest).
    """
    cells: list[list[float]] = [[] for _ in range(width)]
    bad = [False] * width
    span = max(x1 - x0, 1e-12)
    for e, v in zip(np.asarray(epochs, float).tolist(), np.asarray(values, float).tolist()):
        c = min(width - 1, max(0, int((e - x0) / span * (width - 1) + 0.5)))
        if math.isfinite(v):
            cells[c].append(v)
        else:
            bad[c] = True
    out = []
    rng = max(hi - lo, 1e-12)
    for c in range(width):
        if cells[c]:
            v = min(max(float(np.median(cells[c])), lo), hi)
            out.append(_BLOCKS[round((v - lo) / rng * (len(_BLOCKS) - 1))])
        elif bad[c]:
            out.append("×")
        else:
            out.append(" ")
    # Fill gaps between logged points (sparse logging) with the previous block.
    for c in range(1, width):
        if out[c] == " " and out[c - 1] not in (" ", "×"):
            out[c] = out[c - 1]
    return "".join(out)


class _TitledPanel:
    """The verdict panel, titled ``fit - SOURCE (RUN)`` in the console's width.

    Rich cuts a long title at its end, which hides the file name; the title is fitted here,
    at render time when the width is known, by dropping leading folders instead.
    """

    def __init__(self, body: Any, source: Any, run: Any, *, border_style: str):
        self.body, self.source, self.run, self.border_style = body, source, run, border_style

    def __rich_console__(self, console, options):
        from rich.panel import Panel

        from advisor._terminal import fit_path

        run = f" ({self.run})" if self.run else ""
        title = "fit" + run
        if self.source:
            room = options.max_width - 6 - len("fit - ") - len(run)  # borders and padding
            title = f"fit - {fit_path(str(self.source), max(room, 12))}{run}"
        yield Panel(self.body, title=title, title_align="left", border_style=self.border_style)


def render_fit(fit: Any, *, width: int = 60):
    """Yield the Rich renderables of a ``FitDiagnosis`` for the terminal.

    The verdict panel, the curves as sparklines ``width`` cells wide, a blank line, then the
    evidence and caveats table.
    """
    from rich.table import Table
    from rich.text import Text

    style = _VERDICT_STYLE.get(fit.verdict, "bold")
    head = Text()
    head.append(fit.verdict.replace("_", " ").upper(), style=style)
    if fit.severity:
        head.append(f" ({fit.severity})", style=style)
    head.append(f"   confidence {fit.confidence:.2f}\n", style="dim")
    head.append(_VERDICT_HINT.get(fit.verdict, ""))
    if fit.stop_epoch is not None:
        head.append(f"\nrecommended stopping epoch: {fmt_epoch(fit.stop_epoch)}", style="bold")
        if fit.stop_metric and fit.stop_metric != fit.primary_metric:
            head.append(f" (on {fit.stop_key})", style="dim")
    yield _TitledPanel(head, fit.source, fit.run, border_style=style.split()[-1])

    yield _curve_plot(fit, width)
    yield Text("")
    table = Table(
        title="evidence", show_header=False, title_justify="left", box=None, padding=(0, 1)
    )
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for line in fit.evidence:
        table.add_row("•", line)
    for line in fit.caveats:
        table.add_row("!", Text(line, style="yellow"))
    yield table


def _curve_plot(fit: Any, width: int):
    from rich.console import Group
    from rich.text import Text

    rows = [("val", fit.val_epochs, fit.val_values, "cyan")]
    if fit.train_values is not None and fit.train_epochs is not None:
        rows.insert(0, ("train", fit.train_epochs, fit.train_values, "green"))
    finite = np.concatenate([v[np.isfinite(v)] for _, _, v, _ in rows])
    all_epochs = np.concatenate([e for _, e, _, _ in rows])
    lines = [Text(f"{fit.primary_metric} per epoch ({fit.primary_key})", style="italic")]
    if finite.size == 0 or all_epochs.size == 0:
        lines.append(Text("(no finite values to draw)", style="dim"))
        return Group(*lines)
    # Scale on the 2nd..98th percentile so that a huge first epoch or a spike does not flatten the rest.
    lo, hi = (float(x) for x in np.percentile(finite, [2, 98]))
    if hi <= lo:
        lo, hi = float(finite.min()), float(finite.max()) + 1e-12
    x0, x1 = float(all_epochs.min()), float(all_epochs.max())
    for name, e, v, colour in rows:
        fin = v[np.isfinite(v)]
        rng = f"{fin.min():.3g}..{fin.max():.3g}" if fin.size else "non-finite"
        line = Text(f"{name:>5} ")
        line.append(sparkline(e, v, lo=lo, hi=hi, x0=x0, x1=x1, width=width), style=colour)
        line.append(f" {rng}", style="dim")
        lines.append(line)
    marks = [" "] * width
    span = max(x1 - x0, 1e-12)
    for epoch, ch in (
        (fit.onset_epoch, "^"),
        (fit.stop_epoch, "*"),
        (fit.first_nonfinite_epoch, "!"),
    ):
        if epoch is not None:
            marks[min(width - 1, max(0, int((epoch - x0) / span * (width - 1) + 0.5)))] = ch
    lines.append(Text("      " + "".join(marks), style="bold yellow"))
    axis = f"epoch {fmt_epoch(x0)}"
    lines.append(
        Text("      " + axis + fmt_epoch(x1).rjust(max(1, width - len(axis))), style="dim")
    )
    lines.append(
        Text(
            "      * best / stop   ^ onset of overfitting   ! first non-finite   × NaN/inf",
            style="dim",
        )
    )
    return Group(*lines)
