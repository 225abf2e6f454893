"""Align two series logged at different points (train loss per batch, validation per epoch).

Validation is the sparser, decisive series, so it defines the grid: each validation point is
paired with the mean of the train points logged since the previous validation point (the train
loss over the interval that validation judged), or, when none was logged in that interval, with
the last train point before it. With one point per integer epoch this is an exact epoch join.
"""

from __future__ import annotations

import numpy as np

from advisor.curves._types import Series

__all__ = ["align"]


def align(train: Series, val: Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(epochs, train_values, val_values)`` on the validation series' epochs.

    Train values are NaN where no train point was logged at or before a validation point
    (an evaluation at epoch 0 before training).

    Example:
        >>> from advisor.curves import Series
        >>> t = Series("train", "loss", "loss", [0.5, 1.0, 1.5, 2.0], [4.0, 2.0, 3.0, 1.0])
        >>> v = Series("val", "loss", "eval_loss", [1.0, 2.0], [2.5, 2.2])
        >>> align(t, v)[1].tolist()
        [3.0, 2.0]
    """
    te, tv = train.epochs, train.values
    order = np.argsort(te, kind="stable")
    te, tv = te[order], tv[order]
    ve = val.epochs
    out = np.full(ve.shape, np.nan)
    prev = -np.inf
    for i, e in enumerate(ve):
        lo = np.searchsorted(te, prev, side="right")
        hi = np.searchsorted(te, e + 1e-9, side="right")
        if hi > lo:
            out[i] = float(np.mean(tv[lo:hi]))
        elif hi > 0:
            out[i] = float(tv[hi - 1])
        prev = e
    return ve.copy(), out, val.values.copy()
