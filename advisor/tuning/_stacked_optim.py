"""AdamW / Adam / SGD(momentum) over stacked fold tensors: the vectorised folds' optimizer.

The K fold models' parameters are stacked along a leading fold axis; one step updates every
fold that steps and leaves the others (their data ran out this epoch, or early stopping froze
them) exactly untouched, moments included. The update is torch.optim's (Kingma & Ba 2015;
Loshchilov & Hutter 2019 for decoupled decay). When every fold steps and all have taken the
same number of steps, torch's fused Adam(W) kernel runs on the stacked tensors, as
``torch.optim.AdamW(..., fused=True)`` would on one model; otherwise a masked update.
"""

from __future__ import annotations

import functools
import math

from advisor.tuning._config import TrainConfig

__all__ = ["StackedOptimizer", "fused_adam_kernel"]


class StackedOptimizer:
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
        self.fused = fused_adam_kernel(self.kind, device) if contiguous else None
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
def fused_adam_kernel(kind: str, device):
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
