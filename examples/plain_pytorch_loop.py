"""Apply an advisor regularizer stack to a plain PyTorch training loop (three changed lines).

The stack below is what ``advisor recommend`` prints as JSON for a small image data set that
overfits; here it regularises a small CNN on scikit-learn's digits (8x8 images, no download).
The lines marked ``# advisor`` are the only changes to an ordinary loop. Runs in seconds on CPU
and unchanged on a GPU (everything follows the model's device).

Run: ``python examples/plain_pytorch_loop.py``
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn

import advisor

STACK = {
    "version": 1,
    "pieces": [
        {"technique": "l2", "params": {"weight_decay": 5e-2}},
        {"technique": "dropout", "params": {"p": 0.3}},
        {"technique": "label_smoothing", "params": {"smoothing": 0.05}},
        {"technique": "data_augmentation", "params": {"magnitude": 0.4, "no_flip": True}},
        {"technique": "early_stopping", "params": {"patience": 8, "monitor": "val_loss"}},
    ],
}
EPOCHS, BATCH, LR = 40, 64, 3e-3


def make_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10),
    )  # fmt: skip


def main() -> None:
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(1)  # a model this small runs fastest without intra-op threads
    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1).div(16.0).to(device)
    y = torch.tensor(digits.target).to(device)
    order = torch.randperm(len(x), device=device)
    train, val, test = order[:300], order[300:600], order[600:]

    stack = advisor.Stack.from_dict(STACK)
    applied = advisor.apply(make_model().to(device), stack, lr=LR)  # advisor (1/3)
    model, stopper = applied.model, applied.early_stopping
    optimizer = torch.optim.AdamW(applied.param_groups, lr=LR)
    print(f"stack: {stack}")
    for note in applied.notes:
        print(f"  - {note}")

    rec = advisor.Recorder(classes=10)  # the curves, for a live verdict and `advisor diagnose`
    for epoch in range(EPOCHS):
        model.train()
        for idx in train[torch.randperm(len(train), device=device)].split(BATCH):
            xb, yb = applied.batch_transform(x[idx], y[idx])  # advisor (2/3)
            loss = applied.loss_fn(model(xb), yb) + applied.penalty(model)  # advisor (3/3)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            applied.post_step(model)
        model.eval()
        with torch.no_grad():
            val_loss = F.cross_entropy(model(x[val]), y[val]).item()
        rec.log(epoch, train_loss=loss.item(), val_loss=val_loss)
        if epoch % 10 == 0:
            print(f"epoch {epoch:3d}  train loss {loss.item():.3f}  val loss {val_loss:.3f}")
        if stopper.step(val_loss, model):  # restores the best weights when it stops
            print(
                f"early stop at epoch {epoch}; best val loss {stopper.best:.3f} at epoch {stopper.best_epoch}"
            )
            break
    else:
        stopper.restore(model)

    model.eval()
    with torch.no_grad():
        logits = model(x[test])
        acc = (logits.argmax(1) == y[test]).float().mean().item()
        test_loss = F.cross_entropy(logits, y[test]).item()
    print(f"held-out: loss {test_loss:.3f}, accuracy {acc:.1%} on {len(test)} images")
    # rec.save("metrics.csv") writes the curves for `advisor diagnose metrics.csv`.
    print(f"fit of this run: {rec.diagnose().verdict}")
    print("\nThe same stack as plain PyTorch (stack.to_code()):\n")
    print(stack.to_code(lr=LR))


if __name__ == "__main__":
    main()
