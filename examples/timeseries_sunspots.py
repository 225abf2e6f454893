"""Tune a GRU forecaster on yearly sunspot numbers with time-ordered cross-validation.

The data (1700-2008, shipped with statsmodels, no download) becomes windows of 12 years ->
the next year. ``advisor.tune`` uses ``TimeSeriesSplit`` for ``task="timeseries"``: every
validation block lies after its training block, so nothing leaks from the future; the last 15%
of the series is held out and only scored after tuning. A GRU cannot be vectorised by vmap, so
the folds run sequentially (the result says so). Runs in well under a minute on a CPU:

    python examples/timeseries_sunspots.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

import advisor
from advisor.tuning import TrainConfig


def sunspots(window: int = 12):
    """Yearly sunspot numbers 1700-2008 (statsmodels ships them) as (window -> next year) pairs."""
    from statsmodels.datasets import sunspots as ss

    series = ss.load_pandas().data["SUNACTIVITY"].to_numpy(dtype=np.float32)
    series = (series - series.mean()) / series.std()
    X = np.stack([series[i : i + window] for i in range(len(series) - window)])
    y = series[window:]
    return X[..., None].astype(np.float32), y.astype(np.float32)  # (N, T, 1) for recurrent models


class GRUForecaster(nn.Module):
    def __init__(self, hidden: int = 32):
        super().__init__()
        self.gru = nn.GRU(1, hidden, batch_first=True)
        self.head = nn.Sequential(
            nn.ReLU(), nn.Linear(hidden, 1)
        )  # dropout is inserted before Linear

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(out[:, -1])


def main() -> None:
    torch.set_num_threads(1)
    X, y = sunspots(window=12)
    recs = advisor.recommend(task="sequence", samples=len(y), arch="rnn", fit="overfitting")
    started = time.perf_counter()
    result = advisor.tune(
        GRUForecaster,
        (X, y),
        task="timeseries",
        stack=recs,
        n_trials=8,
        folds=4,
        test_size=0.15,
        storage=str(Path(tempfile.mkdtemp()) / "sunspots.journal"),
        train=TrainConfig(max_epochs=40, lr=3e-3, batch_size=32),
        progress=False,
    )
    print(f"tuned in {time.perf_counter() - started:.1f} s")
    from rich.console import Console

    Console().print(result)


if __name__ == "__main__":
    main()
