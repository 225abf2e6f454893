"""Fit-diagnosis rules 1-3: what breaks the optimisation (tried before anything else).

Non-finite values, a training or validation loss that explodes, and a network stuck at the
chance-level loss. Each rule is a function of a ``Context`` with its own named thresholds that
returns a ``Finding`` or ``None``; ``_fit_rules`` lists them in order with the others.
"""

from __future__ import annotations

import math

import numpy as np

from advisor.curves._fit_finding import Context, Finding, fmt_epoch, margin
from advisor.curves._fit_rules_trend import is_fraction, still_improving
from advisor.curves._fit_series import is_loss

__all__ = ["at_chance", "learned_metric", "non_finite", "train_explodes", "val_explodes"]


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
    """Rule 2b: validation ends ``VAL_EXPLODE_FACTOR`` times above its best (and above its
    start): diverging.
    """
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


def learned_metric(ctx: Context) -> bool:
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
    if learned_metric(ctx):
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
