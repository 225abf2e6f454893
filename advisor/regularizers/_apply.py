"""Turn a :class:`Stack` into what a training loop needs, in one call.

``apply(model, stack)`` returns an :class:`Applied` with the modified model (a deep copy by
default), optimizer parameter groups (decoupled weight decay), the loss (label smoothing, soft
targets for mixup/cutmix), the batch transform (augmentation, mixup, cutmix), the
early-stopping controller, the penalty term (coupled L2/L1), the post-step hook (L1 proximal
step, EMA update), the objects of extension techniques (``_extensions``: a weight average
folded in per epoch, ...) and the model to evaluate (an average of the weights when the stack
has one).
Given the engine's plan (``Recommendations``, or a saved ``advisor recommend --format json``),
it applies the plan's stage 1, as the plan says to start; ``stages=`` chooses others. A stack
(``Stack``, ``recs.to_stack()``, a tuned ``best_stack``) is applied whole.
A plain loop changes in three lines::

    applied = advisor.apply(model, stack)                           # 1
    model, loss_fn = applied.model, applied.loss_fn
    opt = torch.optim.AdamW(applied.param_groups, lr=1e-3)
    for x, y in loader:
        x, y = applied.batch_transform(x, y)                        # 2
        loss = loss_fn(model(x), y) + applied.penalty(model)        # 3
        opt.zero_grad(); loss.backward(); opt.step(); applied.post_step(model)
    applied.epoch_end(model, opt)   # once per epoch: drives the extension techniques

Nothing in the per-step path reads a device value back to the host.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.fx
from torch import nn

from advisor.catalogue import TECHNIQUES
from advisor.errors import ConfigError
from advisor.regularizers._augment import BatchAugment
from advisor.regularizers._averaging import ExponentialMovingAverage
from advisor.regularizers._batch_transform import BatchTransform
from advisor.regularizers._early_stopping import EarlyStopping
from advisor.regularizers._extensions import BuildContext, extensions_in
from advisor.regularizers._parts import LossSpec, Penalty, PostStep, ProximalStep
from advisor.regularizers._penalties import decayed_names, param_groups, sparsity
from advisor.regularizers._stack import Stack
from advisor.regularizers._stochastic_depth import add_stochastic_depth
from advisor.regularizers._surgery import insert_batch_norm, insert_dropout, set_dropout

__all__ = ["Applied", "BatchTransform", "apply"]

TASKS = ("classification", "regression")
SMALL_BATCH = 16  # below this, batch statistics are too noisy for BatchNorm (Wu & He 2018)


@dataclass
class Applied:
    """Everything a training loop needs for a stack (see :func:`apply`).

    The callables are typed parts whose fields say what they do, so another loop can
    re-express them (the tuner does, over stacked folds) without probing them.

    Attributes:
        model: The regularised model (a deep copy of the input unless ``inplace=True``).
        param_groups: Optimizer-ready groups (decoupled weight decay on weights only).
        loss_fn: ``(output, target) -> loss``; accepts hard and soft targets for classification.
        batch_transform: ``(x, y) -> (x, y)``; identity when the stack has no augmentation/mixing.
        early_stopping: An :class:`EarlyStopping` or None.
        penalty: A :class:`Penalty`: ``model -> scalar tensor`` (coupled L2 / L1 terms over
            ``penalty.names``; zero when none, ``penalty.is_zero``).
        post_step: A :class:`PostStep`: ``model -> None`` run after ``optimizer.step()`` (the
            ``proximal`` L1 step, then the ``ema`` update; ``post_step.is_identity`` when none).
        stack: The stack applied (defaults filled in).
        notes: What was changed and caveats, in words.
        penalized: Names of the parameters weight penalties apply to.
        ema: The :class:`ExponentialMovingAverage` of the weights (stack piece ``ema``) or None.
        weight_decay: The decoupled weight decay on ``penalized`` (in ``param_groups``).
        proximal: The L1 :class:`ProximalStep` (also inside ``post_step``) or None.
        loss: The :class:`LossSpec` ``loss_fn`` was built from.
        extensions: ``{technique: object}`` for the stack's extension techniques (see
            ``advisor.regularizers._extensions``), in the stack's order; each is also an
            attribute named after its technique. :meth:`epoch_end` drives them.
    """

    model: nn.Module
    param_groups: list[dict]
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    batch_transform: BatchTransform
    early_stopping: EarlyStopping | None
    penalty: Penalty
    post_step: PostStep
    stack: Stack = field(default_factory=Stack)
    notes: list[str] = field(default_factory=list)
    penalized: list[str] = field(default_factory=list)
    ema: ExponentialMovingAverage | None = None
    weight_decay: float = 0.0
    proximal: ProximalStep | None = None
    loss: LossSpec = field(default_factory=LossSpec)
    extensions: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        # applied.<technique> for an extension technique the stack does or does not hold.
        extensions = self.__dict__.get("extensions")
        if extensions is None or name.startswith("_"):
            raise AttributeError(name)
        if name in extensions:
            return extensions[name]
        if name in TECHNIQUES and TECHNIQUES[name].impl:
            return None
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def eval_model(self) -> nn.Module:
        """The model to validate, test and save: an extension's average once it holds one
        (``eval_module``), else the weights' EMA when the stack has ``ema``, else the model."""
        for extension in self.extensions.values():
            if (module := extension.eval_module) is not None:
                return module
        return self.ema.module if self.ema is not None else self.model

    def epoch_end(self, model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Call once per epoch after its last step (a no-op unless the stack has an extension
        technique that works per epoch)."""
        for extension in self.extensions.values():
            extension.epoch_end(model, optimizer)

    def to(self, device: torch.device | str) -> Applied:
        """Move the model and every weight average to ``device``."""
        self.model.to(device)
        if self.ema is not None:
            self.ema.module.to(device)
        for extension in self.extensions.values():
            extension.to(device)
        return self

    def sparsity(self) -> float:
        """Fraction of exact zeros among the penalised weights (reads the device; not per step)."""
        return sparsity(self.model, self.penalized)

    def optimizer(
        self, cls: type[torch.optim.Optimizer] | None = None, **kwargs: Any
    ) -> torch.optim.Optimizer:
        """Build an optimizer over ``param_groups`` (AdamW by default: decoupled weight decay)."""
        cls = cls or torch.optim.AdamW
        return cls(self.param_groups, **kwargs)

    def __str__(self) -> str:
        return "\n".join([f"{self.stack}", *(f"  - {n}" for n in self.notes)])


def _infer_classes(model: nn.Module) -> int | None:
    last = None
    for m in model.modules():
        if isinstance(m, nn.Linear):
            last = m
    return last.out_features if last is not None else None


def _read_stack(stack: Any) -> tuple[Stack, bool]:
    """The stack, and whether it came as the engine's plan rather than as a stack.

    The plan is ``Recommendations`` or the JSON document of ``advisor recommend`` /
    ``advisor diagnose --format json`` (a dict, or a path to the file). A stack in any form
    (``Stack``, a ``{"version": 1, "pieces": [...]}`` dict or file such as ``recs.to_stack()``,
    ``TuneResult.best_stack`` or ``advisor tune --save-stack``) is what someone chose.
    """
    if isinstance(stack, str | os.PathLike):
        path = Path(stack)
        if not path.is_file():
            raise ConfigError(
                f"{path}: no such stack file; write one with `advisor recommend --format json > {path.name}`."
            )
        try:
            stack = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ConfigError(f"{path}: not a stack JSON file ({err}).") from None
    if isinstance(stack, Mapping):
        is_plan = "pieces" not in stack
    else:
        is_plan = hasattr(stack, "to_stack") and not isinstance(stack, Stack)
    return Stack.from_dict(stack), is_plan


def _choose_stages(stack: Stack, stages: Any, *, is_plan: bool) -> tuple[Stack, list[str]]:
    """The pieces of the chosen stages, and a note on what was left for later.

    ``stages=None`` applies stage 1 of an engine plan and a stack whole (a stack built, saved
    or tuned is what someone chose); ``"all"`` applies every piece; an int or a list of ints
    those stages. Pieces without a stage (added by hand) are always applied.
    """
    present = stack.stages
    if stages is None:
        if not (is_plan and present):
            return stack, []
        chosen = [1]
    elif stages == "all":
        return stack, []
    else:
        chosen = [stages] if isinstance(stages, int) and not isinstance(stages, bool) else stages
        if (
            isinstance(chosen, str | bytes | Mapping)
            or not isinstance(chosen, list | tuple | set | frozenset)
            or not chosen
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in chosen)
        ):
            raise ConfigError(
                f"stages of apply() must be 'all', an int >= 1 or a list of them, got {stages!r}."
            )
        if not present:
            raise ConfigError(
                f"stages={stages!r} chooses among the stages of an engine plan, but no piece of "
                "this stack has a stage; leave stages= out to apply the stack as it is."
            )
        if not set(chosen) & set(present):
            raise ConfigError(
                f"stages={stages!r} selects no piece: the plan's stages are "
                f"{', '.join(map(str, present))}."
            )
    kept = stack.at_stages(chosen)
    left = [p for p in stack if p.stage is not None and p.stage not in set(chosen)]
    if not left:
        return kept, []
    names = ", ".join(str(n) for n in sorted(set(chosen)))
    later = ", ".join(f"{p.technique} (stage {p.stage})" for p in left)
    return kept, [
        f"applied stage {names} of the plan ({', '.join(kept.techniques) or 'no regularizer'}); "
        f"left for later: {later}; apply(..., stages='all') or a list of stages adds them"
    ]


def apply(
    model: nn.Module,
    stack: Stack | Mapping[str, Any] | Any,
    *,
    stages: int | list[int] | str | None = None,
    task: str = "classification",
    lr: float | None = None,
    num_classes: int | None = None,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
    inplace: bool = False,
    epochs: int | None = None,
) -> Applied:
    """Apply a regularizer stack to a model.

    Args:
        model: The user's model; deep-copied unless ``inplace=True`` (surgery that traces the
            model with torch.fx returns a ``GraphModule`` with the same parameter names).
        stack: The engine's plan (``Recommendations``, or the JSON of ``advisor recommend`` /
            ``advisor diagnose --format json`` as a dict or a file path) or a stack: a
            :class:`Stack`, its dict or JSON file (``recs.to_stack()``,
            ``TuneResult.best_stack``, ``advisor tune --save-stack``).
        stages: Which of the plan's stages to apply: None (default) applies stage 1 of a plan
            (the plan says to start there) and a stack whole (someone chose it); ``"all"``
            every piece; an int or a list of ints those stages. Pieces without a stage are
            always applied.
        task: ``"classification"`` (cross-entropy) or ``"regression"`` (MSE).
        lr: A fixed learning rate for the L1 proximal step (threshold ``lr * strength``).
            Without it the step reads the learning rate of the optimizer built over
            ``param_groups`` at each step (so it follows an LR schedule).
        num_classes: Classes for mixup/cutmix one-hot targets (default: the last Linear's size).
        batch_size: Used for the BatchNorm small-batch caveat.
        generator: CPU ``torch.Generator`` for reproducible augmentation and mixing.
        inplace: Modify ``model`` itself.
        epochs: Epochs the run trains; needed by techniques that act on a fraction of the
            run (a weight average that starts late).

    Returns:
        An :class:`Applied`.

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
        >>> applied = apply(net, Stack.of("l2", "dropout", "label_smoothing"))
        >>> opt = torch.optim.AdamW(applied.param_groups, lr=1e-3)
        >>> import advisor
        >>> plan = advisor.recommend(modality="tabular", samples=300, classes=3, fit="overfitting")
        >>> applied = apply(net, plan)  # stage 1 of the plan
        >>> all(p.stage == 1 for p in applied.stack)
        True
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(f"apply() needs a torch.nn.Module, got {type(model).__name__}.")
    if task not in TASKS:
        raise ConfigError(
            f"task of apply() must be 'classification' or 'regression', got {task!r}."
        )
    stack, is_plan = _read_stack(stack)
    stack, notes = _choose_stages(stack, stages, is_plan=is_plan)
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0):
        raise ConfigError(f"lr of apply() must be a number > 0, got {lr!r}.")
    was_graph_module = isinstance(model, torch.fx.GraphModule)
    model = model if inplace else copy.deepcopy(model)

    if (piece := stack.get("batch_norm")) is not None:
        model, where = insert_batch_norm(
            model, momentum=piece.params["momentum"], linear=piece.params["linear"], inplace=True
        )
        notes.append(
            f"batch_norm inserted {', '.join(where) or 'nowhere (every layer is normalised)'}"
        )
        if batch_size is not None and batch_size < SMALL_BATCH:
            notes.append(
                f"batch_norm caveat: batch size {batch_size} < {SMALL_BATCH} makes batch statistics noisy; "
                "prefer GroupNorm/LayerNorm or larger batches"
            )
        else:
            notes.append(
                f"batch_norm caveat: needs batches of >= {SMALL_BATCH} samples and model.eval() at test time"
            )

    if (piece := stack.get("dropout")) is not None:
        p, where_mode = piece.params["p"], piece.params["where"]
        existing = sum(
            isinstance(m, nn.Dropout | nn.Dropout1d | nn.Dropout2d | nn.Dropout3d)
            for m in model.modules()
        )
        if where_mode == "existing" or (where_mode == "auto" and existing):
            if not existing:
                raise ConfigError(
                    "dropout with where='existing' found no nn.Dropout module in the model; use where='insert' or 'auto'."
                )
            set_dropout(model, p)
            notes.append(f"dropout rate set to {p:g} on {existing} existing Dropout modules")
        else:
            model, where = insert_dropout(
                model, p=p, spatial_p=piece.params["spatial_p"], inplace=True
            )
            notes.append(
                f"dropout inserted {', '.join(where) or 'nowhere (no activation after Linear/Conv)'}"
            )

    if (piece := stack.get("stochastic_depth")) is not None:
        model, where = add_stochastic_depth(model, p=piece.params["p"], inplace=True)
        notes.append(f"stochastic depth on {len(where)} residual branches: {', '.join(where)}")

    # Weight penalties: decoupled decay goes into the optimizer groups, the rest into penalty().
    exclude: list[str] = []
    for t in ("l1", "l2", "elastic_net"):
        if (piece := stack.get(t)) is not None and piece.params["exclude"]:
            exclude += piece.params["exclude"]
    names = decayed_names(model, exclude=exclude)
    decay = coupled_l2 = l1_prox = l1_pen = 0.0
    if (piece := stack.get("l2")) is not None:
        if piece.params["decoupled"]:
            decay += piece.params["weight_decay"]
        else:
            coupled_l2 += piece.params["weight_decay"]
    if (piece := stack.get("elastic_net")) is not None:
        s, r = piece.params["strength"], piece.params["l1_ratio"]
        if piece.params["proximal"]:
            decay += s * (1.0 - r)
            l1_prox += s * r
        else:
            coupled_l2 += s * (1.0 - r)
            l1_pen += s * r
    if (piece := stack.get("l1")) is not None:
        if piece.params["proximal"]:
            l1_prox += piece.params["strength"]
        else:
            l1_pen += piece.params["strength"]
    groups = param_groups(model, weight_decay=decay, exclude=exclude)
    if decay > 0:
        notes.append(
            f"weight decay {decay:g} on {len(names)} weight tensors (biases and norm parameters excluded); "
            "use AdamW or SGD"
        )
    proximal = None
    if l1_prox > 0:
        # The penalised weights are the first group; the optimizer built over it sets its lr.
        proximal = ProximalStep(
            tuple(names), None if lr is None else lr * l1_prox, l1_prox, group=groups[0]
        )
        threshold = f"lr x {l1_prox:g}" if lr is None else f"{lr * l1_prox:g}"
        notes.append(
            f"L1 proximal step (soft-threshold {threshold}) after each optimizer step; see Applied.sparsity()"
        )
    penalty = Penalty(tuple(names), l2=coupled_l2, l1=l1_pen)

    smoothing = stack["label_smoothing"].params["smoothing"] if "label_smoothing" in stack else 0.0
    if task == "classification":
        loss = LossSpec("cross_entropy", smoothing)
    else:
        if "label_smoothing" in stack:
            raise ConfigError(
                "label_smoothing applies to classification; remove it for task='regression'."
            )
        loss = LossSpec("mse")

    aug = None
    if (piece := stack.get("data_augmentation")) is not None:
        prm = piece.params
        aug = BatchAugment(
            magnitude=prm["magnitude"],
            transforms=prm["transforms"],
            modality=prm["modality"],
            no_flip=prm["no_flip"],
        )
    mixing = {t: stack[t].params for t in ("mixup", "cutmix") if t in stack}
    if mixing and task == "classification" and num_classes is None:
        num_classes = _infer_classes(model)
        if num_classes is None:
            raise ConfigError(
                "mixup/cutmix need num_classes= (the model has no final Linear to infer it from)."
            )
        notes.append(
            f"mixup/cutmix targets over {num_classes} classes (from the last Linear layer)"
        )
    transform = BatchTransform(
        augment=aug,
        mixup=mixing.get("mixup"),
        cutmix=mixing.get("cutmix"),
        num_classes=num_classes if task == "classification" else None,
        generator=generator,
    )

    stopper = None
    if (piece := stack.get("early_stopping")) is not None:
        stopper = EarlyStopping(**piece.params)
    if isinstance(model, torch.fx.GraphModule) and not was_graph_module:
        notes.append(
            "the model is now a torch.fx GraphModule: same parameter names (the original state_dict "
            "loads), but methods other than forward() of the original class are not kept"
        )

    ema = None
    if (piece := stack.get("ema")) is not None:
        ema = ExponentialMovingAverage(model, decay=piece.params["decay"])
        notes.append(
            f"exponential moving average of the weights (decay {ema.decay:g}, about the last "
            f"{round(1 / (1 - ema.decay))} steps) updated after each optimizer step; validate, "
            "test and save applied.eval_model"
        )

    context = BuildContext(epochs=epochs, task=task, lr=lr, batch_size=batch_size)
    extensions = {}
    for ext in extensions_in(stack.techniques):
        extensions[ext.technique], ext_notes = ext.build(
            model, stack[ext.technique].params, context
        )
        notes += ext_notes

    return Applied(
        model=model,
        param_groups=groups,
        loss_fn=loss.build(),
        batch_transform=transform,
        early_stopping=stopper,
        penalty=penalty,
        post_step=PostStep(proximal, ema),
        stack=stack,
        notes=notes,
        penalized=names,
        ema=ema,
        weight_decay=decay,
        proximal=proximal,
        loss=loss,
        extensions=extensions,
    )
