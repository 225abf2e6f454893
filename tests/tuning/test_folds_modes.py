"""Vectorised folds must train exactly what sequential folds train (same init, same batches)."""

import numpy as np
import pytest
import torch
from torch import nn

from advisor.errors import ConfigError
from advisor.tuning import TrainConfig, choose_folds_mode, cross_validate, make_folds

CPU = torch.device("cpu")


def _regression(n=120):
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.normal(size=(n, 6)), dtype=torch.float32)
    return X, X[:, 0] * 2 - X[:, 1]


def _both(model_fn, stack, X, y, folds, task, **cfg):
    config = TrainConfig(max_epochs=3, batch_size=16, lr=1e-2, **cfg)
    return [
        cross_validate(
            model_fn, stack, {}, X, y, folds, task=task, config=config, device=CPU, seed=0, mode=m
        )
        for m in ("vectorized", "sequential")
    ]


@pytest.mark.parametrize("optimizer", ["adamw", "adam", "sgd"])
def test_unequal_timeseries_folds_match_sequential(optimizer):
    # TimeSeriesSplit folds differ in size: padding and skipped steps must be masked exactly.
    X, y = _regression()
    folds, _ = make_folds(y.numpy(), task="timeseries", folds=3, seed=0)
    stack = {
        "version": 1,
        "pieces": [
            {"technique": "l2", "params": {"weight_decay": 1e-2}},
            {"technique": "l1", "params": {"strength": 1e-3}},
        ],
    }
    vec, seq = _both(
        lambda: nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 1)),
        stack,
        X,
        y,
        folds,
        "timeseries",
        optimizer=optimizer,
    )
    assert vec.mode == "vectorized" and seq.mode == "sequential"
    np.testing.assert_allclose(vec.scores, seq.scores, rtol=1e-4)


def test_ema_of_unequal_folds_matches_sequential():
    # The EMA (weights and BatchNorm statistics) is evaluated instead of the weights; folds
    # that stop stepping must leave their average untouched.
    X, y = _regression()
    folds, _ = make_folds(y.numpy(), task="timeseries", folds=3, seed=0)
    stack = {
        "version": 1,
        "pieces": [
            {"technique": "ema", "params": {"decay": 0.9}},
            {"technique": "l1", "params": {"strength": 1e-3}},
        ],
    }

    def model_fn():
        return nn.Sequential(
            nn.Linear(6, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1)
        )

    vec, seq = _both(model_fn, stack, X, y, folds, "timeseries")
    plain, _ = _both(
        model_fn, {"version": 1, "pieces": stack["pieces"][1:]}, X, y, folds, "timeseries"
    )
    assert vec.mode == "vectorized" and seq.mode == "sequential"
    np.testing.assert_allclose(vec.scores, seq.scores, rtol=1e-4)
    assert not np.allclose(vec.scores, plain.scores, rtol=1e-3)  # the average was evaluated


def test_batchnorm_running_stats_are_kept_per_fold():
    X, y = _regression()
    folds, _ = make_folds(y.numpy(), task="timeseries", folds=3, seed=0)  # unequal folds

    # bias=False: BatchNorm cancels a bias before it, whose ~1e-9 gradient noise Adam would
    # blow up into lr-sized steps that differ between any two implementations.
    def model_fn():
        return nn.Sequential(
            nn.Linear(6, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1)
        )

    vec, seq = _both(model_fn, None, X, y, folds, "timeseries")
    np.testing.assert_allclose(vec.scores, seq.scores, rtol=1e-4)


def test_early_stopping_freezes_each_fold_at_its_own_epoch():
    X, y = _regression()
    folds, _ = make_folds(y.numpy(), task="regression", folds=3, seed=0)
    stack = {
        "version": 1,
        "pieces": [{"technique": "early_stopping", "params": {"patience": 1, "min_delta": 10.0}}],
    }
    config = TrainConfig(max_epochs=6, batch_size=16, lr=1e-2)
    out = cross_validate(
        lambda: nn.Linear(6, 1),
        stack,
        {},
        X,
        y,
        folds,
        task="regression",
        config=config,
        device=CPU,
        seed=0,
        mode="vectorized",
    )
    # min_delta 10 means nothing counts as improvement: every fold keeps epoch 1 and stops at 2.
    assert out.epochs == [1, 1, 1] and out.epochs_run == 2


def test_dropout_masks_differ_between_folds():
    from advisor.regularizers import Stack
    from advisor.tuning._folds_vectorised import VectorizedFolds

    X = torch.ones(40, 6)
    y = torch.arange(40) % 3
    folds = [(np.arange(20), np.arange(20, 40)), (np.arange(20), np.arange(20, 40))]
    trainer = VectorizedFolds(
        lambda: nn.Sequential(nn.Dropout(0.5), nn.Linear(6, 3)),
        Stack.of("dropout", dropout={"p": 0.5}),
        {},
        X,
        y,
        folds,
        task="classification",
        config=TrainConfig(),
        device=CPU,
        seed=0,
    )
    trainer.params = {
        k: v[:1].expand(2, *v.shape[1:]).clone() for k, v in trainer.params.items()
    }  # identical folds
    from torch.func import functional_call, vmap

    trainer.base.train()
    out = vmap(lambda p, b, x: functional_call(trainer.base, (p, b), (x,)), randomness="different")(
        trainer.params, trainer.buffers, X[:8].expand(2, 8, 6)
    )
    assert not torch.equal(out[0], out[1])


def _auto(model_fn, **cfg):
    X, y = _regression(40)
    folds, _ = make_folds(y.numpy(), task="regression", folds=2, seed=0)
    return choose_folds_mode(
        model_fn,
        None,
        {},
        X,
        y,
        folds,
        task="regression",
        config=TrainConfig(**cfg),
        device=CPU,
        seed=0,
    )


class _Branchy(nn.Module):
    """Data-dependent control flow: vmap cannot batch it."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 1)

    def forward(self, x):
        return self.lin(x) if x.sum() > 0 else -self.lin(x)


class _Conv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 2, 3, padding=1)
        self.head = nn.Linear(12, 1)

    def forward(self, x):
        return self.head(self.conv(x.unsqueeze(1)).flatten(1))


class _GRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(1, 4, batch_first=True)
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        return self.head(self.gru(x.unsqueeze(-1))[0][:, -1])


def test_auto_mode_says_why():
    # On a CPU a timed probe decides between the two modes that both work.
    mode, reason = _auto(lambda: nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 1)))
    assert mode in ("vectorized", "sequential") and reason.startswith(f"timed probe: {mode}")
    mode, reason = _auto(_Conv)
    assert reason.startswith(f"timed probe: {mode}")
    mode, reason = _auto(_GRU)
    assert mode == "sequential" and "fused GRU" in reason
    mode, reason = _auto(_Branchy)
    assert mode == "sequential" and "vmap cannot batch" in reason
    assert _auto(lambda: nn.Linear(6, 1), folds_mode="sequential") == ("sequential", "requested")
    assert (
        _auto(lambda: nn.Linear(6, 1), train_step=lambda m, x, y, loss: loss(m(x), y))[0]
        == "sequential"
    )


def test_forced_vectorized_on_unbatchable_model_is_a_config_error():
    with pytest.raises(ConfigError, match="folds_mode='vectorized' failed"):
        _auto(_Branchy, folds_mode="vectorized")


def test_custom_train_step_is_used():
    X, y = _regression(40)
    folds, _ = make_folds(y.numpy(), task="regression", folds=2, seed=0)
    calls = []

    def step(model, xb, yb, loss_fn):
        calls.append(len(xb))
        return loss_fn(model(xb).squeeze(-1), yb)

    config = TrainConfig(max_epochs=1, batch_size=10, train_step=step)
    cross_validate(
        lambda: nn.Linear(6, 1),
        None,
        {},
        X,
        y,
        folds,
        task="regression",
        config=config,
        device=CPU,
        seed=0,
        mode="sequential",
    )
    assert sum(calls) == 40  # two folds of 20 training samples, one epoch


def test_train_config_validation():
    with pytest.raises(ConfigError, match="batch_size of TrainConfig must be an int >= 1, got 0"):
        TrainConfig(batch_size=0)
    with pytest.raises(ConfigError, match="optimizer of TrainConfig"):
        TrainConfig(optimizer="lbfgs")


@pytest.mark.parametrize("optimizer", ["adamw", "adam"])
def test_fused_adam_step_equals_the_multi_tensor_step(optimizer):
    # The all-folds-step path runs torch's fused kernel where torch has one (CPU from 2.4 on);
    # it must give the multi-tensor result, also for non-contiguous gradients (vmap's bias
    # gradients can be), which the raw kernel would misread.
    from advisor.tuning._stacked_optim import StackedOptimizer, fused_adam_kernel

    torch.manual_seed(0)
    params = {"w": torch.randn(3, 8, 6), "b": torch.randn(3, 8)}
    decay = {"w": 1e-2, "b": 0.0}
    config = TrainConfig(lr=1e-2, optimizer=optimizer)
    cpu = torch.device("cpu")
    fused = StackedOptimizer(config, {k: v.clone() for k, v in params.items()}, decay, 3, cpu)
    plain = StackedOptimizer(config, {k: v.clone() for k, v in params.items()}, decay, 3, cpu)
    plain.fused = None
    assert fused.fused is fused_adam_kernel(optimizer, cpu) is not None  # torch 2.13 has it
    every, some = torch.tensor([True, True, True]), torch.tensor([True, False, True])
    for stepping in [every] * 4 + [some] * 2:
        grads = {"w": torch.randn(3, 6, 8).transpose(1, 2), "b": torch.randn(8, 3).t()}
        assert not grads["w"].is_contiguous()
        fused.step(grads, stepping, stepping.numpy())
        plain.step(grads, stepping, stepping.numpy())
        for k in params:
            torch.testing.assert_close(fused.params[k], plain.params[k], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("mode", ["vectorized", "sequential"])
@pytest.mark.parametrize("each_step", [True, False])
def test_non_finite_loss_fails_the_trial_with_its_fold(monkeypatch, mode, each_step):
    # On a GPU the check runs once per epoch (no per-step sync); emulate that path on the CPU.
    from advisor.tuning import TrialDiverged, _folds_base

    monkeypatch.setattr(_folds_base, "CHECK_EACH_STEP", ("cpu",) if each_step else ())

    class Nan(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(6, 1)

        def forward(self, x):
            return self.lin(x) * float("nan")

    X, y = _regression()
    folds, _ = make_folds(y.numpy(), task="regression", folds=3, seed=0)
    config = TrainConfig(max_epochs=2, batch_size=16)
    with pytest.raises(TrialDiverged, match="non-finite in fold 1"):
        cross_validate(
            Nan,
            None,
            {},
            X,
            y,
            folds,
            task="regression",
            config=config,
            device=CPU,
            seed=0,
            mode=mode,
        )
