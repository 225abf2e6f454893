"""Datasets of the corpus: bundled with scikit-learn and statsmodels (no downloads).

Each dataset gets ONE fixed, seeded, disjoint train / validation / test split (the reference
models and every run of the dataset share it, so the reference loss is comparable across
runs). Tabular splits are random (50 / 20 / 30 %, capped); time series are split in time
order (60 / 20 / 20 % of the forecast targets), turned into sliding windows of ``window``
past values that forecast the next value. Features are standardised with train statistics;
regression and forecasting targets too, so the constant predictor's MSE is about 1.

The ``fresh`` datasets (iris, modechoice, grunfeld, engel, nile, interest_inflation) are a
separate held-out part, generated once into ``fresh/`` (``generate.py --part fresh``); the
dev / test corpus never draws them (its dataset pools are filtered by part).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

# name -> (objective, kind, part). part: "dev" or "test" (the corpus split is by dataset), or
# "fresh" (a separate held-out part on new datasets, written to fresh/ by generate.py --part fresh).
DATASETS: dict[str, tuple[str, str, str]] = {
    "digits": ("classification", "image", "dev"),
    "breast_cancer": ("classification", "tabular", "dev"),
    "fair": ("classification", "tabular", "dev"),
    "diabetes": ("regression", "tabular", "dev"),
    "randhie": ("regression", "tabular", "dev"),
    "sunspots": ("forecasting", "series", "dev"),
    "co2": ("forecasting", "series", "dev"),
    "wine": ("classification", "tabular", "test"),
    "anes96": ("classification", "tabular", "test"),
    "star98": ("regression", "tabular", "test"),
    "elnino": ("forecasting", "series", "test"),
    "macrodata": ("forecasting", "series", "test"),
    "iris": ("classification", "tabular", "fresh"),
    "modechoice": ("classification", "tabular", "fresh"),
    "grunfeld": ("regression", "tabular", "fresh"),
    "engel": ("regression", "tabular", "fresh"),
    "nile": ("forecasting", "series", "fresh"),
    "interest_inflation": ("forecasting", "series", "fresh"),
}

_CAPS = {"train": 900, "val": 300, "test": 450}


@dataclass
class Data:
    name: str
    objective: str
    kind: str  # tabular | image | series
    part: str
    classes: int | None
    x: dict[str, torch.Tensor]  # split -> features
    y: dict[str, torch.Tensor]  # split -> targets (long for classifiers, float for regression)
    baseline: dict[str, float]  # split -> loss of the best constant predictor (fit on train)
    prior_loss: dict[str, float] | None  # classifiers: same as baseline (class-prior CE)

    @property
    def n_features(self) -> int:
        return int(self.x["train"].shape[1])

    @property
    def chance(self) -> float | None:
        return math.log(self.classes) if self.classes else None


def _raw_tabular(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name in ("digits", "breast_cancer", "wine", "diabetes", "iris"):
        import sklearn.datasets as skd

        ds = getattr(skd, f"load_{name}")()
        return np.asarray(ds.data, dtype=np.float64), np.asarray(ds.target)
    import statsmodels.api as sm

    df = getattr(sm.datasets, name).load_pandas().data
    if name == "fair":  # had an affair (affairs > 0) from the survey answers
        y = (df["affairs"].to_numpy() > 0).astype(np.int64)
        x = df.drop(columns=["affairs"]).to_numpy(np.float64)
    elif name == "anes96":  # voted Dole (1) or Clinton (0)
        y = df["vote"].to_numpy().astype(np.int64)
        x = df.drop(columns=["vote", "popul"]).to_numpy(np.float64)
    elif name == "star98":  # share of students above the national median in maths
        y = (df["NABOVE"] / (df["NABOVE"] + df["NBELOW"])).to_numpy(np.float64)
        x = df.drop(columns=["NABOVE", "NBELOW"]).to_numpy(np.float64)
    elif name == "randhie":  # log(1 + outpatient visits) from insurance / health covariates
        y = np.log1p(df["mdvis"].to_numpy(np.float64))
        x = df.drop(columns=["mdvis"]).to_numpy(np.float64)
    elif name == "modechoice":  # travel mode chosen (air, train, bus, car -> 0..3), one row each
        df = df.sort_values(["individual", "mode"])
        wide = df.pivot(index="individual", columns="mode", values=["ttme", "invc", "invt", "gc"])
        wide = wide.reindex(
            columns=[(v, m) for v in ("ttme", "invc", "invt", "gc") for m in (1, 2, 3, 4)]
        )
        person = df.groupby("individual")[["hinc", "psize"]].first().loc[wide.index]
        chosen = df[df["choice"] == 1].set_index("individual")["mode"].loc[wide.index]
        y = chosen.to_numpy().astype(np.int64) - 1
        x = np.hstack([wide.to_numpy(np.float64), person.to_numpy(np.float64)])
    elif name == "grunfeld":  # log investment from log1p firm value / capital, year, firm
        y = np.log(df["invest"].to_numpy(np.float64))
        firms = sorted(df["firm"].astype(str).unique())
        onehot = df["firm"].astype(str).to_numpy()[:, None] == np.array(firms)[None, :]
        x = np.hstack(
            [
                np.log1p(df[["value", "capital"]].to_numpy(np.float64)),
                df[["year"]].to_numpy(np.float64),
                onehot.astype(np.float64),
            ]
        )
    elif name == "engel":  # log food expenditure from log income (Belgian households, 1857)
        y = np.log(df["foodexp"].to_numpy(np.float64))
        x = np.log(df[["income"]].to_numpy(np.float64))
    else:
        raise KeyError(name)
    return x, y


def _raw_series(name: str) -> tuple[np.ndarray, int]:
    """(1-D series, window length)."""
    import statsmodels.api as sm

    df = getattr(sm.datasets, name).load_pandas().data
    if name == "sunspots":
        return df["SUNACTIVITY"].to_numpy(np.float64), 12
    if name == "co2":  # weekly Mauna Loa CO2, gaps interpolated, 4-week means; forecast the change
        s = df["co2"].interpolate(limit_direction="both").to_numpy(np.float64)
        s = s[: s.size // 4 * 4].reshape(-1, 4).mean(axis=1)
        return np.diff(s), 13
    if name == "elnino":  # monthly sea-surface temperature 1950-2010
        return df.drop(columns=["YEAR"]).to_numpy(np.float64).reshape(-1), 12
    if name == "macrodata":  # quarterly US inflation
        return df["infl"].to_numpy(np.float64), 8
    if name == "nile":  # annual flow volume of the Nile at Aswan, 1871-1970
        return df["volume"].to_numpy(np.float64), 8
    if name == "interest_inflation":  # quarterly change of (German) inflation, 1972-1998
        return df["Dp"].to_numpy(np.float64), 8
    raise KeyError(name)


def _standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mu = train.mean(axis=0)
    sd = train.std(axis=0)
    sd = np.where(sd < 1e-6, 1.0, sd)
    return [(a - mu) / sd for a in (train, *others)]


def load(name: str, seed: int = 1234) -> Data:
    objective, kind, part = DATASETS[name]
    rng = np.random.RandomState(seed + sum(map(ord, name)))
    if kind == "series":
        s, w = _raw_series(name)
        n_t = s.size - w  # number of forecast targets
        n_tr, n_va = int(0.6 * n_t), int(0.2 * n_t)
        mu, sd = s[: w + n_tr].mean(), s[: w + n_tr].std()
        z = (s - mu) / sd
        xs = np.stack([z[i : i + w] for i in range(n_t)])
        ys = z[w:]
        idx = {
            "train": np.arange(0, n_tr),
            "val": np.arange(n_tr, n_tr + n_va),
            "test": np.arange(n_tr + n_va, n_t),
        }
        xsplit = {k: xs[v] for k, v in idx.items()}
        ysplit = {k: ys[v] for k, v in idx.items()}
    else:
        x, y = _raw_tabular(name)
        perm = rng.permutation(len(y))
        if len(perm) > 2000:
            perm = perm[:2000]
        n = len(perm)
        n_tr, n_va = int(0.5 * n), int(0.2 * n)
        idx = {
            "train": perm[:n_tr][: _CAPS["train"]],
            "val": perm[n_tr : n_tr + n_va][: _CAPS["val"]],
            "test": perm[n_tr + n_va :][: _CAPS["test"]],
        }
        tr, va, te = _standardise(x[idx["train"]], x[idx["val"]], x[idx["test"]])
        xsplit = {"train": tr, "val": va, "test": te}
        ysplit = {k: y[v] for k, v in idx.items()}
        if objective == "regression":
            ytr, yva, yte = _standardise(ysplit["train"], ysplit["val"], ysplit["test"])
            ysplit = {"train": ytr, "val": yva, "test": yte}
    classes = None
    baseline: dict[str, float] = {}
    prior = None
    if objective == "classification":
        classes = int(max(int(v.max()) for v in ysplit.values()) + 1)
        counts = np.bincount(ysplit["train"].astype(int), minlength=classes) + 0.5
        p = counts / counts.sum()
        for k, v in ysplit.items():
            baseline[k] = float(-np.mean(np.log(p[v.astype(int)])))
        prior = dict(baseline)
        y_t = {k: torch.as_tensor(v.astype(np.int64)) for k, v in ysplit.items()}
    else:
        m = float(np.mean(ysplit["train"]))
        for k, v in ysplit.items():
            baseline[k] = float(np.mean((v - m) ** 2))
        y_t = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in ysplit.items()}
    x_t = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in xsplit.items()}
    return Data(name, objective, kind, part, classes, x_t, y_t, baseline, prior)
