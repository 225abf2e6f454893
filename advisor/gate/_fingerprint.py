"""The noise-aware baseline: a fingerprint of a configuration's run-to-run distribution.

A baseline is not one run. ``fingerprint_from_runs(runs)`` measures every run (seeds, folds of
one configuration) and stores, per measure, the mean, the spread (sample standard deviation and
the number of runs ``n``) and the noise of the curves it was read from. A candidate run fails a
measure only when it is worse than the baseline beyond that noise (``threshold``):

    worse  <=>  x > mean + k * sqrt(s^2 * (1 + 1/n) + noise^2 / m)        (lower is better)

* ``s`` is the sample standard deviation of the measure over the ``n`` baseline runs; for a
  single run (``n = 1``) it is the run's own curve noise (per point), the only spread there is.
* ``noise`` is the robust noise of the curves (MAD of second differences x 1.4826 / sqrt(6),
  the estimate the fit diagnosis uses, over the second half of each curve where the best and
  final values lie), averaged over the baseline runs; a measure averages
  ``m`` points (the last ``m`` epochs, or a running mean of ``m``), so its own measurement
  noise is ``noise / sqrt(m)``. This term also keeps the spread above zero when every seed
  happened to agree.
* ``s^2 (1 + 1/n)`` is the variance of a new run around the mean of ``n`` runs (a one-sided
  prediction interval); ``k`` is Student's t quantile with ``n - 1`` degrees of freedom (the
  normal quantile for ``n = 1``) at ``1 - alpha / M``: the overall false-alarm rate per run
  ``alpha`` (default 0.05, one in twenty) is split over the ``M`` measures that can fail
  (Bonferroni; conservative, as the measures are correlated).

Measures (names as in the baseline file; "badness" is the value for lower-is-better series and
minus the value for higher-is-better ones):

* ``best_val``: best of the running mean (``m`` points) of the primary validation series
  (the validation loss when logged); objective.
* ``final_val``: mean of its last ``m`` points; objective.
* ``best_metric``: best of the running mean of the validation metric (accuracy-like); objective.
* ``gap_end``: mean over the last ``m`` epochs of validation minus train badness of the primary
  series; diagnostic.
* ``val_rise``: ``final_val`` minus ``best_val`` in badness (>= 0); diagnostic.
* ``best_epoch``: epoch of ``best_val``; stored and reported, never gated.

A *diagnostic* measure that is worse beyond its noise is only a WARN when the run is better
than the baseline mean on the primary measure (``best_val``): a run that generalises better but
fits the training set even better has a wider gap, and that is not a regression.

Series are matched by their normalised (split, metric) pair, not by the logged name, so renaming
``val_acc`` to ``val_accuracy`` keeps the comparison on; a series the baseline measured that the
run lacks fails, naming both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from advisor.curves import HIGHER_IS_BETTER, Curves, Series
from advisor.errors import ConfigError
from advisor.gate._student_t import t_quantile

__all__ = [
    "DEFAULT_FALSE_ALARM",
    "MEASURES",
    "MeasureSpec",
    "fingerprint_from_runs",
    "gate_k",
    "measure_run",
    "normalised_pair",
    "t_quantile",
]

DEFAULT_FALSE_ALARM = 0.05


@dataclass(frozen=True)
class MeasureSpec:
    """One measure of a run's fingerprint: its name, title, role (objective, diagnostic or
    info) and description.
    """

    name: str
    title: str
    role: str  # "objective", "diagnostic" or "info" (never gated)
    description: str


MEASURES: dict[str, MeasureSpec] = {
    spec.name: spec
    for spec in (
        MeasureSpec(
            "best_val",
            "best validation value",
            "objective",
            "best of the running mean of the primary validation series (validation loss)",
        ),
        MeasureSpec(
            "final_val",
            "final validation value",
            "objective",
            "mean of the last epochs of the primary validation series",
        ),
        MeasureSpec(
            "best_metric",
            "best validation metric",
            "objective",
            "best of the running mean of the accuracy-like validation metric",
        ),
        MeasureSpec(
            "gap_end",
            "generalisation gap at end",
            "diagnostic",
            "validation minus train (primary series, worse-is-positive) over the last epochs",
        ),
        MeasureSpec(
            "val_rise",
            "validation rise after its best",
            "diagnostic",
            "final minus best validation value (worse-is-positive)",
        ),
        MeasureSpec(
            "best_epoch", "epoch of the best validation value", "info", "epoch of best_val"
        ),
    )
}
GATED = tuple(n for n, s in MEASURES.items() if s.role != "info")


# ----------------------------------------------------------------------------- statistics


def curve_noise(values: np.ndarray, *, tail: bool = False) -> float:
    """Robust per-point noise: MAD of second differences x 1.4826 / sqrt(6).

    ``tail=True`` reads the second half of the curve only (at least 8 points), where the best
    and final values lie: the steep start of a learning curve has large second differences
    that are trend, not noise.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if tail and v.size > 8:
        v = v[-max(8, v.size // 2) :]
    if v.size < 4:
        return 0.0
    d2 = np.diff(v, 2)
    return float(np.median(np.abs(d2 - np.median(d2))) * 1.4826 / math.sqrt(6))


def points_for(n: int) -> int:
    """How many points a measure averages: about a tenth of the run, 3 to 5."""
    return int(min(5, max(3, round(n / 10)))) if n >= 3 else max(n, 1)


def _running_mean(v: np.ndarray, m: int) -> np.ndarray:
    if v.size < m:
        return np.array([float(v.mean())]) if v.size else v
    c = np.cumsum(np.insert(v, 0, 0.0))
    return (c[m:] - c[:-m]) / m


def gate_k(n_runs: int, n_measures: int, false_alarm: float = DEFAULT_FALSE_ALARM) -> float:
    """The multiplier ``k`` of the prediction interval (see the module docstring)."""
    p = 1 - false_alarm / max(n_measures, 1)
    return t_quantile(p, n_runs - 1 if n_runs >= 2 else math.inf)


# ----------------------------------------------------------------------------- series


def normalised_pair(key: str | None) -> tuple[str, str] | None:
    """``"valid_loss"`` -> ``("val", "loss")`` with the readers' normalisation."""
    if not key:
        return None
    try:
        from advisor.curves import normalise_key

        out = normalise_key(str(key))
    except Exception:  # the normaliser is optional here; fall back to the plain name
        out = None
    if out is None:
        return None
    return str(out[0]), str(out[1])


def _primary(curves: Curves, fit: Any = None) -> Series | None:
    vl = curves.get("val", "loss")
    if vl is not None and np.isfinite(vl.values).sum() >= 2:
        return vl
    if fit is not None:
        for s in curves.series.values():
            if s.split == "val" and s.key == getattr(fit, "primary_key", None):
                return s
    for s in sorted(
        (s for s in curves.series.values() if s.split == "val"),
        key=lambda s: (s.metric not in HIGHER_IS_BETTER, s.metric),
    ):
        if np.isfinite(s.values).sum() >= 2:
            return s
    return None


def pick_metric(curves: Curves, metric: str | None = None) -> Series | None:
    """The validation metric: the one named (key or normalised name), else the first accuracy-like."""
    if metric:
        pair = normalised_pair(metric)
        for s in curves.series.values():
            if s.split == "val" and (s.metric == metric or s.key == metric):
                return s
        if pair is not None and pair[0] == "val":
            return curves.get(*pair)
        return None
    for m in curves.metrics("val"):
        if m in HIGHER_IS_BETTER:
            return curves.get("val", m)
    return None


def _finite(s: Series) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(s.values)
    return s.epochs[ok], s.values[ok]


def _sign(s: Series) -> float:
    return -1.0 if s.mode == "max" else 1.0


def measure_run(curves: Curves, *, metric: str | None = None, fit: Any = None) -> dict[str, Any]:
    """Measures of one run: ``{name: {"value", "noise", "m", "split", "metric", "key", "mode"}}``.

    Values are in the series' own units (``gap_end`` and ``val_rise`` in badness: positive is
    worse). ``noise`` is the per-point curve noise and ``m`` the points the measure averages.
    """
    out: dict[str, Any] = {}
    prim = _primary(curves, fit)
    if prim is not None:
        ep, v = _finite(prim)
        m = points_for(v.size)
        sign = _sign(prim)
        rm = _running_mean(sign * v, m)
        b = int(np.argmin(rm))
        noise = curve_noise(v, tail=True)
        base = {"split": prim.split, "metric": prim.metric, "key": prim.key, "mode": prim.mode}
        best = float(sign * rm[b])
        final = float(sign * rm[-1])
        out["best_val"] = {**base, "value": best, "noise": noise, "m": m}
        out["final_val"] = {**base, "value": final, "noise": noise, "m": m}
        # A difference of two m-point means: its noise is that of an m/2-point mean.
        out["val_rise"] = {
            **base,
            "mode": "min",
            "value": float(rm[-1] - rm[b]),
            "noise": noise,
            "m": m / 2,
        }
        out["best_epoch"] = {
            **base,
            "mode": "info",
            "value": float(ep[min(b + (m - 1) // 2, ep.size - 1)]),
            "noise": 0.0,
            "m": 1,
        }
        train = curves.get("train", prim.metric)
        if train is not None and np.isfinite(train.values).sum() >= 2:
            te, tv = _finite(train)
            tail = ep[-m:]
            t_at = np.interp(tail, te, tv)
            gap = float(np.mean(sign * (v[-m:] - t_at)))
            tn = curve_noise(tv, tail=True)
            out["gap_end"] = {
                **base,
                "mode": "min",
                "train_key": train.key,
                "value": gap,
                "noise": math.sqrt(noise**2 + tn**2),
                "m": m,
            }
    ms = pick_metric(curves, metric)
    if ms is not None and np.isfinite(ms.values).sum() >= 1 and (prim is None or ms is not prim):
        _, v = _finite(ms)
        m = points_for(v.size)
        sign = _sign(ms)
        rm = _running_mean(sign * v, m)
        out["best_metric"] = {
            "split": ms.split,
            "metric": ms.metric,
            "key": ms.key,
            "mode": ms.mode,
            "value": float(sign * rm.min()),
            "noise": curve_noise(v, tail=True),
            "m": m,
        }
    return out


# ----------------------------------------------------------------------------- fingerprint


def fingerprint_from_runs(
    runs: Sequence[Curves] | Iterable[Curves],
    *,
    metric: str | None = None,
    false_alarm: float = DEFAULT_FALSE_ALARM,
    sources: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The baseline record (version 2) of one or several runs of the same configuration.

    Raises:
        ConfigError: no runs, or runs that do not log the same primary validation series.

    Example:
        >>> fp = fingerprint_from_runs([load_curves(p) for p in seeds])   # doctest: +SKIP
        >>> fp["measures"]["best_val"]["mean"], fp["measures"]["best_val"]["std"]  # doctest: +SKIP
        (0.0934, 0.0009)
    """
    from datetime import UTC, datetime

    from advisor._jsonutil import to_jsonable
    from advisor.gate._baseline import BASELINE_VERSION

    runs = list(runs)
    if not runs:
        raise ConfigError("baseline: no runs to build a fingerprint from; pass at least one run.")
    names = (
        list(sources)
        if sources is not None
        else [str(c.source) if c.source else f"run {i + 1}" for i, c in enumerate(runs)]
    )
    measured = [measure_run(c, metric=metric) for c in runs]
    first = measured[0]
    measures: dict[str, Any] = {}
    notes: list[str] = []
    for name in MEASURES:
        if name not in first:
            continue
        pair = (first[name]["split"], first[name]["metric"])
        rows = []
        for run_name, mm in zip(names, measured, strict=True):
            r = mm.get(name)
            if r is None or (r["split"], r["metric"]) != pair:
                got = f"'{r['key']}'" if r is not None else "nothing"
                if name in ("best_val", "final_val"):
                    raise ConfigError(
                        f"{run_name}: baseline runs must log the same validation series; the first "
                        f"measures '{first[name]['key']}' ({pair[0]} {pair[1]}), this one {got}."
                    )
                rows = []
                notes.append(f"{name} left out: {run_name} does not log {pair[0]} {pair[1]}")
                break
            rows.append(r)
        if not rows:
            continue
        values = [float(r["value"]) for r in rows]
        n = len(values)
        noise = float(np.mean([r["noise"] for r in rows]))
        std = float(np.std(values, ddof=1)) if n >= 2 else None
        measures[name] = {
            "split": pair[0],
            "metric": pair[1],
            "key": first[name]["key"],
            "keys": sorted({r["key"] for r in rows}),
            "mode": first[name]["mode"],
            "role": MEASURES[name].role,
            "mean": float(np.mean(values)),
            "std": std,
            "n": n,
            "noise": noise,
            "m": first[name]["m"],
            "values": values,
        }
        if "train_key" in first[name]:
            measures[name]["train_key"] = first[name]["train_key"]
    gated = [n for n in measures if MEASURES[n].role != "info"]
    k = gate_k(len(runs), len(gated), false_alarm)
    bv = measures.get("best_val", {})
    bm = measures.get("best_metric")
    record = {
        "advisor_baseline": BASELINE_VERSION,
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "source": names[0] if len(names) == 1 else f"{len(names)} runs",
        "sources": names,
        "n_runs": len(runs),
        # Version-1 keys, from the means, so that a reader of the old format finds them.
        "primary": bv.get("key"),
        "mode": bv.get("mode", "min"),
        "best_val": bv.get("mean"),
        "best_epoch": measures.get("best_epoch", {}).get("mean"),
        "gap_end": measures.get("gap_end", {}).get("mean"),
        "val_rise": measures.get("val_rise", {}).get("mean"),
        "metric": (
            {"key": bm["key"], "mode": bm["mode"], "best": bm["mean"]} if bm is not None else None
        ),
        "measures": measures,
        "test": {
            "false_alarm": false_alarm,
            "measures_gated": len(gated),
            "k": k,
            "rule": "fail when worse than mean + k * sqrt(std^2 * (1 + 1/n) + noise^2 / m); "
            "n = 1: std = curve noise; k = t(n-1) quantile at 1 - false_alarm / measures_gated",
        },
        "notes": notes,
    }
    return to_jsonable(record)


def legacy_measures(record: dict[str, Any]) -> dict[str, Any]:
    """Measures of a version-1 baseline file (one run, no spread, no noise stored)."""
    out: dict[str, Any] = {}
    pair = normalised_pair(record.get("primary")) or ("val", "loss")
    mode = record.get("mode", "min")
    common = {
        "split": pair[0],
        "metric": pair[1],
        "key": record.get("primary"),
        "n": 1,
        "std": None,
        "noise": None,
        "m": 1,
    }
    if record.get("best_val") is not None:
        out["best_val"] = {
            **common,
            "mode": mode,
            "role": "objective",
            "mean": record["best_val"],
            "legacy": True,
        }
    if record.get("gap_end") is not None:
        out["gap_end"] = {
            **common,
            "mode": "min",
            "role": "diagnostic",
            "mean": record["gap_end"],
            "legacy": True,
        }
    bm = record.get("metric")
    if isinstance(bm, dict) and bm.get("best") is not None:
        mp = normalised_pair(bm.get("key")) or ("val", str(bm.get("key")))
        out["best_metric"] = {
            **common,
            "split": mp[0],
            "metric": mp[1],
            "key": bm.get("key"),
            "mode": bm.get("mode", "max"),
            "role": "objective",
            "mean": bm["best"],
            "legacy": True,
        }
    return out
