"""Read every checkpoint format safely into tensors, a module and training metadata.

Loading never unpickles arbitrary objects unless the user says the file is their own
(``trust=True``): ``torch.load`` runs with ``weights_only=True`` and a small explicit allowlist
of harmless container types, zip archives are checked for absurd declared sizes before
reading, and safetensors files are read one tensor at a time through ``safe_open``.
"""

from __future__ import annotations

import json
import pickle
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.errors import CheckpointError, UnsafeCheckpointError
from advisor.inspect._sniff import find_hf_weights, read_json_config, sniff_checkpoint

__all__ = ["Loaded", "TensorSource", "load_checkpoint"]

# Keys under which checkpoints written by hand keep the weights (issue: state_dict, model,
# model_state_dict; "module"/"net" are common in the wild).
_NESTED_KEYS = ("state_dict", "model_state_dict", "model", "module", "net")
# Wrapper prefixes that say nothing about the architecture: Lightning's attribute names,
# DistributedDataParallel's "module.", torch.compile's "_orig_mod.".
_STRIP_PREFIXES = ("model.", "module.", "_orig_mod.", "net.", "network.")
# Types a Lightning checkpoint may pickle in hyper_parameters; each is a plain data container
# whose unpickling runs no user code.
_SAFE_GLOBALS = {
    "argparse.Namespace": ("argparse", "Namespace"),
    "lightning.fabric.utilities.data.AttributeDict": (
        "lightning.fabric.utilities.data",
        "AttributeDict",
    ),
    "lightning_fabric.utilities.data.AttributeDict": (
        "lightning_fabric.utilities.data",
        "AttributeDict",
    ),
    "pytorch_lightning.utilities.parsing.AttributeDict": (
        "pytorch_lightning.utilities.parsing",
        "AttributeDict",
    ),
    "pathlib.PosixPath": ("pathlib", "PosixPath"),
    "pathlib.WindowsPath": ("pathlib", "WindowsPath"),
}
# A torch zip stores its entries uncompressed, so their declared sizes add up to about the
# archive size; anything far beyond is a zip bomb or a corrupt directory.
_ZIP_SLACK_BYTES = 1024 * 1024


class TensorSource:
    """Names, shapes and lazy access to the tensors of a checkpoint.

    A dict of (possibly memory-mapped) tensors, or safetensors files opened once per access,
    so that facts need only shapes and the spectral pass holds one tensor at a time.
    """

    def __init__(
        self, tensors: dict[str, Any] | None = None, *, files: dict[str, Path] | None = None
    ):
        self._tensors = tensors
        self._files = files  # tensor name -> safetensors file
        self._meta: dict[str, tuple[tuple[int, ...], str]] = {}
        if tensors is not None:
            for name, t in tensors.items():
                self._meta[name] = (tuple(t.shape), str(t.dtype).replace("torch.", ""))
        else:
            from safetensors import safe_open

            by_file: dict[Path, list[str]] = {}
            for name, file in (files or {}).items():
                by_file.setdefault(file, []).append(name)
            for file, names in by_file.items():
                with safe_open(str(file), framework="pt") as fh:
                    for name in names:
                        piece = fh.get_slice(name)
                        self._meta[name] = (tuple(piece.get_shape()), _st_dtype(piece.get_dtype()))

    def __len__(self) -> int:
        return len(self._meta)

    def names(self) -> list[str]:
        return list(self._meta)

    def shape(self, name: str) -> tuple[int, ...]:
        return self._meta[name][0]

    def dtype(self, name: str) -> str:
        return self._meta[name][1]

    def get(self, name: str):
        """The tensor ``name`` (read from disk for safetensors)."""
        if self._tensors is not None:
            return self._tensors[name]
        from safetensors import safe_open

        with safe_open(str(self._files[name]), framework="pt") as fh:
            return fh.get_tensor(name)

    def renamed(self, mapping: dict[str, str]) -> TensorSource:
        """A view with keys renamed through ``mapping`` (old -> new)."""
        clone = TensorSource.__new__(TensorSource)
        clone._tensors = (
            None if self._tensors is None else {mapping[k]: v for k, v in self._tensors.items()}
        )
        clone._files = (
            None if self._files is None else {mapping[k]: v for k, v in self._files.items()}
        )
        clone._meta = {mapping[k]: v for k, v in self._meta.items()}
        return clone


_ST_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
}


def _st_dtype(code: str) -> str:
    return _ST_DTYPES.get(code, code.lower())


@dataclass
class Loaded:
    """What a checkpoint held, before any interpretation."""

    format: str
    source: Path
    tensors: TensorSource | None = None
    module: Any = None
    training: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    stripped_prefix: str | None = None


def load_checkpoint(path: str | Path, *, trust: bool = False) -> Loaded:
    """Load ``path`` safely; raise ``CheckpointError`` with a one-line reason when it cannot be."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(
            f"{p}: no such file or directory; give a checkpoint file or a model directory."
        )
    fmt = sniff_checkpoint(p)
    if fmt is None:
        raise CheckpointError(_not_a_checkpoint(p))
    if fmt == "hf-dir":
        return _load_hf_dir(p, trust=trust)
    if fmt == "safetensors":
        loaded = Loaded(format=fmt, source=p, tensors=_safetensors_source([p]))
    elif fmt == "torchscript":
        return _load_torchscript(p)
    else:
        loaded = _interpret(_torch_load(p, trust=trust, zipped=fmt != "legacy-pickle"), p, fmt)
    if loaded.tensors is not None and loaded.config is None:
        # model.safetensors / pytorch_model.bin given alone: the config.json beside it tells
        # the head, the dropout and that the weights are published ones, exactly as for the
        # directory.
        loaded.config = _config_beside(p)
    return loaded


def _config_beside(p: Path) -> dict[str, Any] | None:
    """The Hugging Face ``config.json`` next to a weights file, or ``None``."""
    config = read_json_config(p.parent / "config.json")
    if config is None or not ("model_type" in config or "architectures" in config):
        return None  # absent, malformed, or some other tool's config.json
    return config


def _not_a_checkpoint(p: Path) -> str:
    if p.is_dir():
        return (
            f"{p}: directory holds no model weights (expected config.json beside model.safetensors "
            "or pytorch_model.bin); give the checkpoint file itself."
        )
    if p.suffix == ".safetensors":
        return f"{p}: not a valid safetensors file (its header length or JSON header is corrupt); re-export it."
    return (
        f"{p}: not a checkpoint (no torch zip, pickle or safetensors header); give a .pt/.pth/.bin/"
        ".ckpt/.safetensors file, a TorchScript archive or a Hugging Face model directory."
    )


def _check_zip(p: Path) -> None:
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise CheckpointError(
            f"{p}: truncated or corrupt zip archive ({_short(exc)}); re-save or re-download it."
        ) from None
    size = p.stat().st_size
    declared = sum(info.file_size for info in infos)
    if declared > 2 * size + _ZIP_SLACK_BYTES:
        raise CheckpointError(
            f"{p}: zip directory declares {declared} bytes of content in a {size}-byte archive "
            "(a zip bomb or a corrupt directory); refusing to read it."
        )


def _torch_load(p: Path, *, trust: bool, zipped: bool) -> Any:
    import torch

    if zipped:
        _check_zip(p)
    if trust:
        try:
            return torch.load(p, map_location="cpu", weights_only=False)
        except (ModuleNotFoundError, AttributeError) as exc:
            raise CheckpointError(
                f"{p}: the pickle needs a class that cannot be imported here ({exc}); "
                "run from the project that defines it, or save a state_dict instead."
            ) from None
        except Exception as exc:  # any failure inside unpickling is the file's
            raise CheckpointError(
                f"{p}: cannot be loaded even with trust ({_short(exc)})."
            ) from None
    allowed: list[Any] = []
    while True:
        try:
            # torch warns (two lines on stderr) about raw pickles of protocol > 2; the error
            # below says everything the user needs.
            with torch.serialization.safe_globals(allowed), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return torch.load(p, map_location="cpu", weights_only=True, mmap=zipped)
        except pickle.UnpicklingError as exc:
            name = _unsupported_global(str(exc))
            if name is None and not zipped:
                # The weights-only unpickler stops at the first opcode it does not know (raw
                # protocol-4 pickles: FRAME) before naming any class; list the globals the
                # pickle would import without executing it.
                name = _first_unsafe_global(p)
            extra = _allowlisted(name)
            if extra is not None and extra not in allowed:
                allowed.append(extra)
                continue
            if name is not None:
                raise UnsafeCheckpointError(
                    f"{p}: holds a pickled {name} (not plain tensors); unpickling it would run code "
                    "from the file (arbitrary code execution). Pass --trust (trust=True) only if the "
                    "file is your own, or save model.state_dict() instead."
                ) from None
            raise CheckpointError(
                f"{p}: not a readable torch checkpoint ({_short(_weights_only_reason(exc))}); "
                "re-save it with torch.save(model.state_dict(), path)."
            ) from None
        except Exception as exc:  # a garbled pickle raises anything (IndexError ...)
            raise CheckpointError(
                f"{p}: truncated or corrupt checkpoint ({_short(exc) or type(exc).__name__}); "
                "re-save or re-download it."
            ) from None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 160 else text[:157] + "..."


def _weights_only_reason(exc: BaseException) -> str:
    """The useful part of torch's weights-only error (it starts with a paragraph of advice)."""
    text = str(exc)
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text.split(marker, 1)[1].split("Check the documentation", 1)[0]
    return " ".join(text.split()) or type(exc).__name__


# Globals a pickle of plain tensors and containers imports (torch's own rebuild functions and
# storages, ordered dicts); anything else would run code from the file when unpickled.
_HARMLESS_GLOBAL_PREFIXES = ("torch._utils.", "torch.storage.", "torch.serialization.")
_HARMLESS_GLOBALS = {"collections.OrderedDict", "torch.Size", "torch.device", "torch.dtype"}
_MAX_PICKLE_OPS = 5_000_000


def _first_unsafe_global(p: Path) -> str | None:
    """The first class or function a raw pickle imports that is not a tensor or a container.

    Reads opcodes with ``pickletools.genops``, which never executes anything; module and name
    of ``STACK_GLOBAL`` are the two strings pushed (or fetched from the memo) just before it.
    """
    import pickletools

    strings: list[str] = []
    memo: dict[int, str] = {}
    found: list[str] = []
    try:
        with p.open("rb") as fh:
            for count, (op, arg, _pos) in enumerate(pickletools.genops(fh)):
                if count > _MAX_PICKLE_OPS:
                    break
                name = op.name
                if name in ("GLOBAL", "INST") and isinstance(arg, str):
                    found.append(arg.replace(" ", "."))
                elif name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
                    strings.append(arg)
                elif name == "MEMOIZE" and strings:
                    memo[len(memo)] = strings[-1]
                elif name in ("BINPUT", "LONG_BINPUT", "PUT") and strings:
                    memo[int(arg)] = strings[-1]
                elif name in ("BINGET", "LONG_BINGET", "GET") and int(arg) in memo:
                    strings.append(memo[int(arg)])
                elif name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.append(f"{strings[-2]}.{strings[-1]}")
                if name == "STOP":
                    break
    except Exception:  # a damaged pickle: report what was seen so far
        pass
    for qualified in found:
        if qualified in _HARMLESS_GLOBALS or qualified.startswith(_HARMLESS_GLOBAL_PREFIXES):
            continue
        return qualified
    return None


def _unsupported_global(message: str) -> str | None:
    match = re.search(r"GLOBAL ([\w\.]+)", message) or re.search(
        r"Unsupported global: ([\w\.]+)", message
    )
    return match.group(1) if match else None


def _allowlisted(name: str | None) -> Any:
    if name not in _SAFE_GLOBALS:
        return None
    module, attr = _SAFE_GLOBALS[name]
    try:
        import importlib

        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None


def _is_tensor(value: Any) -> bool:
    import torch

    return isinstance(value, torch.Tensor)


def _interpret(obj: Any, p: Path, fmt: str) -> Loaded:
    import torch

    if isinstance(obj, torch.nn.Module):
        return Loaded(format="pickled-module", source=p, module=obj)
    if not isinstance(obj, dict):
        raise CheckpointError(
            f"{p}: holds a {type(obj).__name__}, not a state_dict or a checkpoint dict; "
            "save model.state_dict() (a dict of tensors)."
        )
    training: dict[str, Any] = {}
    candidate: Any = obj
    is_lightning = "state_dict" in obj and any(
        k in obj
        for k in ("pytorch-lightning_version", "optimizer_states", "lr_schedulers", "callbacks")
    )
    if is_lightning:
        fmt = "lightning"
        candidate = obj["state_dict"]
        training = _training_or_note(lightning_training, obj)
    elif not _all_tensors(obj):
        for key in _NESTED_KEYS:
            if key in obj and (isinstance(obj[key], dict | torch.nn.Module)):
                candidate = obj[key]
                training = _training_or_note(plain_training, obj, key)
                break
    if isinstance(candidate, torch.nn.Module):
        return Loaded(format="pickled-module", source=p, module=candidate, training=training)
    state = _validate_state_dict(candidate, p)
    tensors, prefix = _strip_prefixes(state)
    return Loaded(
        format=fmt,
        source=p,
        tensors=TensorSource(tensors),
        training=training,
        stripped_prefix=prefix,
    )


def _training_or_note(read, *args) -> dict[str, Any]:
    """Training metadata, or a note when it is malformed: the weights are still worth reading."""
    try:
        return read(*args)
    except (TypeError, AttributeError, ValueError, KeyError, IndexError) as exc:
        return {"note": f"training metadata skipped: malformed ({_short(exc)})"}


def _all_tensors(d: dict) -> bool:
    return bool(d) and all(_is_tensor(v) for k, v in d.items() if k != "_metadata")


def _validate_state_dict(candidate: Any, p: Path) -> dict[str, Any]:
    if not isinstance(candidate, dict) or not candidate:
        raise CheckpointError(
            f"{p}: holds no state_dict (an empty or non-dict object); save model.state_dict()."
        )
    bad = [(k, v) for k, v in candidate.items() if k != "_metadata" and not _is_tensor(v)]
    if bad:
        key, value = bad[0]
        raise CheckpointError(
            f"{p}: state_dict entry {key!r} is a {type(value).__name__}, not a tensor "
            f"({len(bad)} non-tensor entries); expected a dict of tensors from model.state_dict()."
        )
    return {str(k): v for k, v in candidate.items() if k != "_metadata"}


def _strip_prefixes(state: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    stripped = ""
    changed = True
    while changed:
        changed = False
        for prefix in _STRIP_PREFIXES:
            if state and all(k.startswith(prefix) for k in state):
                state = {k[len(prefix) :]: v for k, v in state.items()}
                stripped += prefix
                changed = True
    return state, stripped or None


def _safetensors_source(files: list[Path]) -> TensorSource:
    from safetensors import safe_open

    mapping: dict[str, Path] = {}
    for file in files:
        try:
            with safe_open(str(file), framework="pt") as fh:
                for name in fh.keys():  # noqa: SIM118 - safe_open is not a Mapping
                    mapping[name] = file
        except Exception as exc:  # safetensors raises its own error types
            raise CheckpointError(
                f"{file}: corrupt safetensors file ({_short(exc)}); re-export it."
            ) from None
    if not mapping:
        raise CheckpointError(f"{files[0]}: safetensors file holds no tensors.")
    return TensorSource(files=mapping)


def _load_hf_dir(p: Path, *, trust: bool) -> Loaded:
    config = read_json_config(p / "config.json")
    if config is None:
        raise CheckpointError(
            f"{p / 'config.json'}: not a JSON object; restore the model's config.json."
        )
    weights = find_hf_weights(p)
    if weights is None:  # pragma: no cover - sniff_checkpoint checked it
        raise CheckpointError(_not_a_checkpoint(p))
    if weights.name.endswith(".index.json"):
        try:
            index = json.loads(weights.read_text(encoding="utf-8"))
            shard_names = sorted(set(index["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise CheckpointError(
                f"{weights}: malformed shard index (no weight_map); restore it."
            ) from None
        files = [p / name for name in shard_names]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise CheckpointError(
                f"{weights}: shard {missing[0]} is missing; download every shard."
            )
    else:
        files = [weights]
    if files[0].suffix == ".safetensors":
        source = _safetensors_source(files)
    else:
        merged: dict[str, Any] = {}
        for file in files:
            obj = _torch_load(file, trust=trust, zipped=sniff_checkpoint(file) != "legacy-pickle")
            merged.update(_validate_state_dict(obj, file))
        source = TensorSource(merged)
    return Loaded(format="hf-dir", source=p, tensors=source, config=config)


def _load_torchscript(p: Path) -> Loaded:
    import torch

    _check_zip(p)
    try:
        module = torch.jit.load(str(p), map_location="cpu")
    except Exception as exc:  # jit raises RuntimeError subclasses for bad archives
        raise CheckpointError(
            f"{p}: corrupt TorchScript archive ({_short(exc)}); re-export it."
        ) from None
    return Loaded(format="torchscript", source=p, module=module)


# ---------------------------------------------------------------- training metadata


def lightning_training(ckpt: dict[str, Any]) -> dict[str, Any]:
    """Optimizer, schedulers, callbacks, hyper-parameters and progress of a Lightning checkpoint."""
    training: dict[str, Any] = {
        "epoch": ckpt.get("epoch"),
        "global_step": ckpt.get("global_step"),
        "lightning_version": ckpt.get("pytorch-lightning_version"),
        "optimizers": [
            optimizer_summary(s) for s in ckpt.get("optimizer_states") or [] if isinstance(s, dict)
        ],
        "lr_schedulers": [
            scheduler_summary(s) for s in ckpt.get("lr_schedulers") or [] if isinstance(s, dict)
        ],
        "early_stopping": None,
        "model_checkpoint": None,
        "callbacks": [],
        "hyper_parameters": _plain(_as_dict(ckpt.get("hyper_parameters"))),
    }
    for key, state in (ckpt.get("callbacks") or {}).items():
        name = str(key).split("{", 1)[0]
        settings = _callback_settings(str(key))
        training["callbacks"].append(name)
        if not isinstance(state, dict):
            continue
        if name == "EarlyStopping":
            training["early_stopping"] = {
                "monitor": settings.get("monitor"),
                "mode": settings.get("mode"),
                "patience": state.get("patience"),
                "wait_count": state.get("wait_count"),
                "stopped_epoch": state.get("stopped_epoch"),
                "best_score": _plain(state.get("best_score")),
            }
        elif name == "ModelCheckpoint":
            training["model_checkpoint"] = {
                "monitor": state.get("monitor", settings.get("monitor")),
                "mode": settings.get("mode"),
                "best_model_score": _plain(state.get("best_model_score")),
                "best_model_path": state.get("best_model_path"),
            }
    return training


def _as_dict(value: Any) -> dict[str, Any]:
    """Hyper-parameters as a dict (Lightning 1.x saved an ``argparse.Namespace``)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    return dict(vars(value)) if hasattr(value, "__dict__") else {"value": value}


def plain_training(ckpt: dict[str, Any], weights_key: str) -> dict[str, Any]:
    """Training metadata of a hand-written ``{"model_state_dict": ..., "optimizer...": ...}``."""
    training: dict[str, Any] = {"weights_key": weights_key, "optimizers": [], "lr_schedulers": []}
    for key in ("epoch", "global_step", "step", "iteration", "best_acc", "loss"):
        if key in ckpt and not isinstance(ckpt[key], dict):
            training[key] = _plain(ckpt[key])
    for key in ("optimizer", "optimizer_state_dict", "optim", "opt"):
        if isinstance(ckpt.get(key), dict) and "param_groups" in ckpt[key]:
            training["optimizers"].append(optimizer_summary(ckpt[key]))
    for key in ("scheduler", "lr_scheduler", "scheduler_state_dict"):
        if isinstance(ckpt.get(key), dict):
            training["lr_schedulers"].append(scheduler_summary(ckpt[key]))
    for key in ("hyper_parameters", "hparams", "args", "config"):
        if ckpt.get(key) is not None:
            training["hyper_parameters"] = _plain(_as_dict(ckpt[key]))
    return training


def _callback_settings(key: str) -> dict[str, Any]:
    """Parse the ``{'monitor': 'val_loss', 'mode': 'min'}`` part of a Lightning callback key."""
    import ast

    if "{" not in key:
        return {}
    try:
        value = ast.literal_eval(key[key.index("{") :])
    except (ValueError, SyntaxError):
        return {}
    return value if isinstance(value, dict) else {}


def optimizer_summary(state: dict[str, Any]) -> dict[str, Any]:
    """Optimizer type (from its param-group keys) and lr / weight decay per param group."""
    groups = [g for g in state.get("param_groups") or [] if isinstance(g, dict)]
    summary_groups = []
    for g in groups:
        entry = {
            "lr": _plain(g.get("lr")),
            "weight_decay": _plain(g.get("weight_decay")),
            "params": len(g.get("params") or []),
        }
        for extra in ("momentum", "nesterov", "betas", "initial_lr"):
            if extra in g:
                entry[extra] = _plain(g[extra])
        summary_groups.append(entry)
    return {"type": optimizer_type(groups[0] if groups else {}), "param_groups": summary_groups}


def optimizer_type(group: dict[str, Any]) -> str | None:
    """Name of the torch optimizer whose ``param_groups`` entry looks like ``group``.

    Optimizer state dicts do not store the class; each torch optimizer has its own set of
    hyper-parameter keys, which identifies it.
    """
    keys = set(group)
    if not keys:
        return None
    if "momentum_decay" in keys:
        return "NAdam"
    if "betas" in keys:
        if "amsgrad" in keys:
            if "decoupled_weight_decay" in keys:
                return "AdamW" if group["decoupled_weight_decay"] else "Adam"
            return "Adam/AdamW"
        if "decoupled_weight_decay" in keys:
            return "RAdam"
        return "Adamax"
    if "history_size" in keys:
        return "LBFGS"
    if "etas" in keys:
        return "Rprop"
    if "lambd" in keys:
        return "ASGD"
    if "lr_decay" in keys:
        return "Adagrad"
    if "centered" in keys:
        return "RMSprop"
    if "rho" in keys:
        return "Adadelta"
    if "dampening" in keys or "nesterov" in keys:
        return "SGD"
    return None


_SCHEDULER_KEYS = (
    ("milestones", "MultiStepLR"),
    ("T_0", "CosineAnnealingWarmRestarts"),
    ("T_max", "CosineAnnealingLR"),
    ("total_steps", "OneCycleLR"),
    ("step_size_up", "CyclicLR"),
    ("cooldown", "ReduceLROnPlateau"),
    ("step_size", "StepLR"),
    ("lr_lambdas", "LambdaLR"),
    ("power", "PolynomialLR"),
    ("start_factor", "LinearLR"),
    ("factor", "ConstantLR"),
    ("_schedulers", "SequentialLR/ChainedScheduler"),
    ("gamma", "ExponentialLR"),
)


def scheduler_summary(state: dict[str, Any]) -> dict[str, Any]:
    """Scheduler type (from its state keys) and its main settings."""
    kind = next((name for key, name in _SCHEDULER_KEYS if key in state), None)
    keep = (
        "step_size",
        "gamma",
        "milestones",
        "T_max",
        "T_0",
        "eta_min",
        "max_lrs",
        "total_steps",
        "patience",
        "factor",
        "mode",
        "base_lrs",
        "last_epoch",
    )
    return {"type": kind, **{k: _plain(state[k]) for k in keep if k in state}}


def _plain(value: Any) -> Any:
    from advisor._jsonutil import to_jsonable

    return to_jsonable(value)
