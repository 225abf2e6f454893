"""Stochastic depth: randomly drop whole residual branches during training.

Huang et al. 2016, "Deep Networks with Stochastic Depth": a residual block ``x + f(x)`` becomes
``x + b * f(x) / (1 - p_l)`` with ``b ~ Bernoulli(1 - p_l)`` drawn per sample ("drop path",
as in timm), and the identity ``x + f(x)`` at eval. The drop rate grows linearly with depth:
``p_l = p * l / L`` for the ``l``-th of ``L`` residual blocks.

:func:`add_stochastic_depth` finds the residual branches of a user's model:

1. known block types, changed in place of a deep copy with their parameter names kept:
   timm blocks (attributes ``drop_path``, ``drop_path1``, ``drop_path2``),
   ``nn.TransformerEncoderLayer`` (both sub-blocks), and torchvision-style ``BasicBlock`` /
   ``Bottleneck`` (``conv1``/``bn1``/``conv2``/``bn2``/``downsample``);
2. otherwise residual additions ``add(f(x), x)`` in the ``torch.fx`` graph, where one operand
   is computed from the other, get ``DropPath`` on the branch operand.

Example:
    >>> import torch
    >>> x = torch.ones(4, 3)
    >>> torch.equal(drop_path(x, 0.5, training=False), x)
    True
"""

from __future__ import annotations

import copy
import operator

import torch
from torch import fx, nn

from advisor.errors import ConfigError
from advisor.regularizers._surgery import _fresh_name, trace

__all__ = ["DropPath", "add_stochastic_depth", "drop_path"]


def drop_path(
    x: torch.Tensor,
    p: float,
    *,
    training: bool = True,
    batch_dim: int = 0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Zero whole samples of a residual branch with probability ``p``, rescale the rest.

    Without a generator it works under ``torch.func.vmap(..., randomness="different")``.
    """
    if not training or p == 0.0:
        return x
    shape = [1] * x.ndim
    shape[batch_dim] = x.shape[batch_dim]
    if generator is None:
        keep = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(1.0 - p)
    else:
        u = torch.rand(shape, generator=generator, device=generator.device).to(x.device)
        keep = (u >= p).to(x.dtype)
    return x * keep / (1.0 - p)


class DropPath(nn.Module):
    """Module form of :func:`drop_path` (identity in eval mode or at ``p = 0``)."""

    _advisor_leaf = True  # opaque to torch.fx, so a transformed model can be traced again

    def __init__(self, p: float = 0.1, *, batch_dim: int = 0):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"p of stochastic_depth must be in [0, 1), got {p!r}.")
        self.p = float(p)
        self.batch_dim = batch_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """:func:`drop_path` of ``x`` with this module's ``p`` (identity in eval mode)."""
        return drop_path(x, self.p, training=self.training, batch_dim=self.batch_dim)

    def extra_repr(self) -> str:
        """``p``, for the module's repr."""
        return f"p={self.p:.4g}"


# --- known block types -------------------------------------------------------------------


def _encoder_layer_forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
    x = src
    dp = self.drop_path
    if self.norm_first:
        x = x + dp(
            self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal=is_causal)
        )
        x = x + dp(self._ff_block(self.norm2(x)))
    else:
        x = self.norm1(
            x + dp(self._sa_block(x, src_mask, src_key_padding_mask, is_causal=is_causal))
        )
        x = self.norm2(x + dp(self._ff_block(x)))
    return x


def _resnet_block_forward(self, x):
    identity = x
    out = self.relu(self.bn1(self.conv1(x)))
    if hasattr(self, "conv3"):  # Bottleneck
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
    else:
        out = self.bn2(self.conv2(out))
    if self.downsample is not None:
        identity = self.downsample(x)
    return self.relu(self.drop_path(out) + identity)


_SWAPPED: dict[type, type] = {}


def _swap_class(block: nn.Module, forward) -> None:
    """Give ``block`` a subclass of its own class whose forward adds drop path (names kept)."""
    cls = type(block)
    new = _SWAPPED.get(cls)
    if new is None:
        new = type(f"StochasticDepth{cls.__name__}", (cls,), {"forward": forward})
        _SWAPPED[cls] = new
    block.__class__ = new


def _is_resnet_block(m: nn.Module) -> bool:
    return type(m).__name__ in ("BasicBlock", "Bottleneck") and all(
        hasattr(m, a) for a in ("conv1", "bn1", "conv2", "bn2", "relu", "downsample")
    )


def _known_slots(model: nn.Module) -> list[tuple[nn.Module, str, int]]:
    """(block, attribute, batch_dim) for every known residual branch, in module order."""
    slots = []
    for m in model.modules():
        timm = [
            a
            for a in ("drop_path", "drop_path1", "drop_path2")
            if isinstance(getattr(m, a, None), nn.Module)
        ]
        if timm:
            slots += [(m, a, 0) for a in timm]
        elif isinstance(m, nn.TransformerEncoderLayer):
            slots.append((m, "drop_path", 0 if m.self_attn.batch_first else 1))
        elif _is_resnet_block(m):
            slots.append((m, "drop_path", 0))
    return slots


# --- generic residual additions in the fx graph --------------------------------------------

_ADD_FUNCTIONS = {operator.add, operator.iadd, torch.add}


def _ancestors(node: fx.Node, cache: dict[fx.Node, set[fx.Node]]) -> set[fx.Node]:
    if node in cache:
        return cache[node]
    out: set[fx.Node] = set()
    stack = list(node.all_input_nodes)
    while stack:
        n = stack.pop()
        if n not in out:
            out.add(n)
            stack.extend(n.all_input_nodes)
    cache[node] = out
    return out


def _residual_adds(gm: fx.GraphModule) -> list[tuple[fx.Node, fx.Node]]:
    """(add node, branch operand) for additions where one operand derives from the other."""
    found = []
    cache: dict[fx.Node, set[fx.Node]] = {}
    for node in gm.graph.nodes:
        is_add = (node.op == "call_function" and node.target in _ADD_FUNCTIONS) or (
            node.op == "call_method" and node.target in ("add", "add_")
        )
        if not is_add or len(node.args) < 2:
            continue
        a, b = node.args[0], node.args[1]
        if not (isinstance(a, fx.Node) and isinstance(b, fx.Node)):
            continue
        if b in _ancestors(a, cache):
            found.append((node, a))
        elif a in _ancestors(b, cache):
            found.append((node, b))
    return found


def add_stochastic_depth(
    model: nn.Module, *, p: float = 0.1, inplace: bool = False
) -> tuple[nn.Module, list[str]]:
    """Add drop path to every residual branch with the linear schedule ``p * l / L``.

    Args:
        model: A model with residual connections (known blocks or traceable additions).
        p: Drop rate of the deepest branch.
        inplace: Modify ``model`` itself instead of a deep copy.

    Returns:
        ``(new_model, where)``: ``where`` names each branch and its drop rate.

    Raises:
        ConfigError: No residual branch was found, or the model cannot be traced.

    Example:
        >>> layer = torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
        >>> new, where = add_stochastic_depth(layer, p=0.2)
        >>> where
        ['self-attention/feed-forward of the model (p=0.2)']
    """
    if not 0.0 <= p < 1.0:
        raise ConfigError(f"p of stochastic_depth must be in [0, 1), got {p!r}.")
    model = model if inplace else copy.deepcopy(model)
    slots = _known_slots(model)
    names = {id(m): n for n, m in model.named_modules()}
    if slots:
        where = []
        for i, (block, attr, batch_dim) in enumerate(slots):
            rate = p * (i + 1) / len(slots)
            if isinstance(block, nn.TransformerEncoderLayer):
                _swap_class(block, _encoder_layer_forward)
                label = "self-attention/feed-forward of"
            elif _is_resnet_block(block):
                _swap_class(block, _resnet_block_forward)
                label = "residual branch of"
            else:
                label = f"{attr} of"
            setattr(block, attr, DropPath(rate, batch_dim=batch_dim))
            where.append(f"{label} {names.get(id(block)) or 'the model'} (p={rate:.3g})")
        return model, where
    gm = trace(model, "stochastic_depth")
    adds = _residual_adds(gm)
    if not adds:
        raise ConfigError(
            f"stochastic_depth: {type(model).__name__} has no residual connection (x + f(x)) to drop; "
            "remove stochastic_depth from the stack or use dropout."
        )
    where = []
    for i, (add, branch) in enumerate(adds):
        rate = p * (i + 1) / len(adds)
        name = _fresh_name(gm, "drop_path")
        gm.add_submodule(name, DropPath(rate))
        with gm.graph.inserting_before(add):
            new = gm.graph.call_module(name, (branch,))
        add.replace_input_with(branch, new)
        where.append(f"branch {branch.name} -> {add.name} (p={rate:.3g})")
    gm.graph.lint()
    gm.recompile()
    return gm, where
