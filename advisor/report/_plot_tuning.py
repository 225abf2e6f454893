"""Tuning study plots: optimisation history against the baseline, parameter importances, and
the cross-validation score of every fold.

The history shows each trial's mean CV score and the best so far, with the untuned baseline
as a horizontal line: a study that never clears it says the recommended stack does not help.
Importances come from the study (Optuna's fANOVA evaluator by default) when the result does
not carry them. The fold panel shows, for each fold, the spread of scores over the completed
trials, the best trial's score and the baseline's score: a gain that holds on every fold is
real, one carried by a single fold is noise.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from advisor.errors import ConfigError
from advisor.report._figures import COLORS, new_figure

__all__ = ["plot_tuning", "tune_data"]

_FOLD_KEYS = ("fold_scores", "cv_scores", "scores", "folds")


def _d(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "to_dict"):
        out = obj.to_dict()
        return out if isinstance(out, dict) else {}
    return {}


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _folds(entry: dict[str, Any]) -> list[float] | None:
    for key in _FOLD_KEYS:
        value = entry.get(key)
        if isinstance(value, list | tuple) and value and all(_num(v) is not None for v in value):
            return [float(v) for v in value]
    attrs = entry.get("user_attrs") or {}
    for key in _FOLD_KEYS:
        value = attrs.get(key)
        if isinstance(value, list | tuple) and value:
            return [float(v) for v in value]
    return None


def _score(entry: Any) -> float | None:
    if isinstance(entry, dict):
        for key in ("value", "score", "mean", "cv_mean", "best_value"):
            if _num(entry.get(key)) is not None:
                return _num(entry[key])
        folds = _folds(entry)
        return float(np.mean(folds)) if folds else None
    return _num(entry)


def _trials_from_study(study: Any) -> list[dict[str, Any]]:
    out = []
    for t in study.trials:
        out.append(
            {
                "number": t.number,
                "value": t.value,
                "params": dict(t.params),
                "state": t.state.name,
                "fold_scores": _folds({"user_attrs": t.user_attrs}),
            }
        )
    return out


def _reopen_study(d: dict[str, Any]) -> Any:
    """The study behind a result whose storage is a local file (journal or SQLite), else None.

    A result carries its storage as a printable description; local files can be reopened
    to draw the history, server URLs (passwords hidden) cannot.
    """
    storage, name = str(d.get("storage") or ""), d.get("study_name")
    if not name:
        return None
    import optuna

    try:
        if storage.startswith("journal:"):
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            path = storage.removeprefix("journal:")
            if not Path(path).is_file():
                return None
            return optuna.load_study(
                study_name=name, storage=JournalStorage(JournalFileBackend(path))
            )
        if storage.startswith("sqlite:///") and Path(storage.removeprefix("sqlite:///")).is_file():
            return optuna.load_study(study_name=name, storage=storage)
    except (KeyError, ValueError, RuntimeError):  # the study is gone from that storage
        return None
    return None


def tune_data(result: Any) -> dict[str, Any]:
    """What the report and the plot need from a ``TuneResult`` (or its dict), normalised.

    Returns a dict with ``direction``, ``trials`` (number, value, params, state, fold_scores),
    ``baseline`` (score, fold_scores), ``best`` (number, value, params, fold_scores),
    ``best_params``, ``importances``, ``summary`` (scalars for a table) and ``code``.
    """
    d = _d(result)
    study = getattr(result, "study", None)
    direction = str(
        d.get("direction")
        or (getattr(study, "direction", None) and study.direction.name)
        or "maximize"
    )
    direction = direction.lower().split(".")[-1]
    trials = d.get("trials") or getattr(result, "trials", None)
    if not isinstance(trials, list) or not trials or not isinstance(trials[0], dict):
        if study is None:
            study = _reopen_study(d)
        trials = _trials_from_study(study) if study is not None else []
    trials = [dict(t, value=_score(t), fold_scores=_folds(t)) for t in trials]

    base = d.get("baseline")
    baseline = {
        "score": _score(base),
        "fold_scores": _folds(base) if isinstance(base, dict) else None,
    }
    best_raw = d.get("best") if isinstance(d.get("best"), dict) else {}
    best_params = dict(best_raw.get("params") or d.get("best_params") or {})
    best_value = _score(best_raw) if best_raw else _num(d.get("best_value"))
    best_number = best_raw.get("number", best_raw.get("trial", d.get("best_trial")))
    finished = [t for t in trials if t["value"] is not None]
    if best_value is None and finished:
        pick = max if direction == "maximize" else min
        chosen = pick(finished, key=lambda t: t["value"])
        best_value, best_number, best_params = (
            chosen["value"],
            chosen.get("number"),
            best_params or chosen["params"],
        )
    best_folds = _folds(best_raw) if best_raw else None
    if best_folds is None and best_number is not None:
        best_folds = next(
            (t["fold_scores"] for t in trials if t.get("number") == best_number), None
        )

    importances = d.get("importances") or d.get("param_importances")
    if not importances and study is not None and len(finished) >= 2 and best_params:
        import optuna

        try:
            importances = dict(optuna.importance.get_param_importances(study))
        except (RuntimeError, ValueError):  # too few distinct values to evaluate
            importances = None
    summary: dict[str, Any] = {
        "direction": direction,
        "metric": d.get("metric") or d.get("scoring"),
        "trials": len(trials) or d.get("n_trials"),
        "completed": len(finished) if trials else None,
        "folds": d.get("folds") or d.get("n_folds"),
        "best CV score": best_value,
        "best trial": best_number,
        "baseline CV score": baseline["score"],
    }
    if best_value is not None and baseline["score"] is not None:
        gain = best_value - baseline["score"]
        summary["gain over baseline"] = gain if direction == "maximize" else -gain
    timing = d.get("timing") if isinstance(d.get("timing"), dict) else {}
    for key, value in (
        ("seconds", timing.get("elapsed_s", d.get("elapsed_s"))),
        ("storage", d.get("storage")),
        ("study", d.get("study_name")),
        ("device", d.get("device")),
        ("folds mode", d.get("folds_mode_reason") or d.get("folds_mode")),
    ):
        if value is not None:
            summary[key] = value
    code = None
    stack = getattr(result, "best_stack", None) or getattr(result, "stack", None)
    if hasattr(stack, "to_code"):
        code = stack.to_code()
    elif isinstance(d.get("code"), str):
        code = d["code"]
    return {
        "direction": direction,
        "trials": trials,
        "baseline": baseline,
        "best": {
            "number": best_number,
            "value": best_value,
            "params": best_params,
            "fold_scores": best_folds,
        },
        "best_params": best_params,
        "importances": dict(importances or {}),
        "summary": {k: v for k, v in summary.items() if v is not None},
        "code": code,
    }


def plot_tuning(result: Any) -> Any:
    """Optimisation history with the baseline, parameter importances and per-fold CV scores.

    Args:
        result: a ``TuneResult`` (or its ``to_dict()``).

    Returns:
        A ``matplotlib.figure.Figure`` with up to three panels (a panel is left out when the
        study holds nothing for it, e.g. importances with a single parameter).

    Example:
        >>> result = advisor.tune(make_model, (X, y), task="classification", stack=recs)  # doctest: +SKIP
        >>> plot_tuning(result).savefig("tune.png")  # doctest: +SKIP
    """
    data = tune_data(result)
    trials = [t for t in data["trials"] if t["value"] is not None]
    if not trials and data["best"]["value"] is None:
        raise ConfigError("plot_tuning: the study has no completed trial to plot; run more trials.")
    folds_known = (
        any(t["fold_scores"] for t in trials)
        or data["best"]["fold_scores"]
        or data["baseline"]["fold_scores"]
    )
    panels = ["history"] if trials else []
    if len(data["importances"]) >= 1:
        panels.append("importances")
    if folds_known:
        panels.append("folds")
    fig, axes = new_figure(ncols=len(panels), figsize=(5.0 * len(panels) + 1, 4.2))
    maximize = data["direction"] == "maximize"
    for ax, panel in zip(axes[0], panels):
        if panel == "history":
            x = np.array([t.get("number", i) for i, t in enumerate(trials)], dtype=float)
            y = np.array([t["value"] for t in trials])
            ax.scatter(
                x,
                y,
                s=18,
                color=COLORS["train"],
                alpha=0.7,
                label="trial (mean CV score)",
                gid="trials",
            )
            running = np.maximum.accumulate(y) if maximize else np.minimum.accumulate(y)
            ax.step(
                x,
                running,
                where="post",
                color=COLORS["best"],
                lw=1.8,
                label="best so far",
                gid="best_so_far",
            )
            if data["baseline"]["score"] is not None:
                ax.axhline(
                    data["baseline"]["score"],
                    color=COLORS["baseline"],
                    ls="--",
                    lw=1.4,
                    label=f"baseline {data['baseline']['score']:.4g}",
                    gid="baseline",
                )
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trials are numbered
            ax.set_xlabel("trial")
            ax.set_ylabel("CV score")
            ax.set_title("optimisation history", fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(loc="best", fontsize=8)
        elif panel == "importances":
            items = sorted(data["importances"].items(), key=lambda kv: kv[1])
            ax.barh(
                [k for k, _ in items],
                [float(v) for _, v in items],
                color=COLORS["train"],
                gid="importances",
            )
            ax.set_xlabel("importance")
            ax.set_title("parameter importances", fontsize=10)
            ax.tick_params(axis="y", labelsize=8)
            ax.grid(alpha=0.3, axis="x")
        else:
            best = data["best"]["fold_scores"]
            base = data["baseline"]["fold_scores"]
            n_folds = max(
                [len(t["fold_scores"] or []) for t in trials] + [len(best or []), len(base or [])]
            )
            positions = np.arange(1, n_folds + 1)
            per_fold = [
                [
                    t["fold_scores"][k]
                    for t in trials
                    if t["fold_scores"] and len(t["fold_scores"]) > k
                ]
                for k in range(n_folds)
            ]
            if any(per_fold):
                ax.boxplot(
                    per_fold,
                    positions=positions,
                    widths=0.5,
                    patch_artist=True,
                    boxprops={"facecolor": "#dde7f0"},
                    medianprops={"color": COLORS["train"]},
                )
            if best:
                ax.plot(
                    positions[: len(best)],
                    best,
                    marker="*",
                    ms=11,
                    ls="none",
                    color=COLORS["best"],
                    label="best trial",
                    gid="best_folds",
                )
            if base:
                ax.plot(
                    positions[: len(base)],
                    base,
                    marker="D",
                    ms=6,
                    ls="none",
                    color=COLORS["baseline"],
                    label="baseline",
                    gid="baseline_folds",
                )
            ax.set_xticks(positions, [f"fold {k}" for k in positions])
            ax.set_xlim(0.4, n_folds + 0.6)
            ax.set_ylabel("score")
            ax.set_title(
                "CV score per fold" + (" (boxes: all trials)" if any(per_fold) else ""), fontsize=10
            )
            ax.grid(alpha=0.3, axis="y")
            if best or base:
                ax.legend(loc="best", fontsize=8)
    fig.suptitle(_tune_title(data), fontsize=11)
    return fig


def _tune_title(data: dict[str, Any]) -> str:
    best, base = data["best"]["value"], data["baseline"]["score"]
    text = f"tuning study: {data['summary'].get('trials', len(data['trials']))} trials"
    if best is not None:
        text += f", best CV score {best:.4g}"
    if base is not None:
        text += f" (baseline {base:.4g})"
    return text
