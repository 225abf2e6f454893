"""Vectorised folds: the K fold models trained as one ensemble with ``torch.func.vmap``.

Their parameters are stacked by name (the ensembling recipe of the torch.func docs; Wortsman
et al. 2022 use the same trick for model soups) and one ``vmap`` over ``functional_call`` runs
all folds in each step. Details that make it exact rather than approximate:

- every fold draws its own batches from its own training indices; a fold with fewer samples
  takes fewer steps (its padded rows are masked out of the loss and its optimizer step is
  skipped), so a fold sees exactly the batches it would see when trained alone;
- dropout draws different masks per fold (``vmap(randomness="different")``); BatchNorm keeps
  per-fold running statistics as stacked buffers updated in place under ``vmap``;
- the regularization is what ``advisor.apply`` set up, read from its typed parts (decoupled
  decay, ``Penalty``, ``ProximalStep``, the EMA's decay, ``LossSpec``) and re-expressed over the
  stacked tensors; the optimizer is ``_stacked_optim.StackedOptimizer``; a stopped fold is
  frozen.
"""

from __future__ import annotations

import copy
import math

from advisor.errors import ConfigError
from advisor.regularizers import extensions_in
from advisor.tuning._config import TrainConfig, amp_dtype
from advisor.tuning._folds_base import (
    TrialDiverged,
    align_output,
    apply_stack,
    checks_each_step,
    eval_metrics,
    fold_rng,
    has_batchnorm,
)
from advisor.tuning._stacked_optim import StackedOptimizer

__all__ = ["VectorizedFolds"]


class VectorizedFolds:
    """K fold models stacked into one ensemble and trained with ``vmap`` (see module docs)."""

    mode = "vectorized"

    def __init__(
        self, model_fn, stack, params, X, y, folds, *, task, config: TrainConfig, device, seed: int
    ):
        import numpy as np
        import torch

        if config.train_step is not None:
            raise ConfigError(
                "a custom train_step cannot run vectorised; use folds_mode='sequential'."
            )
        self.X, self.y, self.task, self.config, self.device = X, y, task, config, device
        self.F = F = len(folds)
        self.amp = amp_dtype(config, device)
        models, applied = [], []
        for f in range(F):
            torch.manual_seed(seed * 1009 + f)  # same initial weights as SequentialFolds
            a = apply_stack(model_fn, params, stack, task, config, seed, f)
            models.append(a.model.to(device))
            applied.append(a)
        self.applied0 = plan = applied[0]
        for ext in extensions_in(plan.extensions):  # "auto" falls back to sequential folds
            if not ext.vectorised:
                raise NotImplementedError(f"{ext.technique} runs in sequential folds only")
        self.stoppers = [a.early_stopping for a in applied]
        self.augment = not plan.batch_transform.is_identity  # identity: no call per step
        self.base = copy.deepcopy(models[0]).to("meta")
        # Stacked by name rather than with stack_module_state: surgery through torch.fx gives
        # every fold's GraphModule its own class, although the parameters are laid out alike.
        self.params = _stack_named([dict(m.named_parameters()) for m in models], grad=True)
        self.buffers = _stack_named([dict(m.named_buffers()) for m in models], grad=False)
        # The regularization exactly as apply() set it up, read from its typed parts and
        # re-expressed over the stacked tensors.
        self.loss_per_sample = _per_sample_loss(plan.loss.build(reduction="none"))
        decayed = set(plan.penalized)
        self.weight_decay = {n: plan.weight_decay if n in decayed else 0.0 for n in self.params}
        self.penalty = None if plan.penalty.is_zero else plan.penalty
        self.proximal = plan.proximal
        # EMA of the stacked weights (and float buffers), per fold; evaluated instead of them.
        self.ema_decay = plan.ema.decay if plan.ema is not None else None
        self.ema_state: tuple[dict, dict] | None = None
        self.opt = StackedOptimizer(config, self.params, self.weight_decay, F, device)

        # Index matrices: each fold's shuffled training indices, padded (by repeating its own
        # indices, so no other fold's sample is ever touched) to the longest fold, plus masks.
        self.train_sets = [np.asarray(tr) for tr, _ in folds]
        self.rngs = [fold_rng(seed, f) for f in range(F)]
        self.B = config.batch_size
        self.drop_last = has_batchnorm(models[0])
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

        with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
            out = functional_call(self.base, (params, buffers), (xb,))
        out = align_output(out, yb).float()
        per = self.loss_per_sample(out, yb)
        loss = (per * mb).sum() / mb.sum().clamp_min(1.0)
        if self.penalty is not None:
            loss = loss + self.penalty.of_params(params)
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
        """Train the active folds for one epoch together, one ``vmap`` step per batch.

        Args:
            active: one flag per fold; inactive (stopped) folds do not step.
            max_steps: at most this many steps (a timing probe).

        Raises:
            TrialDiverged: a training loss became non-finite.
        """
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
        per_step_check = checks_each_step(self.device)
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
            if self.proximal is not None:
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

        from advisor.regularizers import soft_threshold

        threshold = self.proximal.threshold
        with torch.no_grad():
            for n in self.proximal.names:
                p = self.params[n]
                m = stepping.view(-1, *([1] * (p.ndim - 1)))
                p.copy_(torch.where(m, soft_threshold(p, threshold), p))

    def evaluate(self, active: list[bool]) -> list[tuple[float, float] | None]:
        """``(validation loss, metric)`` of each active fold, means over its samples.

        The metric is accuracy for classification and the squared error for regression; inactive
        folds give ``None``. The EMA weights are evaluated when the stack has an EMA.
        """
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
                loss, metric = eval_metrics(flat_out, flat_y, self.task)
                loss_sum += (loss.view(self.F, -1) * mb).sum(1)
                metric_sum += (metric.view(self.F, -1) * mb).sum(1)
        loss_mean = (loss_sum / self.val_n).tolist()
        metric_mean = (metric_sum / self.val_n).tolist()
        return [(loss_mean[f], metric_mean[f]) if active[f] else None for f in range(self.F)]


def _stack_named(dicts: list[dict], *, grad: bool) -> dict:
    import torch

    names = list(dicts[0])
    if any(list(d) != names for d in dicts[1:]):
        raise RuntimeError(
            "model_fn built folds with different parameter names; the folds cannot be stacked"
        )
    return {n: torch.stack([d[n].detach() for d in dicts]).requires_grad_(grad) for n in names}


def _per_sample_loss(loss):
    """One loss value per sample from a ``reduction="none"`` loss (MSE is per element)."""

    def call(out, y):
        value = loss(out, y)
        return value.reshape(value.shape[0], -1).mean(dim=1) if value.ndim > 1 else value

    return call
