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

from collections.abc import Callable

from advisor.curves._fit_finding import Context, Finding, margin
from advisor.curves._fit_rules_optim import (
    at_chance,
    learned_metric,
    non_finite,
    train_explodes,
    val_explodes,
)
from advisor.curves._fit_rules_trend import (
    is_fraction,
    rise_after_best,
    still_improving,
    val_rises,
)

__all__ = ["RULES", "decide"]


# ----------------------------------------------------------------------------- 6. high plateau

# Underfitting: the training loss itself stays above this fraction of the chance level (the
# model cannot fit even the data it sees) with validation close to it.
UNDERFIT_CHANCE = 0.5
CLOSE_GAP = 0.25  # validation within 25 % of the train value counts as "close together"


def high_plateau(ctx: Context) -> Finding | None:
    """Rule 6: train and validation loss stay high together (a high plateau): underfitting.

    Fires when both the best validation loss and the final training loss stay above
    ``UNDERFIT_CHANCE`` of the chance level ln K, validation ends within ``CLOSE_GAP`` of train,
    and no accuracy-like metric shows that the model learned.
    """
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
    """The regularization settings at or above their "strong" limits, as readable items.

    Args:
        reg: ``{name: (value, source)}`` of ``weight_decay``, ``dropout`` and ``label_smoothing``
            (any may be absent).

    Returns:
        One ``"name value (source)"`` item per setting at or above its ``STRONG_*`` limit; empty
        when none is.
    """
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
    """Rule 7: validation ends far above training: mild overfitting.

    Fires when the validation loss (or the error rate, 1 - accuracy, of an accuracy-like metric)
    ends ``GAP_RATIO`` times the training value and the gap is at least ``GAP_OF_START`` of the
    starting loss (``GAP_ERROR_ABS`` of error), even without a rising validation curve.
    """
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
    """Rule 8: validation (and training) improved less than ``LITTLE_GAIN`` from the start.

    The verdict is underfitting; the rule does not fire when an accuracy-like metric shows that
    the model learned.
    """
    if ctx.train_only or learned_metric(ctx):
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
    """Rule 9, the fallback when no other rule fires: validation levelled off, a good fit.

    Without a validation series (``train_only``) it can only say that training levelled off.
    """
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
