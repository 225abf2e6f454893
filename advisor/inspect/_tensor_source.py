"""Lazy access to a checkpoint's tensors: names, shapes and dtypes first, data on demand.

A dict of (possibly memory-mapped) tensors, or safetensors files read one tensor at a time
through ``safe_open``, so model facts need only shapes and the spectral pass holds one tensor
at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["TensorSource"]


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
        """The tensor names, in the checkpoint's order."""
        return list(self._meta)

    def shape(self, name: str) -> tuple[int, ...]:
        """The shape of tensor ``name`` (known without reading its data)."""
        return self._meta[name][0]

    def dtype(self, name: str) -> str:
        """The dtype of tensor ``name`` without the ``torch.`` prefix (``"float32"``)."""
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
