"""Stack.to_code(): the snippet is valid Python and the plain-PyTorch parts really train."""

from __future__ import annotations

import torch
from torch import nn

from advisor.regularizers import TECHNIQUES, Stack


def test_every_technique_compiles_and_mentions_itself():
    code = Stack.of(*TECHNIQUES).to_code()
    compile(code, "<stack>", "exec")
    for name in TECHNIQUES:
        assert name in code
    assert "from advisor.regularizers import" in code


def test_plain_snippet_runs_end_to_end():
    stack = Stack.of(
        "l1", "l2", "label_smoothing", "mixup", "early_stopping",
        dropout={"where": "existing"}, l1={"strength": 0.05}, early_stopping={"patience": 2},
    )  # fmt: skip
    code = stack.to_code(lr=0.1)
    # Plain PyTorch, except the one EarlyStopping that apply() and the tuner use too.
    assert code.count("advisor") == 1 and "from advisor.regularizers import EarlyStopping" in code
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3))
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    scope = {
        "model": model,
        "train_loader": [(x, y)] * 4,
        "epochs": 50,
        "num_classes": 3,
        "val_loss": 1.0,
    }
    exec(compile(code, "<stack>", "exec"), scope)
    assert model[2].p == 0.3
    stopper = scope["stopper"]  # constant val_loss: stopped after the patience
    assert stopper.stopped and stopper.bad_epochs == 2 and stopper.epoch == 2
    assert (model[0].weight == 0).any()  # the proximal L1 step made exact zeros
    assert scope["optimizer"].param_groups[0]["weight_decay"] == 1e-4


def test_no_stack_gives_a_plain_loop():
    code = Stack().to_code()
    assert "CrossEntropyLoss" in code and "advisor" not in code
    compile(code, "<stack>", "exec")
