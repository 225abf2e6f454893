"""The four model families of the corpus, each in four sizes (tiny / small / medium / large).

* ``mlp``: fully connected ReLU network on the flat features (``tiny`` is linear or 1-2 units).
* ``cnn``: 2-D CNN on the 8x8 digits images, 1-D CNN on time-series windows.
* ``gru``: GRU over the 8 rows of a digit image or the steps of a time-series window.
* ``transformer``: a small encoder (d_model 16-32, 1-2 layers; 4 for ``tiny``) over tokens: image rows,
  window steps, or one token per tabular feature (with a learned position embedding).
"""

from __future__ import annotations

import torch
from torch import nn

FAMILIES = ("mlp", "cnn", "gru", "transformer")


def compatible(family: str, kind: str) -> bool:
    if family in ("mlp", "transformer"):
        return True
    return kind in ("image", "series")  # cnn / gru need a grid or a sequence


def _tokens(x: torch.Tensor, kind: str) -> torch.Tensor:
    """(n, features) -> (n, T, f) sequence."""
    if kind == "image":
        return x.view(x.shape[0], 8, 8)
    return x.unsqueeze(-1)


class MLP(nn.Module):
    def __init__(self, d_in: int, d_out: int, hidden: list[int], dropout: float):
        super().__init__()
        layers: list[nn.Module] = []
        d = d_in
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            d = h
        layers.append(nn.Linear(d, d_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class CNN(nn.Module):
    def __init__(self, kind: str, length: int, d_out: int, ch: int, fc: int, dropout: float):
        super().__init__()
        self.kind = kind
        if kind == "image":
            self.conv = nn.Sequential(
                nn.Conv2d(1, ch, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(ch, 2 * ch, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )
            flat = 2 * ch * 16
        else:
            self.conv = nn.Sequential(
                nn.Conv1d(1, ch, 3, padding=1),
                nn.ReLU(),
                nn.Conv1d(ch, 2 * ch, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool1d(2),
            )
            flat = 2 * ch * (length // 2)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(flat, fc), nn.ReLU(), nn.Linear(fc, d_out)
        )

    def forward(self, x):
        if self.kind == "image":
            x = x.view(x.shape[0], 1, 8, 8)
        else:
            x = x.unsqueeze(1)
        return self.head(self.conv(x))


class GRUNet(nn.Module):
    def __init__(self, kind: str, d_out: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        self.kind = kind
        f = 8 if kind == "image" else 1
        self.gru = nn.GRU(
            f, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, d_out)

    def forward(self, x):
        h, _ = self.gru(_tokens(x, self.kind))
        return self.out(self.drop(h[:, -1]))


class TransformerNet(nn.Module):
    def __init__(
        self,
        kind: str,
        n_tokens: int,
        d_out: int,
        d_model: int,
        heads: int,
        layers: int,
        dropout: float,
    ):
        super().__init__()
        self.kind = kind
        f = 8 if kind == "image" else 1
        self.embed = nn.Linear(f, d_model)
        self.pos = nn.Parameter(torch.randn(n_tokens, d_model) * 0.1)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward=2 * d_model, dropout=dropout, batch_first=True
        )
        self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = nn.Linear(d_model, d_out)

    def forward(self, x):
        t = self.embed(_tokens(x, self.kind)) + self.pos
        return self.out(self.enc(t).mean(dim=1))


# size -> family-specific shape
SIZES = {
    "mlp": {"tiny": None, "small": [16], "medium": [64, 64], "large": [256, 256, 256]},
    "cnn": {"tiny": (1, 2), "small": (4, 16), "medium": (8, 32), "large": (16, 64)},
    "gru": {"tiny": (2, 1), "small": (8, 1), "medium": (32, 1), "large": (48, 1)},
    "transformer": {
        "tiny": (4, 1, 1),
        "small": (16, 2, 1),
        "medium": (16, 2, 2),
        "large": (32, 4, 2),
    },
}


def build(
    family: str,
    size: str,
    kind: str,
    n_features: int,
    d_out: int,
    dropout: float,
    tiny_hidden: int = 0,
) -> nn.Module:
    """``tiny_hidden``: for the tiny MLP, 0 = linear model, else that many hidden units."""
    if family == "mlp":
        hidden = SIZES["mlp"][size]
        if hidden is None:
            hidden = [tiny_hidden] if tiny_hidden else []
        return MLP(n_features, d_out, hidden, dropout)
    n_tokens = 8 if kind == "image" else n_features
    if family == "cnn":
        ch, fc = SIZES["cnn"][size]
        return CNN(kind, n_features, d_out, ch, fc, dropout)
    if family == "gru":
        h, layers = SIZES["gru"][size]
        return GRUNet(kind, d_out, h, layers, dropout)
    if family == "transformer":
        d, heads, layers = SIZES["transformer"][size]
        return TransformerNet(kind, n_tokens, d_out, d, heads, layers, dropout)
    raise KeyError(family)


def n_params(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))
