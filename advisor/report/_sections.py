"""Turn any advisor result into report sections, rendered later as HTML or Markdown.

One builder per result type reads the result (its ``to_dict()`` and a few attributes) and
returns a list of ``Section`` (the content model of ``_blocks.py``); ``_html.py`` and
``_markdown.py`` render the same sections, so a notebook cell, an HTML report and a PR
comment always say the same thing. Model, weight and tuning builders: ``_sections_model.py``.
"""

from __future__ import annotations

from typing import Any

from advisor.errors import ConfigError
from advisor.report._blocks import Block, Section
from advisor.report._blocks import fmt as _fmt
from advisor.report._blocks import scalars as _scalars
from advisor.report._sections_model import (
    model_sections,
    tune_sections,
    weights_sections,
)

__all__ = ["Block", "Section", "build_sections", "kind_of", "stack_code", "title_of"]


# Class name -> result kind; dispatch by name keeps heavy modules (torch, optuna) unimported.
_KINDS = {
    "Curves": "curves",
    "FitDiagnosis": "fit",
    "Diagnosis": "diagnosis",
    "ModelReport": "model",
    "WeightReport": "weights",
    "Recommendations": "recommendations",
    "TuneResult": "tune",
    "CheckReport": "check",
    "Recorder": "recorder",
}


def kind_of(obj: Any) -> str:
    """The result kind of ``obj`` (by class name, walking base classes)."""
    for cls in type(obj).__mro__:
        kind = _KINDS.get(cls.__name__)
        if kind is not None:
            return kind
    raise ConfigError(
        f"advisor.report: cannot render a {type(obj).__name__}; expected one of {', '.join(sorted(_KINDS))}."
    )


def title_of(obj: Any) -> str:
    """The report title of ``obj``: its kind (``"Fit diagnosis"`` ...), then its source if known."""
    kind = kind_of(obj)
    source = _source_name(obj)
    base = {
        "curves": "Learning curves",
        "fit": "Fit diagnosis",
        "diagnosis": "advisor diagnosis",
        "model": "Model report",
        "weights": "Weight diagnostics",
        "recommendations": "Recommendations",
        "tune": "Tuning study",
        "check": "advisor check",
        "recorder": "Recorded training run",
    }[kind]
    return f"{base}: {source}" if source else base


def _source_name(obj: Any) -> str | None:
    if isinstance(getattr(obj, "study_name", None), str):
        return obj.study_name
    for attr in ("source", "path"):
        value = getattr(obj, attr, None)
        if isinstance(value, str | bytes) or hasattr(value, "__fspath__"):
            return str(value)
    curves = getattr(obj, "curves", None)
    if curves is not None and getattr(curves, "source", None):
        return str(curves.source)
    return None


# ---------------------------------------------------------------- builders per result kind


def build_sections(obj: Any, *, plots: bool = True) -> list[Section]:
    """Sections describing ``obj``; ``plots=False`` leaves the figures out (fast, text only)."""
    kind = kind_of(obj)
    return _BUILDERS[kind](obj, plots)


def _curves_sections(curves: Any, plots: bool, fit: Any = None) -> list[Section]:
    import numpy as np

    rows = []
    for series in curves.series.values():
        finite = series.values[np.isfinite(series.values)]
        best = (finite.max() if series.mode == "max" else finite.min()) if finite.size else None
        rows.append(
            [
                series.split,
                series.metric,
                series.key,
                len(series),
                _fmt(float(finite[-1]) if finite.size else None),
                _fmt(None if best is None else float(best)),
            ]
        )
    info = [
        ("format", curves.format),
        ("source", _fmt(str(curves.source) if curves.source else None)),
        ("run", _fmt(curves.run)),
        ("epochs", str(curves.n_epochs)),
    ]
    section = Section(
        "Learning curves",
        [
            Block("kv", info),
            Block(
                "table",
                {
                    "headers": ["split", "metric", "logged as", "points", "last", "best"],
                    "rows": rows,
                },
            ),
        ],
    )
    if curves.notes:
        section.blocks.append(Block("list", [str(n) for n in curves.notes]))
    if plots and curves.series:
        from advisor.report._plot_curves import plot_curves

        section.blocks.append(
            Block(
                "figure",
                {"name": "curves", "figure": plot_curves(curves, fit), "alt": "learning curves"},
            )
        )
    return [section]


def _fit_blocks(fit: Any, *, figure: Any = None) -> list[Block]:
    """Verdict badge, one-line summary, the plot, the evidence, then the figures behind it."""
    from advisor.report._plot_curves import fit_dict

    d = fit_dict(fit) or {}
    blocks = [Block("verdict", {"verdict": d.get("verdict"), "confidence": d.get("confidence")})]
    summary = _fit_summary(d)
    if summary:
        blocks.append(Block("text", summary))
    if figure is not None:
        blocks.append(
            Block(
                "figure",
                {"name": "curves", "figure": figure, "alt": "learning curves with the verdict"},
            )
        )
    for key, heading in (("evidence", "Evidence:"), ("caveats", "Caveats:")):
        items = d.get(key)
        if isinstance(items, list) and items:
            blocks.append(Block("text", heading))
            blocks.append(Block("list", [e if isinstance(e, str) else _fmt(e) for e in items]))
    # Indices repeat the epochs and None says nothing: leave both out of the table.
    rows = [
        (k, v)
        for k, v in _scalars(d, skip=("verdict", "evidence", "caveats", "source", "run"))
        if v != "-" and not k.endswith("_index")
    ]
    for group in ("gap", "val_rise", "noise"):
        if isinstance(d.get(group), dict):
            rows += [
                (f"{group}.{k}", _fmt(v))
                for k, v in d[group].items()
                if v is not None and not isinstance(v, dict | list)
            ]
    if rows:
        blocks.append(Block("kv", rows))
    return blocks


def _fit_summary(d: dict[str, Any]) -> str:
    parts = []
    if d.get("best_epoch") is not None:
        parts.append(f"best validation point at epoch {_fmt(d['best_epoch'])}")
    if d.get("onset_epoch") is not None:
        parts.append(f"overfitting starts at epoch {_fmt(d['onset_epoch'])}")
    if d.get("stop_epoch") is not None:
        parts.append(f"recommended stopping epoch {_fmt(d['stop_epoch'])}")
    if isinstance(d.get("gap"), int | float):
        parts.append(f"generalisation gap {_fmt(d['gap'])}")
    return ("; ".join(parts) + ".").capitalize() if parts else ""


def _fit_sections(fit: Any, plots: bool) -> list[Section]:
    figure = None
    if plots and hasattr(fit, "val_values"):  # a FitDiagnosis keeps the series it judged
        from advisor.report._plot_curves import plot_curves

        figure = plot_curves(None, fit)
    return [Section("Verdict", _fit_blocks(fit, figure=figure))]


def _facts_rows(facts: Any) -> list[list[str]]:
    d = facts.to_dict() if hasattr(facts, "to_dict") else facts
    rows = []
    if isinstance(d, dict):
        items = d.get("facts", d)
        items = items.items() if isinstance(items, dict) else ((f.get("name"), f) for f in items)
        for name, entry in items:
            if isinstance(entry, dict) and "value" in entry:
                rows.append(
                    [
                        str(name),
                        _fmt(entry.get("value")),
                        _fmt(entry.get("origin")),
                        _fmt(entry.get("source") or entry.get("detail")),
                    ]
                )
            else:
                rows.append([str(name), _fmt(entry), "-", "-"])
    elif isinstance(d, list):
        for entry in d:
            rows.append(
                [
                    _fmt(entry.get("name")),
                    _fmt(entry.get("value")),
                    _fmt(entry.get("origin")),
                    _fmt(entry.get("source") or entry.get("detail")),
                ]
            )
    return rows


def _recs_list(recs: Any) -> list[dict[str, Any]]:
    d = recs.to_dict() if hasattr(recs, "to_dict") else recs
    if isinstance(d, dict):
        d = d.get("recommendations", d.get("items", []))
    return [r for r in (d or []) if isinstance(r, dict)]


def _stage_key(rec: dict[str, Any]) -> tuple[Any, ...]:
    stage = rec.get("stage")
    return (stage if isinstance(stage, int | float) else 99, str(stage), -(rec.get("score") or 0))


def stack_code(stack: Any, *, setup: Any = None) -> str:
    """Python code applying ``stack`` (a ``Stack`` or its dict; ``Stack.to_code``); ``""`` when
    it has no pieces (advice-only plans such as "train longer" have nothing to apply).
    ``setup`` (``Recommendations.setup``) makes the loss and optimizer match the user's run."""
    from advisor.regularizers import Stack

    stack = Stack.from_dict(stack)
    return stack.to_code(setup=setup) if len(stack) else ""


def _snippet(recs: Any) -> str | None:
    """The recommended stack as code, for the report's plan section; None for advice only."""
    to_stack = getattr(recs, "to_stack", None)
    if to_stack is None:
        return None
    return stack_code(to_stack(), setup=getattr(recs, "setup", None)) or None


def _recommendation_blocks(recs: Any) -> list[Block]:
    items = sorted(_recs_list(recs), key=_stage_key)
    if not items:
        return [Block("text", "No regularization change is recommended.")]
    rows = []
    for rec in items:
        params = rec.get("params") or rec.get("default_params") or {}
        rules = rec.get("rules") or []
        rule_text = ", ".join(r if isinstance(r, str) else str(r.get("id", r)) for r in rules)
        rows.append(
            [
                _fmt(rec.get("stage")),
                str(rec.get("technique", "?")),
                _fmt(rec.get("score")),
                _fmt(params),
                str(rec.get("rationale") or "-"),
                rule_text or "-",
            ]
        )
    blocks = [
        Block(
            "table",
            {
                "headers": ["stage", "technique", "score", "params", "rationale", "rules"],
                "rows": rows,
            },
        )
    ]
    code = _snippet(recs)
    if code:
        blocks.append(Block("text", "The plan as code (advisor.apply does the same in one call):"))
        blocks.append(Block("code", {"language": "python", "code": code}))
    return blocks


def _recommendations_sections(recs: Any, plots: bool) -> list[Section]:
    section = Section("Staged plan", _recommendation_blocks(recs))
    if plots and _recs_list(recs):
        from advisor.report._plot_other import plot_recommendations

        section.blocks.append(
            Block(
                "figure",
                {
                    "name": "recommendations",
                    "figure": plot_recommendations(recs),
                    "alt": "recommendation scores by stage",
                },
            )
        )
    return [section]


def _diagnosis_sections(diag: Any, plots: bool) -> list[Section]:
    sections: list[Section] = []
    fit = getattr(diag, "fit", None)
    curves = getattr(diag, "curves", None)
    if fit is not None:
        figure = None
        if plots:
            from advisor.report._plot_curves import plot_curves

            figure = plot_curves(curves, fit)
        sections.append(Section("Verdict", _fit_blocks(fit, figure=figure)))
    elif curves is not None:
        sections.extend(_curves_sections(curves, plots))
    facts = getattr(diag, "facts", None)
    if facts is not None:
        rows = _facts_rows(facts)
        if rows:
            sections.append(
                Section(
                    "Facts",
                    [
                        Block(
                            "table",
                            {"headers": ["fact", "value", "origin", "source"], "rows": rows},
                        )
                    ],
                )
            )
    sources = getattr(diag, "sources", None)
    notes = getattr(diag, "notes", None)
    if sources or notes:
        blocks = [Block("list", [str(s) for s in sources])] if sources else []
        if notes:  # what the orchestration decided ("no curves beside the checkpoint")
            blocks += [Block("text", "Notes:"), Block("list", [str(n) for n in notes])]
        sections.append(Section("Sources", blocks))
    recs = getattr(diag, "recommendations", None)
    if recs is not None:
        sections.append(Section("Staged plan", _recommendation_blocks(recs)))
    report = getattr(diag, "model_report", None)
    if report is not None:
        sections.extend(model_sections(report, plots))
    return sections


def _check_sections(report: Any, plots: bool) -> list[Section]:
    d = report.to_dict()
    counts = d.get("counts") or {}
    if not d.get("passed", d.get("exit_code") == 0):
        status = "ERROR" if counts.get("ERROR") and not counts.get("FAIL") else "FAIL"
    else:
        status = "WARN" if counts.get("WARN") else "PASS"
    blocks = [Block("verdict", {"verdict": status, "status": True})]
    rows = []
    for check in d.get("checks") or []:
        rows.append(
            [
                str(check.get("title") or check.get("id") or "?"),
                str(check.get("status") or "?"),
                _fmt(check.get("measured")),
                _fmt(check.get("threshold")),
                str(check.get("message") or "-"),
            ]
        )
    if rows:
        blocks.append(
            Block(
                "table",
                {"headers": ["check", "status", "measured", "threshold", "message"], "rows": rows},
            )
        )
    info = [
        ("source", _fmt(d.get("source"))),
        ("baseline", _fmt(d.get("baseline"))),
        ("exit code", _fmt(d.get("exit_code"))),
    ]
    info += [(k, _fmt(v)) for k, v in (d.get("measurements") or {}).items()]
    blocks.append(Block("kv", info))
    sections = [Section("Checks", blocks)]
    fit = getattr(report, "fit", None)
    if fit is not None:
        figure = None
        if plots and hasattr(fit, "val_values"):
            from advisor.report._plot_curves import plot_curves

            figure = plot_curves(None, fit)
        sections.append(Section("Fit", _fit_blocks(fit, figure=figure)))
    return sections


def _recorder_sections(rec: Any, plots: bool) -> list[Section]:
    curves = rec.to_curves()
    fit = None
    if rec.n_epochs >= 2:
        fit = rec.diagnose()
    sections = []
    if fit is not None:
        sections.append(Section("Live verdict", _fit_blocks(fit)))
    sections.extend(_curves_sections(curves, plots, fit))
    return sections


_BUILDERS = {
    "curves": lambda obj, plots: _curves_sections(obj, plots),
    "fit": _fit_sections,
    "diagnosis": _diagnosis_sections,
    "model": model_sections,
    "weights": weights_sections,
    "recommendations": _recommendations_sections,
    "tune": tune_sections,
    "check": _check_sections,
    "recorder": _recorder_sections,
}
