"""Sequential folds: K ordinary modules trained in lock-step, each with its own torch optimizer.

One epoch of every fold, then the next epoch, so the mean over folds exists at every epoch
for the pruner (as in the vectorised mode). Each fold is a plain training loop over what
``advisor.apply`` set up: batch transform, loss, penalty, optimizer step, post-step. It is the
mode for custom ``train_step`` hooks, recurrent layers and models ``vmap`` cannot batch.
"""

from __future__ import annotations

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

__all__ = ["SequentialFolds", "torch_optimizer"]


class SequentialFolds:
    """K ordinary modules trained in lock-step, each with its own optimizer (torch.optim)."""

    mode = "sequential"

    def __init__(
        self, model_fn, stack, params, X, y, folds, *, task, config: TrainConfig, device, seed: int
    ):
        import torch

        self.X, self.y, self.task, self.config, self.device = X, y, task, config, device
        self.amp = amp_dtype(config, device)
        self.models, self.applied, self.opts, self.gens = [], [], [], []
        for f in range(len(folds)):
            torch.manual_seed(seed * 1009 + f)  # same initial weights in both fold modes
            applied = apply_stack(model_fn, params, stack, task, config, seed, f)
            model = applied.to(device).model  # with its weight averages
            self.models.append(model)
            self.applied.append(applied)
            self.opts.append(torch_optimizer(config, applied.param_groups))
            self.gens.append(fold_rng(seed, f))
        self.stoppers = [a.early_stopping for a in self.applied]
        self.train_sets = [tr for tr, _ in folds]
        # Per-step work only where the stack needs it (a zero penalty still walks the model).
        plan = self.applied[0]
        self.augment = not plan.batch_transform.is_identity
        self.has_penalty = not plan.penalty.is_zero
        self.has_post_step = not plan.post_step.is_identity
        # BatchNorm: full batches only (a 3-sample last batch gives useless statistics, and
        # vectorised folds can then train exactly the same batches without padded rows).
        self.drop_last = has_batchnorm(self.models[0]) and all(
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
        """Train each active fold for one epoch, one fold after the other.

        Args:
            active: one flag per fold; inactive (stopped) folds are skipped.
            max_steps: at most this many batches per fold (a timing probe: per-epoch hooks do not
                run).

        Raises:
            TrialDiverged: a training loss became non-finite.
        """
        import torch

        B = self.config.batch_size
        # Non-finite losses: checked every step on the CPU (free), once per fold and epoch on a
        # GPU, so the step loop never waits for the device.
        per_step_check = checks_each_step(self.device)
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
                        loss = applied.loss_fn(align_output(model(xb), yb), yb)
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
            if max_steps is None:  # a whole epoch (not a timing probe): per-epoch hooks run
                applied.epoch_end(model, opt)

    def evaluate(self, active: list[bool]) -> list[tuple[float, float] | None]:
        """``(validation loss, metric)`` of each active fold, means over its samples.

        The metric is accuracy for classification and the squared error for regression; inactive
        folds give ``None``. The SWA/EMA weights are evaluated when the stack has them.
        """
        import torch

        results: list[tuple[float, float] | None] = []
        for f in range(len(self.models)):
            if not active[f]:
                results.append(None)
                continue
            model = self.applied[f].eval_model  # the weights' SWA/EMA when the stack has one
            model.eval()
            loss_sum = metric_sum = 0.0
            idx_all = self.val_idx[f]
            with (
                torch.no_grad(),
                torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None),
            ):
                for start in range(0, len(idx_all), self.config.eval_batch_size):
                    idx = idx_all[start : start + self.config.eval_batch_size]
                    loss, metric = eval_metrics(model(self.X[idx]), self.y[idx], self.task)
                    loss_sum += float(loss.sum())
                    metric_sum += float(metric.sum())
            n = len(idx_all)
            results.append((loss_sum / n, metric_sum / n))
        return results


def torch_optimizer(config: TrainConfig, groups):
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
