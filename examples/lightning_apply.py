"""Use an advisor regularizer stack inside a Lightning module.

``advisor.apply`` gives the model, optimizer groups, loss, batch transform, penalty, post-step
hook and early-stopping controller; the LightningModule below wires each into its hook. Data:
scikit-learn's digits (no download). Needs the optional extra: ``pip install lightning``.

Run: ``python examples/lightning_apply.py``
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import advisor

try:
    import lightning as L
except ImportError:  # pragma: no cover - the optional extra is missing
    print(
        "This example needs Lightning: pip install 'regularization-advisor[lightning]' (or pip install lightning)."
    )
    sys.exit(1)

STACK = advisor.Stack.of(
    "l2", "label_smoothing", "mixup",
    dropout={"p": 0.3},
    early_stopping={"patience": 5},
)  # fmt: skip
LR = 3e-3


class DigitsClassifier(L.LightningModule):
    def __init__(self, model: nn.Module, stack: advisor.Stack):
        super().__init__()
        self.applied = advisor.apply(model, stack, lr=LR)
        self.model = self.applied.model  # registered as a submodule: Lightning moves it

    def training_step(self, batch, batch_idx):
        x, y = self.applied.batch_transform(*batch)
        loss = self.applied.loss_fn(self.model(x), y) + self.applied.penalty(self.model)
        self.log("train_loss", loss, prog_bar=False)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.applied.post_step(self.model)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self.model(x), y), prog_bar=False)

    def on_validation_epoch_end(self):
        stopper = self.applied.early_stopping
        if self.trainer.sanity_checking or stopper is None:
            return
        val_loss = float(self.trainer.callback_metrics["val_loss"])
        if stopper.step(val_loss, self.model):
            self.trainer.should_stop = True
            print(f"early stop after epoch {self.current_epoch}; best val loss {stopper.best:.3f}")

    def configure_optimizers(self):
        return torch.optim.AdamW(self.applied.param_groups, lr=LR)


def main() -> None:
    L.seed_everything(0, verbose=False)
    torch.set_num_threads(1)  # a model this small runs fastest without intra-op threads
    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target)
    order = torch.randperm(len(x))
    train, val = order[:400], order[400:800]
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    module = DigitsClassifier(model, STACK)
    print(f"stack: {STACK}")
    for note in module.applied.notes:
        print(f"  - {note}")
    trainer = L.Trainer(
        max_epochs=20, accelerator="auto", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(
        module,
        DataLoader(TensorDataset(x[train], y[train]), batch_size=64, shuffle=True),
        DataLoader(TensorDataset(x[val], y[val]), batch_size=256),
    )
    module.model.eval()
    with torch.no_grad():
        acc = (module.model(x[val]).argmax(1) == y[val]).float().mean().item()
    print(f"validation accuracy {acc:.1%} after {trainer.current_epoch} epochs")


if __name__ == "__main__":
    main()
