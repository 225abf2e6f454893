"""Robust statistics of one learning curve: smoothing, noise, trend, scale.

Every estimate here ignores isolated spikes: a running median smooths, the noise level is the
MAD of second differences (a robust standard deviation that a smooth trend does not inflate),
trends are Theil-Sen slopes (median of pairwise slopes, Sen 1968), and the scale of a curve
skips an extreme first value and the top 5 % of points.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "first_is_extreme",
    "median_filter",
    "noise_level",
    "robust_scale",
    "smoothing_window",
    "spikes",
    "theil_sen",
]

# Window of the running median: about a tenth of the run, odd, at least 3 points; it widens on
# noisy curves (up to a quarter of the run) so that a lucky stretch is not read as the optimum.
WINDOW_FRACTION = 1 / 10
MIN_WINDOW = 3
MAX_WINDOW_FRACTION = 1 / 4
# Relative noise (noise / scale) above which the window widens in proportion.
NOISY_REL = 0.05
MAX_WIDEN = 3.0
# A point is a spike when it sits this many robust deviations above the running median and
# this fraction above its level.
SPIKE_SIGMAS = 6.0
SPIKE_REL = 0.2
# Pairwise slopes beyond this many points are computed on an even subsample (O(n^2) otherwise).
THEIL_SEN_MAX_POINTS = 300
MAD_TO_SIGMA = 1.4826


def smoothing_window(n: int, rel_noise: float = 0.0) -> int:
    """Odd window for a run of ``n`` points, widened on noisy curves; 1 below 5 points."""
    if n < 5:
        return 1
    widen = min(MAX_WIDEN, max(1.0, rel_noise / NOISY_REL))
    w = round(n * WINDOW_FRACTION * widen)
    w = max(MIN_WINDOW, min(w, max(MIN_WINDOW, int(n * MAX_WINDOW_FRACTION))))
    return w if w % 2 else w + 1


def median_filter(values: np.ndarray, window: int) -> np.ndarray:
    """Running median whose window shrinks at the ends (same length as ``values``).

    The window is not padded with copies of the end points: a padded first epoch would fill
    half the window and become its own median, so one lucky first point would read as the
    optimum of the whole run.
    """
    if window <= 1 or values.size < 3:
        return values.copy()
    half = window // 2
    padded = np.pad(values.astype(np.float64), half, constant_values=np.nan)
    return np.nanmedian(np.lib.stride_tricks.sliding_window_view(padded, window), axis=1)


def theil_sen(x: np.ndarray, y: np.ndarray) -> float:
    """Median of pairwise slopes; robust to up to ~29 % outliers."""
    if x.size < 2:
        return 0.0
    if x.size > THEIL_SEN_MAX_POINTS:
        idx = np.linspace(0, x.size - 1, THEIL_SEN_MAX_POINTS).round().astype(int)
        x, y = x[idx], y[idx]
    i, j = np.triu_indices(x.size, k=1)
    dx = x[j] - x[i]
    ok = dx != 0
    if not ok.any():
        return 0.0
    return float(np.median((y[j] - y[i])[ok] / dx[ok]))


def noise_level(values: np.ndarray) -> float:
    """Robust point-to-point noise: MAD of second differences / sqrt(6).

    For white noise of deviation s the second difference has deviation s * sqrt(6), while a
    smooth trend contributes almost nothing.
    """
    if values.size >= 5:
        d2 = values[2:] - 2 * values[1:-1] + values[:-2]
        return float(np.median(np.abs(d2 - np.median(d2))) * MAD_TO_SIGMA / math.sqrt(6))
    if values.size >= 2:
        return float(np.median(np.abs(np.diff(values)))) / 2
    return 0.0


def first_is_extreme(values: np.ndarray) -> bool:
    """Whether the first point is an outlier (a first-epoch loss 10x the rest is common)."""
    if values.size < 4:
        return False
    rest = values[1:]
    med = float(np.median(rest))
    mad = float(np.median(np.abs(rest - med))) * MAD_TO_SIGMA
    return abs(values[0] - med) > max(10 * mad, 2.0 * abs(med), 1e-12) and abs(values[0]) > 3 * abs(
        med
    )


def robust_scale(values: np.ndarray) -> float:
    """Spread of a curve ignoring an extreme first point and the top 5 % (spikes)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 1.0
    if first_is_extreme(v):
        v = v[1:]
    lo, hi = np.percentile(v, [0, 95])
    level = float(np.median(np.abs(v)))
    return max(float(hi - lo), 0.05 * level, 1e-12)


def spikes(values: np.ndarray, smooth: np.ndarray, noise: float) -> np.ndarray:
    """Boolean mask of upward spikes: far above the running median, in noise and in level."""
    out = np.zeros(values.size, dtype=bool)
    if values.size < 5:
        return out
    excess = values - smooth
    big = (excess > SPIKE_SIGMAS * max(noise, 1e-12)) & (
        excess > SPIKE_REL * np.maximum(np.abs(smooth), 1e-12)
    )
    # A spike stands above both neighbours; the first point of a falling curve is no spike.
    interior = (values[1:-1] > values[:-2]) & (values[1:-1] > values[2:])
    out[1:-1] = big[1:-1] & interior
    out[-1] = big[-1] and values[-1] > values[-2]
    return out
