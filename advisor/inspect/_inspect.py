"""``inspect_checkpoint`` and ``inspect_module``: the public entry points of advisor.inspect."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from advisor.errors import ConfigError
from advisor.inspect._facts import ModelFacts, facts_from_module, facts_from_tensors
from advisor.inspect._load import Loaded, load_checkpoint
from advisor.inspect._report import ModelReport

__all__ = ["find_curves_near", "inspect_checkpoint", "inspect_module", "resolve_device"]

# Fallback curve search (used when advisor.curves.find_curve_files is unavailable).
_CURVE_PATTERNS = (
    "metrics.csv",
    "lightning_logs/version_*/metrics.csv",
    "trainer_state.json",
    "events.out.tfevents.*",
    "*/events.out.tfevents.*",
)
# Directories that hold only checkpoints; the run's logs sit in their parent (Lightning:
# version_N/checkpoints/epoch=3.ckpt beside version_N/metrics.csv). The search climbs only
# through these, never into arbitrary parents (walking up from /tmp/x.ckpt must not scan /).
_CHECKPOINT_DIR = re.compile(r"^(checkpoints?|ckpts?|weights|checkpoint-\d+)$", re.I)


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when available, else ``"cpu"``; validate anything else."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}."
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device {device!r} was requested but CUDA is not available; use --device cpu or auto."
        )
    return str(dev)


def _check_samples(samples: Any) -> int | None:
    if samples is None:
        return None
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ConfigError(f"samples (dataset size) must be an int >= 1, got {samples!r}.")
    return samples


def inspect_checkpoint(
    path: str | Path,
    *,
    trust: bool = False,
    samples: int | None = None,
    spectral: bool = True,
    device: str = "auto",
) -> ModelReport:
    """Read a checkpoint safely and report model facts, weight diagnostics and training setup.

    Args:
        path: a ``.pt``/``.pth``/``.bin`` state_dict (or a dict holding one), a Lightning
            ``.ckpt``, a ``.safetensors`` file, a Hugging Face model directory or a TorchScript
            archive.
        trust: unpickle arbitrary objects (a full pickled ``nn.Module``). Only for your own files:
            unpickling can execute code.
        samples: training-set size, for ``params_per_sample``.
        spectral: run the per-layer spectral (alpha) analysis.
        device: where the spectral analysis runs: ``"auto"``, ``"cpu"``, ``"cuda"``.

    Raises:
        CheckpointError: the file is missing, corrupt or not a checkpoint.
        UnsafeCheckpointError: the file holds pickled objects and ``trust`` is False.

    Example:
        >>> report = inspect_checkpoint("runs/model.ckpt", samples=50_000)  # doctest: +SKIP
        >>> report.model.family, report.weights.summary()["verdict"]  # doctest: +SKIP
        ('resnet', 'well_trained')
    """
    samples = _check_samples(samples)
    # Probing CUDA costs milliseconds; only the spectral pass needs the answer.
    dev = resolve_device(device) if spectral or device != "auto" else "cpu"
    loaded = load_checkpoint(path, trust=trust)
    if loaded.module is not None:
        report = _report_from_module(loaded.module, samples=samples, spectral=spectral, device=dev)
        report.format = loaded.format
        _apply_training(report.model, loaded.training)
    else:
        report = _report_from_tensors(loaded, samples=samples, spectral=spectral, device=dev)
    report.source = Path(path)
    report.training = loaded.training
    report.curve_files = find_curves_near(Path(path))
    return report


def inspect_module(
    module: Any, *, samples: int | None = None, spectral: bool = True, device: str = "auto"
) -> ModelReport:
    """Report facts and weight diagnostics of a live ``nn.Module`` (the richest source).

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.Dropout(0.3), torch.nn.Linear(64, 3))
        >>> report = inspect_module(net, spectral=False)
        >>> report.model.params_total, report.model.dropout_rates, report.model.num_classes
        (1539, {'1': 0.3}, 3)
    """
    import torch

    if not isinstance(module, torch.nn.Module):
        raise ConfigError(f"model must be a torch.nn.Module, got {type(module).__name__}.")
    samples = _check_samples(samples)
    return _report_from_module(
        module, samples=samples, spectral=spectral, device=resolve_device(device)
    )


def _report_from_module(module, *, samples, spectral, device) -> ModelReport:
    from advisor.inspect._spectral import analyze_weights

    facts, analysable = facts_from_module(module)
    facts.reasons.setdefault(
        "pretrained",
        "a module does not record where its weights started; pass --pretrained/--from-scratch",
    )
    facts.finish(samples=samples)
    weights = analyze_weights(analysable, device=device) if spectral else None
    return ModelReport(model=facts, weights=weights, format="module")


def _report_from_tensors(loaded: Loaded, *, samples, spectral, device) -> ModelReport:
    from advisor.inspect._spectral import analyze_weights

    source = loaded.tensors
    facts, analysable = facts_from_tensors(source, config=loaded.config)
    if loaded.stripped_prefix:
        facts.evidence["keys"] = f"prefix {loaded.stripped_prefix!r} stripped from every key"
    _apply_training(facts, loaded.training)
    if loaded.format == "lightning" and loaded.training.get("optimizers"):
        groups = loaded.training["optimizers"][0]["param_groups"]
        tensors = [
            n
            for n in source.names()
            if source.dtype(n).startswith(("float", "bfloat"))
            and not n.endswith(("running_mean", "running_var"))
        ]
        if sum(g["params"] for g in groups) == len(tensors):
            facts.params_trainable = facts.params_total
            facts.evidence["params_trainable"] = "the optimizer updates every parameter tensor"
            facts.reasons.pop("params_trainable", None)
    facts.finish(samples=samples)
    weights = None
    if spectral:
        weights = analyze_weights(
            ((name, kind, source.get(key)) for name, kind, key in analysable), device=device
        )
    return ModelReport(model=facts, weights=weights, format=loaded.format, source=loaded.source)


def _apply_training(facts: ModelFacts, training: dict[str, Any]) -> None:
    """Copy what the training metadata tells into the facts (optimizer, decay, early stopping)."""
    if not training:
        return
    optimizers = training.get("optimizers") or []
    if optimizers:
        opt = optimizers[0]
        facts.optimizer = opt.get("type")
        if facts.optimizer is None:
            facts.reasons["optimizer"] = (
                "unrecognised optimizer state (param-group keys match no torch optimizer)"
            )
        groups = opt.get("param_groups") or []
        decays = [
            g["weight_decay"] for g in groups if isinstance(g.get("weight_decay"), int | float)
        ]
        lrs = [g["lr"] for g in groups if isinstance(g.get("lr"), int | float)]
        if decays:
            facts.weight_decay = float(max(decays))
            facts.evidence["weight_decay"] = (
                "largest weight_decay over the optimizer's param groups"
                + (f" (groups: {decays})" if len(set(decays)) > 1 else "")
            )
        if lrs:
            facts.learning_rate = float(max(lrs))
    elif "optimizers" in training:
        for name in ("optimizer", "learning_rate", "weight_decay"):
            facts.reasons[name] = "the checkpoint holds no optimizer state"
    hp = training.get("hyper_parameters") or {}
    if isinstance(hp, dict):
        rates = {
            k: float(v)
            for k, v in hp.items()
            if "drop" in k.lower() and isinstance(v, int | float) and not isinstance(v, bool)
        }
        if rates and facts.dropout_rates is None:
            facts.dropout_rates = rates
            facts.dropout = any(v > 0 for v in rates.values())
            facts.evidence["dropout"] = "dropout hyper-parameters saved in the checkpoint"
            facts.reasons.pop("dropout", None)
            facts.reasons.pop("dropout_rates", None)
        if facts.weight_decay is None and isinstance(hp.get("weight_decay"), int | float):
            facts.weight_decay = float(hp["weight_decay"])
            facts.evidence["weight_decay"] = "weight_decay hyper-parameter saved in the checkpoint"
    if "early_stopping" in training:
        es = training.get("early_stopping")
        if es:
            facts.early_stopping = True
            facts.early_stopping_patience = es.get("patience")
            facts.early_stopping_monitor = es.get("monitor")
            facts.evidence["early_stopping"] = "EarlyStopping callback state in the checkpoint"
        else:
            facts.early_stopping = False
            facts.evidence["early_stopping"] = "no EarlyStopping callback state in the checkpoint"


def find_curves_near(checkpoint: Path) -> list[Path]:
    """Learning-curve logs of the run that wrote ``checkpoint``: the nearest directory wins.

    Looks in the checkpoint's directory, then climbs out of checkpoint-only folders
    (``checkpoints/``, ``checkpoint-500/`` ...) to the run directory.

    Example:
        >>> find_curves_near(Path("lightning_logs/version_0/checkpoints/last.ckpt"))  # doctest: +SKIP
        [PosixPath('lightning_logs/version_0/metrics.csv')]
    """
    directory = (checkpoint if checkpoint.is_dir() else checkpoint.parent).resolve()
    finder = _curve_finder()
    while True:
        found = finder(directory)
        if found or not _CHECKPOINT_DIR.match(directory.name) or directory.parent == directory:
            return found
        directory = directory.parent


def _curve_finder():
    try:
        from advisor.curves import find_curve_files
    except (ImportError, AttributeError):
        find_curve_files = None
    if find_curve_files is not None:

        def finder(directory: Path) -> list[Path]:
            try:
                return [Path(p) for p in find_curve_files(directory)]
            except Exception:  # a curve reader's error must not hide the model report
                return _own_curve_search(directory)

        return finder
    return _own_curve_search


def _own_curve_search(directory: Path) -> list[Path]:
    found: list[Path] = []
    for pattern in _CURVE_PATTERNS:
        found.extend(sorted(p for p in directory.glob(pattern) if p.is_file()))
    return found
