"""What each fact holds: its type, allowed values, range and meaning (``FACT_SPECS``).

The vocabulary rule conditions are checked against at load time, and the declared keys
every command accepts. ``modality`` and ``objective`` use the shared words of
``advisor._validation``; ``task`` is the old name of ``modality`` (an alias, so rules
written with it keep working).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from advisor._validation import MODALITIES, OBJECTIVES, did_you_mean
from advisor.catalogue import OPTIMIZERS as OPTIMIZER_TABLE
from advisor.curves import VERDICTS
from advisor.errors import ConfigError

__all__ = [
    "ALIASES",
    "ARCHS",
    "BUDGETS",
    "BUDGET_HOURS",
    "COMPLEXITY_THRESHOLDS",
    "DECLARED_KEYS",
    "FACT_SPECS",
    "NORMS",
    "OPTIMIZERS",
    "SIZE_THRESHOLDS",
    "TASKS",
    "VERDICTS",
    "FactSpec",
    "Origin",
]

Origin = Literal["measured", "declared", "derived", "default"]

TASKS = MODALITIES  # the old name of the modalities
# Old fact names that still read as the new ones, so existing user rules keep working.
ALIASES = {"task": "modality"}
ARCHS = ("mlp", "cnn", "resnet", "rnn", "transformer")
BUDGETS = ("low", "medium", "high")
CLASSES3 = ("low", "medium", "high")
SIZES = ("small", "medium", "large")
NORMS = ("batch", "layer", "group", "none")
OPTIMIZERS = tuple(OPTIMIZER_TABLE)


@dataclass(frozen=True)
class FactSpec:
    """What one fact holds: its type, allowed values and meaning.

    ``kind`` is ``"enum"``, ``"int"``, ``"float"`` or ``"bool"``; ``base`` facts are
    measured or declared, the others are derived from them.
    """

    name: str
    kind: str
    description: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    base: bool = True
    # Largest physically sensible value (declared facts outside [minimum, maximum] are errors).
    maximum: float | None = None

    def coerce(self, value: Any, *, where: str) -> Any:
        """Return ``value`` converted to this fact's type, or raise ``ConfigError``."""
        if value is None:
            return None
        if self.kind == "enum":
            text = str(value).strip().lower().replace("-", "_")
            if text not in self.choices:
                hint = did_you_mean(text, self.choices, parens=True)
                raise ConfigError(
                    f"{where}: {self.name} must be one of {', '.join(self.choices)}, got {value!r}{hint}."
                )
            return text
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in {
                "true",
                "yes",
                "1",
                "false",
                "no",
                "0",
            }:
                return value.strip().lower() in {"true", "yes", "1"}
            raise ConfigError(f"{where}: {self.name} must be true or false, got {value!r}.")
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: {self.name} must be a number, got {value!r}.") from None
        if not math.isfinite(number):
            raise ConfigError(f"{where}: {self.name} must be a finite number, got {value!r}.")
        if self.kind == "int":
            if number != int(number):
                raise ConfigError(f"{where}: {self.name} must be a whole number, got {value!r}.")
            number = int(number)
        low, high = self.minimum, self.maximum
        if (low is not None and number < low) or (high is not None and number > high):
            raise ConfigError(
                f"{where}: {self.name} ({self.description}) must be {self.allowed()}, got {value!r}."
            )
        return number

    def allowed(self) -> str:
        """The allowed range in words: ``between 1 and 1e+13`` or ``>= 0``."""

        def show(bound: float) -> str:
            if self.kind == "int" or float(bound).is_integer():
                return f"{int(bound):,}" if abs(bound) < 1e7 else f"{bound:g}"
            return f"{bound:g}"

        if self.minimum is not None and self.maximum is not None:
            return f"between {show(self.minimum)} and {show(self.maximum)}"
        if self.minimum is not None:
            return f">= {show(self.minimum)}"
        return f"<= {show(self.maximum)}"


def _specs(*items: FactSpec) -> dict[str, FactSpec]:
    return {s.name: s for s in items}


FACT_SPECS: dict[str, FactSpec] = _specs(
    # measured from the learning curves (or declared with --fit)
    FactSpec("fit", "enum", "fit verdict of the learning curves", VERDICTS),
    FactSpec(
        "fit_severity",
        "enum",
        "severity of an overfitting verdict: mild (small rise or large gap) or strong",
        ("mild", "strong"),
    ),
    FactSpec("fit_confidence", "float", "confidence of the fit verdict, 0-1", minimum=0),
    FactSpec(
        "gap",
        "float",
        "relative generalisation gap at the end: (validation - train) / train; 1.0 = twice as bad",
    ),
    FactSpec("epochs", "int", "number of epochs logged", minimum=0),
    FactSpec("best_epoch", "float", "epoch with the best validation value"),
    FactSpec(
        "onset_epoch", "float", "epoch where validation starts to get worse while train improves"
    ),
    FactSpec("noise", "float", "relative epoch-to-epoch noise of the validation curve", minimum=0),
    # measured from the checkpoint (or declared)
    FactSpec("params", "float", "number of trainable parameters", minimum=1, maximum=1e13),
    FactSpec(
        "depth",
        "int",
        "number of weight layers (conv/linear/recurrent/attention)",
        minimum=1,
        maximum=100_000,
    ),
    FactSpec("arch", "enum", "architecture family", ARCHS),
    FactSpec("has_dropout", "bool", "the model already has dropout"),
    FactSpec(
        "dropout_rate", "float", "largest dropout rate already in the model", minimum=0, maximum=1
    ),
    FactSpec("has_batchnorm", "bool", "the model already has batch normalisation"),
    FactSpec("has_norm", "bool", "the model has any normalisation layer (batch, layer, group ...)"),
    FactSpec("has_residual", "bool", "the model has residual (skip) connections"),
    FactSpec("weight_decay", "float", "weight decay already used by the optimizer", minimum=0),
    FactSpec(
        "label_smoothing",
        "float",
        "label smoothing already in the loss",
        minimum=0,
        maximum=1,
    ),
    FactSpec("norm", "enum", "normalisation layers the model uses", NORMS),
    FactSpec("optimizer", "enum", "optimizer in effect (how weight decay is applied)", OPTIMIZERS),
    FactSpec("lr", "float", "learning rate in effect", minimum=1e-9, maximum=10),
    FactSpec("early_stopping", "bool", "training already stops early on a validation metric"),
    FactSpec("pretrained", "bool", "the model starts from pretrained weights (fine-tuning)"),
    FactSpec(
        "channels",
        "int",
        "input channels of the first layer (3 = colour images)",
        minimum=1,
        maximum=100_000,
    ),
    # declared by the user
    FactSpec("modality", "enum", "kind of input data", MODALITIES),
    FactSpec("objective", "enum", "what the model predicts", OBJECTIVES),
    FactSpec(
        "task", "enum", "old name of modality (kept so existing rules work)", MODALITIES, base=False
    ),
    FactSpec("samples", "int", "number of training examples", minimum=2, maximum=1e12),
    FactSpec(
        "classes",
        "int",
        "number of classes (classification); 1 for regression",
        minimum=1,
        maximum=1_000_000,
    ),
    FactSpec("budget", "enum", "compute budget", BUDGETS),
    FactSpec(
        "gpu_hours",
        "float",
        "GPU hours available for training and tuning",
        minimum=0,
        maximum=1e9,
    ),
    FactSpec("batch_size", "int", "training batch size", minimum=1, maximum=10_000_000),
    FactSpec(
        "no_flip", "bool", "orientation carries the label: mirrored inputs change their class"
    ),
    FactSpec(
        "sparsity", "bool", "sparse weights are wanted (feature selection): an L1-type penalty"
    ),
    # derived
    FactSpec("params_per_sample", "float", "parameters per training example", base=False),
    FactSpec("samples_per_class", "float", "training examples per class", base=False),
    FactSpec("size_class", "enum", "dataset size class (see SIZE_THRESHOLDS)", SIZES, base=False),
    FactSpec(
        "complexity_class",
        "enum",
        "model complexity class (see COMPLEXITY_THRESHOLDS)",
        CLASSES3,
        base=False,
    ),
    FactSpec(
        "onset_fraction",
        "float",
        "overfitting onset as a fraction of the epochs logged",
        base=False,
    ),
    FactSpec(
        "classification",
        "bool",
        "the objective is classification (or classes >= 2 when no objective is declared)",
        base=False,
    ),
    FactSpec(
        "sequence",
        "bool",
        "sequence data (text, time series) or a recurrent/attention model on it",
        base=False,
    ),
    FactSpec(
        "has_regularization", "bool", "the model already has dropout or weight decay", base=False
    ),
)

# Keys accepted in ``declared`` (CLI flags and [tool.advisor]); dashes are accepted too.
# ``task`` is the deprecated name of ``modality`` (or of the objective, as tune used it).
DECLARED_KEYS: tuple[str, ...] = (
    "modality",
    "objective",
    "task",
    "samples",
    "classes",
    "params",
    "depth",
    "arch",
    "fit",
    "pretrained",
    "budget",
    "gpu_hours",
    "batch_size",
    "no_flip",
    "has_dropout",
    "dropout_rate",
    "has_batchnorm",
    "weight_decay",
    "early_stopping",
    "channels",
    "has_residual",
    "norm",
    "label_smoothing",
    "optimizer",
    "lr",
    "sparsity",
)

# samples < 10,000 is small (a few hundred examples per class at most for typical class
# counts); >= 100,000 is large (ImageNet-scale subsets and up).
SIZE_THRESHOLDS = {"small": 10_000, "large": 100_000}
# A model is "high" complexity from 10M parameters or 20 weight layers, "low" under 100k
# parameters and 5 layers; the higher of the two classes wins.
COMPLEXITY_THRESHOLDS = {"params": (1e5, 1e7), "depth": (5, 20)}
# gpu_hours -> budget when no budget is declared: < 2 h low, < 24 h medium, else high.
BUDGET_HOURS = (2.0, 24.0)
