"""EarlyStopping: patience, min_delta, mode, restoring the best weights, validation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from advisor.errors import ConfigError
from advisor.regularizers import EarlyStopping


def test_stops_after_patience_and_tracks_best():
    es = EarlyStopping(patience=3)
    flags = [es.step(v) for v in [1.0, 0.8, 0.9, 0.85, 0.81]]
    assert flags == [False, False, False, False, True]
    assert (es.best, es.best_epoch, es.stopped) == (0.8, 1, True)


def test_min_delta_and_max_mode():
    es = EarlyStopping(patience=2, min_delta=0.1, mode="max", monitor="val_acc")
    assert es.step({"val_acc": 0.5}) is False
    assert es.step(0.55) is False  # +0.05 < min_delta: not an improvement
    assert es.step(torch.tensor(0.56)) is True
    assert es.best == 0.5


def test_nan_is_not_an_improvement():
    es = EarlyStopping(patience=1)
    es.step(1.0)
    assert es.step(math.nan) is True


def test_restores_best_weights_on_stop():
    model = nn.Linear(2, 1)
    es = EarlyStopping(patience=1)
    with torch.no_grad():
        model.weight.fill_(1.0)
    es.step(0.5, model)
    with torch.no_grad():
        model.weight.fill_(7.0)
    assert es.step(0.9, model) is True
    assert torch.all(model.weight == 1.0)


def test_reset_between_folds_and_state_dict():
    es = EarlyStopping(patience=1)
    es.step(1.0), es.step(2.0)
    assert es.stopped
    es.reset()
    assert not es.stopped and es.best == math.inf and es.restore(nn.Linear(1, 1)) is False
    assert set(es.state_dict()) == {"best", "best_epoch", "epoch", "bad_epochs", "stopped"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"patience": 0}, "patience of EarlyStopping must be an int >= 1, got 0."),
        ({"patience": 2.5}, "patience of EarlyStopping"),
        ({"mode": "low"}, "mode of EarlyStopping"),
        ({"min_delta": -1}, "min_delta of EarlyStopping"),
    ],
)
def test_validation(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        EarlyStopping(**kwargs)


def test_missing_monitor_in_dict():
    with pytest.raises(ConfigError, match="monitors 'val_loss'"):
        EarlyStopping().step({"loss": 1.0})


def test_nan_stops_at_once_and_restores_the_best():
    model = nn.Linear(2, 1)
    es = EarlyStopping(patience=5)
    with torch.no_grad():
        model.weight.fill_(1.0)
    assert es.step(0.5, model) is False
    with torch.no_grad():
        model.weight.fill_(7.0)
    assert es.step(math.nan, model) is True
    assert es.best == 0.5 and torch.all(model.weight == 1.0)


def test_first_epoch_always_improves():
    # An infinite first loss is still the best seen so far; min_delta does not apply to it.
    es = EarlyStopping(patience=1, min_delta=1.0)
    assert es.step(math.inf) is False and es.improved and es.best_epoch == 0
    assert es.step(5.0) is False and es.improved
    assert es.step(4.5) is True and not es.improved  # 0.5 < min_delta
    maximising = EarlyStopping(patience=1, mode="max")
    assert maximising.step(-math.inf) is False and maximising.best_epoch == 0


def test_first_epoch_nan_stops_with_nothing_to_restore():
    model = nn.Linear(2, 1)
    es = EarlyStopping(patience=3)
    assert es.step(math.nan, model) is True and es.best_epoch == -1 and es.best_state is None
