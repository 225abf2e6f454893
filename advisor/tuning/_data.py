"""Training data for the tuner: arrays, tensors or a torch ``Dataset`` turned into two tensors.

The tuner trains every fold from one in-memory ``(X, y)`` pair so that fold index sets can be
gathered on the device in one go (which is what makes vectorised folds cheap). Files given on
the command line are read here too: ``.npz`` (arrays ``X`` and ``y``), ``.pt`` (a dict of
tensors, always loaded with ``weights_only=True``), ``.csv`` and ``.parquet`` (tabular, one
target column).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor.errors import DataError

__all__ = ["TuneData", "as_tensors", "load_data_file"]

DATA_SUFFIXES = (".npz", ".pt", ".pth", ".csv", ".parquet")


@dataclass
class TuneData:
    """Features, targets and optional groups, all on the CPU until training moves them."""

    X: Any  # torch.Tensor, float32 (or the integer dtype of token ids)
    y: Any  # torch.Tensor: int64 class ids for classification, float32 otherwise
    groups: Any = None  # numpy array, one group label per sample, or None

    def __len__(self) -> int:
        return int(self.X.shape[0])


def _to_tensor(value: Any, name: str):
    import numpy as np
    import torch

    _INT_DTYPES = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)

    if isinstance(value, torch.Tensor):
        if value.is_complex() or not (value.is_floating_point() or value.dtype in _INT_DTYPES):
            raise DataError(f"{name} has dtype {value.dtype}; pass real numbers (float or int).")
        return value.detach().cpu()
    try:
        array = np.asarray(value)
    except Exception as exc:  # pragma: no cover - exotic array-likes
        raise DataError(
            f"{name} of type {type(value).__name__} is not array-like; pass a numpy array or a tensor."
        ) from exc
    if array.dtype == object:
        raise DataError(f"{name} holds Python objects (dtype=object); pass numeric arrays.")
    if array.dtype.kind not in "biuf":
        raise DataError(
            f"{name} has dtype {array.dtype} (not real numbers); encode text or complex values as "
            "float or int arrays before tuning."
        )
    try:
        return torch.as_tensor(array)
    except (TypeError, RuntimeError) as exc:  # e.g. uint32 on older torch
        raise DataError(
            f"{name} with dtype {array.dtype} cannot become a tensor ({exc})."
        ) from None


def as_tensors(data: Any, *, task: str, groups: Any = None) -> TuneData:
    """Turn ``(X, y)`` arrays/tensors or a map-style ``Dataset`` of ``(x, y)`` into a ``TuneData``.

    Args:
        data: ``(X, y)`` (numpy arrays or tensors), or a ``torch.utils.data.Dataset`` whose items
            are ``(x, y)`` pairs.
        task: ``"classification"`` casts ``y`` to int64 class ids; other tasks to float32.
        groups: optional group label per sample (for ``GroupKFold``).

    Returns:
        A ``TuneData`` with float32 features (integer features are kept, e.g. token ids).

    Example:
        >>> import numpy as np
        >>> d = as_tensors((np.zeros((4, 2)), np.array([0, 1, 0, 1])), task="classification")
        >>> d.X.shape, d.y.dtype
        (torch.Size([4, 2]), torch.int64)
    """
    import numpy as np
    import torch

    if isinstance(data, TuneData):
        X, y, groups = data.X, data.y, data.groups if groups is None else groups
    elif isinstance(data, tuple | list) and len(data) == 2:
        X, y = _to_tensor(data[0], "X"), _to_tensor(data[1], "y")
    elif isinstance(data, torch.utils.data.Dataset) and hasattr(data, "__len__"):
        if len(data) == 0:
            raise DataError(
                "the Dataset given to tune is empty; pass at least one sample per fold."
            )
        xs, ys = zip(*(data[i] for i in range(len(data))), strict=True)
        X = torch.stack([_to_tensor(x, "X") for x in xs])
        y = torch.stack([_to_tensor(t, "y").reshape(-1) for t in ys]).squeeze(-1)
    else:
        raise DataError(
            f"data of type {type(data).__name__} is not supported; pass (X, y) arrays/tensors or a "
            "map-style torch Dataset of (x, y) pairs."
        )
    if X.ndim == 0 or y.ndim == 0:
        raise DataError("X and y must have a sample dimension; got a scalar.")
    if X.shape[0] != y.shape[0]:
        raise DataError(f"X has {X.shape[0]} samples but y has {y.shape[0]}; they must match.")
    if X.shape[0] < 4:
        raise DataError(f"data has {X.shape[0]} samples; cross-validation needs at least 4.")
    X = X.float() if X.is_floating_point() or X.dtype == torch.bool else X
    if task == "classification":
        if y.is_floating_point() and not torch.equal(y, y.round()):
            raise DataError(
                "classification targets must be integer class ids; got fractional values (use task='regression')."
            )
        if y.numel() != X.shape[0]:
            raise DataError(
                f"classification targets must be one class id per sample; y has shape "
                f"{tuple(y.shape)} for {X.shape[0]} samples."
            )
        y = y.long().reshape(-1)
        if int(y.min()) < 0:
            raise DataError(f"classification targets must be class ids >= 0; got {int(y.min())}.")
    else:
        y = y.float()
    if not torch.isfinite(X.float()).all() or not torch.isfinite(y.float()).all():
        raise DataError("data holds NaN or inf values; clean or impute them before tuning.")
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape[0] != X.shape[0]:
            raise DataError(
                f"groups has {groups.shape[0]} labels but the data has {X.shape[0]} samples."
            )
    return TuneData(X=X, y=y, groups=groups)


def load_data_file(path: str | Path, *, target: str | None = None, trust: bool = False):
    """Read a data file for ``advisor tune``: returns ``(X, y)`` as numpy arrays or tensors.

    Args:
        path: ``.npz`` with arrays ``X`` and ``y``; ``.pt``/``.pth`` with a dict holding tensors
            ``X`` and ``y`` (read with ``weights_only=True`` unless ``trust``); ``.csv`` or
            ``.parquet`` with one target column named by ``target``.
        target: target column of a tabular file.
        trust: allow full unpickling of a ``.pt`` file (only for files you made yourself).

    Example:
        >>> X, y = load_data_file("digits.npz")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: no such data file; pass an existing .npz, .pt, .csv or .parquet file."
        )
    suffix = path.suffix.lower()
    if suffix == ".npz":
        import numpy as np

        try:
            with np.load(path, allow_pickle=False) as archive:
                if not hasattr(archive, "files"):  # a bare .npy saved under .npz
                    raise DataError(
                        f"{path}: holds one array, not X and y; save with np.savez(path, X=X, y=y)."
                    )
                missing = [k for k in ("X", "y") if k not in archive.files]
                if missing:
                    raise DataError(
                        f"{path}: arrays {missing} are missing (found {archive.files}); save with np.savez(path, X=X, y=y)."
                    )
                return archive["X"], archive["y"]
        except DataError:
            raise
        except Exception as exc:  # numpy raises many types for a bad archive
            text = " ".join(str(exc).split())[:160]
            raise DataError(
                f"{path}: not a readable .npz archive ({type(exc).__name__}: {text}); "
                "save with np.savez(path, X=X, y=y) (object arrays are refused)."
            ) from None
    if suffix in (".pt", ".pth"):
        import pickle

        import torch

        try:
            obj = torch.load(path, map_location="cpu", weights_only=not trust)
        except pickle.UnpicklingError as exc:
            raise DataError(
                f"{path}: holds Python objects beyond tensors; save a dict of tensors or pass --trust if you made the file."
            ) from exc
        except Exception as exc:
            raise DataError(
                f"{path}: not a readable torch file ({type(exc).__name__}); save with torch.save({{'X': X, 'y': y}}, path)."
            ) from exc
        if not isinstance(obj, dict) or "X" not in obj or "y" not in obj:
            raise DataError(
                f"{path}: expected a dict with tensors 'X' and 'y'; save with torch.save({{'X': X, 'y': y}}, path)."
            )
        return obj["X"], obj["y"]
    if suffix in (".csv", ".parquet"):
        import pandas as pd

        if target is None:
            raise DataError(f"{path}: a tabular file needs the target column; pass --target COL.")
        try:
            frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
        except Exception as exc:
            text = " ".join(str(exc).split())[:160]
            raise DataError(
                f"{path}: cannot be read as {suffix[1:]} ({type(exc).__name__}: {text})."
            ) from exc
        if target not in frame.columns:
            raise DataError(
                f"{path}: no column {target!r}; columns are {list(frame.columns)[:20]}."
            )
        features = frame.drop(columns=[target])
        non_numeric = [
            c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])
        ]
        if non_numeric:
            raise DataError(
                f"{path}: columns {non_numeric[:5]} are not numeric; encode them before tuning."
            )
        return features.to_numpy(dtype="float32"), frame[target].to_numpy()
    raise DataError(
        f"{path}: unsupported data file type {suffix!r}; use one of {', '.join(DATA_SUFFIXES)}."
    )
