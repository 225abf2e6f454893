"""The power-law fit and per-layer statistics follow WeightWatcher's method and agree with it."""

from __future__ import annotations

import math

import pytest
import torch

from advisor.inspect import analyze_weights, fit_power_law
from advisor.inspect._spectral import reading_of


def _pareto(alpha: float, n: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(n, generator=gen, dtype=torch.float64)
    return torch.sort((1.0 - u) ** (-1.0 / (alpha - 1.0)))[0]


@pytest.mark.parametrize("alpha", [1.8, 2.5, 4.0])
def test_fit_recovers_pareto_exponent(alpha):
    fitted, xmin, ks, tail = fit_power_law(_pareto(alpha, 3000))
    assert abs(fitted - alpha) < 0.15
    assert xmin >= 1.0 and 0 <= ks < 0.1 and tail > 100


def _reference_fit(x: torch.Tensor) -> tuple[float, float]:
    """WeightWatcher's WWFit loop, transcribed literally (numpy, one xmin at a time)."""
    import numpy as np

    data = x.numpy()
    logs = np.log(data)
    n_all = len(data)
    alphas, ds = np.zeros(n_all - 1), np.ones(n_all - 1)
    for i, xmin in enumerate(data[:-1]):
        n = float(n_all - i)
        alpha = 1 + n / (np.sum(logs[i:]) - n * logs[i])
        alphas[i] = alpha
        if alpha > 1:
            ds[i] = np.max(np.abs(1 - (data[i:] / xmin) ** (-alpha + 1) - np.arange(n) / n))
    best = int(np.argmin(ds))
    return float(alphas[best]), float(data[best])


@pytest.mark.parametrize("seed", range(4))
def test_branch_and_bound_equals_exhaustive_scan(seed):
    gen = torch.Generator().manual_seed(seed)
    w = (
        torch.randn(300, 120, generator=gen, dtype=torch.float64)
        * torch.rand(120, generator=gen, dtype=torch.float64) ** 3
    )
    evals = torch.sort(torch.linalg.eigvalsh(w.T @ w))[0]
    evals = evals[evals > 1e-5]
    alpha, xmin, _, _ = fit_power_law(evals)
    ref_alpha, ref_xmin = _reference_fit(evals)
    assert alpha == pytest.approx(ref_alpha, rel=1e-9)
    assert xmin == pytest.approx(ref_xmin, rel=1e-12)


def test_small_sample_fit_used_below_20_eigenvalues():
    x = _pareto(3.0, 15)
    alpha, xmin, _, tail = fit_power_law(x)
    assert math.isfinite(alpha) and tail >= 8 and xmin in x.tolist()


def test_degenerate_spectra():
    assert fit_power_law(torch.tensor([1.0], dtype=torch.float64)) is None
    assert fit_power_law(torch.ones(40, dtype=torch.float64)) is None


def test_layer_statistics_match_linear_algebra():
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(64, 32, generator=gen)
    w[0, :8] = 0.0
    layer = analyze_weights([("fc", "linear", w)], precision="float64").layers[0]
    sv = torch.linalg.svdvals(w.double())
    assert layer.frobenius_norm == pytest.approx(float(sv.norm()), rel=1e-9)
    assert layer.spectral_norm == pytest.approx(float(sv[0]), rel=1e-9)
    assert layer.stable_rank == pytest.approx(float((sv**2).sum() / sv[0] ** 2), rel=1e-9)
    assert layer.near_zero_fraction == pytest.approx(8 / w.numel())
    assert (layer.n, layer.m, layer.num_evals) == (64, 32, 32)


def test_conv_kernel_sliced_into_kxk_matrices():
    gen = torch.Generator().manual_seed(2)
    w = torch.randn(16, 8, 3, 3, generator=gen)
    layer = analyze_weights([("conv", "conv", w)], precision="float64").layers[0]
    assert (layer.n, layer.m, layer.rf, layer.num_evals) == (16, 8, 9, 72)
    slices = [torch.linalg.svdvals(w[:, :, i, j].double()) for i in range(3) for j in range(3)]
    assert layer.spectral_norm == pytest.approx(max(float(s[0]) for s in slices), rel=1e-9)
    assert layer.frobenius_norm == pytest.approx(float(w.double().norm()), rel=1e-9)


def test_layer_filters_follow_weightwatcher():
    layers = analyze_weights(
        [
            ("tiny", "linear", torch.randn(10, 4)),
            ("bias", "linear", torch.randn(5)),
            ("ok", "linear", torch.randn(40, 20)),
        ]
    ).layers
    tiny, bias, ok = layers
    assert tiny.alpha is None and "fewer than 8" in tiny.note
    assert bias.alpha is None and bias.note == "not a matrix"
    assert ok.alpha is not None and ok.reading == reading_of(ok.alpha)


def test_float32_and_float64_agree():
    torch.manual_seed(3)
    ws = [
        (f"l{i}", "linear", torch.randn(256, 128) @ torch.randn(128, 128) ** 3 / 50)
        for i in range(3)
    ]
    a32 = [layer.alpha for layer in analyze_weights(ws, precision="float32").layers]
    a64 = [layer.alpha for layer in analyze_weights(ws, precision="float64").layers]
    assert a32 == pytest.approx(a64, abs=0.05)
    with pytest.raises(ValueError, match="precision"):
        analyze_weights(ws, precision="float16")


@pytest.mark.parametrize(
    ("alpha", "reading"),
    [
        (1.5, "over_trained"),
        (2.0, "well_trained"),
        (6.0, "well_trained"),
        (7.0, "under_trained"),
        (None, None),
    ],
)
def test_standard_reading(alpha, reading):
    assert reading_of(alpha) == reading


def test_summary_and_worst_layers():
    torch.manual_seed(4)
    report = analyze_weights(
        [
            ("random", "linear", torch.randn(400, 200)),
            ("spiky", "linear", torch.randn(400, 200) * torch.rand(200) ** 8),
        ],
        precision="float64",
    )
    summary = report.summary()
    assert summary["layers_analysed"] == 2
    assert sum(summary["counts"].values()) == 2
    assert report.to_dict()["layers"][0]["name"] == "random"
    # Columns of wildly different scale make a heavy-tailed spectrum: lower alpha than Gaussian.
    assert report.layers[1].alpha < report.layers[0].alpha
    assert report.worst_layers(k=2) == sorted(
        report.worst_layers(k=2),
        key=lambda layer: max(2 - layer.alpha, layer.alpha - 6),
        reverse=True,
    )


@pytest.mark.slow
def test_agrees_with_weightwatcher_package():
    """Same per-layer alpha as weightwatcher itself (bench extra) on a small CNN with real structure."""
    ww = pytest.importorskip("weightwatcher")
    import logging

    from torch import nn

    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3),
        nn.Conv2d(32, 64, 3),
        nn.Flatten(),
        nn.Linear(256, 128),
        nn.Linear(128, 10),
    )
    with torch.no_grad():
        model[3].weight.mul_(torch.rand(256) ** 4)  # heavy-tailed columns
    ours = analyze_weights(
        [
            (n, "x", m.weight)
            for n, m in model.named_modules()
            if isinstance(m, nn.Conv2d | nn.Linear)
        ],
        precision="float64",
    )
    theirs = ww.WeightWatcher(model=model).analyze()
    assert [layer.alpha for layer in ours.layers] == pytest.approx(list(theirs.alpha), rel=1e-6)


def test_auto_device_resolves_to_an_available_device():
    from advisor.inspect._inspect import resolve_device

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"


@pytest.mark.gpu
def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    torch.manual_seed(5)
    ws = [
        ("conv", "conv", torch.randn(64, 32, 3, 3)),
        ("fc", "linear", torch.randn(300, 100) * torch.rand(100) ** 4),
    ]
    cpu = analyze_weights(ws, device="cpu", precision="float64")
    gpu = analyze_weights(ws, device="cuda", precision="float64")
    assert gpu.device.startswith("cuda")
    assert [layer.alpha for layer in gpu.layers] == pytest.approx(
        [layer.alpha for layer in cpu.layers], rel=1e-6
    )


def test_layer_keeps_its_sorted_spectrum_for_plots_but_not_in_json():
    from torch import nn

    from advisor.inspect import inspect_module

    torch.manual_seed(0)
    report = inspect_module(nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 10)))
    layer = report.weights.layers[0]
    assert layer.evals is not None and layer.evals.shape == (48,)
    assert (layer.evals[1:] >= layer.evals[:-1]).all()
    assert "evals" not in layer.to_dict()
    # the largest eigenvalue of W^T W / N is the squared spectral norm (N = the larger side)
    assert abs(float(layer.evals[-1]) - layer.spectral_norm**2) < 1e-4 * layer.spectral_norm**2


def test_nonfinite_layers_are_skipped_with_a_note():
    bad = torch.randn(64, 32)
    bad[3, 4] = float("nan")
    huge = torch.full((64, 32), 1e30)  # finite, but its Gram matrix overflows float32
    report = analyze_weights(
        [("ok", "linear", torch.randn(64, 32)), ("nan", "linear", bad), ("huge", "linear", huge)]
    )
    ok, nan, big = report.layers
    assert ok.alpha is not None and ok.note is None
    assert nan.alpha is None and "non-finite" in nan.note and "diverged" in nan.note
    assert big.alpha is None and "overflow" in big.note
    assert report.summary()["layers_skipped"] == 2
