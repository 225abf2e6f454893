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
        """The report as a JSON-ready dict.

        Keys ``source``, ``format``, ``model``, ``weights``, ``training`` and ``curve_files``.
        """
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

        from advisor._terminal import Breakable, fit_path

        facts = self.model.to_dict()
        source = ""
        if self.source:  # the file name must stay readable at 80 columns
            room = options.max_width - len(f"Model facts ({self.format}: )")
            source = f": {fit_path(str(self.source), max(room, 12))}"
        title = f"Model facts ({self.format}{source})"
        table = Table(title=title, show_header=True, header_style="bold")
        table.add_column("fact", no_wrap=True)
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
            table.add_row(
                key,
                Breakable("null" if value is None else str(value)),
                Breakable(note or "", style="dim"),
            )
        yield table
        if self.weights is not None:
            yield from _weights_tables(self.weights, options.max_width)
        if self.curve_files:
            others = len(self.curve_files) - 1
            yield f"Learning curves beside the checkpoint: {self.curve_files[0]}" + (
                f" (the newest; {others} older log{'s' if others > 1 else ''} not used)"
                if others
                else ""
            )


def _weights_tables(weights: WeightReport, width: int = 80):
    from rich import box
    from rich.table import Table

    from advisor._terminal import Breakable

    s = weights.summary()
    fmt = lambda v: "null" if v is None else f"{v:.2f}"  # noqa: E731
    # One measure a row: seven columns of numbers do not fit 80 columns with their names.
    summary = Table(
        title=f"Heavy-tailed self-regularisation (alpha), {weights.device}, {weights.seconds:.2f} s",
        show_header=False,
    )
    summary.add_column("measure", no_wrap=True)
    summary.add_column("value")
    for name, value in (
        ("layers analysed", str(s["layers_analysed"])),
        ("mean alpha", fmt(s["alpha_mean"])),
        ("median alpha", fmt(s["alpha_median"])),
        ("over-trained layers (alpha < 2)", str(s["counts"]["over_trained"])),
        ("well-trained layers (2 to 6)", str(s["counts"]["well_trained"])),
        ("under-trained layers (alpha > 6)", str(s["counts"]["under_trained"])),
        ("reading", str(s["verdict"])),
    ):
        summary.add_row(name, value)
    yield summary
    worst = weights.worst_layers()
    if worst:
        table = Table(
            title="Layers outside the well-trained band",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
        )
        # A layer name breaks only after a dot (it is what a reader searches the model for),
        # and the other columns are kept narrow so that its parts fit at 80 columns.
        others = 44  # the other columns' least width, with the gaps between columns
        widest = max(Breakable.widest_part(layer.name) for layer in worst)
        table.add_column("layer", min_width=max(min(widest, width - others), 8))
        table.add_column("kind\nshape")
        table.add_column("alpha", justify="right")
        table.add_column("trained")
        table.add_column("stable\nrank", justify="right")
        table.add_column("spectral\nnorm", justify="right")
        for layer in worst:
            table.add_row(
                Breakable(layer.name),
                f"{layer.kind}\n{'x'.join(map(str, layer.shape))}",
                fmt(layer.alpha),
                str(layer.reading).removesuffix("_trained"),  # over / under
                fmt(layer.stable_rank),
                fmt(layer.spectral_norm),
            )
        yield table
