"""Report sections of model reports, weight diagnostics and tuning studies.

Builders for the other result kinds are in ``_sections.py``; both return ``Section``s of the
content model in ``_blocks.py``.
"""

from __future__ import annotations

from typing import Any

from advisor.report._blocks import Block, Section
from advisor.report._blocks import fmt as _fmt
from advisor.report._blocks import scalars as _scalars

__all__ = ["model_sections", "tune_sections", "weights_blocks", "weights_sections"]


def weights_blocks(weights: Any, plots: bool) -> list[Block]:
    """Blocks of the weight diagnostics: the HT-SR summary, then per-layer alpha.

    The layer table (and the figure, with ``plots``) appear only when ``layer_table`` finds
    layers.
    """
    from advisor.report._plot_weights import layer_table, plot_weights

    layers = layer_table(weights)
    blocks: list[Block] = []
    d = weights.to_dict() if hasattr(weights, "to_dict") else weights
    if isinstance(d, dict):
        # The per-model HT-SR summary (verdict, alpha median, worst layers) first, then how.
        summary = d.get("summary") if isinstance(d.get("summary"), dict) else {}
        rows = [(k, _fmt(v)) for k, v in summary.items() if v is not None]
        rows += [(k, v) for k, v in _scalars(d) if k != "seconds"]
        blocks.append(Block("kv", rows))
    if layers:
        rows = [
            [
                layer["name"],
                _fmt(layer.get("alpha")),
                _fmt(layer.get("shape")),
                layer.get("flag") or "-",
            ]
            for layer in layers
        ]
        blocks.append(
            Block("table", {"headers": ["layer", "alpha", "shape", "flag"], "rows": rows})
        )
        if plots:
            blocks.append(
                Block(
                    "figure",
                    {
                        "name": "weights",
                        "figure": plot_weights(weights),
                        "alt": "per-layer alpha and the worst layer's spectrum",
                    },
                )
            )
    return blocks


def model_sections(report: Any, plots: bool) -> list[Section]:
    """Sections of a ``ModelReport``: model facts, the training set-up and weights when known."""
    model = getattr(report, "model", None)
    model_d = model.to_dict() if hasattr(model, "to_dict") else (model or {})
    sections = [Section("Model", [Block("kv", _scalars(model_d))])]
    training = getattr(report, "training", None)
    if training:
        training_d = training.to_dict() if hasattr(training, "to_dict") else training
        if isinstance(training_d, dict):
            sections.append(
                Section(
                    "Training setup", [Block("kv", [(k, _fmt(v)) for k, v in training_d.items()])]
                )
            )
    weights = getattr(report, "weights", None)
    if weights is not None:
        sections.append(Section("Weights", weights_blocks(weights, plots)))
    return sections


def weights_sections(weights: Any, plots: bool) -> list[Section]:
    """The one ``Weights`` section of a ``WeightReport``."""
    return [Section("Weights", weights_blocks(weights, plots))]


def tune_sections(result: Any, plots: bool) -> list[Section]:
    """Sections of a ``TuneResult``, each when it has content.

    The study summary (with the tuning figure when ``plots``), the best parameters, the top 10
    trials by CV score and the code snippet.
    """
    from advisor.report._plot_tuning import tune_data

    data = tune_data(result)
    summary = [(k, _fmt(v)) for k, v in data["summary"].items()]
    sections = [Section("Study", [Block("kv", summary)])]
    if data["best_params"]:
        sections.append(
            Section(
                "Best parameters",
                [
                    Block(
                        "table",
                        {
                            "headers": ["parameter", "value"],
                            "rows": [[k, _fmt(v)] for k, v in data["best_params"].items()],
                        },
                    )
                ],
            )
        )
    if plots and (data["trials"] or data["best"]["value"] is not None):
        from advisor.report._plot_tuning import plot_tuning

        sections[0].blocks.append(
            Block(
                "figure",
                {
                    "name": "tuning",
                    "figure": plot_tuning(result),
                    "alt": "optimisation history, importances and fold scores",
                },
            )
        )
    if data["trials"]:
        best_first = sorted(
            (t for t in data["trials"] if t.get("value") is not None),
            key=lambda t: t["value"],
            reverse=data["direction"] == "maximize",
        )
        rows = [
            [
                str(t.get("number")),
                _fmt(t.get("value")),
                _fmt(t.get("state")),
                _fmt(t.get("params")),
            ]
            for t in best_first[:10]
        ]
        sections.append(
            Section(
                "Top trials",
                [
                    Block(
                        "table", {"headers": ["trial", "CV score", "state", "params"], "rows": rows}
                    )
                ],
            )
        )
    if data["code"]:
        sections.append(
            Section("Snippet", [Block("code", {"language": "python", "code": data["code"]})])
        )
    return sections
