"""``torch.load`` without running code from the file: the weights-only unpickler, a small
allowlist of harmless containers, zip-bomb checks, and the name of the first unsafe class a
raw pickle would import (found by reading opcodes, never by executing them).

Loading never unpickles arbitrary objects unless the user says the file is their own
(``trust=True``).
"""

from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

from advisor.errors import CheckpointError, UnsafeCheckpointError

__all__ = ["check_zip", "short", "torch_load"]

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


def check_zip(p: Path) -> None:
    """Refuse a truncated or corrupt zip archive in one line before torch reads it."""
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise CheckpointError(
            f"{p}: truncated or corrupt zip archive ({short(exc)}); re-save or re-download it."
        ) from None
    size = p.stat().st_size
    declared = sum(info.file_size for info in infos)
    if declared > 2 * size + _ZIP_SLACK_BYTES:
        raise CheckpointError(
            f"{p}: zip directory declares {declared} bytes of content in a {size}-byte archive "
            "(a zip bomb or a corrupt directory); refusing to read it."
        )


def torch_load(p: Path, *, trust: bool, zipped: bool) -> Any:
    """``torch.load`` with ``weights_only=True`` unless ``trust``; failures become one-line
    ``CheckpointError``.
    """
    import torch

    if zipped:
        check_zip(p)
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
                f"{p}: cannot be loaded even with trust ({short(exc)})."
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
                f"{p}: not a readable torch checkpoint ({short(_weights_only_reason(exc))}); "
                "re-save it with torch.save(model.state_dict(), path)."
            ) from None
        except Exception as exc:  # a garbled pickle raises anything (IndexError ...)
            raise CheckpointError(
                f"{p}: truncated or corrupt checkpoint ({short(exc) or type(exc).__name__}); "
                "re-save or re-download it."
            ) from None


def short(exc: BaseException) -> str:
    """An exception's message on one line, cut to 160 characters."""
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
