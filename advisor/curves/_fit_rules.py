"""The verdict rules of the fit diagnosis, tried in order; the first that fires decides.

Each rule is a small function of a ``Context`` with its own named thresholds; it returns a
``Finding`` (verdict, margin, rule id, severity, the evidence sentence it writes) or ``None``.
The order is the README's list ("Diagnosing the fit"): what breaks the optimisation first
(non-finite values, explosions, a dead network), then what the validation curve says over the
whole run (a rise beyond its noise, a descent still under way), then the levels (a plateau far
above what the model can reach, a large generalisation gap), and a good fit last.

The margin is in [0, 1]: 0 means the deciding statistic sits on its threshold, values near 1
mean it is several times past it; ``_fit_confidence`` turns (rule, margin) into a calibrated
confidence.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from advisor.curves._fit_robust import theil_sen
from advisor.curves._fit_series import Track, is_loss
from advisor.curves._types import Curves

__all__ = ["RULES", "Context", "Finding", "decide", "fmt_epoch", "margin"]


@dataclass
class Finding:
    verdict: str
    margin: float
    rule: str
    evidence: list[str] = field(default_factory=list)
    severity: str | None = None


@dataclass
class Context:
    """What the rules read. ``primary`` is the judged series (validation, or training alone)."""

    curves: Curves
    primary: Track
    train: Track | None
    train_only: bool
    chance: dict[str, Any] | None
    gap: dict[str, float | None]
    metric: Track | None  # an accuracy-like validation metric beside a loss primary
    nonfinite_epoch: float | None
    nonfinite_key: str | None
    nonfinite_weights: int | None
    regularization: dict[str, tuple[float, str]]

    @property
    def is_loss(self) -> bool:
        return is_loss(self.primary.series)


def margin(ratio: float) -> float:
    """Map "measured / threshold" (>= 1 past the threshold) to a margin in [0, 1]."""
    if not math.isfinite(ratio):
        return 1.0
    return float(max(0.0, min(1.0, math.tanh(0.5 * (ratio - 1.0)))))


def fmt_epoch(e: float | None) -> str:
    """An epoch as a user reads it: whole epochs without decimals, "?" when unknown.

    Example:
        >>> fmt_epoch(12.0), fmt_epoch(1.25), fmt_epoch(None)
        ('12', '1.25', '?')
    """
    if e is None:
        return "?"
    return str(int(e)) if float(e).is_integer() else f"{e:.3g}"


# ----------------------------------------------------------------------------- 1. non-finite

NONFINITE_MARGIN = 0.95
NONFINITE_WEIGHTS_MARGIN = 0.9


def non_finite(ctx: Context) -> Finding | None:
    """A loss that turns NaN/inf and stays so, or NaN/inf weights in the checkpoint."""
    if ctx.nonfinite_epoch is not None:
        return Finding(
            "diverging",
            NONFINITE_MARGIN,
            "non-finite",
            [
                f"Loss '{ctx.nonfinite_key}' became non-finite (NaN/inf) at epoch "
                f"{fmt_epoch(ctx.nonfinite_epoch)} and stayed so to the end of the run: the optimisation "
                "diverged; restore the last finite checkpoint and lower the learning rate."
            ],
        )
    if ctx.nonfinite_weights:
        return Finding(
            "diverging",
            NONFINITE_WEIGHTS_MARGIN,
            "non-finite-weights",
            [
                f"The checkpoint holds non-finite weights in {ctx.nonfinite_weights} layer(s): "
                "the optimisation diverged; lower the learning rate and restart from a finite checkpoint."
            ],
        )
    return None


# ----------------------------------------------------------------------------- 2. explosions

# Train loss "explodes" when the mean of its last points (a tenth of the run, at least 3) is
# above its first value and this many times its minimum.
TRAIN_EXPLODE_RATIO = 2.0
EXPLODE_END_FRACTION = 0.1
# Validation "explodes" when it ends this many times above its best.
VAL_EXPLODE_FACTOR = 10.0
EXPLODE_END_POINTS = 3


def train_explodes(ctx: Context) -> Finding | None:
    """The training loss ends above where it started and far above its minimum."""
    train = ctx.primary if ctx.train_only else ctx.train
    if train is None or train.n_valid < 4 or not is_loss(train.series):
        return None
    k = max(EXPLODE_END_POINTS, math.ceil(EXPLODE_END_FRACTION * train.n_valid))
    t_end = float(np.mean(train.bad[-k:]))
    t_min = float(train.bad.min())
    t_start = float(train.bad[0])
    if t_min <= 0 or t_end <= t_start or t_end <= TRAIN_EXPLODE_RATIO * t_min:
        return None
    return Finding(
        "diverging",
        margin(t_end / (TRAIN_EXPLODE_RATIO * t_min)),
        "train-explodes",
        [
            f"Training loss ends at {t_end:.4g} (mean of the last {k} points), above its start "
            f"{t_start:.4g} and {t_end / t_min:.1f}x its minimum {t_min:.4g}: the optimisation is "
            "diverging (learning rate too high)."
        ],
    )


def val_explodes(ctx: Context) -> Finding | None:
    val = ctx.primary
    if ctx.train_only or not ctx.is_loss or val.n_valid < 3:
        return None
    end = float(np.median(val.bad[-EXPLODE_END_POINTS:]))
    best = float(val.smooth[val.best])
    if best > 0 and end > VAL_EXPLODE_FACTOR * best and end > float(val.bad[0]):
        return Finding(
            "diverging",
            margin(end / (VAL_EXPLODE_FACTOR * best)),
            "val-explodes",
            [f"Validation loss explodes: {end:.4g} at the end vs {best:.4g} at best."],
        )
    return None


# ----------------------------------------------------------------------------- 3. chance level

# A loss within this fraction of ln K counts as "at chance"; a dead network never gets more
# than DEAD_AT_CHANCE below it.
AT_CHANCE = 0.03
DEAD_AT_CHANCE = 0.005
DEAD_SPREAD = 0.10  # a dead network's loss sits at most this fraction above ln K
ABOVE_CHANCE = 2.0  # a best loss above 2 ln K never reached even the guessing level
# A validation metric that improved this much means the model learned, whatever the loss says.
METRIC_LEARNED = 0.1
METRIC_LEARNED_ABS = 0.05  # and by at least 5 points of accuracy


def _learned_metric(ctx: Context) -> bool:
    """Whether an accuracy-like validation metric rose clearly above where it started and above chance."""
    m = ctx.metric
    if m is None:
        return False
    best = -float(m.smooth.min())  # badness of a higher-is-better metric is -value
    start = -m.start_level()
    if best - start < METRIC_LEARNED * max(abs(start), 1e-12) or best - start < METRIC_LEARNED_ABS:
        return False
    if ctx.chance is not None and is_fraction(m):
        chance_acc = 1.0 / ctx.chance["classes"]
        return best > chance_acc + METRIC_LEARNED * (1.0 - chance_acc)
    return True


def at_chance(ctx: Context) -> Finding | None:
    """A loss that never leaves ln K (dead: diverging), never reaches it, or barely moves."""
    tr, chance = ctx.primary, ctx.chance
    if chance is None or not ctx.is_loss or tr.n_valid < 3:
        return None
    ln_k, k = chance["loss"], chance["classes"]
    best = float(tr.smooth.min())
    if best > ABOVE_CHANCE * ln_k:
        return Finding(
            "diverging",
            margin(best / (ABOVE_CHANCE * ln_k)),
            "above-chance",
            [
                f"The {tr.label} loss never comes down to the chance level ln({k}) = {ln_k:.4g}: its best "
                f"is {best:.4g}, {best / ln_k:.1f}x of it. The outputs blew up (learning rate too high)."
            ],
        )
    if _learned_metric(ctx):
        return None  # an accuracy that clearly rose says the model learned, whatever the loss
    raw_min = float(tr.bad.min())
    level = float(np.median(tr.bad))
    if raw_min >= (1 - DEAD_AT_CHANCE) * ln_k and level <= (1 + DEAD_SPREAD) * ln_k:
        return Finding(
            "diverging",
            margin(2.0 + (raw_min / ln_k - (1 - DEAD_AT_CHANCE)) / DEAD_AT_CHANCE),
            "dead-at-chance",
            [
                f"The {tr.label} loss never goes below the chance level ln({k}) = {ln_k:.4g} (lowest "
                f"{raw_min:.4g}, median {level:.4g}): the network outputs guesses (dead network; learning "
                "rate too high or a broken input pipeline)."
            ],
        )
    if best < ln_k * (1 - AT_CHANCE):
        return None
    improving = still_improving(ctx)
    if improving is not None:
        improving.rule = "descending-from-chance"
        improving.evidence.append(
            f"It is still near the chance level ln({k}) = {ln_k:.4g}: train much longer or raise the learning rate."
        )
        return improving
    total = (tr.start_level() - best) / ln_k
    return Finding(
        "underfitting",
        margin(1.0 + (AT_CHANCE - max(total, 0.0)) / AT_CHANCE),
        "stuck-at-chance",
        [
            f"The {tr.label} loss sits within {1 - best / ln_k:.1%} of the chance level ln({k}) = {ln_k:.4g} "
            f"and is no longer falling clearly ({total:.1%} of it over the run): the model learns almost nothing."
        ],
    )


# ----------------------------------------------------------------------------- 4. validation rises

# A rise counts when it exceeds RISE_SIGMAS standard errors of the difference between the end
# level (median of the last m points) and the smoothed optimum, and RISE_REL of the optimum.
RISE_SIGMAS = 2.0
MEDIAN_SE = 1.25  # standard error of a median of m normal points is ~1.25 s / sqrt(m)
RISE_REL = 0.10
END_FRACTION = 0.2  # the end level is the median of this last fraction of the run
# The rise must last: at least this fraction of the run after the optimum, with most points above it.
MIN_AFTER_FRACTION = 0.1
ABOVE_FRACTION = 0.6
# "strong" overfitting: the rise is this many times its tolerance, or this fraction of the optimum.
STRONG_FACTOR = 2.0
STRONG_REL = 0.25


def rise_after_best(val: Track) -> tuple[float, float, int]:
    """(rise of the end level over the smoothed optimum, its tolerance, points after the optimum)."""
    n, b = val.n_valid, val.best
    after = n - 1 - b
    m = max(3, min(after, math.ceil(n * END_FRACTION)))
    best = float(val.smooth[b])
    end_level = float(np.median(val.bad[-m:])) if after >= 1 else best
    noise = max(val.noise, val_wander(val))
    tol = max(
        RISE_SIGMAS * MEDIAN_SE * noise * math.sqrt(1.0 / m + 1.0 / max(val.window, 1)),
        RISE_REL * headroom(val, best),
        1e-12,
    )
    return end_level - best, tol, after


def headroom(tr: Track, bad: float) -> float:
    """The level a relative change is measured against: the loss itself, or the error (1 - acc)
    of a higher-is-better metric in fractions (1 % accuracy lost at 98 % is half the errors again)."""
    if tr.series.mode == "max" and is_fraction(tr):
        return max(1.0 + bad, 1e-3)  # bad = -value
    return abs(bad)


def is_fraction(tr: Track) -> bool:
    """A higher-is-better metric in fractions (scale told by the reader, or values in [0, 1])."""
    if tr.series.scale is not None:
        return tr.series.scale == "fraction"
    return tr.n_valid > 0 and float(tr.values.min()) >= 0.0 and float(tr.values.max()) <= 1.0


def val_wander(tr: Track) -> float:
    """Robust deviation of the points around their running median (slow wander included)."""
    if tr.n_valid < 5:
        return tr.noise
    return float(np.median(np.abs(tr.bad - tr.smooth)) * 1.4826)


def val_rises(ctx: Context) -> Finding | None:
    """Validation worsens after its best point, beyond its noise, for a sustained stretch."""
    if ctx.train_only:
        return None
    val = ctx.primary
    n, b = val.n_valid, val.best
    if n < 4:
        return None
    rise, tol, after = rise_after_best(val)
    if after < max(2, int(MIN_AFTER_FRACTION * n)) or rise <= tol:
        return None
    if float(np.mean(val.bad[b + 1 :] > val.smooth[b])) < ABOVE_FRACTION:
        return None
    rel = rise / max(headroom(val, float(val.smooth[b])), 1e-12)
    severity = "strong" if rise > STRONG_FACTOR * tol or rel > STRONG_REL else "mild"
    return Finding(
        "overfitting",
        margin(rise / tol),
        "val-worsens",
        [
            f"Validation {val.series.metric} worsens after epoch {fmt_epoch(float(val.epochs[b]))}: the end level "
            f"is {rise:+.4g} ({rel:+.1%}) above the smoothed optimum, beyond the noise band {tol:.3g} "
            f"(severity {severity})."
        ],
        severity,
    )


# ----------------------------------------------------------------------------- 5. still improving

# "Clearly" improving: the smoothed curve falls over the last NC_TAIL of the run by more than
# NC_SIGMAS noise deviations and NC_REL of its final level, with the optimum in the last
# NC_BEST_FRACTION of the run.
NC_TAIL = 0.25
NC_SIGMAS = 2.0
NC_REL = 0.03
NC_BEST_FRACTION = 0.15


def still_improving(ctx: Context) -> Finding | None:
    tr = ctx.primary
    n, b = tr.n_valid, tr.best
    if n < 3:
        return None
    k = min(n - 1, max(2, math.ceil(NC_TAIL * n)))
    # A robust line through the raw tail: the end of a running median lags a falling curve.
    x, y = tr.epochs[-(k + 1) :], tr.bad[-(k + 1) :]
    drop = -theil_sen(x, y) * float(x[-1] - x[0])
    noise = max(tr.noise, val_wander(tr))
    tol = max(NC_SIGMAS * noise, NC_REL * abs(float(tr.smooth[-1])), 1e-12)
    if drop > tol and (n - 1 - b) <= max(1, int(NC_BEST_FRACTION * n)):
        return Finding(
            "not_converged",
            margin(drop / tol),
            "still-improving",
            [
                f"The {tr.label} {tr.series.metric} was still improving when the run stopped "
                f"({drop:.3g} over the last {k} points, beyond the band {tol:.3g}): train longer."
            ],
        )
    return None


# ----------------------------------------------------------------------------- 6. high plateau

# Underfitting: the training loss itself stays above this fraction of the chance level (the
# model cannot fit even the data it sees) with validation close to it.
UNDERFIT_CHANCE = 0.5
CLOSE_GAP = 0.25  # validation within 25 % of the train value counts as "close together"


def high_plateau(ctx: Context) -> Finding | None:
    if ctx.train_only or ctx.chance is None or not ctx.is_loss or _learned_metric_far(ctx):
        return None
    val, ln_k = ctx.primary, ctx.chance["loss"]
    best = float(val.smooth[val.best])
    train_end = float(ctx.train.smooth[-1]) if ctx.train is not None else best
    if best / ln_k <= UNDERFIT_CHANCE or train_end / ln_k <= UNDERFIT_CHANCE:
        return None
    gap_rel = ctx.gap.get("end_rel")
    if gap_rel is not None and gap_rel > CLOSE_GAP:
        return None
    ratio = min(best, train_end) / ln_k
    return Finding(
        "underfitting",
        margin(ratio / UNDERFIT_CHANCE),
        "high-plateau",
        [
            f"Train and validation loss level off together at {ratio:.0%} of the chance level "
            f"ln({ctx.chance['classes']}) = {ln_k:.4g}: the model cannot fit even its training data"
            + _regularization_clause(ctx)
        ],
    )


def _learned_metric_far(ctx: Context) -> bool:
    """An accuracy far above chance says the model learned, even with a high loss."""
    if ctx.metric is None or ctx.chance is None:
        return False
    acc_best = -float(ctx.metric.smooth.min())  # badness of a max metric is -value
    chance_acc = 1.0 / ctx.chance["classes"]
    return acc_best > chance_acc + 0.5 * (1.0 - chance_acc)


def _regularization_clause(ctx: Context) -> str:
    strong = strong_regularization(ctx.regularization)
    if strong:
        return f" with strong regularization in effect ({', '.join(strong)}): reduce it first."
    return " (too little capacity, too much regularization, or a learning rate too low)."


# Regularization strong enough to hold a model back (coupled L2 / AdamW decay, dropout, smoothing).
STRONG_WEIGHT_DECAY = 0.05
STRONG_DROPOUT = 0.5
STRONG_LABEL_SMOOTHING = 0.2


def strong_regularization(reg: dict[str, tuple[float, str]]) -> list[str]:
    out = []
    for name, limit in (
        ("weight_decay", STRONG_WEIGHT_DECAY),
        ("dropout", STRONG_DROPOUT),
        ("label_smoothing", STRONG_LABEL_SMOOTHING),
    ):
        if name in reg and reg[name][0] >= limit:
            out.append(f"{name} {reg[name][0]:g} ({reg[name][1]})")
    return out


# ----------------------------------------------------------------------------- 7. large gap

# A large generalisation gap: validation ends GAP_RATIO times the train value and the gap is
# GAP_OF_START of the starting loss (so tiny losses on easy tasks do not count).
GAP_RATIO = 4.0
GAP_OF_START = 0.1
GAP_ERROR_ABS = 0.1  # for accuracy-like metrics: at least 10 points of error between them


def large_gap(ctx: Context) -> Finding | None:
    if ctx.train_only or ctx.train is None:
        return None
    val, train = ctx.primary, ctx.train
    if ctx.is_loss:
        v_end, t_end = float(val.smooth[-1]), float(train.smooth[-1])
        start = max(val.start_level(), train.start_level())
        floor, unit = GAP_OF_START * abs(start), "loss"
    elif val.series.mode == "max" and is_fraction(val):
        # An accuracy-like metric: compare the error rates (1 - accuracy).
        v_end, t_end = 1.0 + float(val.smooth[-1]), 1.0 + float(train.smooth[-1])
        floor, unit = GAP_ERROR_ABS, f"error (1 - {val.series.metric})"
    else:
        return None
    if v_end <= 0 or v_end - t_end < floor or v_end < GAP_RATIO * max(t_end, 1e-12):
        return None
    ratio = v_end / max(t_end, 1e-12)
    shown = f"{ratio:.0f}x" if ratio < 1e4 else "many times"
    return Finding(
        "overfitting",
        margin(min(ratio, 1e6) / GAP_RATIO) * 0.8,
        "large-gap",
        [
            f"Validation {unit} levels off at {v_end:.4g}, {shown} the training {unit} {t_end:.4g}: a large "
            "generalisation gap is a variance problem even without a rising validation curve (severity mild)."
        ],
        "mild",
    )


# ----------------------------------------------------------------------------- 8. little gain

LITTLE_GAIN = 0.1


def little_gain(ctx: Context) -> Finding | None:
    if ctx.train_only or _learned_metric(ctx):
        return None
    val_gain = ctx.primary.gain()
    train_gain = ctx.train.gain() if ctx.train is not None and ctx.train.n_valid >= 3 else None
    if val_gain >= LITTLE_GAIN or (train_gain is not None and train_gain >= LITTLE_GAIN):
        return None
    return Finding(
        "underfitting",
        margin(LITTLE_GAIN / max(val_gain, 0.01)),
        "little-gain",
        [
            f"Validation {ctx.primary.series.metric} improved only {val_gain:.0%} from its start"
            + (f" and train {train_gain:.0%}" if train_gain is not None else "")
            + ", and both have levelled off: the model learns little"
            + _regularization_clause(ctx)
        ],
    )


# ----------------------------------------------------------------------------- 9. plateau

PLATEAU_FLOOR = 0.05


def plateau(ctx: Context) -> Finding:
    tr = ctx.primary
    if ctx.train_only:
        return Finding(
            "good_fit",
            0.3,
            "train-plateau",
            [
                "The training curve has levelled off without diverging; over- and underfitting cannot be "
                "judged without a validation series."
            ],
        )
    rise, tol, _ = rise_after_best(tr)
    closest = max(rise / tol, 0.0)
    evidence = [
        f"Validation {tr.series.metric} has levelled off within its noise (end level {rise:+.3g} from the "
        f"optimum, band {tol:.3g}) and the gap to training is moderate: no variance problem to fix."
    ]
    end_gap = ctx.gap.get("end_abs")
    if end_gap is not None and end_gap < 0:
        evidence.append(
            "Train is worse than validation (dropout or augmentation active during training): "
            "not read as underfitting on its own."
        )
    return Finding(
        "good_fit",
        margin(1.0 / max(closest, 0.25)) if closest < 1 else PLATEAU_FLOOR,
        "plateau",
        evidence,
    )


RULES: tuple[Callable[[Context], Finding | None], ...] = (
    non_finite,
    train_explodes,
    val_explodes,
    at_chance,
    val_rises,
    still_improving,
    high_plateau,
    large_gap,
    little_gain,
)


def decide(ctx: Context) -> Finding:
    """The first rule that fires, or the plateau (good fit)."""
    for rule in RULES:
        found = rule(ctx)
        if found is not None:
            return found
    return plateau(ctx)
