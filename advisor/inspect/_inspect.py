"""``inspect_checkpoint`` and ``inspect_module``: the public entry points of advisor.inspect."""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path
from typing import Any

from advisor.errors import ConfigError
from advisor.inspect._facts import ModelFacts, count_nonfinite
from advisor.inspect._facts_module import facts_from_module
from advisor.inspect._facts_tensors import facts_from_tensors
from advisor.inspect._load import Loaded, load_checkpoint
from advisor.inspect._report import ModelReport

__all__ = ["find_curves_near", "inspect_checkpoint", "inspect_module", "resolve_device"]

# Where the run that wrote a checkpoint keeps its learning curves, relative to the
# checkpoint's directory: the log files themselves, and the layouts loggers create directly
# under it (Lightning's <name>/version_N/, TensorBoard's runs/<run>/, the Hugging Face
# Trainer's checkpoint-N/). Nothing deeper: exp/model.pt must not pick up
# exp/old_project/lightning_logs/version_0/metrics.csv from an unrelated run.
_LOG_NAMES = (
    "metrics.csv",
    "trainer_state.json",
    "results.csv",
    "training.log",
    "*history*.json",
    "*history*.csv",
    "events.out.tfevents.*",
)
# Folders directly under the checkpoint's directory whose files (and whose sub-folders' files)
# are logs: Lightning's save_dir/<name>/version_N, SummaryWriter's runs/<date_host>/, the
# Hugging Face Trainer's checkpoint-N/trainer_state.json.
_LOGGER_DIRS = ("runs", "logs", "tb_logs", "lightning_logs")
_VERSION_DIRS = ("version_*", "checkpoint-*")


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
    count_nonfinite(facts, module.state_dict(keep_vars=False).items())
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
    count_nonfinite(
        facts,
        (
            (n, source.get(n))
            for n in source.names()
            if source.dtype(n).startswith(("float", "bfloat"))
        ),
    )
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
    """Learning-curve logs of the run that wrote ``checkpoint``, newest first.

    Looks in the checkpoint's directory and the logger layouts directly under it
    (``lightning_logs/version_N/metrics.csv``, ``runs/<run>/events.out.tfevents.*``,
    ``checkpoint-N/trainer_state.json``, ``metrics.csv``, ``history.json`` ...), never in
    unrelated sub-folders; when it finds nothing it climbs out of checkpoint-only folders
    (``checkpoints/``, ``checkpoint-500/`` ...) to the run directory. The newest file (last
    modified, then the highest version number) comes first: it is the one used.

    Example:
        >>> find_curves_near(Path("lightning_logs/version_0/checkpoints/last.ckpt"))  # doctest: +SKIP
        [PosixPath('lightning_logs/version_0/metrics.csv')]
    """
    directory = (checkpoint if checkpoint.is_dir() else checkpoint.parent).resolve()
    while True:
        found = _own_curve_search(directory)
        if found or not _CHECKPOINT_DIR.match(directory.name) or directory.parent == directory:
            return found
        directory = directory.parent


def _own_curve_search(directory: Path) -> list[Path]:
    """Logs in ``directory`` and in the logger layouts directly under it, newest first.

    Matches ``<log>``, ``version_N/<log>``, ``checkpoint-N/<log>``, ``<any>/version_N/<log>``
    and ``runs|logs|tb_logs|lightning_logs/[<run>/]<log>``, where ``<log>`` is one of
    ``_LOG_NAMES``. One ``scandir`` per folder (this runs for every inspected checkpoint).
    """
    found: set[Path] = set(_log_files(directory))
    for sub in _subdirs(directory):
        logger = sub.name in _LOGGER_DIRS
        if logger or any(fnmatch.fnmatch(sub.name, p) for p in _VERSION_DIRS):
            found.update(_log_files(sub))
        for inner in _subdirs(sub):
            if logger or fnmatch.fnmatch(inner.name, "version_*"):
                found.update(_log_files(inner))

    from advisor.curves import newest_first

    return newest_first(found)


def _entries(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except OSError:  # an unreadable folder holds no usable log
        return []


def _subdirs(folder: Path) -> list[Path]:
    out = []
    for entry in _entries(folder):
        try:
            if entry.is_dir() and not entry.name.startswith("."):
                out.append(Path(entry.path))
        except OSError:
            continue
    return out


def _log_files(folder: Path) -> list[Path]:
    out = []
    for entry in _entries(folder):
        if any(fnmatch.fnmatchcase(entry.name, p) for p in _LOG_NAMES):
            try:
                if entry.is_file():
                    out.append(Path(entry.path))
            except OSError:
                continue
    return out
