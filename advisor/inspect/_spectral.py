"""Data-free weight diagnostics: norms, stable rank and heavy-tailed self-regularisation.

Heavy-Tailed Self-Regularisation (HT-SR; Martin & Mahoney, "Implicit Self-Regularization in
Deep Neural Networks", JMLR 2021, and "Predicting trends in the quality of state-of-the-art
neural networks without access to training or testing data", Nature Communications 2021) reads
the empirical spectral density of each layer's correlation matrix ``X = W^T W``: the better a
layer has learned correlations from data, the heavier the tail of its eigenvalues. A power law
``p(λ) ~ λ^-α`` is fitted to the tail; α well below 2 flags an over-fit / over-trained layer,
2-6 a well-trained one, above 6 an under-trained one (close to random).

The conventions follow the authors' WeightWatcher package (0.7) so the numbers agree with it:
Linear, Embedding and Conv layers are analysed (at least 8 and at most 15000 eigenvalues, at
most 50000 rows); a Conv kernel ``(out, in, kh, kw)`` is cut into ``kh*kw`` matrices
``out x in`` whose eigenvalues are pooled; eigenvalues are the squared singular values (not
divided by N; α does not depend on that scale); eigenvalues at or below 1e-5 are dropped; the
power law is fitted by maximum likelihood for every candidate ``xmin`` and the ``xmin`` with
the smallest Kolmogorov-Smirnov distance wins (Clauset, Shalizi & Newman 2009), with
WeightWatcher's bias-corrected small-sample variant below 20 eigenvalues.

Unlike WeightWatcher, everything runs in torch on the model's device: eigenvalues come from
batched ``eigvalsh`` of Gram matrices grouped by shape; the fit gets the alpha of every
candidate ``xmin`` at once from suffix sums of the sorted log-eigenvalues and finds the
minimum-KS candidate by an exact branch and bound instead of an O(n^2) scan.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ALPHA_OVER_TRAINED",
    "ALPHA_UNDER_TRAINED",
    "LayerWeights",
    "WeightReport",
    "analyze_weights",
    "fit_power_law",
    "reading_of",
]

# The HT-SR reading of alpha (Martin & Mahoney): below 2 the layer is over-fit, above 6 the
# tail is so light that the layer looks random (under-trained).
ALPHA_OVER_TRAINED = 2.0
ALPHA_UNDER_TRAINED = 6.0
# WeightWatcher's layer filters and threshold (constants.py of weightwatcher 0.7).
MIN_EVALS = 8
MAX_EVALS = 15000
MAX_N = 50000
EVALS_THRESH = 1e-5
SMALL_N_CUTOFF = 20
# A weight counts as near zero below this fraction of the layer's largest magnitude: pruned
# weights are exactly 0, and float32 rounding of trained weights stays far above 1e-6.
NEAR_ZERO_REL = 1e-6
# Largest working set per Gram batch / KS chunk (elements), to bound memory.
_BATCH_ELEMENTS = 32 * 1024 * 1024
_KS_CHUNK_ELEMENTS = 4 * 1024 * 1024


def reading_of(alpha: float | None) -> str | None:
    """The HT-SR reading of a layer's alpha: ``over_trained``, ``well_trained``, ``under_trained``."""
    if alpha is None or not math.isfinite(alpha):
        return None
    if alpha < ALPHA_OVER_TRAINED:
        return "over_trained"
    if alpha > ALPHA_UNDER_TRAINED:
        return "under_trained"
    return "well_trained"


@dataclass
class LayerWeights:
    """Statistics of one weight matrix (or pooled conv kernel slices)."""

    name: str
    kind: str
    shape: list[int]
    n: int | None = None
    m: int | None = None
    rf: int = 1
    num_evals: int | None = None
    frobenius_norm: float | None = None
    spectral_norm: float | None = None
    stable_rank: float | None = None
    near_zero_fraction: float | None = None
    alpha: float | None = None
    xmin: float | None = None
    ks_distance: float | None = None
    num_pl_spikes: int | None = None
    reading: str | None = None
    note: str | None = None
    # The empirical spectral density itself (sorted eigenvalues of W^T W / N, float64 numpy),
    # kept for plots; not part of the JSON (it can hold thousands of values per layer).
    evals: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The layer's statistics as a dict, without the eigenvalues (``evals``)."""
        return {k: v for k, v in self.__dict__.items() if k != "evals"}


@dataclass
class WeightReport:
    """Per-layer weight statistics plus a per-model HT-SR summary (JSON key ``weights``)."""

    layers: list[LayerWeights] = field(default_factory=list)
    device: str = "cpu"
    seconds: float = 0.0

    @property
    def analysed(self) -> list[LayerWeights]:
        """Layers that received a power-law fit."""
        return [layer for layer in self.layers if layer.alpha is not None]

    def worst_layers(self, k: int = 5) -> list[LayerWeights]:
        """Layers furthest outside the 2-6 band (distance in alpha), worst first."""

        def distance(layer: LayerWeights) -> float:
            a = layer.alpha
            return max(ALPHA_OVER_TRAINED - a, a - ALPHA_UNDER_TRAINED, 0.0)

        outside = [layer for layer in self.analysed if distance(layer) > 0]
        return sorted(outside, key=distance, reverse=True)[:k]

    def summary(self) -> dict[str, Any]:
        """The per-model HT-SR summary of the analysed layers.

        Returns:
            A dict: ``layers_analysed``, ``layers_skipped``, ``alpha_mean``, ``alpha_median``,
            ``alpha_min``, ``alpha_max``, ``counts`` (layers per reading),
            ``fraction_well_trained``, ``verdict`` (``well_trained`` when at least half the
            analysed layers are, else the more frequent of ``over_trained`` and ``under_trained``)
            and ``worst_layers`` (names, worst first). The alphas, the fraction and the verdict are
            ``None`` when no layer was analysed.
        """
        alphas = [layer.alpha for layer in self.analysed]
        counts = {"over_trained": 0, "well_trained": 0, "under_trained": 0}
        for layer in self.analysed:
            counts[layer.reading] += 1
        n = len(alphas)
        if n == 0:
            verdict = None
        elif counts["well_trained"] / n >= 0.5:
            verdict = "well_trained"
        else:
            verdict = max(("over_trained", "under_trained"), key=counts.get)
        ordered = sorted(alphas)
        median = None
        if n:
            mid = n // 2
            median = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
        return {
            "layers_analysed": n,
            "layers_skipped": len(self.layers) - n,
            "alpha_mean": sum(alphas) / n if n else None,
            "alpha_median": median,
            "alpha_min": ordered[0] if n else None,
            "alpha_max": ordered[-1] if n else None,
            "counts": counts,
            "fraction_well_trained": counts["well_trained"] / n if n else None,
            "verdict": verdict,
            "worst_layers": [layer.name for layer in self.worst_layers()],
        }

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (JSON key ``weights``).

        Keys ``method``, ``thresholds``, ``device``, ``seconds``, ``summary`` (``summary()``) and
        ``layers``.
        """
        return {
            "method": "ht-sr power-law fit of the ESD of W^T W (WeightWatcher conventions)",
            "thresholds": {
                "over_trained_below": ALPHA_OVER_TRAINED,
                "under_trained_above": ALPHA_UNDER_TRAINED,
            },
            "device": self.device,
            "seconds": self.seconds,
            "summary": self.summary(),
            "layers": [layer.to_dict() for layer in self.layers],
        }


def _as_matrices(weight):
    """Matrices to analyse for one weight, as a ``(rf, N, M)`` tensor with ``N >= M``."""
    if weight.dim() == 2:
        mats = weight.unsqueeze(0)
    else:
        # Conv kernels (out, in, *k): one out x in matrix per kernel position, as the authors do.
        out_ch, in_ch = weight.shape[0], weight.shape[1]
        mats = weight.reshape(out_ch, in_ch, -1).permute(2, 0, 1)
    if mats.shape[1] < mats.shape[2]:
        mats = mats.transpose(1, 2)
    return mats


def analyze_weights(
    weights: Iterable[tuple[str, str, Any]], *, device: str = "cpu", precision: str = "float32"
) -> WeightReport:
    """Analyse weights given as ``(name, kind, tensor)`` with kind linear/embedding/conv.

    Tensors may be on any device (or memory-mapped) and are moved to ``device`` as they arrive;
    same-shape matrices are then decomposed in batches of at most ~32M elements, so peak memory
    is about the model's weights plus one batch and its Gram matrices.
    ``precision`` is the dtype of the Gram matrices and their eigensolver: ``"float32"`` (the
    default) is 3-4x faster on CPU and moves alpha by about 0.01 against WeightWatcher's float64
    SVD; ``"float64"`` agrees with it to 1e-10.

    Example:
        >>> import torch
        >>> report = analyze_weights([("fc", "linear", torch.randn(256, 128))])
        >>> report.layers[0].reading is not None
        True
    """
    import torch

    if precision not in ("float32", "float64"):
        raise ValueError(f"precision must be 'float32' or 'float64', got {precision!r}.")
    dtype = getattr(torch, precision)
    start = time.perf_counter()
    dev = torch.device(device)
    layers: list[LayerWeights] = []
    groups: dict[tuple[int, int], list[tuple[LayerWeights, Any]]] = {}
    for name, kind, tensor in weights:
        layer = LayerWeights(name=name, kind=kind, shape=list(tensor.shape))
        layers.append(layer)
        if tensor.dim() < 2 or tensor.numel() == 0:
            layer.note = "not a matrix"
            continue
        t = tensor.detach().to(dev)
        if not t.is_floating_point():
            layer.note = f"dtype {t.dtype} is not floating point"
            continue
        if not bool(torch.isfinite(t).all()):
            # A diverged run: eigvalsh cannot decompose NaN/inf, and no statistic would mean
            # anything. The model facts count these layers (nonfinite_layers).
            bad = int((~torch.isfinite(t)).sum())
            layer.note = f"non-finite weights ({bad} NaN/inf values): skipped, the run diverged"
            continue
        absval = t.abs()
        layer.near_zero_fraction = float((absval <= absval.max() * NEAR_ZERO_REL).sum()) / t.numel()
        del absval
        mats = _as_matrices(t)
        rf, n, m = mats.shape
        layer.n, layer.m, layer.rf = int(n), int(m), int(rf)
        if n > MAX_N:
            layer.frobenius_norm = float(torch.linalg.vector_norm(t.float()))
            layer.note = f"more than {MAX_N} rows: eigenvalues skipped (WeightWatcher's limit)"
            continue
        groups.setdefault((n, m), []).append((layer, mats))
    for (n, m), members in groups.items():
        _eigen_group(members, n, m, dev, dtype)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return WeightReport(layers=layers, device=str(dev), seconds=time.perf_counter() - start)


def _eigen_group(members, n: int, m: int, dev, dtype) -> None:
    """Eigenvalues for every matrix of one shape, batched, then the per-layer fits."""
    import torch

    per_matrix = n * m + m * m
    batch = max(1, _BATCH_ELEMENTS // per_matrix)
    # Flatten layers into matrices, remembering which layer owns which slice.
    owners: list[int] = []
    mats = []
    for index, (_, stack) in enumerate(members):
        owners.extend([index] * stack.shape[0])
        mats.extend(stack.unbind(0))
    evals_per_layer: list[list] = [[] for _ in members]
    failed: dict[int, str] = {}
    for lo in range(0, len(mats), batch):
        chunk = torch.stack(mats[lo : lo + batch]).to(dev, dtype)
        gram = chunk.transpose(1, 2) @ chunk
        # Finite weights can still overflow the Gram matrix (|w| ~ 1e20 in float32); such
        # matrices are zeroed here and their layers skipped with a note below.
        overflow = ~torch.isfinite(gram).flatten(1).all(dim=1)
        if bool(overflow.any()):
            for k in overflow.nonzero().flatten().tolist():
                failed[owners[lo + k]] = "weights too large: the Gram matrix overflows"
            gram[overflow] = 0.0
        try:
            ev = torch.linalg.eigvalsh(gram).to(torch.float64).clamp_min_(0.0)
        except (RuntimeError, ValueError):  # LinAlgError: ill-conditioned beyond repair
            ev = torch.zeros(gram.shape[:2], dtype=torch.float64, device=gram.device)
            for k in range(gram.shape[0]):
                try:
                    ev[k] = torch.linalg.eigvalsh(gram[k].to(torch.float64)).clamp_min_(0.0)
                except (RuntimeError, ValueError):
                    failed[owners[lo + k]] = "the eigensolver did not converge"
        for k in range(ev.shape[0]):
            evals_per_layer[owners[lo + k]].append(ev[k])
        del chunk, gram
    for index, ((layer, _), parts) in enumerate(zip(members, evals_per_layer)):
        if index in failed:
            layer.note = f"{failed[index]}: no spectral analysis"
            continue
        ev_all = torch.cat(parts)
        per_slice_max = torch.stack([p[-1] for p in parts])
        fro2 = float(ev_all.sum())
        spec2 = float(per_slice_max.max())
        layer.frobenius_norm = math.sqrt(fro2)
        layer.spectral_norm = math.sqrt(spec2)
        layer.stable_rank = fro2 / spec2 if spec2 > 0 else None
        layer.num_evals = int(ev_all.numel())
        layer.evals = torch.sort(ev_all).values.to("cpu", torch.float64).numpy()
        count = layer.m * layer.rf
        if count < MIN_EVALS:
            layer.note = f"fewer than {MIN_EVALS} eigenvalues: no power-law fit"
            continue
        if count > MAX_EVALS:
            layer.note = (
                f"more than {MAX_EVALS} eigenvalues: no power-law fit (WeightWatcher's limit)"
            )
            continue
        sorted_ev, _ = torch.sort(ev_all)
        fit = fit_power_law(sorted_ev[sorted_ev > EVALS_THRESH])
        if fit is None:
            layer.note = "power-law fit failed (too few non-zero eigenvalues)"
            continue
        layer.alpha, layer.xmin, layer.ks_distance, layer.num_pl_spikes = fit
        layer.reading = reading_of(layer.alpha)


def fit_power_law(evals) -> tuple[float, float, float, int] | None:
    """Fit ``p(x) ~ x^-alpha`` to sorted positive eigenvalues; return (alpha, xmin, D, n_tail).

    Every candidate ``xmin`` (each eigenvalue but the largest) gets its maximum-likelihood
    alpha ``1 + n / sum(log(x / xmin))`` from suffix sums of the sorted log-eigenvalues, and its
    Kolmogorov-Smirnov distance between the empirical and fitted tail CDFs; the smallest
    distance wins (first on ties), exactly as WeightWatcher's ``WWFit``.

    Example:
        >>> import torch
        >>> x = torch.sort((1 - torch.rand(2000, dtype=torch.float64)) ** (-1 / 2.0))[0]
        >>> 2.5 < fit_power_law(x)[0] < 3.5
        True
    """
    import torch

    x = evals.to(torch.float64)
    total = x.numel()
    if total < 2:
        return None
    if total < SMALL_N_CUTOFF:
        return _fit_small_n(x)
    logx = torch.log(x)
    n_cand = total - 1
    counts = torch.arange(total, 0, -1, dtype=torch.float64, device=x.device)[:n_cand]
    suffix = torch.flip(torch.cumsum(torch.flip(logx, (0,)), 0), (0,))[:n_cand]
    alphas = 1.0 + counts / (suffix - counts * logx[:n_cand])
    valid = (alphas > 1.0) & torch.isfinite(alphas)
    # Branch and bound, exact: the KS distance over a subset of the tail is a lower bound of
    # the distance over the whole tail. Bound every candidate cheaply on every STRIDE-th point,
    # then evaluate whole tails in order of increasing bound until the bound exceeds the best
    # distance found; no skipped candidate can win. This replaces WeightWatcher's O(n^2) scan.
    stride = max(1, min(16, total // 64))
    candidates = torch.arange(n_cand, device=x.device)
    bound = _ks_distance(
        logx, alphas, counts, candidates, torch.arange(0, total, stride, device=x.device)
    )
    bound = torch.where(valid, bound, torch.ones_like(bound))
    order = torch.argsort(bound, stable=True)
    sorted_bound = bound[order].tolist()
    ks = torch.full((n_cand,), math.inf, dtype=torch.float64, device=x.device)
    best_d = math.inf
    pos, step = 0, 32
    all_columns = torch.arange(total, device=x.device)
    while pos < n_cand and sorted_bound[pos] <= best_d:
        batch = order[pos : pos + step]
        exact = _ks_distance(logx, alphas, counts, batch, all_columns)
        exact = torch.where(valid[batch], exact, torch.ones_like(exact))
        ks[batch] = exact
        best_d = min(best_d, float(exact.min()))
        pos += step
        step = min(step * 2, max(32, _KS_CHUNK_ELEMENTS // total))
    best = int(torch.argmin(ks))
    alpha = float(alphas[best])
    if not math.isfinite(alpha):
        return None
    return alpha, float(x[best]), float(ks[best]), int(total - best)


def _ks_distance(logx, alphas, counts, rows, columns):
    """Max |fitted CDF - empirical CDF| over ``columns >= row`` for each candidate row."""
    import torch

    offset = columns[None, :] - rows[:, None]  # j - i, position inside the tail
    a = alphas[rows, None]
    theo = 1.0 - torch.exp((1.0 - a) * (logx[None, columns] - logx[rows, None]))
    emp = offset.to(logx.dtype) / counts[rows, None]
    gap = (theo - emp).abs().masked_fill_(offset < 0, 0.0)
    out = gap.amax(dim=1)
    return torch.nan_to_num(out, nan=1.0, posinf=1.0)


def _fit_small_n(x, k_min: int = 8) -> tuple[float, float, float, int] | None:
    """WeightWatcher's small-sample fit: bias-corrected MLE, xmin by ``D - 0.868/sqrt(n)``."""
    import numpy as np

    data = x.detach().cpu().numpy()
    logs = np.log(data)
    size = len(data)
    best = None
    for i in range(size - 1):
        n = size - i
        if n < k_min:
            continue
        s = float(np.sum(logs[i:]) - n * logs[i])
        if s <= 1e-12:
            continue
        alpha = 1.0 + (n - 1.0) / s
        if alpha <= 1.0:
            continue
        fitted = 1.0 - (data[i:] / data[i]) ** (1.0 - alpha)
        ks = float(np.max(np.abs(np.arange(n) / n - fitted)))
        objective = ks - 0.868 / math.sqrt(n)
        if best is None or objective < best[0]:
            best = (objective, alpha, float(data[i]), ks, n)
    if best is None:
        return None
    return best[1], best[2], best[3], best[4]
