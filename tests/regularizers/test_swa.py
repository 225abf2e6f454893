"""Stochastic weight averaging (stack piece ``swa``): the average, apply()'s data, the stack
spec, the snippet and the tuner's folds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from advisor.catalogue import exclusive_pairs
from advisor.errors import ConfigError
from advisor.regularizers import Stack, StochasticWeightAveraging, apply


def _tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))


def test_averages_the_weights_of_the_last_epochs_equally():
    net = _tiny()
    swa = StochasticWeightAveraging(net, epochs=8, start_fraction=0.5)
    assert swa.start_epoch == 5 and swa.averaged == 0
    snapshots = []
    for epoch in range(1, 9):
        with torch.no_grad():  # a "training epoch" that moves every weight
            for p in net.parameters():
                p.add_(torch.randn_like(p))
        swa.epoch_end(net)
        if epoch >= 5:
            snapshots.append({k: v.detach().clone() for k, v in net.state_dict().items()})
    assert swa.averaged == 4 and swa.epoch == 8
    for name, value in swa.module.state_dict().items():  # by hand: the plain mean
        expected = sum(s[name] for s in snapshots) / len(snapshots)
        torch.testing.assert_close(value, expected)
    assert set(swa.state_dict()) == set(net.state_dict())
    assert not swa.module.training and not any(p.requires_grad for p in swa.module.parameters())


def test_swalr_anneals_to_the_swa_lr_and_none_keeps_the_optimizers():
    net = _tiny()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    swa = StochasticWeightAveraging(net, epochs=4, start_fraction=0.5, lr=0.01, anneal_epochs=1)
    for _ in range(4):
        opt.step()
        swa.epoch_end(net, opt)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
    kept = torch.optim.SGD(net.parameters(), lr=0.1)
    plain = StochasticWeightAveraging(net, epochs=4)
    for _ in range(4):
        plain.epoch_end(net, kept)
    assert plain.scheduler is None and kept.param_groups[0]["lr"] == 0.1


def test_update_bn_recomputes_the_averages_batchnorm_statistics():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    swa = StochasticWeightAveraging(net, epochs=2)
    with pytest.raises(ConfigError, match="before any epoch was averaged"):
        swa.update_bn([torch.randn(16, 4)])
    for _ in range(2):
        swa.epoch_end(net)
    x = torch.randn(64, 4) * 3 + 5
    swa.update_bn([(x, None)])
    h = swa.module[0](x)
    torch.testing.assert_close(swa.module[1].running_mean, h.mean(0))


def test_apply_exposes_swa_as_data_and_evaluates_the_average():
    net = _tiny()
    stack = Stack.of("swa", swa={"start_fraction": 0.5, "lr": 0.05, "anneal_epochs": 2})
    with pytest.raises(ConfigError, match=r"epochs=\.\.\."):
        apply(net, stack)
    applied = apply(net, stack, epochs=6)
    swa = applied.swa
    assert isinstance(swa, StochasticWeightAveraging)
    assert (swa.epochs, swa.start_epoch, swa.lr, swa.anneal_epochs) == (6, 4, 0.05, 2)
    assert any("stochastic weight averaging from epoch 4 of 6" in n for n in applied.notes)
    opt = applied.optimizer(torch.optim.SGD, lr=0.1)
    assert applied.eval_model is applied.model  # nothing averaged yet
    for _ in range(6):
        opt.step()
        applied.epoch_end(applied.model, opt)
    assert swa.averaged == 3 and applied.eval_model is swa.module
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
    # without the piece the hook does nothing
    plain = apply(net, Stack.of("l2"))
    assert plain.swa is None
    plain.epoch_end(plain.model)


def test_stack_with_swa_round_trips_json_and_conflicts_with_ema():
    stack = Stack.of("l2", "swa", swa={"lr": 0.02})
    again = Stack.from_json(stack.to_json())
    assert again == stack and again["swa"].params == {
        "start_fraction": 0.75,
        "lr": 0.02,
        "anneal_epochs": 5,
    }
    assert Stack.of("swa")["swa"].params["lr"] is None
    with pytest.raises(ConfigError, match="start_fraction of swa"):
        Stack.of("swa", swa={"start_fraction": 1.0})
    assert [(a, b) for a, b, _ in exclusive_pairs(["ema", "l2", "swa"])] == [("ema", "swa")]


@pytest.mark.parametrize("lr", [None, 0.05])
def test_to_code_snippet_runs_one_epoch(lr):
    code = Stack.of("swa", swa={"lr": lr}).to_code(lr=0.1)
    assert "torch.optim.swa_utils.AveragedModel" in code and "update_bn" in code
    assert ("SWALR" in code) == (lr is not None) and "advisor" not in code
    torch.manual_seed(0)
    model = _tiny()
    x, y = torch.randn(8, 3), torch.randint(0, 1, (8,))
    scope = {"model": model, "train_loader": [(x, y)] * 2, "epochs": 1}
    exec(compile(code, "<stack>", "exec"), scope)
    averaged = scope["swa_model"]
    assert int(averaged.n_averaged) == 1  # one epoch: it is the last, so it is averaged
    torch.testing.assert_close(averaged.module[0].weight, model[0].weight)
    if lr is not None:
        assert scope["optimizer"].param_groups[0]["lr"] != 0.1  # SWALR moved towards 0.05


def test_tuner_folds_run_swa_sequentially():
    from advisor.tuning import TrainConfig, choose_folds_mode, cross_validate, make_folds

    rng = np.random.default_rng(0)
    X = torch.tensor(rng.normal(size=(96, 6)), dtype=torch.float32)
    y = X[:, 0] * 2 - X[:, 1]
    folds, _ = make_folds(y.numpy(), task="regression", folds=3, seed=0)
    config = TrainConfig(max_epochs=4, batch_size=16, lr=1e-2)
    stack = {"version": 1, "pieces": [{"technique": "swa", "params": {"start_fraction": 0.5}}]}

    def model_fn():
        return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 1))

    cpu = torch.device("cpu")
    mode, why = choose_folds_mode(
        model_fn, stack, {}, X, y, folds, task="regression", config=config, device=cpu, seed=0
    )
    assert mode == "sequential" and "swa" in why
    forced = TrainConfig(max_epochs=4, batch_size=16, lr=1e-2, folds_mode="vectorized")
    with pytest.raises(ConfigError, match="swa"):
        choose_folds_mode(
            model_fn, stack, {}, X, y, folds, task="regression", config=forced, device=cpu, seed=0
        )
    kw = dict(task="regression", config=config, device=cpu, seed=0, mode="sequential")
    with_swa = cross_validate(model_fn, stack, {}, X, y, folds, **kw)
    without = cross_validate(model_fn, None, {}, X, y, folds, **kw)
    assert with_swa.epochs_run == 4 and all(np.isfinite(with_swa.scores))
    assert not np.allclose(with_swa.scores, without.scores)  # the average was evaluated
