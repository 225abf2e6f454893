"""AdvisorCallback in a tiny real Lightning run: records, warns once on overfitting, saves."""

from __future__ import annotations

import warnings

import pytest

import advisor
from advisor.errors import ConfigError

lightning = pytest.importorskip("lightning")
torch = pytest.importorskip("torch")

pytestmark = pytest.mark.slow


class _Memorise(lightning.LightningModule):
    """A wide MLP on 32 noisy samples: it memorises the train set and validation degrades."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(8, 256), torch.nn.ReLU(), torch.nn.Linear(256, 2)
        )

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


def _loaders():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 8, generator=g)
    y = (x[:, 0] + 1.5 * torch.randn(96, generator=g) > 0).long()  # labels mostly noise
    train = torch.utils.data.TensorDataset(x[:32], y[:32])
    val = torch.utils.data.TensorDataset(x[32:], y[32:])
    return (
        torch.utils.data.DataLoader(train, batch_size=32),
        torch.utils.data.DataLoader(val, batch_size=64),
    )


def _trainer(callback, tmp_path, epochs):
    return lightning.Trainer(
        max_epochs=epochs,
        callbacks=[callback],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
        default_root_dir=tmp_path,
    )


def test_callback_records_warns_once_and_saves(tmp_path):
    from advisor.report import AdvisorCallback

    torch.manual_seed(0)
    path = tmp_path / "curves.csv"
    callback = AdvisorCallback(path=path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _trainer(callback, tmp_path, epochs=40).fit(_Memorise(), *_loaders())
    ours = [w for w in caught if "advisor: the run started overfitting" in str(w.message)]
    assert len(ours) == 1
    assert callback.warned_at is not None and callback.last_verdict == "overfitting"
    rec = callback.recorder
    assert rec.n_epochs == 40
    assert "train_loss_step" not in rec.keys and {"train_loss_epoch", "val_loss", "val_acc"} <= set(
        rec.keys
    )
    curves = advisor.load_curves(path)
    assert {("train", "loss"), ("val", "loss"), ("val", "accuracy")} <= set(curves.series)
    assert advisor.curves.diagnose_fit(curves).verdict == "overfitting"


def test_callback_state_round_trips():
    from advisor.report import AdvisorCallback

    first = AdvisorCallback()
    first.recorder.log(0, train_loss=1.0, val_loss=1.1)
    first.warned_at = 0
    second = AdvisorCallback()
    second.load_state_dict(first.state_dict())
    assert second.recorder.history("val_loss") == [1.1] and second.warned_at == 0


def test_callback_rejects_bad_min_epochs():
    from advisor.report import AdvisorCallback

    with pytest.raises(
        ConfigError, match="min_epochs of AdvisorCallback must be an int >= 2, got 1"
    ):
        AdvisorCallback(min_epochs=1)
