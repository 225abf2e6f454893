"""Weight penalties: L2 (weight decay), L1 with a proximal step, and elastic net.

Math (``W`` = the penalised weights, by default every parameter with ``ndim >= 2`` outside
normalisation layers; biases, BatchNorm/LayerNorm/GroupNorm scales and shifts are excluded,
as in nanoGPT and timm, because shrinking them does not reduce capacity):

- L2: ``penalty = (weight_decay / 2) * sum_w w**2``, so its gradient is ``weight_decay * w``
  (Krogh & Hertz 1992). The default uses *decoupled* weight decay instead (Loshchilov & Hutter
  2019, AdamW): :func:`param_groups` puts ``weight_decay`` on the decayed group and 0 on the
  rest; with SGD this equals the L2 gradient, with AdamW it is the decoupled variant.
- L1: ``penalty = strength * sum_w |w|`` (Tibshirani 1996). A subgradient step almost never
  lands on exactly 0, so the default is the proximal (soft-thresholding) step applied after
  each optimizer step: ``w <- sign(w) * max(|w| - lr * strength, 0)`` (ISTA, Beck & Teboulle
  2009), which yields exact zeros; :func:`sparsity` reports the fraction of zeros.
- Elastic net: ``strength * (l1_ratio * sum |w| + (1 - l1_ratio) / 2 * sum w**2)``
  (Zou & Hastie 2005, scikit-learn's parameterisation).

Functional pieces for ``torch.func`` (usable inside ``vmap`` over a stacked ensemble of folds):
:func:`l2_penalty`, :func:`l1_penalty`, :func:`elastic_net_penalty` take a ``{name: tensor}``
dict (as ``torch.func.functional_call`` uses) and the names to penalise;
:func:`soft_threshold` is the pure proximal operator.

Example:
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    >>> decayed_names(model)
    ['0.weight']
    >>> groups = param_groups(model, weight_decay=1e-4)
    >>> [g["weight_decay"] for g in groups]
    [0.0001, 0.0]
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import nn

__all__ = [
    "DEFAULT_EXCLUDE",
    "decayed_names",
    "elastic_net_penalty",
    "l1_penalty",
    "l1_proximal_step",
    "l2_penalty",
    "param_groups",
    "soft_threshold",
    "sparsity",
]

# Name patterns never penalised by default: biases and anything that looks like a norm layer
# or an embedding of positions/tokens (decaying those hurts transformers; nanoGPT does the same).
DEFAULT_EXCLUDE: tuple[str, ...] = ("*bias", "*norm*", "*.bn*", "bn*", "*pos_embed*", "*cls_token*")

_NORM_TYPES = (
    nn.modules.batchnorm._NormBase,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
)


def decayed_names(
    model: nn.Module,
    *,
    exclude: Iterable[str] | None = None,
    include: Iterable[str] | None = None,
) -> list[str]:
    """Names of the parameters a weight penalty applies to.

    Args:
        model: The model.
        exclude: Extra fnmatch patterns to leave out (added to ``DEFAULT_EXCLUDE``).
        include: fnmatch patterns forced in even if they would be excluded.

    Returns:
        Trainable parameter names with ``ndim >= 2`` that are not inside a normalisation
        module and match no exclude pattern (unless an include pattern matches).

    Example:
        >>> decayed_names(torch.nn.Linear(2, 2))
        ['weight']
    """
    patterns = (*DEFAULT_EXCLUDE, *(exclude or ()))
    forced = tuple(include or ())
    norm_params: set[str] = set()
    for mod_name, mod in model.named_modules():
        if isinstance(mod, _NORM_TYPES):
            for p_name, _ in mod.named_parameters(recurse=False):
                norm_params.add(f"{mod_name}.{p_name}" if mod_name else p_name)
    names = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if any(fnmatch.fnmatchcase(name, pat) for pat in forced):
            names.append(name)
            continue
        if param.ndim < 2 or name in norm_params:
            continue
        if any(fnmatch.fnmatchcase(name, pat) for pat in patterns):
            continue
        names.append(name)
    return names


def param_groups(
    model: nn.Module,
    *,
    weight_decay: float,
    exclude: Iterable[str] | None = None,
    include: Iterable[str] | None = None,
) -> list[dict]:
    """Optimizer-ready groups: decayed weights with ``weight_decay``, the rest with 0.

    Example:
        >>> opt = torch.optim.AdamW(param_groups(torch.nn.Linear(2, 2), weight_decay=0.01))
    """
    names = set(decayed_names(model, exclude=exclude, include=include))
    decay = [p for n, p in model.named_parameters() if p.requires_grad and n in names]
    rest = [p for n, p in model.named_parameters() if p.requires_grad and n not in names]
    groups = [{"params": decay, "weight_decay": float(weight_decay)}]
    if rest:
        groups.append({"params": rest, "weight_decay": 0.0})
    return groups


def _tensors(params: Mapping[str, torch.Tensor], names: Iterable[str]) -> list[torch.Tensor]:
    return [params[n] for n in names]


def l2_penalty(
    params: Mapping[str, torch.Tensor], names: Iterable[str], *, weight_decay: float = 1.0
) -> torch.Tensor:
    """``weight_decay / 2 * sum of squares`` of ``params[names]`` (pure; works under vmap).

    Example:
        >>> l2_penalty({"w": torch.tensor([3.0, 4.0])}, ["w"], weight_decay=2.0)
        tensor(25.)
    """
    ts = _tensors(params, names)
    if not ts:
        return _zero(params)
    return 0.5 * weight_decay * sum(t.pow(2).sum() for t in ts)


def l1_penalty(
    params: Mapping[str, torch.Tensor], names: Iterable[str], *, strength: float = 1.0
) -> torch.Tensor:
    """``strength * sum of |w|`` over ``params[names]`` (pure; works under vmap).

    Example:
        >>> l1_penalty({"w": torch.tensor([3.0, -4.0])}, ["w"])
        tensor(7.)
    """
    ts = _tensors(params, names)
    if not ts:
        return _zero(params)
    return strength * sum(t.abs().sum() for t in ts)


def elastic_net_penalty(
    params: Mapping[str, torch.Tensor],
    names: Iterable[str],
    *,
    strength: float = 1.0,
    l1_ratio: float = 0.5,
) -> torch.Tensor:
    """``strength * (l1_ratio * |w|_1 + (1 - l1_ratio) / 2 * |w|_2^2)`` (pure; works under vmap)."""
    names = list(names)
    return l1_penalty(params, names, strength=strength * l1_ratio) + l2_penalty(
        params, names, weight_decay=strength * (1.0 - l1_ratio)
    )


def _zero(params: Mapping[str, torch.Tensor]) -> torch.Tensor:
    first = next(iter(params.values()), None)
    if first is None:
        return torch.zeros(())
    return first.new_zeros(())


def soft_threshold(w: torch.Tensor, threshold: float | torch.Tensor) -> torch.Tensor:
    """The proximal operator of ``threshold * |w|``: ``sign(w) * max(|w| - threshold, 0)``.

    Example:
        >>> soft_threshold(torch.tensor([-0.3, 0.05, 0.5]), 0.1)
        tensor([-0.2000,  0.0000,  0.4000])
    """
    return w.sign() * (w.abs() - threshold).clamp_min(0.0)


@torch.no_grad()
def l1_proximal_step(params: Sequence[torch.Tensor], threshold: float) -> None:
    """Soft-threshold ``params`` in place by ``threshold`` (= learning rate * L1 strength).

    Call it right after ``optimizer.step()``. Entries with ``|w| <= threshold`` become
    exactly 0. Runs on the parameters' device without host synchronisation.
    """
    if threshold <= 0:
        return
    params = list(params)
    if not params:
        return
    # sign(w) * max(|w| - t, 0) == w - clamp(w, -t, t): three fused multi-tensor ops, and
    # entries with |w| <= t become w - w, i.e. exactly 0.
    clipped = torch._foreach_clamp_max(params, threshold)
    torch._foreach_clamp_min_(clipped, -threshold)
    torch._foreach_sub_(params, clipped)


@torch.no_grad()
def sparsity(model: nn.Module, names: Iterable[str] | None = None) -> float:
    """Fraction of exact zeros among the given (default: decayed) parameters of ``model``.

    This reads values back to the host: call it for reporting, not inside the step.
    """
    wanted = set(decayed_names(model) if names is None else names)
    total = zeros = 0
    for n, p in model.named_parameters():
        if n in wanted:
            total += p.numel()
            zeros += int((p == 0).sum())
    return zeros / total if total else 0.0
