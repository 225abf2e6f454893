"""Model surgery with torch.fx: set or insert dropout, insert batch normalisation.

- Dropout (Srivastava et al. 2014): ``y = x * m / (1 - p)``, ``m ~ Bernoulli(1 - p)`` in
  training, identity at eval (so the expectation is preserved). :func:`set_dropout` sets the
  rate of the model's existing ``nn.Dropout*`` modules; :func:`insert_dropout` traces the model
  (``torch.fx``) and adds ``nn.Dropout(p)`` after activations that follow a ``Linear`` layer
  and before the classifier head (the last ``Linear``), and ``nn.Dropout{1,2,3}d(spatial_p)``
  (spatial dropout, Tompson et al. 2015) after activations of convolutional blocks.
- Batch normalisation (Ioffe & Szegedy 2015): :func:`insert_batch_norm` adds
  ``BatchNorm{1,2,3}d`` after convolutions and a last-dimension batch norm after hidden
  ``Linear`` layers that are not already followed by a normalisation layer. Caveat: the batch
  statistics are noisy below ~16 samples per batch (Wu & He 2018); prefer GroupNorm there.

Surgery deep-copies the model by default (``inplace=False``): the user's object is never
modified silently. The result of an fx transformation is a ``torch.fx.GraphModule`` that keeps
the original parameter names, so ``state_dict`` of the original model loads into it (strict
loading of the new model's dict also needs the inserted BatchNorm buffers). Models with
data-dependent control flow cannot be traced; that raises :class:`advisor.ConfigError` with the
tracer's reason and what to do instead.

Example:
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> new, where = insert_dropout(net, p=0.2)
    >>> where
    ['Dropout(0.2) after 1 (ReLU)']
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import fx, nn

from advisor.errors import ConfigError

__all__ = [
    "LastDimBatchNorm",
    "dropout",
    "insert_batch_norm",
    "insert_dropout",
    "set_dropout",
    "trace",
]

_DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)
_ACT_MODULES = (
    nn.ReLU,
    nn.ReLU6,
    nn.GELU,
    nn.SiLU,
    nn.Tanh,
    nn.LeakyReLU,
    nn.ELU,
    nn.SELU,
    nn.Mish,
    nn.PReLU,
    nn.Hardswish,
    nn.Softplus,
    nn.Sigmoid,
)
_ACT_FUNCTIONS = {
    F.relu,
    torch.relu,
    F.gelu,
    F.silu,
    torch.tanh,
    F.tanh,
    F.leaky_relu,
    F.elu,
    F.selu,
    F.mish,
    F.hardswish,
    torch.sigmoid,
    F.softplus,
    F.relu6,
}
_ACT_METHODS = {"relu", "tanh", "sigmoid"}
_CONV = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3}
_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
_PASS_THROUGH = {torch.flatten, operator.getitem}


def dropout(
    x: torch.Tensor, p: float, *, training: bool = True, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Inverted dropout. Without a generator it is ``F.dropout`` (works under
    ``torch.func.vmap(..., randomness="different")``); with one, draws are reproducible.

    Example:
        >>> dropout(torch.ones(3), 0.5, training=False)
        tensor([1., 1., 1.])
    """
    if not training or p == 0.0:
        return x
    if generator is None:
        return F.dropout(x, p, training=True)
    keep = torch.rand(x.shape, generator=generator, device=generator.device).to(x.device) >= p
    return x * keep.to(x.dtype) / (1.0 - p)


class LastDimBatchNorm(nn.BatchNorm1d):
    """BatchNorm over the last dimension for any rank: ``(N, F)`` or ``(N, T, F)`` (tokens as samples).

    Same parameters and buffers as ``nn.BatchNorm1d(F)``.
    """

    _advisor_leaf = True  # opaque to torch.fx (its rank check is Python control flow)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise the last dimension, every other position counted as a sample."""
        if x.ndim == 2:
            return super().forward(x)
        shape = x.shape
        return super().forward(x.reshape(-1, shape[-1])).reshape(shape)


def trace(model: nn.Module, technique: str, *, leaves: tuple[type, ...] = ()) -> fx.GraphModule:
    """Symbolically trace ``model``; a failure becomes a one-line ``ConfigError``."""

    class _Tracer(fx.Tracer):
        def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
            # Our own inserted layers stay opaque so a transformed model can be traced again.
            if isinstance(m, leaves) or getattr(m, "_advisor_leaf", False):
                return True
            return super().is_leaf_module(m, qualname)

    try:
        graph = _Tracer().trace(model)
    except Exception as err:  # fx raises many types (TraceError, TypeError, ...)
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(
            f"{technique}: cannot trace {type(model).__name__} with torch.fx ({reason[:160]}); "
            f"add the layers to the model yourself or pass a traceable model."
        ) from None
    return fx.GraphModule(model, graph, class_name=type(model).__name__)


def _module(gm: fx.GraphModule, node: fx.Node) -> nn.Module | None:
    if node.op == "call_module":
        return gm.get_submodule(str(node.target))
    return None


def _is_activation(gm: fx.GraphModule, node: fx.Node) -> bool:
    if node.op == "call_module":
        return isinstance(_module(gm, node), _ACT_MODULES)
    if node.op == "call_function":
        return node.target in _ACT_FUNCTIONS
    return node.op == "call_method" and node.target in _ACT_METHODS


def _producer(gm: fx.GraphModule, node: fx.Node) -> nn.Module | None:
    """The Linear/Conv module feeding ``node``, looking through normalisation layers."""
    seen = 0
    while isinstance(node, fx.Node) and seen < 4:
        mod = _module(gm, node)
        if isinstance(mod, nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d):
            return mod
        if not (isinstance(mod, _NORM_TYPES) or _is_activation(gm, node)) or not node.args:
            return None
        node = node.args[0]
        seen += 1
    return None


def _users_are(gm: fx.GraphModule, node: fx.Node, types: tuple[type, ...]) -> bool:
    return bool(node.users) and all(isinstance(_module(gm, u), types) for u in node.users)


def _insert_after(gm: fx.GraphModule, node: fx.Node, name: str, module: nn.Module) -> fx.Node:
    gm.add_submodule(name, module)
    with gm.graph.inserting_after(node):
        new = gm.graph.call_module(name, (node,))
    node.replace_all_uses_with(new, delete_user_cb=lambda user: user is not new)
    return new


def _fresh_name(gm: fx.GraphModule, base: str) -> str:
    names = {n for n, _ in gm.named_modules()}
    i = 0
    while f"{base}_{i}" in names:
        i += 1
    return f"{base}_{i}"


def _head(gm: fx.GraphModule) -> fx.Node | None:
    """The last Linear call in graph order (the classifier/regression head)."""
    last = None
    for node in gm.graph.nodes:
        if isinstance(_module(gm, node), nn.Linear):
            last = node
    return last


def set_dropout(model: nn.Module, p: float) -> int:
    """Set the rate of every ``nn.Dropout*`` module in place; return how many were set.

    Example:
        >>> set_dropout(torch.nn.Sequential(torch.nn.Dropout(0.1)), 0.4)
        1
    """
    count = 0
    for mod in model.modules():
        if isinstance(mod, _DROPOUT_TYPES):
            mod.p = float(p)
            count += 1
    return count


def insert_dropout(
    model: nn.Module, *, p: float = 0.3, spatial_p: float = 0.1, inplace: bool = False
) -> tuple[nn.Module, list[str]]:
    """Insert dropout where the architecture calls for it (see the module docstring).

    Args:
        model: A traceable model.
        p: Rate after fully connected activations and before the head.
        spatial_p: Rate of channel dropout after convolutional activations (0 disables).
        inplace: Trace ``model`` itself instead of a deep copy (fx reuses its submodules).

    Returns:
        ``(new_model, where)``, where ``where`` lists the places dropout went.

    Raises:
        ConfigError: The model cannot be traced by torch.fx.
    """
    gm = trace(model if inplace else copy.deepcopy(model), "dropout")
    where: list[str] = []
    for node in list(gm.graph.nodes):
        if not _is_activation(gm, node) or _users_are(gm, node, _DROPOUT_TYPES):
            continue
        src = _producer(gm, node.args[0]) if node.args else None
        if isinstance(src, nn.Linear) and p > 0:
            layer: nn.Module = nn.Dropout(p)
            _insert_after(gm, node, _fresh_name(gm, "dropout"), layer)
        elif type(src) in _CONV and spatial_p > 0:
            cls = {1: nn.Dropout1d, 2: nn.Dropout2d, 3: nn.Dropout3d}[_CONV[type(src)]]
            layer = cls(spatial_p)
            _insert_after(gm, node, _fresh_name(gm, "spatial_dropout"), layer)
        else:
            continue
        where.append(f"{type(layer).__name__}({layer.p:g}) after {_describe(gm, node)}")
    head = _head(gm)
    if head is not None and p > 0 and head.args:
        feed = head.args[0]
        already = isinstance(feed, fx.Node) and isinstance(_module(gm, feed), _DROPOUT_TYPES)
        if isinstance(feed, fx.Node) and not already:
            name = _fresh_name(gm, "dropout")
            gm.add_submodule(name, nn.Dropout(p))
            with gm.graph.inserting_before(head):
                new = gm.graph.call_module(name, (feed,))
            head.replace_input_with(feed, new)
            where.append(f"Dropout({p:g}) before head {head.target}")
    gm.graph.lint()
    gm.recompile()
    return gm, where


def _describe(gm: fx.GraphModule, node: fx.Node) -> str:
    mod = _module(gm, node)
    if mod is not None:
        return f"{node.target} ({type(mod).__name__})"
    return node.name


def insert_batch_norm(
    model: nn.Module, *, momentum: float = 0.1, linear: bool = True, inplace: bool = False
) -> tuple[nn.Module, list[str]]:
    """Insert batch normalisation after conv (and hidden Linear) layers lacking normalisation.

    The head (last Linear) is never normalised. Returns ``(new_model, where)``.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU())
        >>> new, where = insert_batch_norm(net)
        >>> where
        ['after 0 (Conv2d)']
    """
    gm = trace(model if inplace else copy.deepcopy(model), "batch_norm")
    head = _head(gm)
    where: list[str] = []
    for node in list(gm.graph.nodes):
        mod = _module(gm, node)
        if _users_are(gm, node, _NORM_TYPES):
            continue
        if type(mod) in _CONV:
            cls = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[_CONV[type(mod)]]
            norm: nn.Module = cls(mod.out_channels, momentum=momentum)
        elif isinstance(mod, nn.Linear) and linear and node is not head:
            norm = LastDimBatchNorm(mod.out_features, momentum=momentum)
        else:
            continue
        weight = next(mod.parameters())
        norm.to(device=weight.device, dtype=weight.dtype)
        _insert_after(gm, node, _fresh_name(gm, "batch_norm"), norm)
        where.append(f"after {node.target} ({type(mod).__name__})")
    gm.graph.lint()
    gm.recompile()
    return gm, where


def names_of(modules: Iterable[str]) -> str:
    """The names joined by commas, or ``"nowhere"`` when there are none (for messages)."""
    return ", ".join(modules) or "nowhere"
