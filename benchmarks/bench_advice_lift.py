"""Advice-lift benchmark (issue 11): does following the advice beat a mis-set baseline?

Each scenario is a real data set shipped with scikit-learn or statsmodels (no download) and a
baseline set up the way users really get it wrong: a large model trained without any
regularization on little data (``overfit``), dropout far too strong inside the model
(``dropout``: ``nn.Dropout(0.7)`` in ``model_fn``; the stack's dropout technique re-sets the
rate of existing dropout modules), or training cut short (``short``: a few epochs).
A weight decay set too strong is not a scenario: the tuner's baseline has no weight decay of
its own (``TrainConfig`` holds none), so it is a mis-setting ``tune`` cannot change.

For every scenario and seed, on the same untouched test split (``tune(test_size=...)``: the
same seed gives every call the same split, the same folds and the same weights):

- ``baseline``: the user's setup as given, refit on all training data and scored;
- ``advisor``: the baseline is trained once (80/20 inside the training part) and its curves
  diagnosed with ``advisor.diagnose`` (declared facts: samples, classes, modality, the
  regularization in effect, the model itself); its plan is tuned by ``advisor.tune`` (staged
  search, the default), refit on all training data and scored. ``best`` is what tune says to
  use (the baseline when no stack beat it beyond the fold noise). When the plan says
  ``train_longer`` the advisor trains for ``max(cap, LONGER x the user's epochs)`` epochs
  (following that advice is part of following the advice). A plan without any regularizer
  (only actions: ``train_longer``, ``reduce_regularization`` ...) leaves nothing to tune:
  the advisor is then the user's set-up with those epochs (actions other than
  ``train_longer`` say no amount, so the harness does not guess one);
- ``full_tpe`` / ``full_random``: the same budget over the full space (``space="full"``) with
  Optuna's TPE / random sampling, scored the same way (their ``best``, guarded the same way);
- ``fixed_default``: AdamW weight decay 0.01 + early stopping (patience 10), + label
  smoothing 0.1 for classifiers; no search: the fixed stack is refit and scored whether or
  not it beat the baseline on the folds.
Except ``baseline`` (and the advisor when the advice does not say to train longer), every
contender of a ``short`` scenario trains with the epoch cap: they are the strong alternatives.

Definitions (the summary repeats them):

- trials_to_final (searched contenders): the first trial, counted in the order run (pruned
  and failed trials included, 1-based), after which the best-so-far complete trial is within
  noise of the search's final best: its fold scores' mean paired difference to the final
  best's is no worse than ``TIE_SE`` standard errors (same folds, so the differences cancel
  what the folds share).
- staged_to_full (advisor): the first trial of the staged search whose best-so-far reaches
  the full-space TPE search's final best CV score within the same paired noise (the two
  searches share their folds); ``TRIALS + 1`` when it never does. The target's ratio is
  staged_to_full / full_tpe's trials_to_final.
- win / tie / loss of A against B on a scenario, paired over seeds: the per-seed test
  differences (A - B, signed so positive is better) have a mean beyond
  ``max(TIE_SE * SE, resolution)`` (win), below minus that (loss), else tie; resolution is
  one test sample for accuracy, 1 % of B's mean for MSE.

Run: ``nice -n 5 python benchmarks/bench_advice_lift.py --fresh --jobs 2`` (51 minutes on 2
cores shared with other jobs, load about 4; the GRU scenario is a third of it); parts run
with ``--scenarios a,b --seeds 0,1`` are appended to the CSV (the last rows of a scenario and
seed count); ``--summary`` rewrites the markdown from the CSV only; ``--quick`` is the
harness's smoke test (1 scenario, 1 seed, 3 trials, 2 folds, 4 epochs; about 10 s).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results"
CSV_PATH = RESULTS / "advice_lift.csv"
MD_PATH = RESULTS / "advice_lift.md"

TRIALS = 20  # the issue's fixed budget per searched contender
FOLDS = 5
TEST_SIZE = 0.25  # the untouched test split (the last quarter for a time series)
SEEDS = (0, 1, 2)
EPOCH_CAP = 30  # epochs of every fold; early stopping in the stacks usually ends sooner
VAL_SHARE = 0.2  # of the training part, for the baseline run whose curves are diagnosed
LONGER = 2  # "train longer" at the epoch cap already: twice the user's epochs
TIE_SE = 1.0  # standard errors of a paired difference that count as noise
MSE_RESOLUTION = 0.01  # relative: MSE differences under 1 % are ties
CONTENDERS = ("advisor", "full_tpe", "full_random", "fixed_default", "baseline")
ALTERNATIVES = ("baseline", "full_tpe", "full_random", "fixed_default")
MIS_REGULARIZED = ("overfit", "dropout")  # mis-settings of the regularization itself

FIELDS = [
    "scenario",
    "mis_setting",
    "task",
    "metric",
    "seed",
    "contender",
    "test",
    "test_candidate",
    "test_baseline_call",
    "n_test",
    "cv",
    "cv_candidate",
    "cv_baseline",
    "trials_run",
    "trials_to_final",
    "trials_to_best",
    "staged_to_full",
    "staged_to_full_exact",
    "overhead_share",
    "trials_wall_s",
    "trials_train_s",
    "beats_baseline",
    "epochs",
    "stack",
    "candidate_stack",
    "verdict",
    "plan",
    "path",
    "wall_s",
]


# ----------------------------------------------------------------------------- data sets
def _tabular(loader: Callable[..., Any], n_max: int | None = None, seed: int = 0):
    X, y = loader(return_X_y=True)
    if n_max is not None and len(y) > n_max:  # a fixed subsample: the data set, not the seed
        keep = np.sort(np.random.default_rng(seed).permutation(len(y))[:n_max])
        X, y = X[keep], y[keep]
    return X.astype(np.float32), y


def breast_cancer():
    from sklearn.datasets import load_breast_cancer

    return _tabular(load_breast_cancer)


def wine():
    from sklearn.datasets import load_wine

    return _tabular(load_wine)


def iris():
    from sklearn.datasets import load_iris

    return _tabular(load_iris)


def diabetes():
    from sklearn.datasets import load_diabetes

    return _tabular(load_diabetes)


def digits_tabular(n_max: int):
    from sklearn.datasets import load_digits

    X, y = _tabular(load_digits, n_max)
    return X / 16.0, y


def digits_images(n_max: int):
    X, y = digits_tabular(n_max)
    return X.reshape(-1, 1, 8, 8), y


def windows(series: np.ndarray, window: int):
    X = np.stack([series[i : i + window] for i in range(len(series) - window)])
    return X[..., None].astype(np.float32), series[window:].astype(np.float32)


def sunspots():
    """Yearly sunspot numbers 1700-2008 as 12-year windows -> the next year, (N, 12, 1)."""
    from statsmodels.datasets import sunspots as ss

    series = ss.load_pandas().data["SUNACTIVITY"].to_numpy(dtype=np.float64)
    return windows(series, 12)


def elnino():
    """Monthly sea surface temperatures 1980-2010 (El Nino, the last 31 years statsmodels
    ships; the earlier years are left out to keep the GRU's sequential folds fast) as
    12-month windows -> the next month."""
    from statsmodels.datasets import elnino as en

    frame = en.load_pandas().data
    frame = frame[frame["YEAR"] >= 1980].drop(columns=["YEAR"])
    return windows(frame.to_numpy(dtype=np.float64).reshape(-1), 12)


# ------------------------------------------------------------------------------- models
class MLP:
    """``model_fn``: a plain MLP (optionally with dropout after every hidden layer)."""

    def __init__(self, n_in: int, n_out: int, hidden: int, depth: int, dropout: float = 0.0):
        self.args = (n_in, n_out, hidden, depth, dropout)
        self.__qualname__ = f"MLP{n_in}-{hidden}x{depth}-{n_out}-p{dropout:g}"  # study name

    def __call__(self):
        from torch import nn

        n_in, n_out, hidden, depth, p = self.args
        layers: list[nn.Module] = [nn.Flatten()]
        width = n_in
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            if p > 0:
                layers.append(nn.Dropout(p))
            width = hidden
        layers.append(nn.Linear(width, n_out))
        return nn.Sequential(*layers)


class CNN:
    """``model_fn``: a small CNN for 1x8x8 digits (optionally with dropout before each Linear)."""

    def __init__(self, n_out: int, dropout: float = 0.0):
        self.n_out, self.p = n_out, dropout
        self.__qualname__ = f"CNN-{n_out}-p{dropout:g}"

    def __call__(self):
        from torch import nn

        p = self.p
        drop = (lambda: [nn.Dropout(p)]) if p > 0 else (lambda: [])
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.Flatten(),
            *drop(), nn.Linear(32 * 4 * 4, 128), nn.ReLU(),
            *drop(), nn.Linear(128, self.n_out),
        )  # fmt: skip


class GRUNet:
    """``model_fn``: a GRU forecaster (last hidden state -> ReLU -> [dropout] -> Linear)."""

    def __init__(self, hidden: int, dropout: float = 0.0):
        self.hidden, self.p = hidden, dropout
        self.__qualname__ = f"GRU-{hidden}-p{dropout:g}"

    def __call__(self):
        from torch import nn

        class GRUForecaster(nn.Module):
            def __init__(self, hidden: int, p: float):
                super().__init__()
                self.gru = nn.GRU(1, hidden, batch_first=True)
                head: list[nn.Module] = [nn.ReLU()]
                if p > 0:
                    head.append(nn.Dropout(p))
                self.head = nn.Sequential(*head, nn.Linear(hidden, 1))

            def forward(self, x):
                out, _ = self.gru(x)
                return self.head(out[:, -1])

        return GRUForecaster(self.hidden, self.p)


# ---------------------------------------------------------------------------- scenarios
@dataclass(frozen=True)
class Scenario:
    """One data set, one model and one mis-setting of the user's baseline."""

    name: str
    mis_setting: str  # overfit | dropout | short
    load: Callable[[], tuple[np.ndarray, np.ndarray]]
    task: str  # tune's task: classification | regression | timeseries
    modality: str  # declared fact: tabular | image | sequence
    classes: int | None
    model_fn: Any
    epochs: int = EPOCH_CAP  # the user's epochs
    lr: float = 1e-3
    batch_size: int = 64  # TrainConfig's default
    dropout: float | None = None  # dropout in effect in model_fn (declared to diagnose)
    no_flip: bool | None = None  # declared: a mirrored digit can be another digit
    note: str = ""

    @property
    def metric(self) -> str:
        return "accuracy" if self.task == "classification" else "mse"

    @property
    def maximize(self) -> bool:
        return self.task == "classification"


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "breast_cancer_overfit", "overfit", breast_cancer, "classification", "tabular", 2,
            MLP(30, 2, 256, 2), note="569 tumours, 2x256 MLP, no regularization",
        ),
        Scenario(
            "digits_tabular_overfit", "overfit", lambda: digits_tabular(400), "classification",
            "tabular", 10, MLP(64, 10, 256, 2),
            note="400 digits as 64 features, 2x256 MLP, no regularization",
        ),
        Scenario(
            "digits_cnn_overfit", "overfit", lambda: digits_images(200), "classification",
            "image", 10, CNN(10), lr=3e-3, batch_size=16, no_flip=True,
            note="200 digits as 1x8x8 images, small CNN, no regularization",
        ),
        Scenario(
            "diabetes_overfit", "overfit", diabetes, "regression", "tabular", None,
            MLP(10, 1, 256, 2), lr=3e-3,
            note="442 patients, 2x256 MLP, no regularization (regression)",
        ),
        Scenario(
            "sunspots_gru_overfit", "overfit", sunspots, "timeseries", "sequence", None,
            GRUNet(64), lr=3e-3, batch_size=16,
            note="297 windows of 12 years, GRU(64), no regularization",
        ),
        Scenario(
            "breast_cancer_dropout", "dropout", breast_cancer, "classification", "tabular", 2,
            MLP(30, 2, 32, 3, dropout=0.7), lr=3e-3, batch_size=32, dropout=0.7,
            note="569 tumours, 3x32 MLP with Dropout(0.7) after every hidden layer",
        ),
        Scenario(
            "digits_tabular_dropout", "dropout", lambda: digits_tabular(400), "classification",
            "tabular", 10, MLP(64, 10, 64, 3, dropout=0.7), lr=3e-3, batch_size=32,
            dropout=0.7, note="400 digits as 64 features, 3x64 MLP with Dropout(0.7)",
        ),
        Scenario(
            "digits_cnn_dropout", "dropout", lambda: digits_images(400), "classification",
            "image", 10, CNN(10, dropout=0.7), lr=3e-3, batch_size=32, dropout=0.7,
            no_flip=True,
            note="400 digits as 1x8x8 images, CNN with Dropout(0.7) before both Linear layers",
        ),
        Scenario(
            "iris_short", "short", iris, "classification", "tabular", 3,
            MLP(4, 3, 64, 2), epochs=4, note="150 flowers, 2x64 MLP, 4 epochs",
        ),
        Scenario(
            "diabetes_short", "short", diabetes, "regression", "tabular", None,
            MLP(10, 1, 64, 2), epochs=3, note="442 patients, 2x64 MLP, 3 epochs (regression)",
        ),
    )
}  # fmt: skip


# ----------------------------------------------------------------------- data preparation
def holdout(n: int, y: np.ndarray, task: str, seed: int, test_size: float):
    """The split ``tune(test_size=...)`` makes: the same rows, so the baseline run and the
    scaling statistics never see the test split. The harness checks the assumption after
    every call (``n_test`` and the refit model's score must agree)."""
    from advisor.tuning._splits import holdout_split

    return holdout_split(n, y, task, test_size, seed)


def prepare(scenario: Scenario, seed: int, test_size: float):
    """Data scaled with the training part's statistics; returns X, y, train_idx, test_idx."""
    X, y = scenario.load()
    tr, te = holdout(len(y), y, scenario.task, seed, test_size)
    if scenario.modality == "tabular":
        mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-8
        X = ((X - mu) / sd).astype(np.float32)
    elif scenario.modality == "sequence":
        mu, sd = float(X[tr].mean()), float(X[tr].std())
        X, y = ((X - mu) / sd).astype(np.float32), ((y - mu) / sd).astype(np.float32)
    if scenario.task == "regression":
        mu, sd = float(y[tr].mean()), float(y[tr].std())
        y = ((y - mu) / sd).astype(np.float32)
    return X, y, tr, te


# --------------------------------------------------------------- the user's baseline run
def baseline_run(scenario: Scenario, X, y, train_idx, seed: int, epochs: int):
    """Train ``model_fn()`` as the user does (AdamW, no weight decay) on 80 % of the training
    part; log train/val loss (and accuracy) each epoch; diagnose the curves."""
    import torch
    import torch.nn.functional as F

    import advisor

    rng = np.random.default_rng(seed)
    n = len(train_idx)
    order = train_idx if scenario.task == "timeseries" else rng.permutation(train_idx)
    cut = round(n * (1 - VAL_SHARE))
    tr, va = np.sort(order[:cut]), np.sort(order[cut:])
    Xt = torch.as_tensor(X)
    yt = torch.as_tensor(y)
    classify = scenario.task == "classification"
    yt = yt.long() if classify else yt.float().reshape(-1, 1)

    def loss_of(out, target):
        return F.cross_entropy(out, target) if classify else F.mse_loss(out, target)

    torch.manual_seed(seed)
    model = scenario.model_fn()
    opt = torch.optim.AdamW(model.parameters(), lr=scenario.lr, weight_decay=0.0)
    rec = advisor.Recorder(classes=scenario.classes)
    gen = torch.Generator().manual_seed(seed)
    tr_t, va_t = torch.as_tensor(tr), torch.as_tensor(va)
    for epoch in range(epochs):
        model.train()
        for b in tr_t[torch.randperm(len(tr_t), generator=gen)].split(scenario.batch_size):
            opt.zero_grad()
            loss_of(model(Xt[b]), yt[b]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            out_tr, out_va = model(Xt[tr_t]), model(Xt[va_t])
            row = {
                "train_loss": loss_of(out_tr, yt[tr_t]).item(),
                "val_loss": loss_of(out_va, yt[va_t]).item(),
            }
            if classify:
                row["train_acc"] = (out_tr.argmax(1) == yt[tr_t]).float().mean().item()
                row["val_acc"] = (out_va.argmax(1) == yt[va_t]).float().mean().item()
        rec.log(epoch, **row)
    return advisor.diagnose(
        curves=rec.to_curves(),
        model=scenario.model_fn(),
        modality=scenario.modality,
        objective={"timeseries": "forecasting"}.get(scenario.task, scenario.task),
        samples=len(train_idx),
        classes=scenario.classes,
        dropout=scenario.dropout if scenario.dropout is not None else 0.0,
        weight_decay=0.0,
        no_flip=scenario.no_flip,
        spectral=False,
        device="cpu",
    )


# ------------------------------------------------------------------------------ figures
def _sign(maximize: bool) -> float:
    return 1.0 if maximize else -1.0


def paired_gap(a: list[float], b: list[float], maximize: bool) -> tuple[float, float]:
    """Mean and standard error of ``a - b`` over pairs, signed so positive means a is better."""
    d = [_sign(maximize) * (x - y) for x, y in zip(a, b, strict=True)]
    if len(d) < 2:
        return (d[0] if d else math.nan), 0.0
    return statistics.fmean(d), statistics.stdev(d) / math.sqrt(len(d))


def within_noise(scores: list[float] | None, target: list[float], maximize: bool) -> bool:
    """``scores`` is no worse than ``target`` beyond ``TIE_SE`` paired standard errors."""
    if not scores or len(scores) != len(target):
        return False
    mean, se = paired_gap(scores, target, maximize)
    return mean >= -TIE_SE * se - 1e-12


def _complete(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(trials, key=lambda t: t["order"])


def first_reaching(trials, target: list[float], maximize: bool) -> int | None:
    """1-based order of the first trial after which the best-so-far complete trial is within
    noise of ``target`` (fold scores); None when it never is."""
    best = None
    for i, t in enumerate(_complete(trials)):
        scored = t["state"] == "COMPLETE" and bool(t.get("fold_scores"))
        if scored and (best is None or _sign(maximize) * (t["value"] - best["value"]) > 0):
            best = t
        if best is not None and within_noise(best["fold_scores"], target, maximize):
            return i + 1
    return None


def first_at_least(trials, value: float, maximize: bool, never: int) -> int:
    """1-based order of the first complete trial scoring ``value`` or better; ``never`` if none."""
    for i, t in enumerate(_complete(trials)):
        if t["state"] == "COMPLETE" and _sign(maximize) * (t["value"] - value) >= -1e-12:
            return i + 1
    return never


def final_best(trials, maximize: bool) -> dict[str, Any] | None:
    done = [t for t in trials if t["state"] == "COMPLETE" and t.get("fold_scores")]
    if not done:
        return None
    return max(done, key=lambda t: _sign(maximize) * t["value"])


def describe_stack(stack) -> str:
    """``l2(weight_decay=0.012)+early_stopping(patience=10)``: the searched or main values."""
    if stack is None:
        return ""
    parts = []
    for p in stack:
        keys = (
            list(p.search_space)
            or [
                k
                for k, v in p.params.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            ][:1]
        )
        vals = ",".join(f"{k}={_short(p.params[k])}" for k in keys if k in p.params)
        parts.append(f"{p.technique}({vals})")
    return "+".join(parts) or "none"


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


# ------------------------------------------------------------------------------- running
@dataclass
class Budget:
    trials: int = TRIALS
    folds: int = FOLDS
    epoch_cap: int = EPOCH_CAP
    test_size: float = TEST_SIZE
    user_epochs: int | None = None  # overrides the scenario's (quick mode)


FIXED_DEFAULT = {
    "l2": {"weight_decay": 0.01},
    "early_stopping": {"patience": 10},
    "label_smoothing": {"smoothing": 0.1},
}


def fixed_stack(classify: bool) -> dict[str, Any]:
    pieces = [
        {"technique": t, "params": dict(p), "search_space": {}}
        for t, p in FIXED_DEFAULT.items()
        if classify or t != "label_smoothing"
    ]
    return {"version": 1, "pieces": pieces}


def _tune(scenario, X, y, seed, budget, journal, *, epochs, **kw):
    import advisor
    from advisor.tuning import TrainConfig

    train = TrainConfig(
        lr=scenario.lr, batch_size=scenario.batch_size, max_epochs=epochs, folds_mode="auto"
    )
    t0 = time.perf_counter()
    result = advisor.tune(
        scenario.model_fn,
        (X, y),
        task=scenario.task,
        folds=budget.folds,
        seed=seed,
        test_size=budget.test_size,
        refit=True,
        train=train,
        storage=str(journal),
        progress=False,
        device="cpu",
        **kw,
    )
    return result, time.perf_counter() - t0


def _check_split(result, X, y, test_idx, scenario) -> None:
    """The harness's holdout must be tune's: same size, and the refit model scores the same."""
    import torch

    if result.test is None or result.test["samples"] != len(test_idx):
        raise RuntimeError(f"{scenario.name}: tune's test split differs from the harness's")
    model = result.refit_model
    model.eval()
    with torch.no_grad():
        out = model(torch.as_tensor(X[test_idx]))
    if scenario.task == "classification":
        score = (out.argmax(1).numpy() == y[test_idx]).mean()
    else:
        score = float(((out.reshape(-1).numpy() - y[test_idx]) ** 2).mean())
    if abs(score - result.test["best"]) > 1e-4 * max(1.0, abs(score)):
        raise RuntimeError(
            f"{scenario.name}: refit model scores {score:.5f} on the harness's test split, "
            f"tune says {result.test['best']:.5f}: the splits differ"
        )


def _row(scenario, seed, contender, result, wall, epochs, **extra) -> dict[str, Any]:
    test = result.test or {}
    trials = result.trials
    row = {
        "scenario": scenario.name,
        "mis_setting": scenario.mis_setting,
        "task": scenario.task,
        "metric": scenario.metric,
        "seed": seed,
        "contender": contender,
        "test": test.get("best"),
        "test_candidate": test.get("candidate", test.get("best")),
        "test_baseline_call": test.get("baseline"),
        "n_test": test.get("samples"),
        "cv": None if result.best is None else result.best.cv_mean,
        "cv_candidate": None if result.candidate is None else result.candidate.cv_mean,
        "cv_baseline": result.baseline.cv_mean,
        "trials_run": len(trials),
        "overhead_share": result.overhead_share,
        "trials_wall_s": result.trials_wall_s,
        "trials_train_s": result.trials_train_s,
        "beats_baseline": result.beats_baseline,
        "epochs": epochs,
        "stack": describe_stack(result.best_stack) or "none",
        "candidate_stack": describe_stack(result.candidate_stack) or "none",
        "path": "; ".join(
            f"{'+'.join(p['techniques'])}:{'kept' if p['kept'] else 'dropped'}" for p in result.path
        ),
        "wall_s": wall,
    }
    best = final_best(trials, scenario.maximize)
    if best is not None and len(trials) > 1:
        row["trials_to_final"] = first_reaching(trials, best["fold_scores"], scenario.maximize)
        row["trials_to_best"] = best["order"] + 1
    row.update(extra)
    return row


def run_one(scenario: Scenario, seed: int, budget: Budget, log=print) -> list[dict[str, Any]]:
    """Every contender of one scenario and seed; returns the CSV rows."""
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)
    X, y, train_idx, test_idx = prepare(scenario, seed, budget.test_size)
    user_epochs = budget.user_epochs or scenario.epochs
    cap = max(budget.epoch_cap, user_epochs)
    t0 = time.perf_counter()
    diagnosis = baseline_run(scenario, X, y, train_idx, seed, user_epochs)
    recs = diagnosis.recommendations
    plan = [f"{r.stage}:{r.technique}" for r in recs]
    verdict = diagnosis.fit.verdict
    # Following "train longer": the epoch cap, or twice the user's epochs when already there.
    advisor_epochs = (
        max(cap, LONGER * user_epochs) if "train_longer" in recs.techniques() else user_epochs
    )
    has_stack = bool(recs.to_stack()["pieces"])
    log(f"  diagnosis {verdict}; plan {' '.join(plan)} ({time.perf_counter() - t0:.1f} s)")
    alt_epochs = cap if scenario.mis_setting == "short" else user_epochs
    classify = scenario.task == "classification"
    calls = {
        # A plan without a regularizer (only actions such as train_longer) leaves nothing to
        # tune: the advisor is then the baseline set-up as the actions change it, scored by
        # the refit baseline of a one-trial call trained for those epochs.
        "advisor": (
            {"stack": recs, "n_trials": budget.trials}
            if has_stack
            else {"stack": fixed_stack(False), "n_trials": 1},
            advisor_epochs,
        ),
        "full_tpe": ({"space": "full", "n_trials": budget.trials}, alt_epochs),
        "full_random": (
            {"space": "full", "sampler": "random", "n_trials": budget.trials},
            alt_epochs,
        ),
        "fixed_default": ({"stack": fixed_stack(classify), "n_trials": 1}, alt_epochs),
    }
    rows: list[dict[str, Any]] = []
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        journal = Path(scratch)
        for name, (kw, epochs) in calls.items():
            result, wall = _tune(
                scenario, X, y, seed, budget, journal / f"{name}.journal", epochs=epochs, **kw
            )
            _check_split(result, X, y, test_idx, scenario)
            results[name] = result
            extra: dict[str, Any] = {}
            if name == "fixed_default":  # no search: the fixed stack itself is the contender
                extra = {
                    "test": result.test.get("candidate", result.test["best"]),
                    "cv": None if result.candidate is None else result.candidate.cv_mean,
                    "stack": describe_stack(result.candidate_stack),
                }
            if name == "advisor":
                extra = {"verdict": verdict, "plan": " ".join(plan)}
                if not has_stack:
                    extra.update(
                        test=result.test["baseline"],
                        test_candidate=result.test["baseline"],
                        cv=result.baseline.cv_mean,
                        cv_candidate=None,
                        stack="none",
                        candidate_stack="none",
                        beats_baseline=False,
                        trials_run=0,
                        overhead_share=None,
                        trials_wall_s=0.0,
                        trials_train_s=0.0,
                    )
            rows.append(_row(scenario, seed, name, result, wall, epochs, **extra))
            log(
                f"  {name:<13} test {rows[-1]['test']:.4f}  cv {rows[-1]['cv'] or math.nan:.4f}  "
                f"epochs {epochs}  stack {rows[-1]['stack']}  ({wall:.1f} s)"
            )
        # staged search against the full space's final best, on the same folds
        full = final_best(results["full_tpe"].trials, scenario.maximize)
        if full is not None and has_stack:
            adv = results["advisor"].trials
            reached = first_reaching(adv, full["fold_scores"], scenario.maximize)
            rows[0]["staged_to_full"] = reached if reached is not None else budget.trials + 1
            rows[0]["staged_to_full_exact"] = first_at_least(
                adv, full["value"], scenario.maximize, budget.trials + 1
            )
        # the user's baseline: the refit baseline of a call trained with the user's epochs
        same = [results[n] for n, (_, epochs) in calls.items() if epochs == user_epochs]
        base_wall = 0.0
        if same:
            base = same[0]
        else:  # every call trained longer: one cheap call for the user's refit baseline
            base, base_wall = _tune(
                scenario, X, y, seed, budget, journal / "baseline.journal",
                epochs=user_epochs, stack=fixed_stack(False), n_trials=1,
            )  # fmt: skip
    rows.append(
        {
            "scenario": scenario.name,
            "mis_setting": scenario.mis_setting,
            "task": scenario.task,
            "metric": scenario.metric,
            "seed": seed,
            "contender": "baseline",
            "test": base.test["baseline"],
            "test_candidate": base.test["baseline"],
            "test_baseline_call": base.test["baseline"],
            "n_test": base.test["samples"],
            "cv": base.baseline.cv_mean,
            "cv_baseline": base.baseline.cv_mean,
            "epochs": user_epochs,
            "stack": "none",
            "verdict": verdict,
            "wall_s": base_wall,
        }
    )
    log(f"  {'baseline':<13} test {rows[-1]['test']:.4f}  cv {rows[-1]['cv']:.4f}")
    return rows


# ------------------------------------------------------------------------------ the CSV
def append_rows(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in FIELDS})


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The CSV's rows, numbers parsed; a (scenario, seed) run twice keeps its last rows."""
    with path.open(newline="", encoding="utf-8") as fh:
        raw = list(csv.DictReader(fh))
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in raw:
        row: dict[str, Any] = dict(r)
        for k in (
            "test", "test_candidate", "test_baseline_call", "cv", "cv_candidate", "cv_baseline",
            "overhead_share", "trials_wall_s", "trials_train_s", "wall_s",
        ):  # fmt: skip
            row[k] = float(r[k]) if r.get(k) not in (None, "") else None
        for k in ("seed", "n_test", "trials_run", "trials_to_final", "trials_to_best",
                  "staged_to_full", "staged_to_full_exact", "epochs"):  # fmt: skip
            row[k] = int(float(r[k])) if r.get(k) not in (None, "") else None
        row["beats_baseline"] = r.get("beats_baseline") == "True"
        latest[(row["scenario"], str(row["seed"]), row["contender"])] = row
    return list(latest.values())


# ------------------------------------------------------------------------------ summary
@dataclass
class Outcome:
    """A against B on one scenario, paired over seeds."""

    mean: float
    se: float
    band: float
    seeds: int

    @property
    def verdict(self) -> str:
        if self.mean > self.band:
            return "win"
        if self.mean < -self.band:
            return "loss"
        return "tie"


def compare(rows, scenario: str, a: str, b: str) -> Outcome | None:
    """``a`` against ``b`` on ``scenario``'s test metric, paired over the seeds both ran."""
    by = {(r["contender"], r["seed"]): r for r in rows if r["scenario"] == scenario}
    seeds = sorted({s for (c, s) in by if c == a} & {s for (c, s) in by if c == b})
    pairs = [(by[(a, s)], by[(b, s)]) for s in seeds]
    pairs = [(x, y) for x, y in pairs if x["test"] is not None and y["test"] is not None]
    if not pairs:
        return None
    maximize = pairs[0][0]["metric"] == "accuracy"
    mean, se = paired_gap([x["test"] for x, _ in pairs], [y["test"] for _, y in pairs], maximize)
    if maximize:
        resolution = 1.0 / max(1, pairs[0][0]["n_test"] or 1)
    else:
        resolution = MSE_RESOLUTION * statistics.fmean(y["test"] for _, y in pairs)
    return Outcome(mean, se, max(TIE_SE * se, resolution) + 1e-12, len(pairs))


@dataclass
class Summary:
    scenarios: list[str]
    table: list[dict[str, Any]] = field(default_factory=list)
    wtl: dict[str, dict[str, int]] = field(default_factory=dict)
    outcomes: dict[tuple[str, str], Outcome] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else math.nan


def summarise(rows: list[dict[str, Any]]) -> Summary:
    order = [s for s in SCENARIOS if any(r["scenario"] == s for r in rows)]
    order += sorted({r["scenario"] for r in rows} - set(order))
    summary = Summary(order)
    for sc in order:
        mine = [r for r in rows if r["scenario"] == sc]
        entry: dict[str, Any] = {
            "scenario": sc,
            "mis_setting": mine[0]["mis_setting"],
            "metric": mine[0]["metric"],
            "seeds": len({r["seed"] for r in mine}),
        }
        for c in CONTENDERS:
            tests = [r["test"] for r in mine if r["contender"] == c and r["test"] is not None]
            ttf = [r["trials_to_final"] for r in mine if r["contender"] == c]
            entry[c] = {
                "mean": statistics.fmean(tests) if tests else math.nan,
                "sd": statistics.stdev(tests) if len(tests) > 1 else 0.0,
                "ttf": _median([t for t in ttf if t is not None]),
            }
        adv = [r for r in mine if r["contender"] == "advisor"]
        entry["verdicts"] = sorted({r["verdict"] or "" for r in adv})
        entry["kept"] = sum(r["beats_baseline"] for r in adv)
        entry["stacks"] = [r["stack"] for r in sorted(adv, key=lambda r: r["seed"])]
        entry["plans"] = sorted({r["plan"] or "" for r in adv})
        summary.table.append(entry)
        for alt in ALTERNATIVES:
            out = compare(rows, sc, "advisor", alt)
            if out is not None:
                summary.outcomes[(sc, alt)] = out
                tally = summary.wtl.setdefault(alt, {"win": 0, "tie": 0, "loss": 0})
                tally[out.verdict] += 1
    summary.targets = targets(rows, summary)
    return summary


def targets(rows, summary: Summary) -> list[dict[str, Any]]:
    out = []
    # 1. advice beats the baseline in every mis-regularized scenario, never loses beyond noise
    mis = [s for s in summary.scenarios if _mis(rows, s) in MIS_REGULARIZED]
    beat = [s for s in mis if summary.outcomes.get((s, "baseline")) and
            summary.outcomes[(s, "baseline")].verdict == "win"]  # fmt: skip
    worse = [s for s in summary.scenarios if summary.outcomes.get((s, "baseline")) and
             summary.outcomes[(s, "baseline")].verdict == "loss"]  # fmt: skip
    out.append(
        {
            "name": "advice beats the baseline in every mis-regularized scenario",
            "met": bool(mis) and len(beat) == len(mis),
            "figure": f"{len(beat)}/{len(mis)} mis-regularized scenarios won"
            + (
                f" (not won: {', '.join(sorted(set(mis) - set(beat)))})"
                if len(beat) < len(mis)
                else ""
            ),
        }
    )
    out.append(
        {
            "name": "advice never ends worse than the baseline beyond noise",
            "met": not worse,
            "figure": f"{len(worse)}/{len(summary.scenarios)} scenarios lost"
            + (f" ({', '.join(worse)})" if worse else ""),
        }
    )
    # 2. staged search reaches the full space's final score with at most half its trials
    ratios, strict = [], []
    for r in rows:
        if r["contender"] != "advisor" or r["staged_to_full"] is None:
            continue
        full = next(
            (f for f in rows if f["contender"] == "full_tpe" and f["scenario"] == r["scenario"]
             and f["seed"] == r["seed"]), None,
        )  # fmt: skip
        if full is not None and full["trials_to_final"]:
            ratios.append(r["staged_to_full"] / full["trials_to_final"])
        if full is not None and full["trials_to_best"] and r["staged_to_full_exact"]:
            strict.append(r["staged_to_full_exact"] / full["trials_to_best"])
    med = _median(ratios)
    reached = sum(1 for r in rows if r["contender"] == "advisor" and r["staged_to_full"] is not None
                  and r["staged_to_full"] <= (r["trials_run"] or TRIALS))  # fmt: skip
    test_ok = [o.verdict != "loss" for (s, alt), o in summary.outcomes.items() if alt == "full_tpe"]
    out.append(
        {
            "name": "staged search reaches the full-space final score with <= 1/2 its trials",
            "met": bool(ratios) and med <= 0.5,
            "figure": f"median trials ratio {med:.2f} over {len(ratios)} runs (staged reached the "
            f"full space's final CV best within noise in {reached}/{len(ratios)} runs; strictly, "
            f"score for score: median ratio {_median(strict):.2f}); on the test split the advisor "
            f"is not worse than full-space TPE in {sum(test_ok)}/{len(test_ok)} scenarios",
        }
    )
    # 3. matches or beats the strong fixed default in >= 3 of 4 scenarios
    fd = [o.verdict for (s, alt), o in summary.outcomes.items() if alt == "fixed_default"]
    ok = sum(v != "loss" for v in fd)
    out.append(
        {
            "name": "matches or beats the strong fixed default in >= 3/4 of scenarios",
            "met": bool(fd) and ok / len(fd) >= 0.75,
            "figure": f"{ok}/{len(fd)} scenarios ({ok / len(fd):.0%})" if fd else "no data",
        }
    )
    # 4. bookkeeping under 5 % of training time
    searched = [r for r in rows if r["contender"] in ("advisor", "full_tpe", "full_random")]
    wall = sum(r["trials_wall_s"] or 0.0 for r in searched)
    train = sum(r["trials_train_s"] or 0.0 for r in searched)
    shares = [r["overhead_share"] for r in searched if r["overhead_share"] is not None]
    agg = (wall - train) / train if train > 0 else math.nan
    out.append(
        {
            "name": "tuning bookkeeping < 5 % of training time",
            "met": train > 0 and agg < 0.05,
            "figure": f"{agg:.1%} over all searched runs (median run {_median(shares):.1%}, "
            f"worst {max(shares) if shares else math.nan:.1%})",
        }
    )
    return out


def _mis(rows, scenario: str) -> str:
    return next(r["mis_setting"] for r in rows if r["scenario"] == scenario)


def _fmt(entry: dict[str, Any], metric: str) -> str:
    digits = 3 if metric == "accuracy" else 4
    if math.isnan(entry["mean"]):
        return "-"
    return f"{entry['mean']:.{digits}f} ± {entry['sd']:.{digits}f}"


def render(summary: Summary, rows, *, markdown: bool, header: str = "") -> str:
    """The per-scenario table, the W/T/L tally and the targets, as markdown or plain text."""
    lines = []
    if markdown:
        lines += ["# Advice-lift benchmark (issue 11)", "", header, ""] if header else []
    lines.append("## Test metric per scenario (mean ± sd over seeds; accuracy: higher is "
                 "better, mse: lower is better)")  # fmt: skip
    lines.append("")
    cols = ["scenario", "mis-set", "metric", "seeds", *CONTENDERS]
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "---|" * len(cols))
    for e in summary.table:
        cells = [e["scenario"], e["mis_setting"], e["metric"], str(e["seeds"])]
        for c in CONTENDERS:
            cells.append(_fmt(e[c], e["metric"]))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Trials to reach the final CV score (median over seeds, of the "
              f"{TRIALS} run)", ""]  # fmt: skip
    lines.append(
        "| scenario | advisor (staged) | full_tpe | full_random | advisor to full_tpe's best |"
    )
    lines.append("|---|---|---|---|---|")
    for e in summary.table:
        adv = [r["staged_to_full"] for r in rows
               if r["scenario"] == e["scenario"] and r["contender"] == "advisor"
               and r["staged_to_full"] is not None]  # fmt: skip
        lines.append(
            f"| {e['scenario']} | {_n(e['advisor']['ttf'])} | {_n(e['full_tpe']['ttf'])} | "
            f"{_n(e['full_random']['ttf'])} | {_n(_median(adv))} |"
        )
    lines += ["", "## Advisor against each alternative (paired over seeds)", ""]
    lines.append("| scenario | " + " | ".join(ALTERNATIVES) + " |")
    lines.append("|---|" + "---|" * len(ALTERNATIVES))
    for e in summary.table:
        cells = []
        for alt in ALTERNATIVES:
            o = summary.outcomes.get((e["scenario"], alt))
            cells.append("-" if o is None else f"{o.verdict} ({o.mean:+.4f} ± {o.se:.4f})")
        lines.append(f"| {e['scenario']} | " + " | ".join(cells) + " |")
    total = " | ".join(
        "{win}/{tie}/{loss}".format(**summary.wtl.get(a, {"win": 0, "tie": 0, "loss": 0}))
        for a in ALTERNATIVES
    )
    lines.append(f"| **wins/ties/losses** | {total} |")
    lines += ["", "## Targets", ""]
    for t in summary.targets:
        lines.append(f"- **{'MET' if t['met'] else 'MISSED'}**: {t['name']}: {t['figure']}")
    lines += ["", "## What the advisor did (per scenario)", ""]
    lines.append(
        "| scenario | baseline verdict | plan | stack chosen per seed | beat baseline on folds |"
    )
    lines.append("|---|---|---|---|---|")
    for e in summary.table:
        lines.append(
            f"| {e['scenario']} | {', '.join(e['verdicts'])} | {'; '.join(e['plans'])} | "
            f"{'; '.join(e['stacks'])} | {e['kept']}/{e['seeds']} |"
        )
    text = "\n".join(lines) + "\n"
    if not markdown:
        text = text.replace("**", "")
    return text


def _n(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:g}"


DEFINITIONS = """\
Definitions. Budget per searched contender: {trials} trials, {folds}-fold CV, epochs capped at
{cap}; test split {test:.0%} (the last quarter for a time series), never seen by tuning.
*advisor*: the baseline's curves diagnosed, the plan tuned by `advisor.tune` (staged search),
its `best` (the baseline when nothing beat it beyond the fold noise) refit and scored;
*full_tpe*/*full_random*: `space="full"` with TPE/random sampling, scored the same way;
*fixed_default*: AdamW weight decay 0.01 + early stopping (patience 10) + label smoothing 0.1
(classifiers), no search, always refit and scored; *baseline*: the user's setup as given.
A plan saying `train_longer` gives the advisor max(cap, {longer}x the user's epochs) epochs; a plan
with no regularizer (actions only) is the user's set-up with those epochs. In `short`
scenarios every other contender but the baseline trains with the epoch cap. *Trials to final*: the first trial (in the order run,
pruned ones included) after which the best-so-far trial is within {tie:g} paired SE (over the
folds) of the search's final best. *Advisor to full_tpe's best*: the same, with full-space
TPE's final best as the target ({never} = never reached). *Win/tie/loss*: the mean paired
test difference over seeds beyond max({tie:g} SE, one test sample for accuracy / 1 % for MSE).
"""


def header_text(rows, wall: float | None, load: str | None) -> str:
    text = DEFINITIONS.format(
        trials=TRIALS,
        folds=FOLDS,
        cap=EPOCH_CAP,
        test=TEST_SIZE,
        tie=TIE_SE,
        never=TRIALS + 1,
        longer=LONGER,
    )
    seeds = sorted({r["seed"] for r in rows})
    text += f"\nSeeds: {', '.join(map(str, seeds))}. Runs: {len(rows)} rows in advice_lift.csv."
    if wall is not None:
        text += f" Wall time of this invocation: {wall / 60:.1f} min."
    if load:
        text += f" Machine load (uptime) when this summary was written: {load}."
    return text


def write_summary(csv_path: Path, md_path: Path, *, wall=None, load=None, note="") -> Summary:
    rows = read_rows(csv_path)
    summary = summarise(rows)
    header = header_text(rows, wall, load) + (f"\n\n{note}" if note else "")
    md_path.write_text(
        render(summary, rows, markdown=True, header=header),
        encoding="utf-8",
    )
    return summary


def _uptime() -> str | None:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1/5/15 min)"
    except OSError:
        return None


# --------------------------------------------------------------------------------- main
def _unit(name: str, seed: int, budget: Budget) -> list[dict[str, Any]]:
    """One (scenario, seed) in a worker process: one intra-op thread, lines prefixed."""
    import torch

    torch.set_num_threads(1)  # small models: intra-op threads only add overhead here
    t0 = time.perf_counter()
    tag = f"[{name} seed {seed}]"
    print(f"{tag} start", flush=True)
    rows = run_one(SCENARIOS[name], seed, budget, log=lambda m: print(f"{tag}{m}", flush=True))
    print(f"{tag} done in {time.perf_counter() - t0:.0f} s", flush=True)
    return rows


def run_units(units, budget: Budget, *, jobs: int, failed: list):
    """Yield each unit's rows as it finishes (in this process when ``jobs`` is 1); a unit
    that raises is reported and appended to ``failed`` (rerun it with --scenarios/--seeds)."""

    def report(unit, exc: BaseException) -> None:
        print(f"[{unit[0]} seed {unit[1]}] FAILED: {type(exc).__name__}: {exc}", flush=True)
        failed.append((*unit, f"{type(exc).__name__}: {exc}"))

    if jobs <= 1:
        for unit in units:
            try:
                yield _unit(*unit, budget)
            except Exception as exc:  # an engine change in progress must not end the run
                report(unit, exc)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_unit, *unit, budget): unit for unit in units}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:
                report(futures[future], exc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", help="comma-separated names (default: all)")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument("--csv", type=Path, default=CSV_PATH)
    parser.add_argument("--md", type=Path, default=MD_PATH)
    parser.add_argument("--fresh", action="store_true", help="start a new CSV (else append)")
    parser.add_argument("--summary", action="store_true", help="only rewrite the summary")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 scenario, 1 seed, "
                        "3 trials, 2 folds, 4 epochs")  # fmt: skip
    parser.add_argument("--list", action="store_true", help="list the scenarios")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one thread each)")
    parser.add_argument("--note", default="", help="a line added to the summary's header")
    args = parser.parse_args(argv)

    if args.list:
        for s in SCENARIOS.values():
            print(f"{s.name:<24} {s.mis_setting:<8} {s.task:<15} {s.note}")
        return 0
    started = time.perf_counter()
    if not args.summary:
        names = args.scenarios.split(",") if args.scenarios else list(SCENARIOS)
        unknown = [n for n in names if n not in SCENARIOS]
        if unknown:
            parser.error(f"unknown scenarios {unknown}; --list shows them")
        seeds = [int(s) for s in args.seeds.split(",")]
        budget = Budget()
        if args.quick:
            names, seeds = names[:1] if args.scenarios else ["breast_cancer_overfit"], seeds[:1]
            budget = Budget(trials=3, folds=2, epoch_cap=4, user_epochs=4)
        if args.fresh and args.csv.exists():
            args.csv.unlink()
        # Seed-major: every scenario's seed 0 first, so a partial run already covers them all.
        units = [(name, seed) for seed in seeds for name in names]
        failed: list[tuple[str, int, str]] = []
        for rows in run_units(units, budget, jobs=args.jobs, failed=failed):
            append_rows(args.csv, rows)  # incrementally: a partial run is usable
        for name, seed, why in failed:
            print(f"failed: --scenarios {name} --seeds {seed}: {why}", file=sys.stderr)
    summary = write_summary(
        args.csv, args.md, wall=time.perf_counter() - started if not args.summary else None,
        load=_uptime(), note=args.note,
    )  # fmt: skip
    rows = read_rows(args.csv)
    print(render(summary, rows, markdown=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
