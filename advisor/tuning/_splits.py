"""Cross-validation folds for the tuner, chosen from the task (scikit-learn splitters).

Classification uses ``StratifiedKFold`` (class balance kept in every fold), regression
``KFold``, time series ``TimeSeriesSplit`` (no shuffling: every validation block lies after its
training block, so nothing leaks from the future) and ``GroupKFold`` whenever groups are given
(no group on both sides). Shuffling uses the seed, so a study's folds are the same in every
worker process and in the baseline.
"""

from __future__ import annotations

from typing import Any

from advisor.errors import ConfigError, DataError

__all__ = ["TASKS", "holdout_split", "make_folds"]

TASKS = ("classification", "regression", "timeseries")


def make_folds(
    y: Any, *, task: str, folds: int, seed: int, groups: Any = None
) -> tuple[list[tuple[Any, Any]], str]:
    """Return ``(train_idx, val_idx)`` numpy index pairs and the splitter's name.

    Example:
        >>> import numpy as np
        >>> pairs, name = make_folds(np.array([0, 1] * 10), task="classification", folds=5, seed=0)
        >>> len(pairs), name
        (5, 'StratifiedKFold')
    """
    import numpy as np
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold, TimeSeriesSplit

    if task not in TASKS:
        raise ConfigError(f"task must be one of {', '.join(TASKS)}; got {task!r}.")
    if not isinstance(folds, int) or isinstance(folds, bool) or folds < 2:
        raise ConfigError(f"folds must be an int >= 2, got {folds!r}.")
    y = np.asarray(y)
    n = y.shape[0]
    if n < 2 * folds:
        raise DataError(
            f"{n} samples are too few for {folds} folds; pass fewer folds or more data."
        )
    placeholder = np.zeros(n)
    if groups is not None:
        if len(np.unique(groups)) < folds:
            raise DataError(
                f"groups has {len(np.unique(groups))} distinct labels, fewer than folds={folds}."
            )
        splitter, name = GroupKFold(n_splits=folds), "GroupKFold"
        pairs = list(splitter.split(placeholder, y, groups))
    elif task == "timeseries":
        splitter, name = TimeSeriesSplit(n_splits=folds), "TimeSeriesSplit"
        pairs = list(splitter.split(placeholder))
    elif task == "classification":
        counts = np.bincount(y.astype(np.int64))
        present = np.flatnonzero(counts)
        if len(present) < 2:
            raise DataError(
                f"the labels hold a single class ({int(present[0])}, all {n} samples); "
                "classification needs at least 2 classes: check the target column, or pass --task regression."
            )
        smallest = counts[counts > 0].min()
        if smallest < folds:
            raise DataError(
                f"the rarest class has {smallest} samples, fewer than folds={folds}; pass --folds {max(2, int(smallest))} or more data."
            )
        splitter, name = (
            StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed),
            "StratifiedKFold",
        )
        pairs = list(splitter.split(placeholder, y))
    else:
        splitter, name = KFold(n_splits=folds, shuffle=True, random_state=seed), "KFold"
        pairs = list(splitter.split(placeholder))
    return [
        (np.asarray(tr, dtype=np.int64), np.asarray(va, dtype=np.int64)) for tr, va in pairs
    ], name


def holdout_split(n: int, y, task: str, test_size: float, seed: int):
    """Train and test indices of ``n`` samples: the last samples for a time series (the
    future), else a random split, stratified on the labels ``y`` for classification."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    if task == "timeseries":  # the test block is the future: the last samples
        cut = n - max(1, round(n * test_size))
        return idx[:cut], idx[cut:]
    stratify = np.asarray(y) if task == "classification" else None
    tr, te = train_test_split(idx, test_size=test_size, random_state=seed, stratify=stratify)
    return np.sort(tr), np.sort(te)
