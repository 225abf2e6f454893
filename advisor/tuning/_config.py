"""The built-in training loop's settings (``TrainConfig``) and device/precision choices."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from advisor._validation import check_choice, check_number
from advisor.errors import ConfigError

__all__ = ["FOLDS_MODES", "OPTIMIZERS", "TrainConfig", "resolve_device"]

OPTIMIZERS = ("adamw", "adam", "sgd")
FOLDS_MODES = ("auto", "vectorized", "sequential")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How every fold of every trial is trained.

    Attributes:
        optimizer: ``adamw`` (decoupled weight decay, the default: it is what ``l2`` in a stack
            means), ``adam`` (L2 added to the gradient) or ``sgd`` (momentum 0.9).
        lr: learning rate; 1e-3 is Adam's well-tested default.
        batch_size: samples per step; 64 keeps small data sets at a few dozen steps an epoch.
        max_epochs: cap on epochs per fold; early stopping in the stack usually ends sooner.
        amp: mixed precision: ``"auto"`` uses bfloat16 autocast on CUDA devices that support
            it and nothing on CPU (where it would only slow training down); ``True``/``False``
            force it on/off (on needs CUDA).
        folds_mode: ``auto`` picks vectorised folds when they are faster and supported, else
            sequential; ``vectorized``/``sequential`` force one.
        train_step: optional hook ``train_step(model, x, y, loss_fn) -> loss`` (a scalar tensor)
            for models that need their own forward/loss; the loop still does backward, the
            optimizer step and the regularizers' post-step. Forces sequential folds.
        eval_batch_size: samples per evaluation chunk.

    Example:
        >>> cfg = TrainConfig(lr=3e-3, max_epochs=20)
    """

    optimizer: str = "adamw"
    lr: float = 1e-3
    batch_size: int = 64
    max_epochs: int = 30
    amp: bool | str = "auto"
    folds_mode: str = "auto"
    train_step: Callable[..., Any] | None = None
    eval_batch_size: int = 2048

    def __post_init__(self) -> None:
        check_choice("optimizer", self.optimizer, OPTIMIZERS, of="TrainConfig")
        check_number("lr", self.lr, of="TrainConfig", low=0, low_open=True)
        for name in ("batch_size", "max_epochs", "eval_batch_size"):
            value = check_number(name, getattr(self, name), of="TrainConfig", low=1, integer=True)
            object.__setattr__(self, name, value)  # 64.0 from a JSON file becomes 64
        if self.amp not in ("auto", True, False):
            raise ConfigError(
                f"amp of TrainConfig must be 'auto', true or false, got {self.amp!r}."
            )
        check_choice("folds_mode", self.folds_mode, FOLDS_MODES, of="TrainConfig")
        if self.train_step is not None and not callable(self.train_step):
            raise ConfigError(
                f"train_step of TrainConfig must be callable, got {type(self.train_step).__name__}."
            )

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-ready dict; ``train_step`` becomes its qualified name (or None)."""
        d = asdict(self)
        d["train_step"] = (
            getattr(self.train_step, "__qualname__", None) if self.train_step else None
        )
        return d


def resolve_device(device: str | Any) -> Any:
    """``"auto"`` -> ``cuda`` when available, else ``cpu``; anything else is checked and returned."""
    import torch

    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device must be auto, cpu or cuda[:N], got {device!r}.") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "device 'cuda' was requested but no CUDA GPU is available; pass --device cpu or auto."
        )
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda[:N], got {device!r}.")
    return dev


def amp_dtype(config: TrainConfig, device: Any):
    """The autocast dtype to use, or None for full precision."""
    import torch

    if config.amp is False:
        return None
    if device.type != "cuda":
        if config.amp is True:
            raise ConfigError(
                "amp=True needs a CUDA device; on CPU it only slows training down (use amp='auto')."
            )
        return None
    # bfloat16 needs no loss scaling; older GPUs without it train in full precision instead.
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
