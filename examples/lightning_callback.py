"""Watch a PyTorch Lightning run with advisor: live overfitting warning, curves saved, diagnosis.

``AdvisorCallback`` records the epoch metrics Lightning computes, warns once when the run
starts overfitting, and saves the curves as CSV when ``fit`` ends. Here a wide network
memorises 100 images of scikit-learn's digits, so the warning fires within a few epochs.

Run:  python examples/lightning_callback.py  (needs the optional extra: pip install 'regularization-advisor[lightning]')
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

try:
    import lightning
except ImportError:  # the optional extra is not installed
    sys.exit("this example needs Lightning: pip install 'regularization-advisor[lightning]'")

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

import advisor
from advisor.report import AdvisorCallback


class DigitsMLP(lightning.LightningModule):
    def __init__(self, hidden: int = 512, lr: float = 3e-2):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10)
        )

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def main() -> None:
    lightning.seed_everything(0, verbose=False)
    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(
        torch.tensor(X / 16.0, dtype=torch.float32),
        torch.tensor(y),
        train_size=100,
        stratify=y,
        random_state=0,
    )
    train = DataLoader(TensorDataset(X_train, y_train), batch_size=50, shuffle=True)
    val = DataLoader(TensorDataset(X_val, y_val), batch_size=512)

    with tempfile.TemporaryDirectory(prefix="advisor-lightning-") as scratch:
        out = Path(scratch)  # the curves live as long as the example needs them
        callback = AdvisorCallback(path=out / "metrics.csv", classes=10)
        trainer = lightning.Trainer(
            max_epochs=40,
            callbacks=[callback],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator="auto",
            devices=1,
        )
        trainer.fit(DigitsMLP(), train, val)

        print(f"overfitting warned at epoch: {callback.warned_at}")
        diagnosis = advisor.diagnose(
            out / "metrics.csv", modality="tabular", samples=len(X_train), classes=10
        )
        print(f"verdict: {diagnosis.fit.verdict} (best epoch {diagnosis.fit.best_epoch:g})")
        for rec in diagnosis.recommendations.to_dict():
            print(f"  stage {rec['stage']}: {rec['technique']}")
        print("the curves were saved as metrics.csv: `advisor diagnose metrics.csv` reads them")


if __name__ == "__main__":
    main()
