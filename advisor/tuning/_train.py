"""Cross-validated training of one configuration: every fold, either vectorised or sequential.

Vectorised folds train the K fold models as one ensemble: their parameters are stacked with
``torch.func.stack_module_state`` and one ``vmap`` over ``functional_call`` runs all folds in
each step (the ensembling recipe of the torch.func docs; Wortsman et al. 2022 use the same
trick for model soups). Details that make it exact rather than approximate:

- every fold draws its own batches from its own training indices; a fold with fewer samples
  takes fewer steps (its padded rows are masked out of the loss and its optimizer step is
  skipped), so a fold sees exactly the batches it would see when trained alone;
- dropout draws different masks per fold (``vmap(randomness="different")``); BatchNorm keeps
  per-fold running statistics as stacked buffers updated in place under ``vmap``;
- the optimizer (AdamW/Adam/SGD) is written over the stacked tensors, with weight decay,
  L1/elastic-net proximal steps and early stopping applied per fold (a stopped fold is frozen).

Sequential folds train K ordinary modules in lock-step (one epoch of every fold, then the next
epoch), so the mean over folds exists at every epoch for the pruner in both modes.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from advisor.errors import ConfigError
from advisor.tuning._config import TrainConfig, amp_dtype

__all__ = [
    "CVOutcome",
    "TrialDiverged",
    "build_folds_trainer",
    "choose_folds_mode",
    "cross_validate",
]

_AUGMENTING = ("data_augmentation", "mixup", "cutmix")
# Device types whose step loops check the loss for NaN/inf after every step. Elsewhere (CUDA)
# reading the check back would make every step wait for the device, so it is made once per
# epoch: a diverged trial then fails at the end of that epoch instead of mid-way.
_CHECK_EACH_STEP = ("cpu",)


class TrialDiverged(RuntimeError):
    """The training loss became NaN or inf (the trial is recorded as failed, the study goes on)."""


@dataclass
class CVOutcome:
    """Result of cross-validating one configuration."""

    scores: list[
        float
    ]  # validation metric per fold (at the best epoch when early stopping restores it)
    epochs: list[int]  # per fold: the epoch (1-based) the score was taken at
    epochs_run: int  # epochs the longest fold trained
    mode: str
    history: list[float] = field(default_factory=list)  # mean over folds after every epoch

    @property
    def mean(self) -> float:
        return float(sum(self.scores) / len(self.scores))

    @property
    def std(self) -> float:
        m = self.mean
        return float(math.sqrt(sum((s - m) ** 2 for s in self.scores) / len(self.scores)))


# --------------------------------------------------------------------------------- helpers
def _stack_obj(stack: Any):
    from advisor.regularizers import Stack

    return Stack.from_dict(stack if stack is not None else {"version": 1, "pieces": []})


def build_model(model_fn: Callable[..., Any], params: dict[str, dict[str, Any]]):
    """Call ``model_fn()`` or ``model_fn(params)`` (when it takes an argument) and check the result."""
    import torch

    try:
        # Only a required positional parameter receives the trial's params (a class with
        # defaulted constructor arguments, like hidden=32, is built with no argument).
        wants_config = any(
            p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            for p in inspect.signature(model_fn).parameters.values()
        )
    except (TypeError, ValueError):
        wants_config = False
    model = model_fn(params) if wants_config else model_fn()
    if not isinstance(model, torch.nn.Module):
        raise ConfigError(f"model_fn must return a torch.nn.Module, got {type(model).__name__}.")
    return model


def _apply_task(task: str) -> str:
    return "classification" if task == "classification" else "regression"


def _apply(apply, model_fn, params, stack, task, config: TrainConfig, seed: int, fold: int):
    import torch

    return apply(
        build_model(model_fn, params),
        stack,
        task=_apply_task(task),
        lr=config.lr,
        batch_size=config.batch_size,
        # Augmentation/mixing draws differ per fold but repeat from run to run.
        generator=torch.Generator().manual_seed(seed * 7927 + fold),
        inplace=True,
    )


def _align(out, y):
    # Regression models usually end in Linear(..., 1); targets are (N,).
    if out.ndim == y.ndim + 1 and out.shape[-1] == 1 and y.is_floating_point():
        return out.squeeze(-1)
    return out


def _eval_metrics(out, y, task: str):
    """Per-sample validation loss and metric value (accuracy or squared error)."""
    import torch.nn.functional as F

    if task == "classification":
        loss = F.cross_entropy(out.float(), y, reduction="none")
        metric = (out.argmax(dim=-1) == y).float()
    else:
        out = _align(out, y).float()
        err = (out - y).reshape(out.shape[0], -1).pow(2).mean(dim=1)
        loss, metric = err, err
    return loss, metric


def metric_info(task: str) -> tuple[str, str]:
    """``(metric name, direction)`` of the cross-validated objective."""
    return ("accuracy", "maximize") if task == "classification" else ("mse", "minimize")


class _EarlyStop:
    """Per-fold early stopping from the stack's ``early_stopping`` piece (or none)."""

    def __init__(self, stack, folds: int, task: str):
        piece = stack.get("early_stopping")
        self.enabled = piece is not None
        params = piece.params if piece is not None else {}
        self.patience = int(params.get("patience", 10))
        self.min_delta = float(params.get("min_delta", 0.0))
        self.restore_best = bool(params.get("restore_best", True))
        monitor = params.get("monitor", "val_loss")
        self.on_loss = monitor in ("val_loss", "loss")
        _, direction = metric_info(task)
        self.mode = (
            "min"
            if self.on_loss
            else params.get("mode", "min" if direction == "minimize" else "max")
        )
        self.best_watch = [math.inf if self.mode == "min" else -math.inf] * folds
        self.best_score = [math.nan] * folds
        self.best_epoch = [0] * folds
        self.last_score = [math.nan] * folds
        self.last_epoch = [0] * folds
        self.bad = [0] * folds
        self.active = [True] * folds

    def update(self, fold: int, epoch: int, loss: float, score: float) -> None:
        if not self.active[fold]:
            return
        self.last_score[fold], self.last_epoch[fold] = score, epoch
        watch = loss if self.on_loss else score
        better = (
            watch < self.best_watch[fold] - self.min_delta
            if self.mode == "min"
            else watch > self.best_watch[fold] + self.min_delta
        )
        if better or self.best_epoch[fold] == 0:
            self.best_watch[fold], self.best_score[fold], self.best_epoch[fold] = (
                watch,
                score,
                epoch,
            )
            self.bad[fold] = 0
        else:
            self.bad[fold] += 1
            if self.enabled and self.bad[fold] >= self.patience:
                self.active[fold] = False

    def result(self, fold: int) -> tuple[float, int]:
        if self.enabled and self.restore_best:
            return self.best_score[fold], self.best_epoch[fold]
        return self.last_score[fold], self.last_epoch[fold]


# ------------------------------------------------------------------------- sequential folds
class SequentialFolds:
    """K ordinary modules trained in lock-step, each with its own optimizer (torch.optim)."""

    mode = "sequential"

    def __init__(
        self, model_fn, stack, params, X, y, folds, *, task, config: TrainConfig, device, seed: int
    ):
        import torch

        from advisor.regularizers import apply

        self.X, self.y, self.folds, self.task, self.config, self.device = (
            X,
            y,
            folds,
            task,
            config,
            device,
        )
        self.amp = amp_dtype(config, device)
        self.augment = any(t in stack for t in _AUGMENTING)  # identity: no call per step
        self.models, self.applied, self.opts, self.gens = [], [], [], []
        for f in range(len(folds)):
            torch.manual_seed(seed * 1009 + f)  # same initial weights in both fold modes
            applied = _apply(apply, model_fn, params, stack, task, config, seed, f)
            model = applied.model.to(device)
            if applied.ema is not None:
                applied.ema.module.to(device)
            self.models.append(model)
            self.applied.append(applied)
            self.opts.append(_torch_optimizer(config, applied.param_groups))
            self.gens.append(_fold_rng(seed, f))
        self.train_sets = [tr for tr, _ in folds]
        # Per-step work only where the stack needs it (a zero penalty still walks the model).
        pen = self.applied[0].penalty
        self.has_penalty = not (getattr(pen, "l2", None) == 0 and getattr(pen, "l1", None) == 0)
        self.has_post_step = getattr(self.applied[0].post_step, "__name__", "") != "_no_op"
        # BatchNorm: full batches only (a 3-sample last batch gives useless statistics, and
        # vectorised folds can then train exactly the same batches without padded rows).
        self.drop_last = _has_batchnorm(self.models[0]) and all(
            len(tr) >= config.batch_size for tr in self.train_sets
        )
        self.val_idx = [torch.as_tensor(va, device=device) for _, va in folds]

    def _autocast(self):
        import contextlib

        import torch

        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp)

    def train_epoch(self, active: list[bool], *, max_steps: int | None = None) -> None:
        import torch

        B = self.config.batch_size
        # Non-finite losses: checked every step on the CPU (free), once per fold and epoch on a
        # GPU, so the step loop never waits for the device.
        per_step_check = self.device.type in _CHECK_EACH_STEP
        for f, model in enumerate(self.models):
            if not active[f]:
                continue
            finite = torch.ones((), dtype=torch.bool, device=self.device)
            applied, opt = self.applied[f], self.opts[f]
            model.train()
            order = torch.as_tensor(
                self.gens[f].permutation(self.train_sets[f]), device=self.device
            )
            stop = len(order) - len(order) % B if self.drop_last else len(order)
            if max_steps is not None:
                stop = min(stop, max_steps * B)
            for start in range(0, stop, B):
                idx = order[start : start + B]
                xb, yb = self.X[idx], self.y[idx]
                if self.augment:
                    xb, yb = applied.batch_transform(xb, yb)
                with self._autocast():
                    if self.config.train_step is not None:
                        loss = self.config.train_step(model, xb, yb, applied.loss_fn)
                    else:
                        loss = applied.loss_fn(_align(model(xb), yb), yb)
                    if self.has_penalty:
                        loss = loss + applied.penalty(model)
                finite &= torch.isfinite(loss.detach())
                if per_step_check and not bool(finite):
                    raise TrialDiverged(
                        f"training loss became non-finite in fold {f + 1} ({loss.item()})"
                    )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if self.has_post_step:
                    applied.post_step(model)
            if not bool(finite):
                raise TrialDiverged(f"training loss became non-finite in fold {f + 1}")

    def evaluate(self, active: list[bool]) -> list[tuple[float, float] | None]:
        import torch

        results: list[tuple[float, float] | None] = []
        for f in range(len(self.models)):
            if not active[f]:
                results.append(None)
                continue
            model = self.applied[f].eval_model  # the weights' EMA when the stack has one
            model.eval()
            loss_sum = metric_sum = 0.0
            idx_all = self.val_idx[f]
            with (
                torch.no_grad(),
                torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None),
            ):
                for start in range(0, len(idx_all), self.config.eval_batch_size):
                    idx = idx_all[start : start + self.config.eval_batch_size]
                    loss, metric = _eval_metrics(model(self.X[idx]), self.y[idx], self.task)
                    loss_sum += float(loss.sum())
                    metric_sum += float(metric.sum())
            n = len(idx_all)
            results.append((loss_sum / n, metric_sum / n))
        return results


def _torch_optimizer(config: TrainConfig, groups):
    """The built-in loop's optimizer; Adam(W) with torch's fused kernel where torch has one for
    the device (CPU since torch 2.4, CUDA), else its default multi-tensor one."""
    import torch

    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=0.9)
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    groups = list(groups)
    try:
        return cls(groups, lr=config.lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device or torch
        return cls(groups, lr=config.lr)


# ------------------------------------------------------------------------- vectorised folds
class VectorizedFolds:
    """K fold models stacked into one ensemble and trained with ``vmap`` (see module docs)."""

    mode = "vectorized"

    def __init__(
        self, model_fn, stack, params, X, y, folds, *, task, config: TrainConfig, device, seed: int
    ):
        import numpy as np
        import torch

        from advisor.regularizers import apply

        if config.train_step is not None:
            raise ConfigError(
                "a custom train_step cannot run vectorised; use folds_mode='sequential'."
            )
        self.X, self.y, self.task, self.config, self.device = X, y, task, config, device
        self.F = F = len(folds)
        self.amp = amp_dtype(config, device)
        self.augment = any(t in stack for t in _AUGMENTING)  # identity: no call per step
        models, applied = [], []
        for f in range(F):
            torch.manual_seed(seed * 1009 + f)  # same initial weights as SequentialFolds
            a = _apply(apply, model_fn, params, stack, task, config, seed, f)
            models.append(a.model.to(device))
            applied.append(a)
        self.applied0 = applied[0]
        self.base = copy.deepcopy(models[0]).to("meta")
        # Stacked by name rather than with stack_module_state: surgery through torch.fx gives
        # every fold's GraphModule its own class, although the parameters are laid out alike.
        self.params = _stack_named([dict(m.named_parameters()) for m in models], grad=True)
        self.buffers = _stack_named([dict(m.named_buffers()) for m in models], grad=False)
        self.loss_fn, self.loss_per_sample = _per_sample_loss(self.applied0.loss_fn)

        # Weight penalties exactly as apply() set them up, re-expressed over the stacked tensors:
        # decoupled decay from the optimizer groups, coupled terms and the proximal step from
        # the penalty/post-step objects.
        a0 = self.applied0
        name_of = {id(p): n for n, p in a0.model.named_parameters()}
        self.weight_decay = dict.fromkeys(self.params, 0.0)
        for group in a0.param_groups:
            for p in group["params"]:
                self.weight_decay[name_of[id(p)]] = float(group.get("weight_decay", 0.0))
        pen = a0.penalty
        if not all(hasattr(pen, k) for k in ("names", "l2", "l1")):
            raise NotImplementedError(
                "the stack's penalty is not expressible over stacked parameters"
            )
        self.penalty_terms = [
            (kind, float(v), list(pen.names))
            for kind, v in (("l2", pen.l2), ("l1", pen.l1))
            if v > 0
        ]
        post = a0.post_step
        # The post-step is the proximal L1 step, the EMA update, or both: with an EMA it is
        # apply()'s _StepThenAverage, whose ``proximal`` is the L1 step or None.
        ema = a0.ema
        if ema is not None:
            post = post.proximal
        if post is None or getattr(post, "__name__", "") == "_no_op":
            self.prox: list[tuple[float, list[str]]] = []
        elif hasattr(post, "threshold") and hasattr(post, "names"):
            self.prox = [(float(post.threshold), sorted(post.names))]
        else:
            raise NotImplementedError(
                "the stack's post-step is not expressible over stacked parameters"
            )
        # EMA of the stacked weights (and float buffers), per fold; evaluated instead of them.
        self.ema_decay = ema.decay if ema is not None else None
        self.ema_state: tuple[dict, dict] | None = None
        self.opt = _StackedOptimizer(config, self.params, self.weight_decay, F, device)

        # Index matrices: each fold's shuffled training indices, padded (by repeating its own
        # indices, so no other fold's sample is ever touched) to the longest fold, plus masks.
        self.train_sets = [np.asarray(tr) for tr, _ in folds]
        self.rngs = [_fold_rng(seed, f) for f in range(F)]
        self.B = config.batch_size
        self.drop_last = _has_batchnorm(models[0])
        if self.drop_last and min(len(tr) for tr in self.train_sets) < self.B:
            raise RuntimeError(
                "BatchNorm with a fold smaller than one batch cannot be vectorised without padded rows"
            )
        if self.drop_last:  # see SequentialFolds: BatchNorm trains on full batches only
            self.steps = [len(tr) // self.B for tr in self.train_sets]
        else:
            self.steps = [math.ceil(len(tr) / self.B) for tr in self.train_sets]
        self.max_steps = max(self.steps)
        vmax = max(len(va) for _, va in folds)
        self.val_idx = torch.as_tensor(
            np.stack([np.resize(va, vmax) for _, va in folds]), device=device
        )
        self.val_mask = torch.as_tensor(
            np.stack([np.arange(vmax) < len(va) for _, va in folds]), device=device
        )
        self.val_n = self.val_mask.sum(1).float()
        self._vloss = torch.func.vmap(self._fold_loss, randomness="different")

    # one fold's masked loss, called under vmap
    def _fold_loss(self, params, buffers, xb, yb, mb):
        import torch
        from torch.func import functional_call

        from advisor.regularizers._penalties import l1_penalty, l2_penalty

        with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
            out = functional_call(self.base, (params, buffers), (xb,))
        out = _align(out, yb).float()
        per = self.loss_per_sample(out, yb)
        loss = (per * mb).sum() / mb.sum().clamp_min(1.0)
        for kind, strength, names in self.penalty_terms:
            if kind == "l2":
                loss = loss + l2_penalty(params, names, weight_decay=strength)
            else:
                loss = loss + l1_penalty(params, names, strength=strength)
        return loss

    def _batches(self):
        import numpy as np

        rows = []
        for tr, rng in zip(self.train_sets, self.rngs, strict=True):
            perm = rng.permutation(tr)
            rows.append(np.resize(perm, self.max_steps * self.B))
        idx = np.stack(rows)
        mask = np.stack(
            [
                np.arange(self.max_steps * self.B) < min(len(tr), n * self.B)
                for tr, n in zip(self.train_sets, self.steps, strict=True)
            ]
        )
        return idx, mask

    def _transform(self, xb, yb):
        import torch

        xs, ys = [], []
        for f in range(self.F):
            x, t = self.applied0.batch_transform(xb[f], yb[f])
            xs.append(x)
            ys.append(t)
        return torch.stack(xs), torch.stack(ys)

    def train_epoch(self, active: list[bool], *, max_steps: int | None = None) -> None:
        import numpy as np
        import torch

        idx_np, mask_np = self._batches()
        mask_np = mask_np & np.asarray(active, dtype=bool)[:, None]
        idx = torch.as_tensor(idx_np, device=self.device)
        mask = torch.as_tensor(mask_np, device=self.device, dtype=torch.float32)
        n_steps = self.max_steps if max_steps is None else min(max_steps, self.max_steps)
        # Which folds step at each step is known on the host from the index plan, so the loop
        # never reads a device value back (no host-device sync per step on a GPU).
        steps_np = mask_np[:, : n_steps * self.B].reshape(self.F, n_steps, self.B).any(2).T
        steps_dev = torch.as_tensor(steps_np, device=self.device)
        # Non-finite losses: checked every step on the CPU (free), once per epoch on a GPU.
        per_step_check = self.device.type in _CHECK_EACH_STEP
        bad = torch.zeros(self.F, dtype=torch.bool, device=self.device)
        self.base.train()
        for s in range(n_steps):
            sl = slice(s * self.B, (s + 1) * self.B)
            ib, mb = idx[:, sl], mask[:, sl]
            xb, yb = self.X[ib], self.y[ib]
            if self.augment:
                xb, yb = self._transform(xb, yb)
            stepping, stepping_host = steps_dev[s], steps_np[s]
            # A fold not stepping (no rows left, or stopped early) still runs forward under vmap;
            # its BatchNorm running statistics must not move.
            keep = None
            if self.buffers and not stepping_host.all():
                keep = {k: v.clone() for k, v in self.buffers.items()}
            losses = self._vloss(self.params, self.buffers, xb, yb, mb)
            grads = torch.autograd.grad(losses.sum(), list(self.params.values()))
            if keep is not None:  # after backward: autograd may hold the buffers' versions
                with torch.no_grad():
                    for k, v in self.buffers.items():
                        v.copy_(torch.where(stepping.view(-1, *([1] * (v.ndim - 1))), v, keep[k]))
            bad |= ~torch.isfinite(losses.detach()) & stepping
            if per_step_check:
                self._raise_if_diverged(bad)
            self.opt.step(dict(zip(self.params, grads, strict=True)), stepping, stepping_host)
            if self.prox:
                self._proximal(stepping)
            if self.ema_decay is not None:
                self._ema_update(stepping)
        self._raise_if_diverged(bad)

    def _ema_update(self, stepping) -> None:
        """As ``ExponentialMovingAverage.update`` per stepping fold: a copy at the first update,
        then ``ema += (1 - decay) * (w - ema)``; integer buffers are copied."""
        import torch

        with torch.no_grad():
            if self.ema_state is None:  # every fold steps at the first step of the first epoch
                self.ema_state = (
                    {k: v.detach().clone() for k, v in self.params.items()},
                    {k: v.clone() for k, v in self.buffers.items()},
                )
                return
            weight = stepping.to(torch.float32) * (1 - self.ema_decay)
            for ema, live in zip(self.ema_state, (self.params, self.buffers), strict=True):
                for k, e in ema.items():
                    w = live[k]
                    shape = (-1, *([1] * (e.ndim - 1)))
                    if e.is_floating_point():
                        e.lerp_(w.detach(), weight.view(shape).to(e.dtype))
                    else:
                        e.copy_(torch.where(stepping.view(shape), w, e))

    @staticmethod
    def _raise_if_diverged(bad) -> None:
        if bool(bad.any()):
            fold = int(bad.nonzero()[0, 0]) + 1
            raise TrialDiverged(f"training loss became non-finite in fold {fold}")

    def _proximal(self, stepping) -> None:
        import torch

        from advisor.regularizers._penalties import soft_threshold

        with torch.no_grad():
            for threshold, names in self.prox:
                for n in names:
                    p = self.params[n]
                    m = stepping.view(-1, *([1] * (p.ndim - 1)))
                    p.copy_(torch.where(m, soft_threshold(p, threshold), p))

    def evaluate(self, active: list[bool]) -> list[tuple[float, float] | None]:
        import torch
        from torch.func import functional_call, vmap

        self.base.eval()

        def fwd(params, buffers, xb):
            return functional_call(self.base, (params, buffers), (xb,))

        vf = vmap(fwd, randomness="different")
        loss_sum = torch.zeros(self.F, device=self.device)
        metric_sum = torch.zeros(self.F, device=self.device)
        step = max(1, self.config.eval_batch_size // self.F)
        with (
            torch.no_grad(),
            torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None),
        ):
            for start in range(0, self.val_idx.shape[1], step):
                ib = self.val_idx[:, start : start + step]
                mb = self.val_mask[:, start : start + step].float()
                out = vf(*(self.ema_state or (self.params, self.buffers)), self.X[ib])
                flat_out = out.reshape(-1, *out.shape[2:])
                flat_y = self.y[ib].reshape(-1, *self.y.shape[1:])
                loss, metric = _eval_metrics(flat_out, flat_y, self.task)
                loss_sum += (loss.view(self.F, -1) * mb).sum(1)
                metric_sum += (metric.view(self.F, -1) * mb).sum(1)
        loss_mean = (loss_sum / self.val_n).tolist()
        metric_mean = (metric_sum / self.val_n).tolist()
        return [(loss_mean[f], metric_mean[f]) if active[f] else None for f in range(self.F)]


def _has_batchnorm(model) -> bool:
    import torch

    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _fold_rng(seed: int, fold: int):
    """Batch order of one fold: the same stream in both fold modes, so they train alike."""
    import numpy as np

    return np.random.default_rng([seed, fold])


def _stack_named(dicts: list[dict], *, grad: bool) -> dict:
    import torch

    names = list(dicts[0])
    if any(list(d) != names for d in dicts[1:]):
        raise RuntimeError(
            "model_fn built folds with different parameter names; the folds cannot be stacked"
        )
    return {n: torch.stack([d[n].detach() for d in dicts]).requires_grad_(grad) for n in names}


def _per_sample_loss(loss_fn):
    """A loss returning one value per sample: the module with reduction='none' when it has one."""
    import torch

    if isinstance(getattr(loss_fn, "reduction", None), str):
        per = copy.copy(loss_fn)
        per.reduction = "none"

        def call(out, y):
            value = per(out, y)
            return value.reshape(value.shape[0], -1).mean(dim=1) if value.ndim > 1 else value

        return loss_fn, call

    # Unknown loss callables: evaluate each sample on its own (a nested vmap over the batch).
    def nested(out, y):
        return torch.func.vmap(lambda o, t: loss_fn(o.unsqueeze(0), t.unsqueeze(0)))(out, y)

    return loss_fn, nested


class _StackedOptimizer:
    """AdamW / Adam / SGD(momentum) over stacked fold tensors, skipping folds not stepping."""

    def __init__(self, config: TrainConfig, params: dict, weight_decay: dict, folds: int, device):
        import torch

        self.kind, self.lr = config.optimizer, float(config.lr)
        self.params, self.wd = params, weight_decay
        self.b1, self.b2, self.eps, self.momentum = 0.9, 0.999, 1e-8, 0.9
        self.t = torch.zeros(folds, device=device)
        self.t_host = [0] * folds  # steps per fold, on the host: decides the fast path
        self.m = {k: torch.zeros_like(v) for k, v in params.items()}
        self.v = {k: torch.zeros_like(v) for k, v in params.items()} if self.kind != "sgd" else {}
        # torch's fused Adam(W) kernel for the all-folds-step path, grouped by weight decay; its
        # step counters (one per tensor, as the kernel wants) are set to the step number before
        # every call (torch.optim increments them itself before calling the kernel).
        contiguous = all(v.is_contiguous() for v in params.values())  # the kernel reads raw memory
        self.fused = _fused_adam_kernel(self.kind, device) if contiguous else None
        self.fused_groups: dict[float, list[str]] = {}
        for k in params:
            self.fused_groups.setdefault(float(weight_decay[k]), []).append(k)
        self.fused_steps = {k: torch.zeros((), dtype=torch.float32, device=device) for k in params}

    def step(self, grads: dict, stepping, stepping_host) -> None:
        """One update of every stepping fold; the others keep parameters and moments untouched.

        ``stepping`` is the per-fold bool tensor on the device, ``stepping_host`` the same on
        the host (the step plan is known there, so no device value is read back)."""
        import torch

        with torch.no_grad():
            on_f = stepping.to(self.t.dtype)
            every = bool(stepping_host.all())
            self.t_host = [t + int(on) for t, on in zip(self.t_host, stepping_host, strict=True)]
            if every and self.kind != "sgd" and len(set(self.t_host)) == 1:
                self.t += on_f
                self._fast_adam(grads, self.t_host[0])
                return
            self.t += on_f
            t = self.t.clamp_min(1.0)
            for name, p in self.params.items():
                shape = (-1, *([1] * (p.ndim - 1)))
                on = on_f.view(shape)
                g, wd = grads[name], self.wd[name]
                if self.kind == "sgd":
                    if wd:
                        g = g.add(p, alpha=wd)
                    m = self.m[name]
                    m.mul_(1 - on * (1 - self.momentum)).add_(g * on)  # frozen folds keep m
                    p.sub_(m * (on * self.lr))
                    continue
                if self.kind == "adam" and wd:
                    g = g.add(p, alpha=wd)
                m, v = self.m[name], self.v[name]
                # lerp with weight 0 leaves a frozen fold's moments exactly as they were
                m.lerp_(g, on * (1 - self.b1))
                v.lerp_(g * g, on * (1 - self.b2))
                bc1 = (1 - self.b1**t).view(shape)
                bc2 = (1 - self.b2**t).view(shape)
                if self.kind == "adamw" and wd:
                    p.mul_(1 - on * (self.lr * wd))  # decoupled decay, as torch.optim.AdamW
                denom = (v / bc2).sqrt_().add_(self.eps)
                if every:
                    p.addcdiv_(m / bc1, denom, value=-self.lr)
                else:
                    p.sub_(on * self.lr * (m / bc1) / denom)

    def _fused_adam(self, grads: dict, t: int) -> None:
        """torch's fused Adam(W) kernel over the stacked tensors, one call per weight decay."""
        for wd, names in self.fused_groups.items():
            steps = [self.fused_steps[n].fill_(t) for n in names]  # this step's number
            self.fused(
                [self.params[n] for n in names],
                [grads[n].contiguous() for n in names],  # the CPU kernel reads raw memory
                [self.m[n] for n in names],
                [self.v[n] for n in names],
                [],
                steps,
                lr=self.lr,
                beta1=self.b1,
                beta2=self.b2,
                weight_decay=wd,
                eps=self.eps,
                amsgrad=False,
                maximize=False,
            )

    def _fast_adam(self, grads: dict, t: int) -> None:
        """Every fold steps and all have taken the same number of steps: scalar bias correction,
        multi-tensor (foreach) kernels, as torch.optim.Adam(W) runs them."""
        import torch

        if self.fused is not None:
            self._fused_adam(grads, t)
            return
        names = list(self.params)
        ps = [self.params[n] for n in names]
        gs = [grads[n] for n in names]
        if self.kind == "adam":
            gs = [
                g.add(p, alpha=self.wd[n]) if self.wd[n] else g
                for n, g, p in zip(names, gs, ps, strict=True)
            ]
        ms = [self.m[n] for n in names]
        vs = [self.v[n] for n in names]
        torch._foreach_lerp_(ms, gs, 1 - self.b1)
        torch._foreach_mul_(vs, self.b2)
        torch._foreach_addcmul_(vs, gs, gs, value=1 - self.b2)
        if self.kind == "adamw":
            for n, p in zip(names, ps, strict=True):
                if self.wd[n]:
                    p.mul_(1 - self.lr * self.wd[n])
        bc1, bc2 = 1 - self.b1**t, 1 - self.b2**t
        denom = torch._foreach_sqrt(vs)
        torch._foreach_div_(denom, math.sqrt(bc2))
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(ps, ms, denom, value=-self.lr / bc1)


@functools.cache
def _fused_adam_kernel(kind: str, device):
    """torch's fused Adam(W) kernel (``torch._fused_adam(w)_``, what ``torch.optim.AdamW(...,
    fused=True)`` calls; CPU from torch 2.4 on, CUDA) if it exists for ``device`` and a probe
    step with the call signature used here gives torch.optim's result; else None (foreach).
    Probed once per optimizer kind and device, not once per trial."""
    import torch

    if kind not in ("adam", "adamw"):
        return None
    kernel = getattr(torch, "_fused_adamw_" if kind == "adamw" else "_fused_adam_", None)
    if kernel is None:
        return None
    try:
        p = torch.ones(2, device=device)
        g = torch.full((2,), 0.5, device=device)
        m, v = torch.zeros_like(p), torch.zeros_like(p)
        step = torch.ones((), device=device)
        betas = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "amsgrad": False, "maximize": False}
        kernel([p], [g], [m], [v], [], [step], lr=0.1, weight_decay=0.1, **betas)
        ref = torch.nn.Parameter(torch.ones(2, device=device))
        ref.grad = torch.full((2,), 0.5, device=device)
        cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
        cls([ref], lr=0.1, weight_decay=0.1).step()
        return kernel if torch.allclose(p, ref.detach()) else None
    except (RuntimeError, TypeError, ValueError, NotImplementedError):
        return None


# ------------------------------------------------------------------------------- the loop
def build_folds_trainer(mode: str, *args, **kwargs):
    return (VectorizedFolds if mode == "vectorized" else SequentialFolds)(*args, **kwargs)


def cross_validate(
    model_fn,
    stack,
    params: dict[str, dict[str, Any]],
    X,
    y,
    folds,
    *,
    task: str,
    config: TrainConfig,
    device,
    seed: int,
    mode: str,
    on_epoch: Callable[[int, float], None] | None = None,
) -> CVOutcome:
    """Train and validate every fold of one configuration; ``on_epoch(epoch, mean)`` may prune.

    The fold score is the validation metric at the epoch early stopping picked (its best epoch
    when ``restore_best``), else after the last epoch.
    """
    stack = _stack_obj(stack)
    trainer = build_folds_trainer(
        mode,
        model_fn,
        stack,
        params,
        X,
        y,
        folds,
        task=task,
        config=config,
        device=device,
        seed=seed,
    )
    stopper = _EarlyStop(stack, len(folds), task)
    history: list[float] = []
    epochs_run = 0
    for epoch in range(1, config.max_epochs + 1):
        active = list(stopper.active)
        if not any(active):
            break
        trainer.train_epoch(active)
        epochs_run = epoch
        for f, res in enumerate(trainer.evaluate(active)):
            if res is not None:
                loss, score = res
                if not (math.isfinite(loss) and math.isfinite(score)):
                    raise TrialDiverged(
                        f"validation loss became non-finite in fold {f + 1} at epoch {epoch}"
                    )
                stopper.update(f, epoch, loss, score)
        mean = sum(stopper.result(f)[0] for f in range(len(folds))) / len(folds)
        history.append(mean)
        if on_epoch is not None:
            on_epoch(epoch, mean)
    results = [stopper.result(f) for f in range(len(folds))]
    return CVOutcome(
        scores=[r[0] for r in results],
        epochs=[r[1] for r in results],
        epochs_run=epochs_run,
        mode=trainer.mode,
        history=history,
    )


def choose_folds_mode(
    model_fn, stack, params, X, y, folds, *, task, config: TrainConfig, device, seed: int
) -> tuple[str, str]:
    """Pick ``vectorized`` or ``sequential`` and say why (never slower than sequential).

    Rules: a custom ``train_step`` runs per module; recurrent layers (fused kernels vmap cannot
    batch) and any model a one-step ``vmap`` probe fails on (e.g. data-dependent control flow)
    run sequentially; on a CPU a timed probe of a few steps both ways keeps the faster; on a GPU
    the folds are latency-bound, so vectorising wins and is used.
    """
    import torch

    stack = _stack_obj(stack)
    requested = config.folds_mode
    if config.train_step is not None:
        if requested == "vectorized":
            raise ConfigError(
                "folds_mode='vectorized' cannot run a custom train_step; use 'sequential' or 'auto'."
            )
        return "sequential", "a custom train_step trains each fold's module itself"
    if requested == "sequential":
        return "sequential", "requested"
    if requested == "auto":
        probe_model = build_model(model_fn, params)
        modules = list(probe_model.modules())
        rnn = next((type(m).__name__ for m in modules if isinstance(m, torch.nn.RNNBase)), None)
        if rnn:
            return (
                "sequential",
                f"vmap cannot batch the fused {rnn} kernel, so each fold trains on its own",
            )
    try:
        trainer = VectorizedFolds(
            model_fn, stack, params, X, y, folds, task=task, config=config, device=device, seed=seed
        )
        trainer.train_epoch([True] * len(folds), max_steps=1)
        trainer.evaluate([True] * len(folds))
    except (RuntimeError, NotImplementedError, TypeError, ValueError) as exc:
        if requested == "vectorized":
            raise ConfigError(
                f"folds_mode='vectorized' failed for this model: {str(exc).splitlines()[0]}; use 'auto' or 'sequential'."
            ) from exc
        return (
            "sequential",
            f"vmap cannot batch this model ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})",
        )
    if requested == "vectorized":
        return "vectorized", "requested"
    if device.type == "cpu":
        # On a CPU the gain depends on the model, the core count and the load (conv nets went
        # from 1.0x on one thread to 1.7x on two): time a few steps both ways and keep the faster.
        t_vec, t_seq = (
            _timed_steps(trainer),
            _timed_steps(
                SequentialFolds(
                    model_fn,
                    stack,
                    params,
                    X,
                    y,
                    folds,
                    task=task,
                    config=config,
                    device=device,
                    seed=seed,
                )
            ),
        )
        if t_vec >= t_seq:
            return (
                "sequential",
                f"timed probe: sequential {1000 * t_seq:.0f} ms vs vectorized {1000 * t_vec:.0f} ms per step of all folds",
            )
        return (
            "vectorized",
            f"timed probe: vectorized {1000 * t_vec:.0f} ms vs sequential {1000 * t_seq:.0f} ms per step of all folds",
        )
    return "vectorized", f"vmap probe passed; {len(folds)} folds train as one batched ensemble"


def _timed_steps(trainer, steps: int = 3) -> float:
    """Seconds per training step of all folds (after one warm-up step), best of two rounds."""
    import time

    active = [True] * len(trainer.train_sets)
    trainer.train_epoch(active, max_steps=1)
    best = math.inf
    for _ in range(2):
        t0 = time.perf_counter()
        trainer.train_epoch(active, max_steps=steps)
        best = min(best, (time.perf_counter() - t0) / steps)
    return best


def fit_model(
    model_fn, stack, params, X, y, *, task: str, config: TrainConfig, device, seed: int, epochs: int
):
    """Train one model of ``stack`` on all of ``(X, y)`` for ``epochs`` epochs (the refit)."""
    import numpy as np

    stack = _stack_obj(stack)
    every = np.arange(int(X.shape[0]))
    trainer = SequentialFolds(
        model_fn,
        stack,
        params,
        X,
        y,
        [(every, every[:1])],
        task=task,
        config=config,
        device=device,
        seed=seed,
    )
    for _ in range(epochs):
        trainer.train_epoch([True])
    model = trainer.applied[0].eval_model
    model.eval()
    return model


def evaluate_model(model, X, y, *, task: str, config: TrainConfig) -> float:
    """The task's metric (accuracy or MSE) of a trained model on ``(X, y)``."""
    import torch

    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, int(X.shape[0]), config.eval_batch_size):
            chunk = slice(start, start + config.eval_batch_size)
            _, metric = _eval_metrics(model(X[chunk]), y[chunk], task)
            total += float(metric.sum())
    return total / int(X.shape[0])
