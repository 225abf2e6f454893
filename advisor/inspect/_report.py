"""``ModelReport``: model facts, weight diagnostics, training metadata and curves found beside."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor._display import Displayable
from advisor.inspect._facts import ModelFacts
from advisor.inspect._spectral import WeightReport

__all__ = ["ModelReport"]


@dataclass
class ModelReport(Displayable):
    """Everything ``inspect_checkpoint`` / ``inspect_module`` learned about a model.

    Attributes:
        model: ``ModelFacts`` (JSON key ``model``).
        weights: ``WeightReport`` or ``None`` when the spectral pass was skipped.
        training: optimizer, schedulers, callbacks and hyper-parameters (Lightning and
            hand-written checkpoints), ``{}`` when the file holds none.
        curve_files: learning-curve logs of the run next to the checkpoint, newest first (the
            first one is the file ``advisor diagnose`` reads).
        source: the file or directory read (``None`` for a live module).
        format: the detected format (``"lightning"``, ``"safetensors"``, ``"module"`` ...).
    """

    model: ModelFacts
    weights: WeightReport | None = None
    training: dict[str, Any] = field(default_factory=dict)
    curve_files: list[Path] = field(default_factory=list)
    source: Path | None = None
    format: str = "module"

    def to_dict(self) -> dict[str, Any]:
        from advisor._jsonutil import to_jsonable

        return {
            "source": None if self.source is None else str(self.source),
            "format": self.format,
            "model": self.model.to_dict(),
            "weights": None if self.weights is None else self.weights.to_dict(),
            "training": to_jsonable(self.training),
            "curve_files": [str(p) for p in self.curve_files],
        }

    def __rich_console__(self, console, options):
        from rich.table import Table

        facts = self.model.to_dict()
        title = f"Model facts ({self.format}{': ' + str(self.source) if self.source else ''})"
        table = Table(title=title, show_header=True, header_style="bold")
        table.add_column("fact")
        table.add_column("value")
        table.add_column("note", style="dim")
        for key, value in facts.items():
            if key in ("evidence", "reasons"):
                continue
            if key == "layers":
                value = ", ".join(f"{k} {v}" for k, v in value.items() if v) or "none"
            elif isinstance(value, dict):
                value = ", ".join(
                    f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in value.items()
                )
            elif isinstance(value, list):
                value = ", ".join(map(str, value)) or "-"
            elif isinstance(value, float):
                value = f"{value:.4g}"
            note = (
                facts["reasons"].get(key) if facts[key] is None else facts["evidence"].get(key, "")
            )
            table.add_row(key, "null" if value is None else str(value), note or "")
        yield table
        if self.weights is not None:
            yield from _weights_tables(self.weights)
        if self.curve_files:
            others = len(self.curve_files) - 1
            yield f"Learning curves beside the checkpoint: {self.curve_files[0]}" + (
                f" (the newest; {others} older log{'s' if others > 1 else ''} not used)"
                if others
                else ""
            )


def _weights_tables(weights: WeightReport):
    from rich.table import Table

    s = weights.summary()
    summary = Table(
        title=f"Heavy-tailed self-regularisation (alpha), {weights.device}, {weights.seconds:.2f} s"
    )
    for col in (
        "layers",
        "mean alpha",
        "median",
        "over-trained (<2)",
        "well-trained (2-6)",
        "under-trained (>6)",
        "reading",
    ):
        summary.add_column(col)
    fmt = lambda v: "null" if v is None else f"{v:.2f}"  # noqa: E731
    summary.add_row(
        str(s["layers_analysed"]),
        fmt(s["alpha_mean"]),
        fmt(s["alpha_median"]),
        str(s["counts"]["over_trained"]),
        str(s["counts"]["well_trained"]),
        str(s["counts"]["under_trained"]),
        str(s["verdict"]),
    )
    yield summary
    worst = weights.worst_layers()
    if worst:
        table = Table(title="Layers outside the well-trained band")
        for col in ("layer", "kind", "shape", "alpha", "reading", "stable rank", "spectral norm"):
            table.add_column(col)
        for layer in worst:
            table.add_row(
                layer.name,
                layer.kind,
                "x".join(map(str, layer.shape)),
                fmt(layer.alpha),
                str(layer.reading),
                fmt(layer.stable_rank),
                fmt(layer.spectral_norm),
            )
        yield table
