import numpy as np
import pytest

from advisor.errors import ConfigError, DataError
from advisor.tuning import make_folds


def test_classification_is_stratified_and_covers_every_sample():
    y = np.array([0] * 30 + [1] * 10)
    pairs, name = make_folds(y, task="classification", folds=5, seed=0)
    assert name == "StratifiedKFold"
    assert sorted(np.concatenate([va for _, va in pairs]).tolist()) == list(range(40))
    assert all((y[va] == 1).sum() == 2 for _, va in pairs)


def test_timeseries_never_validates_on_the_past():
    pairs, name = make_folds(np.arange(50.0), task="timeseries", folds=4, seed=0)
    assert name == "TimeSeriesSplit"
    assert all(tr.max() < va.min() for tr, va in pairs)
    assert len({len(tr) for tr, _ in pairs}) == 4  # unequal training sizes (masked when vectorised)


def test_groups_never_straddle_folds():
    groups = np.repeat(np.arange(10), 4)
    pairs, name = make_folds(np.zeros(40), task="regression", folds=5, seed=0, groups=groups)
    assert name == "GroupKFold"
    assert all(not set(groups[tr]) & set(groups[va]) for tr, va in pairs)


def test_regression_shuffles_with_the_seed():
    a, _ = make_folds(np.arange(20.0), task="regression", folds=2, seed=1)
    b, _ = make_folds(np.arange(20.0), task="regression", folds=2, seed=1)
    c, _ = make_folds(np.arange(20.0), task="regression", folds=2, seed=2)
    assert a[0][1].tolist() == b[0][1].tolist() != c[0][1].tolist()


def test_bad_fold_requests():
    with pytest.raises(ConfigError, match="folds must be an int >= 2, got 1"):
        make_folds(np.zeros(10), task="regression", folds=1, seed=0)
    with pytest.raises(DataError, match="rarest class has 2 samples"):
        make_folds(np.array([0] * 10 + [1] * 2), task="classification", folds=5, seed=0)
    with pytest.raises(ConfigError, match="task must be one of"):
        make_folds(np.zeros(10), task="vision", folds=2, seed=0)
