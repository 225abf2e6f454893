"""Generate the labelled corpus of real small training runs (see README.md beside this file).

    .venv/bin/python benchmarks/corpus/generate.py [--out benchmarks/corpus] [--limit N]
        [--only REGIME] [--seed 20240607] [--refs] [--part fresh]

Trains every run on one CPU thread, writes its learning curves in a logger format under
``<out>/runs/<run_id>/`` and one JSON line per run to ``<out>/labels.jsonl``; the label comes
from the held-out TEST curve (``oracle.py``), which is never written to the logs. The
reference ("achievable") loss per dataset is read from ``<out>/references.json`` and computed
first when that file is missing or ``--refs`` is given. Deterministic given the seed.

``--part fresh`` builds the separate held-out part on the ``fresh`` datasets of ``data.py``
instead (its own run list, ``make_fresh_specs``, master seed ``FRESH_SEED``), written to
``benchmarks/corpus/fresh/`` (``labels.jsonl``, ``runs/``, ``references.json`` of the fresh
datasets only). Without ``--part`` the dev / test corpus is built exactly as before.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import contextlib

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import data as datamod  # noqa: E402
import formats  # noqa: E402
import models  # noqa: E402
from oracle import Scale, oracle_label, smooth  # noqa: E402

torch.set_num_threads(1)
with contextlib.suppress(RuntimeError):
    torch.set_num_interop_threads(1)

MASTER_SEED = 20240607
FRESH_SEED = MASTER_SEED + 1000  # master seed of the fresh part (stored in its records)
FRESH_TOTAL = 150  # about this many fresh runs: REGIME_COUNTS scaled, at least FRESH_MIN each
FRESH_MIN = 4

# Number of runs per regime (the corpus has sum(REGIME_COUNTS) runs).
REGIME_COUNTS = {
    "overfit": 44,
    "underfit_regularization": 34,
    "underfit_capacity": 30,
    "lr_too_low": 30,
    "nan_early": 18,
    "nan_late": 24,
    "loss_spikes": 24,
    "dead_at_chance": 22,
    "noisy_fine": 28,
    "good_early_stopping": 32,
    "good": 32,
    "cut_off": 30,
    "long": 30,
    "accuracy_only": 26,
    "train_only": 26,
}
# what the logging-variant regimes train like
BASE_FOR_VARIANT = {
    "accuracy_only": [
        "overfit",
        "good",
        "underfit_regularization",
        "lr_too_low",
        "cut_off",
        "good_early_stopping",
    ],
    "train_only": [
        "overfit",
        "good",
        "underfit_regularization",
        "lr_too_low",
        "nan_late",
        "cut_off",
        "underfit_capacity",
    ],
}
FAMILY_COST = {"mlp": 1.0, "cnn": 2.0, "gru": 2.5, "transformer": 3.0}
# Budget of optimizer steps per run and family (keeps the corpus within ~40 min on one core):
# over budget, the batch size is raised (up to 128), then the epochs are cut.
STEP_BUDGET = {"mlp": 5000, "cnn": 1200, "gru": 900, "transformer": 500}
TRAIN_EVAL_CAP = 300  # the eval-mode train loss is measured on at most this many train samples


# ------------------------------------------------------------------------------------------
# run specification
# ------------------------------------------------------------------------------------------
@dataclass
class Spec:
    run_id: str
    dataset: str
    family: str
    regime: str
    base_regime: str
    part: str
    seed: int
    fmt: str
    variant: int
    size: str = "medium"
    tiny_hidden: int = 0
    opt: str = "adam"  # adam | adamw | sgd | sgdm
    lr: float = 1e-3
    weight_decay: float = 0.0
    dropout: float = 0.0
    epochs: int = 100
    batch_size: int | None = 32  # None = full batch
    train_n: int | None = None  # None = the whole train split
    patience: int | None = None  # early stopping on val loss
    schedule: dict = field(default_factory=dict)  # {"grow": g} | {"spikes": {epoch: mult}}
    terminate_on_nan: bool = False
    log_acc_only: bool = False
    log_train_only: bool = False
    log_mae: bool = False


def _lu(rng: np.random.RandomState, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def configure(spec: Spec, d: datamod.Data, rng: np.random.RandomState) -> None:
    """Fill the training hyper-parameters of ``spec`` from its (base) regime."""
    fam, reg = spec.family, spec.base_regime
    cost = FAMILY_COST[fam]
    n_train = int(d.y["train"].shape[0])
    clf = d.objective == "classification"
    big_bs = 64 if n_train > 300 else 32
    # sensible defaults ("good")
    spec.size = "medium"
    spec.opt = "adam"
    spec.lr = _lu(rng, 1e-3, 3e-3)
    spec.weight_decay = 1e-4
    spec.dropout = 0.1
    spec.batch_size = big_bs
    spec.epochs = int(rng.randint(50, 121) / (1 if cost <= 1 else cost**0.5))
    if reg == "good":
        pass
    elif reg == "good_early_stopping":
        spec.epochs = int(rng.randint(150, 301) / cost**0.5)
        spec.patience = int(rng.randint(8, 21))
        spec.dropout = float(rng.choice([0.0, 0.1, 0.2]))
    elif reg == "overfit":
        spec.size = "large" if rng.rand() < 0.7 else "medium"
        spec.train_n = int(min(n_train, rng.randint(30, 121)))
        spec.weight_decay = 0.0
        spec.dropout = 0.0
        spec.batch_size = int(rng.choice([8, 16]))
        spec.epochs = int(rng.randint(80, 241) / cost**0.5)
    elif reg == "underfit_regularization":
        if rng.rand() < 0.55:
            if rng.rand() < 0.5:
                spec.opt, spec.weight_decay = "adam", _lu(rng, 0.1, 2.0)
            else:
                spec.opt, spec.weight_decay = "adamw", _lu(rng, 10.0, 100.0)
            spec.dropout = 0.0
        else:
            spec.dropout = float(rng.uniform(0.8, 0.95))
            spec.weight_decay = 0.0 if rng.rand() < 0.5 else 1e-4
    elif reg == "underfit_capacity":
        spec.size = "tiny"
        spec.tiny_hidden = int(rng.choice([0, 1, 1, 2, 2]))
        spec.lr = _lu(rng, 3e-3, 1e-2)
        spec.weight_decay = 0.0
        spec.dropout = 0.0
        spec.epochs = int(rng.randint(80, 161) / cost**0.5)
    elif reg == "lr_too_low":
        if rng.rand() < 0.5:
            spec.opt, spec.lr = "sgd", _lu(rng, 2e-3, 1e-2)
        else:
            spec.opt, spec.lr = "adam", _lu(rng, 2e-5, 1e-4)
        spec.dropout = 0.0
        spec.epochs = int(rng.randint(40, 101) / cost**0.5)
    elif reg == "nan_early":
        spec.opt = "sgdm"
        spec.lr = _lu(rng, 2.0, 50.0) if clf else _lu(rng, 0.5, 5.0)
        spec.dropout = 0.0
        spec.weight_decay = 0.0
        spec.epochs = int(rng.randint(30, 81) / cost**0.5)
        spec.terminate_on_nan = rng.rand() < 0.3
    elif reg == "nan_late":
        spec.dropout = 0.0
        spec.epochs = int(rng.randint(50, 121) / cost**0.5)
        if rng.rand() < 0.5:
            spec.opt, spec.lr = "sgdm", _lu(rng, 3e-3, 1e-2)
            # lr grows by g per epoch so that it passes ~x1e4 around 40-80 % of the run
            at = rng.uniform(0.4, 0.8) * spec.epochs
            spec.schedule = {"grow": float(math.exp(math.log(1e4) / at))}
        else:
            spec.opt, spec.lr = "sgdm", _lu(rng, 3e-3, 1e-2)
            at = int(rng.uniform(0.35, 0.75) * spec.epochs)
            spec.schedule = {"spikes": {at: _lu(rng, 3e3, 3e4)}}
        spec.terminate_on_nan = rng.rand() < 0.3
    elif reg == "loss_spikes":
        spec.dropout = 0.0
        spec.epochs = int(rng.randint(60, 131) / cost**0.5)
        k = int(rng.randint(2, 5))
        at = sorted(set(int(x) for x in rng.uniform(0.1, 0.6, size=k) * spec.epochs))
        spec.schedule = {"spikes": {a: _lu(rng, 30.0, 300.0) for a in at}}
    elif reg == "dead_at_chance":
        spec.opt = "adam"
        spec.lr = _lu(rng, 0.3, 2.0)
        spec.dropout = 0.0
        spec.weight_decay = 0.0
        spec.epochs = int(rng.randint(30, 81) / cost**0.5)
    elif reg == "noisy_fine":
        spec.batch_size = int(rng.choice([4, 8]))
        spec.lr = _lu(rng, 3e-3, 1e-2) if fam == "mlp" else _lu(rng, 1e-3, 4e-3)
        spec.epochs = int(rng.randint(20, 51) / cost)
    elif reg == "cut_off":
        if rng.rand() < 0.5:
            spec.opt, spec.lr = "sgdm", _lu(rng, 1e-3, 5e-3)
        else:
            spec.lr = _lu(rng, 1e-4, 5e-4)
        spec.epochs = int(rng.randint(4, 13))
    elif reg == "long":
        spec.size = "small" if rng.rand() < 0.7 else "medium"
        spec.batch_size = None
        spec.epochs = int(rng.randint(1000, 2201))
        spec.lr = _lu(rng, 1e-3, 1e-2)
        spec.weight_decay = float(rng.choice([0.0, 0.0, 1e-4, 1e-3]))
        spec.dropout = 0.0
        if rng.rand() < 0.4:
            spec.train_n = int(min(n_train, rng.randint(40, 161)))
        if rng.rand() < 0.3:
            spec.opt, spec.lr = "sgdm", _lu(rng, 1e-3, 2e-2)
    else:
        raise KeyError(reg)
    if reg == "long" and fam != "mlp":
        spec.size = "small"
        spec.train_n = int(min(n_train, rng.randint(60, 201)))
        spec.epochs = int(rng.randint(1000, 1301))
    spec.epochs = max(spec.epochs, 3)
    if reg != "long":
        n_eff = min(n_train, spec.train_n or n_train)
        budget = STEP_BUDGET[fam] * (1.0 if spec.size != "large" else 0.6)
        bs = spec.batch_size or n_eff
        if reg == "noisy_fine":  # keep the small batch: train on fewer samples instead
            spec.train_n = int(min(n_eff, max(100, budget * bs // spec.epochs)))
            n_eff = spec.train_n
        while spec.epochs * math.ceil(n_eff / bs) > budget and bs < 128 and bs < n_eff:
            bs *= 2
        if spec.batch_size is not None:
            spec.batch_size = bs
        steps = math.ceil(n_eff / bs)
        if spec.epochs * steps > budget:
            spec.epochs = max(3, int(budget // steps))
    if not clf:
        spec.log_mae = bool(rng.rand() < 0.5)


def _formats_for(regime: str) -> list[str]:
    """The logger formats a regime's runs cycle through."""
    if regime == "long":
        return ["keras-csv", "keras-json", "csv"]
    if regime == "accuracy_only":
        return ["lightning", "keras-csv", "keras-json", "tensorboard", "csv"]
    return list(formats.FORMATS)


def _spec(run_id, dataset, family, regime, base, part, run_seed, fmt, variant) -> Spec:
    """A run spec with its logging flags set from the regime."""
    s = Spec(run_id, dataset, family, regime, base, part, run_seed, fmt, variant)
    s.log_acc_only = regime == "accuracy_only"
    s.log_train_only = regime == "train_only"
    return s


def _configure_all(specs: list[Spec], seed: int) -> list[Spec]:
    """Hyper-parameters from a separate stream, so the assignment of runs stays stable."""
    hrng = np.random.RandomState(seed + 1)
    cache: dict[str, datamod.Data] = {}
    for s in specs:
        if s.dataset not in cache:
            cache[s.dataset] = datamod.load(s.dataset)
        configure(s, cache[s.dataset], hrng)
    return specs


def _family_cycle(rng: np.random.RandomState) -> list[str]:
    """The families a regime's runs cycle through, starting at a random shift."""
    cycle = ["mlp", "cnn", "mlp", "gru", "mlp", "transformer"]
    shift = int(rng.randint(0, len(cycle)))
    return cycle[shift:] + cycle[:shift]


def _base_and_family(rng, regime: str, cycle: list[str], k: int) -> tuple[str, str]:
    """The k-th run's base regime (a variant's drawn one) and family."""
    base = regime
    if regime in BASE_FOR_VARIANT:
        base = str(rng.choice(BASE_FOR_VARIANT[regime]))
    fams = cycle if regime != "long" else ["mlp", "mlp", "cnn", "mlp", "mlp", "gru"]
    return base, fams[k % len(fams)]


def _dataset_pool(part: str, family: str, regime: str) -> list[str]:
    """The datasets of ``part`` a ``family`` can train on in ``regime`` (classifiers only for the
    classification-only regimes), in ``DATASETS`` order."""
    return [
        n
        for n, (objective, kind, p) in datamod.DATASETS.items()
        if p == part
        and models.compatible(family, kind)
        and (objective == "classification" or regime not in ("dead_at_chance", "accuracy_only"))
    ]


def _draw_dataset(rng, part: str, family: str, regime: str) -> tuple[str, str]:
    """(family, dataset): a dataset drawn from the pool; an mlp or transformer instead when the
    family has none (e.g. a cnn on a classification-only regime in a part with no images)."""
    pool = _dataset_pool(part, family, regime)
    if not pool:
        family = "mlp" if rng.rand() < 0.5 else "transformer"
        pool = _dataset_pool(part, family, regime)
    return family, str(rng.choice(pool))


def make_specs(seed: int) -> list[Spec]:
    """The run list of the dev / test corpus (2 of every 3 runs of a regime go to dev)."""
    rng = np.random.RandomState(seed)
    specs: list[Spec] = []
    i = 0
    for ridx, (regime, count) in enumerate(REGIME_COUNTS.items()):
        cycle = _family_cycle(rng)
        for k in range(count):
            part = "test" if k % 3 == 2 else "dev"
            base, family = _base_and_family(rng, regime, cycle, k)
            family, dataset = _draw_dataset(rng, part, family, regime)
            fmts = _formats_for(regime)
            # rounds of 3 runs (2 dev + 1 test) share a format; rounds cycle through formats
            rnd = (k // 3 + ridx) % len(fmts)
            fmt = fmts[rnd] if regime != "long" else str(rng.choice(fmts))
            run_seed = int(rng.randint(0, 2**31 - 1))
            run_id = f"{i:04d}_{dataset}_{family}_{regime}"
            variant = int(rng.randint(0, 2))
            specs.append(_spec(run_id, dataset, family, regime, base, part, run_seed, fmt, variant))
            i += 1
    return _configure_all(specs, seed)


def fresh_counts() -> dict[str, int]:
    """Runs per regime of the fresh part: REGIME_COUNTS scaled to about FRESH_TOTAL."""
    total = sum(REGIME_COUNTS.values())
    return {r: max(FRESH_MIN, round(c * FRESH_TOTAL / total)) for r, c in REGIME_COUNTS.items()}


def make_fresh_specs(seed: int = FRESH_SEED) -> list[Spec]:
    """The run list of the fresh part: every regime, on the ``fresh`` datasets only.

    Same scheme as ``make_specs`` (family cycle per regime, cnn / gru only where compatible,
    classification-only regimes on classifiers, hyper-parameters from ``configure`` on a
    separate stream), with ``fresh_counts()`` runs per regime, formats cycling run by run (the
    compact formats for long runs, no hf-trainer for accuracy-only logs) and ids ``fNNN_...``.
    """
    rng = np.random.RandomState(seed)
    specs: list[Spec] = []
    i = 0
    for ridx, (regime, count) in enumerate(fresh_counts().items()):
        cycle = _family_cycle(rng)
        for k in range(count):
            base, family = _base_and_family(rng, regime, cycle, k)
            family, dataset = _draw_dataset(rng, "fresh", family, regime)
            fmts = _formats_for(regime)
            fmt = fmts[(k + ridx) % len(fmts)] if regime != "long" else str(rng.choice(fmts))
            run_seed = int(rng.randint(0, 2**31 - 1))
            run_id = f"f{i:03d}_{dataset}_{family}_{regime}"
            variant = int(rng.randint(0, 2))
            specs.append(
                _spec(run_id, dataset, family, regime, base, "fresh", run_seed, fmt, variant)
            )
            i += 1
    return _configure_all(specs, seed)


# ------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------
def _loss_fn(d: datamod.Data):
    if d.objective == "classification":
        return nn.CrossEntropyLoss()
    mse = nn.MSELoss()
    return lambda out, y: mse(out.squeeze(-1), y)


@torch.no_grad()
def _evaluate(model, x, y, d: datamod.Data) -> tuple[float, float]:
    """(loss, metric): metric = accuracy for classifiers, MAE for regression."""
    out = model(x)
    if d.objective == "classification":
        loss = nn.functional.cross_entropy(out, y).item()
        acc = (out.argmax(-1) == y).float().mean().item()
        return loss, acc
    pred = out.squeeze(-1)
    return nn.functional.mse_loss(pred, y).item(), (pred - y).abs().mean().item()


def _make_opt(spec: Spec, model):
    p = model.parameters()
    if spec.opt == "adam":
        return torch.optim.Adam(p, lr=spec.lr, weight_decay=spec.weight_decay)
    if spec.opt == "adamw":
        return torch.optim.AdamW(p, lr=spec.lr, weight_decay=spec.weight_decay)
    if spec.opt == "sgd":
        return torch.optim.SGD(p, lr=spec.lr, weight_decay=spec.weight_decay)
    if spec.opt == "sgdm":
        return torch.optim.SGD(p, lr=spec.lr, momentum=0.9, weight_decay=spec.weight_decay)
    raise KeyError(spec.opt)


def _lr_at(spec: Spec, epoch: int) -> float:
    lr = spec.lr
    if "grow" in spec.schedule:
        lr *= spec.schedule["grow"] ** epoch
    spikes = spec.schedule.get("spikes", {})
    if epoch in spikes:
        lr *= spikes[epoch]
    return lr


def train(spec: Spec, d: datamod.Data) -> dict:
    """Train one run; returns per-epoch curves of every split (logged or not)."""
    torch.manual_seed(spec.seed)
    gen = torch.Generator().manual_seed(spec.seed)
    d_out = d.classes if d.classes else 1
    model = models.build(
        spec.family, spec.size, d.kind, d.n_features, d_out, spec.dropout, spec.tiny_hidden
    )
    opt = _make_opt(spec, model)
    loss_fn = _loss_fn(d)
    xtr, ytr = d.x["train"], d.y["train"]
    if spec.train_n is not None and spec.train_n < len(ytr):
        idx = torch.randperm(len(ytr), generator=gen)[: spec.train_n]
        xtr, ytr = xtr[idx], ytr[idx]
    n = len(ytr)
    bs = n if spec.batch_size is None else min(spec.batch_size, n)
    spe = math.ceil(n / bs)
    keys = (
        "train_loss",
        "train_metric",
        "train_eval_loss",
        "val_loss",
        "val_metric",
        "test_loss",
        "test_metric",
        "lr",
    )
    h: dict[str, list] = {k: [] for k in keys}
    best, wait, stopped_early, nan_stop = math.inf, 0, False, False
    dead = False
    clf = d.objective == "classification"
    for epoch in range(spec.epochs):
        lr = _lr_at(spec, epoch)
        if dead:  # parameters are NaN: every later epoch is NaN too (skip the arithmetic)
            for k in keys:
                h[k].append(lr if k == "lr" else math.nan)
            continue
        for g in opt.param_groups:
            g["lr"] = lr
        model.train()
        perm = torch.randperm(n, generator=gen) if bs < n else torch.arange(n)
        tot, tot_m, cnt = 0.0, 0.0, 0
        for b in range(spe):
            bi = perm[b * bs : (b + 1) * bs]
            xb, yb = xtr[bi], ytr[bi]
            out = model(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            nb = len(bi)
            tot += loss.item() * nb
            with torch.no_grad():
                if clf:
                    tot_m += (out.argmax(-1) == yb).float().sum().item()
                else:
                    tot_m += (out.squeeze(-1) - yb).abs().sum().item()
            cnt += nb
        h["train_loss"].append(tot / cnt)
        h["train_metric"].append(tot_m / cnt)
        h["lr"].append(lr)
        model.eval()
        tl, _ = _evaluate(model, xtr[:TRAIN_EVAL_CAP], ytr[:TRAIN_EVAL_CAP], d)
        h["train_eval_loss"].append(tl)
        for split in ("val", "test"):
            l_, m_ = _evaluate(model, d.x[split], d.y[split], d)
            h[f"{split}_loss"].append(l_)
            h[f"{split}_metric"].append(m_)
        finite = all(torch.isfinite(p).all() for p in model.parameters())
        if not finite or not math.isfinite(h["train_loss"][-1]):
            if spec.terminate_on_nan:
                nan_stop = True
                break
            if not finite:
                dead = True
        if spec.patience is not None:
            v = h["val_loss"][-1]
            if v < best:
                best, wait = v, 0
            else:
                wait += 1
                if wait >= spec.patience:
                    stopped_early = True
                    break
    h["steps_per_epoch"] = spe
    h["n_epochs"] = len(h["train_loss"])
    h["stopped_early"] = stopped_early
    h["terminated_on_nan"] = nan_stop
    h["params"] = models.n_params(model)
    h["train_size"] = n
    h["batch_size"] = bs
    return h


# ------------------------------------------------------------------------------------------
# references
# ------------------------------------------------------------------------------------------
def _reference_specs(name: str, kind: str) -> list[Spec]:
    base = dict(
        dataset=name, regime="reference", base_regime="reference", part="-", fmt="-", variant=0
    )
    out = [
        Spec(
            run_id=f"ref_{name}_mlp_a",
            family="mlp",
            seed=11,
            size="medium",
            lr=1e-3,
            weight_decay=1e-4,
            dropout=0.1,
            epochs=400,
            batch_size=32,
            patience=30,
            **base,
        ),
        Spec(
            run_id=f"ref_{name}_mlp_b",
            family="mlp",
            seed=12,
            size="small",
            lr=3e-3,
            weight_decay=1e-3,
            dropout=0.0,
            epochs=400,
            batch_size=32,
            patience=30,
            **base,
        ),
    ]
    if kind == "image":
        out.append(
            Spec(
                run_id=f"ref_{name}_cnn",
                family="cnn",
                seed=13,
                size="medium",
                lr=1e-3,
                weight_decay=1e-4,
                dropout=0.1,
                epochs=150,
                batch_size=64,
                patience=15,
                **base,
            )
        )
    if kind == "series":
        out.append(
            Spec(
                run_id=f"ref_{name}_gru",
                family="gru",
                seed=13,
                size="small",
                lr=3e-3,
                weight_decay=1e-4,
                dropout=0.0,
                epochs=200,
                batch_size=32,
                patience=20,
                **base,
            )
        )
    if kind == "tabular":
        out.append(
            Spec(
                run_id=f"ref_{name}_mlp_c",
                family="mlp",
                seed=14,
                size="medium",
                lr=1e-3,
                weight_decay=1e-3,
                dropout=0.3,
                epochs=400,
                batch_size=32,
                patience=30,
                **base,
            )
        )
    return out


def compute_references(out: Path, parts: tuple[str, ...] = ("dev", "test")) -> dict:
    """Reference and constant-predictor losses of the datasets of ``parts`` -> references.json."""
    refs: dict[str, dict] = {}
    for name, (objective, kind, part) in datamod.DATASETS.items():
        if part not in parts:
            continue
        d = datamod.load(name)
        best = {"test": math.inf, "val": math.inf}
        by_model = {}
        for s in _reference_specs(name, kind):
            t0 = time.time()
            h = train(s, d)
            for split in ("test", "val"):
                c = np.asarray(h[f"{split}_loss"], dtype=np.float64)
                c = c[np.isfinite(c)]
                if c.size:
                    best[split] = min(best[split], float(np.min(smooth(c))))
            by_model[s.run_id] = {
                "epochs": h["n_epochs"],
                "best_smoothed_test_loss": float(np.min(smooth(np.asarray(h["test_loss"])))),
                "best_smoothed_val_loss": float(np.min(smooth(np.asarray(h["val_loss"])))),
            }
            print(
                f"  reference {s.run_id}: {h['n_epochs']} epochs, {time.time() - t0:.1f}s",
                flush=True,
            )
        refs[name] = {
            "objective": objective,
            "classes": d.classes,
            "part": part,
            "reference_test_loss": best["test"],
            "reference_val_loss": best["val"],
            "baseline_test_loss": d.baseline["test"],
            "baseline_val_loss": d.baseline["val"],
            "chance_loss": d.chance,
            "sizes": {k: int(v.shape[0]) for k, v in d.y.items()},
            "models": by_model,
        }
    (out / "references.json").write_text(json.dumps(refs, indent=2))
    return refs


# ------------------------------------------------------------------------------------------
# one run: train, label, write
# ------------------------------------------------------------------------------------------
def _clean(values: list) -> list:
    return [formats.r6(v) if v is not None and math.isfinite(v) else None for v in values]


def _scale(ref: dict, split: str) -> Scale:
    base = ref[f"baseline_{split}_loss"]
    return Scale(
        baseline=base,
        reference=ref[f"reference_{split}_loss"],
        chance=ref["chance_loss"],
        prior_loss=base if ref["objective"] == "classification" else None,
    )


def _arr(values: list) -> np.ndarray:
    return np.asarray([math.nan if v is None else v for v in values], dtype=np.float64)


def label_record(rec: dict, ref: dict) -> dict:
    """(Re)compute the oracle fields of a labels.jsonl record from the curves it stores.

    The test-based label is the truth; the same oracle on the validation curve is the
    agreement check: where the two disagree the run is unscored (``label`` null).
    """
    test, val = _arr(rec["test_loss"]), _arr(rec["val_loss"])
    train, tev = _arr(rec["train_loss"]), _arr(rec["train_eval_loss"])
    res = oracle_label(test, train, _scale(ref, "test"), train_eval=tev, extra_nonfinite=[val])
    vres = oracle_label(val, train, _scale(ref, "val"), train_eval=tev, extra_nonfinite=[test])
    scored = res.label == vres.label
    rec.update(
        {
            "label": res.label if scored else None,
            "test_label": res.label,
            "val_label": vres.label,
            "scored": scored,
            "unscored_reason": None
            if scored
            else f"validation-based oracle says {vres.label}, test-based says {res.label}",
            "severity": res.severity,
            "val_severity": vres.severity,
            "oracle_reason": res.reason,
            "first_nonfinite_epoch": res.first_nonfinite_epoch,
            "oracle_stop_epoch": res.stop_epoch,
            "val_oracle_stop_epoch": vres.stop_epoch,
        }
    )
    return rec


def run_one(
    spec: Spec, d: datamod.Data, ref: dict, out: Path, master_seed: int | None = None
) -> dict:
    t0 = time.time()
    h = train(spec, d)
    n = h["n_epochs"]
    clf = d.objective == "classification"
    # logged series
    hist: dict = {"steps_per_epoch": h["steps_per_epoch"], "lr": h["lr"]}
    mname = "acc" if clf else "mae"
    if not spec.log_acc_only:
        hist["train_loss"] = h["train_loss"]
    if clf:
        hist["train_acc"] = h["train_metric"]
    elif spec.log_mae:
        hist["train_mae"] = h["train_metric"]
    if not spec.log_train_only:
        if not spec.log_acc_only:
            hist["val_loss"] = h["val_loss"]
        if clf or spec.log_mae:
            hist[f"val_{mname}"] = h["val_metric"]
    if clf and not spec.log_acc_only and spec.fmt in ("csv", "tensorboard") and spec.variant == 1:
        hist.pop("train_acc", None)  # hand-written loops often log only the train loss
    run_dir = out / "runs" / spec.run_id
    if run_dir.exists():
        shutil.rmtree(run_dir)
    hp_yaml = {
        "lr": spec.lr,
        "weight_decay": spec.weight_decay,
        "dropout": spec.dropout,
        "batch_size": h["batch_size"],
        "max_epochs": spec.epochs,
        "model": spec.family,
    }
    path = formats.write(
        spec.fmt,
        run_dir,
        hist,
        n,
        variant=spec.variant,
        bs=h["batch_size"],
        epochs_planned=spec.epochs,
        hparams=hp_yaml,
        run_id=spec.run_id,
    )
    logged = formats.written(spec.fmt, hist)
    rec = {
        "id": spec.run_id,
        "path": os.path.relpath(path, out),
        "format": spec.fmt,
        "dataset": spec.dataset,
        "objective": d.objective,
        "classes": d.classes,
        "family": spec.family,
        "regime": spec.regime,
        "base_regime": spec.base_regime,
        "part": spec.part,
        "seed": spec.seed,
        **({"master_seed": master_seed} if master_seed is not None else {}),
        "hparams": {
            "optimizer": spec.opt,
            "lr": spec.lr,
            "lr_schedule": spec.schedule or None,
            "weight_decay": spec.weight_decay,
            "dropout": spec.dropout,
            "epochs": spec.epochs,
            "batch_size": h["batch_size"],
            "full_batch": spec.batch_size is None,
            "train_size": h["train_size"],
            "early_stopping": spec.patience is not None,
            "patience": spec.patience,
            "terminate_on_nan": spec.terminate_on_nan,
            "size": spec.size,
            "tiny_hidden": spec.tiny_hidden if spec.size == "tiny" else None,
            "params": h["params"],
        },
        "logged": logged,
        "n_epochs": n,
        "stopped_early": h["stopped_early"],
        "terminated_on_nan": h["terminated_on_nan"],
        "chance_loss": d.chance,
        "baseline_test_loss": formats.r6(d.baseline["test"]),
        "reference_test_loss": formats.r6(ref["reference_test_loss"]),
        "test_loss": _clean(h["test_loss"]),
        "test_metric": _clean(h["test_metric"]) if clf else None,
        "train_eval_loss": _clean(h["train_eval_loss"]),
        # every curve, logged or not, so the oracle can be re-run without training
        # (--relabel): train loss as logged (train mode), validation loss and metric
        "train_loss": _clean(h["train_loss"]),
        "val_loss": _clean(h["val_loss"]),
        "val_metric": _clean(h["val_metric"]),
        "seconds": round(time.time() - t0, 2),
    }
    return label_record(rec, ref)


def _table(records: list[dict]) -> str:
    lines = []
    labels = ["overfitting", "underfitting", "good_fit", "not_converged", "diverging"]

    if records and all(r["part"] == "fresh" for r in records):
        parts: tuple[str, ...] = ("fresh",)
    else:
        parts = ("dev", "test") + (("fresh",) if any(r["part"] == "fresh" for r in records) else ())

    def row(name, recs):
        cells = []
        for part in parts:
            rs = [r for r in recs if r["part"] == part]
            sc = [r for r in rs if r["scored"]]
            cells.append(f"{len(sc)}/{len(rs)}")
        return f"| {name} | " + " | ".join(cells) + " |"

    lines.append("Scored / total runs per part")
    lines.append("")
    lines.append("| group | " + " | ".join(parts) + " |")
    lines.append("|---|" + "---|" * len(parts))
    lines.append(row("all", records))
    for lab in labels:
        lines.append(row(f"label={lab}", [r for r in records if r["test_label"] == lab]))
    for fam in models.FAMILIES:
        lines.append(row(f"family={fam}", [r for r in records if r["family"] == fam]))
    for fmt in formats.FORMATS:
        lines.append(row(f"format={fmt}", [r for r in records if r["format"] == fmt]))
    for obj in ("classification", "regression", "forecasting"):
        lines.append(row(f"objective={obj}", [r for r in records if r["objective"] == obj]))
    lines.append("")
    lines.append("Regime x test-based label (all runs; scored in brackets)")
    lines.append("")
    lines.append("| regime | n | " + " | ".join(labels) + " |")
    lines.append("|---|---|" + "---|" * len(labels))
    by = defaultdict(list)
    for r in records:
        by[r["regime"]].append(r)
    for reg, rs in by.items():
        c = Counter(r["test_label"] for r in rs)
        cs = Counter(r["test_label"] for r in rs if r["scored"])
        lines.append(
            f"| {reg} | {len(rs)} | " + " | ".join(f"{c[lab]} ({cs[lab]})" for lab in labels) + " |"
        )
    lines.append("")
    lines.append("Datasets (runs per dataset)")
    lines.append("")
    c = Counter((r["dataset"], r["part"]) for r in records)
    lines.append(
        ", ".join(
            f"{k[0]} ({k[1]}): {v}"
            for k, v in sorted(c.items(), key=lambda kv: (kv[0][1], kv[0][0]))
        )
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--part",
        choices=["fresh"],
        default=None,
        help="build the fresh held-out part (fresh datasets, own seed; default out: fresh/)",
    )
    ap.add_argument("--out", default=None, help="output folder (default: this folder)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N runs (after --only)")
    ap.add_argument("--only", default=None, help="only runs of this regime")
    ap.add_argument(
        "--seed", type=int, default=None, help=f"master seed ({MASTER_SEED}; fresh: {FRESH_SEED})"
    )
    ap.add_argument("--refs", action="store_true", help="recompute references.json")
    ap.add_argument("--every", type=int, default=1, help="keep every k-th run (quick smoke runs)")
    ap.add_argument(
        "--relabel",
        action="store_true",
        help="re-run the oracle on the curves stored in labels.jsonl (no training)",
    )
    args = ap.parse_args(argv)
    fresh = args.part == "fresh"
    out = Path(args.out) if args.out else (HERE / "fresh" if fresh else HERE)
    seed = args.seed if args.seed is not None else (FRESH_SEED if fresh else MASTER_SEED)
    if fresh and out.resolve() == HERE:
        ap.error("--part fresh must not write into the dev / test corpus folder (use fresh/)")
    out.mkdir(parents=True, exist_ok=True)
    if args.relabel:
        refs = json.loads((out / "references.json").read_text())
        records = [json.loads(line) for line in (out / "labels.jsonl").open()]
        records = [label_record(r, refs[r["dataset"]]) for r in records]
        with (out / "labels.jsonl").open("w") as fh:
            for r in records:
                fh.write(json.dumps(r) + "\n")
        print(_table(records))
        return 0
    t_start = time.time()
    ref_path = out / "references.json"
    if args.refs or not ref_path.exists():
        print("computing references ...", flush=True)
        refs = compute_references(out, ("fresh",) if fresh else ("dev", "test"))
    else:
        refs = json.loads(ref_path.read_text())
    t_refs = time.time() - t_start
    specs = make_fresh_specs(seed) if fresh else make_specs(seed)
    if args.only:
        specs = [s for s in specs if s.regime == args.only]
    specs = specs[:: args.every]
    if args.limit:
        specs = specs[: args.limit]
    full = not (args.only or args.limit or args.every > 1)
    if full and (out / "runs").exists():
        shutil.rmtree(out / "runs")
    cache: dict[str, datamod.Data] = {}
    records = []
    t_runs = time.time()
    for i, s in enumerate(specs):
        if s.dataset not in cache:
            cache[s.dataset] = datamod.load(s.dataset)
        rec = run_one(s, cache[s.dataset], refs[s.dataset], out, seed if fresh else None)
        records.append(rec)
        tl = [v for v in rec["test_loss"] if v is not None]
        print(
            f"[{i + 1}/{len(specs)}] {s.run_id} {s.fmt} ep={rec['n_epochs']} "
            f"label={rec['test_label']}{'/' + rec['severity'] if rec['severity'] else ''} "
            f"val={rec['val_label']} {'' if rec['scored'] else 'UNSCORED '}"
            f"min_test={min(tl) if tl else float('nan'):.4g} {rec['seconds']:.1f}s",
            flush=True,
        )
    name = "labels.jsonl" if full else "labels.partial.jsonl"
    with (out / name).open("w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
    total = time.time() - t_start
    print()
    print(_table(records))
    print()
    secs = [r["seconds"] for r in records]
    print(
        f"{len(records)} runs in {time.time() - t_runs:.0f}s (mean {np.mean(secs):.2f}s/run); "
        f"references {t_refs:.0f}s; total {total:.0f}s; labels -> {out / name}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
