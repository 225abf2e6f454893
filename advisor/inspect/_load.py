"""Read every checkpoint format safely into tensors, a module and training metadata.

Format by format (state_dict zip, legacy pickle, Lightning, safetensors, Hugging Face
directory, TorchScript); the safe ``torch.load`` is ``_safe_load``, lazy tensor access
``_tensor_source`` and the training metadata ``_training_meta``.

Loading never unpickles arbitrary objects unless the user says the file is their own
(``trust=True``): ``torch.load`` runs with ``weights_only=True`` and a small explicit allowlist
of harmless container types, zip archives are checked for absurd declared sizes before
reading, and safetensors files are read one tensor at a time through ``safe_open``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.errors import CheckpointError
from advisor.inspect._safe_load import check_zip, short, torch_load
from advisor.inspect._sniff import find_hf_weights, read_json_config, sniff_checkpoint
from advisor.inspect._tensor_source import TensorSource
from advisor.inspect._training_meta import lightning_training, plain_training

__all__ = ["Loaded", "TensorSource", "load_checkpoint"]


# Keys under which checkpoints written by hand keep the weights (issue: state_dict, model,
# model_state_dict; "module"/"net" are common in the wild).
_NESTED_KEYS = ("state_dict", "model_state_dict", "model", "module", "net")
# Wrapper prefixes that say nothing about the architecture: Lightning's attribute names,
# DistributedDataParallel's "module.", torch.compile's "_orig_mod.".
_STRIP_PREFIXES = ("model.", "module.", "_orig_mod.", "net.", "network.")


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
        loaded = _interpret(torch_load(p, trust=trust, zipped=fmt != "legacy-pickle"), p, fmt)
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
    except (TypeError, AttributeError, ValueError, KeyError, IndexError, RuntimeError) as exc:
        # RuntimeError: a tensor where a list was expected ("Boolean value of Tensor ...")
        return {"note": f"training metadata skipped: malformed ({short(exc)})"}


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
                f"{file}: corrupt safetensors file ({short(exc)}); re-export it."
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
            obj = torch_load(file, trust=trust, zipped=sniff_checkpoint(file) != "legacy-pickle")
            merged.update(_validate_state_dict(obj, file))
        source = TensorSource(merged)
    return Loaded(format="hf-dir", source=p, tensors=source, config=config)


def _load_torchscript(p: Path) -> Loaded:
    import torch

    check_zip(p)
    try:
        module = torch.jit.load(str(p), map_location="cpu")
    except Exception as exc:  # jit raises RuntimeError subclasses for bad archives
        raise CheckpointError(
            f"{p}: corrupt TorchScript archive ({short(exc)}); re-export it."
        ) from None
    return Loaded(format="torchscript", source=p, module=module)
