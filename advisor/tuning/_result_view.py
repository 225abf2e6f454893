"""How a ``TuneResult`` reads on a terminal: the verdict first, then the evidence.

Kept apart from the result itself (``_result``): the result is data (``to_dict``), this is
one rendering of it (the HTML/Markdown report is another, in ``advisor.report``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["render_tune_result", "test_line", "verdict_line"]


def verdict_line(r) -> tuple[str, str]:
    """The first thing a user reads, and its style."""
    if r.candidate is None:
        return "no trial completed: keep your current setup (see the failures below)", "yellow"
    measured = r.comparison.describe(r.metric) if r.comparison else "not measured"
    if r.beats_baseline:
        return (
            f"the tuned stack beats your current setup beyond noise: {measured}",
            "bold green",
        )
    return (
        "no stack beat your current setup beyond noise: keep it "
        f"(best stack found: {measured}; beyond noise needs more than "
        f"{r.comparison.factor:g} standard errors)"
        if r.comparison
        else "no stack beat your current setup: keep it",
        "bold yellow",
    )


def test_line(r) -> str | None:
    """The untouched test comparison, with its sign spelled out."""
    if not r.test:
        return None
    better = "higher" if r.direction == "maximize" else "lower"
    t, n = r.test, r.test.get("samples")
    head = f"held-out test ({n} samples, never tuned on; {better} {r.metric} is better): "
    if not r.beats_baseline:
        text = head + f"your current setup {t['baseline']:.4f}"
        if "candidate" in t:
            delta = _signed(t["candidate"] - t["baseline"], r.direction)
            text += (
                f"; the best stack found {t['candidate']:.4f}, {_word(delta)} by {abs(delta):.4f}"
            )
        return text
    delta = r.test_delta
    return (
        head + f"current setup {t['baseline']:.4f}, tuned stack {t['best']:.4f}: "
        f"the tuned stack is {_word(delta)} by {abs(delta):.4f}"
        + ("" if delta > 0 else " -- the cross-validated gain did not carry over to the test split")
    )


def _signed(delta: float, direction: str) -> float:
    return delta if direction == "maximize" else -delta


def _word(delta: float) -> str:
    return "better" if delta > 0 else "worse" if delta < 0 else "no different"


def render_tune_result(r) -> Iterator[Any]:
    """Rich renderables for a ``TuneResult``: the verdict first (beats the baseline beyond
    noise, or keep your setup), then the path of a staged search, the scores, the untouched
    test comparison, importances or why they are omitted, and caveats."""
    from rich.table import Table
    from rich.text import Text

    better = "higher" if r.direction == "maximize" else "lower"
    yield Text(f"advisor tune: study {r.study_name!r} ({r.storage})", style="bold")
    text, style = verdict_line(r)
    yield Text(text, style=style)
    yield Text(
        f"{r.folds}-fold {r.splitter}, folds {r.folds_mode} ({r.folds_mode_reason}); "
        f"{r.search} search ({r.search_note}); "
        f"{r.n_trials} trials: {r.n_complete} complete, {r.n_pruned} pruned, {r.n_failed} failed"
        + (f", {r.n_interrupted} interrupted and re-run" if r.n_interrupted else "")
    )
    if r.jobs > 1 or r.jobs_reason.startswith("auto"):  # the default (one process) goes unsaid
        yield Text(f"{_workers(r.jobs)} ({r.jobs_reason})")
    table = Table(title=f"cross-validated {r.metric} ({better} is better)", show_edge=False)
    for col, justify in (("configuration", "left"), ("CV mean", "right"), ("CV std", "right")):
        table.add_column(col, justify=justify)
    table.add_column("epochs per fold")
    chosen = " (chosen)"
    table.add_row(
        "your current setup (no added regularization)" + ("" if r.beats_baseline else chosen),
        f"{r.baseline.cv_mean:.4f}",
        f"{r.baseline.cv_std:.4f}",
        ", ".join(map(str, r.baseline.fold_epochs)),
    )
    if r.candidate is not None:
        table.add_row(
            "best stack found" + (chosen if r.beats_baseline else ""),
            f"{r.candidate.cv_mean:.4f}",
            f"{r.candidate.cv_std:.4f}",
            ", ".join(map(str, r.candidate.fold_epochs)),
        )
    yield table
    if r.path:
        yield _path_table(r)
    if r.candidate_stack is not None and r.candidate_params:
        label = "tuned values" if r.beats_baseline else "best stack found"
        yield Text(
            f"{label}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in r.candidate_params.items())
        )
    if r.importances:
        yield Text("importances: " + ", ".join(f"{k} {v:.2f}" for k, v in r.importances.items()))
    elif r.importances_note:
        yield Text(f"importances {r.importances_note}", style="dim")
    for caveat in r.caveats:
        yield Text(f"caveat: {caveat}", style="yellow")
    line = test_line(r)
    if line:
        yield Text(line)
    if r.refit_path:
        yield Text(f"refit on all training data ({r.refit_epochs} epochs) saved to {r.refit_path}")
    for failure in r.failures[:5]:
        yield Text(f"trial {failure['trial']} {failure['state']}: {failure['reason']}", style="dim")


def _path_table(r):
    from rich.table import Table

    from advisor._terminal import Breakable

    table = Table(title="staged search: one technique at a time", show_edge=False)
    for col in ("stage", "tried", "trials", "best CV", "vs kept so far", "kept"):
        table.add_column(col, justify="right" if col in ("trials", "best CV") else "left")
    for step in r.path:
        best = step["best"]
        comp = step["comparison"]
        table.add_row(
            str(step["stage"]),
            Breakable(" + ".join(step["techniques"])),  # names are never cut mid-word
            str(step["budget"]),
            "-" if best is None else f"{best['cv_mean']:.4f}",
            "-" if comp is None else f"{comp['mean']:+.4f} ± {comp['se']:.4f}",
            "yes" if step["kept"] else f"no ({step['note']})" if step["note"] else "no",
        )
    return table


def _workers(jobs: int) -> str:
    return "trials in this process" if jobs == 1 else f"trials in {jobs} worker processes"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
