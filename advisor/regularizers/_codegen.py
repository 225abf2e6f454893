"""Print a :class:`Stack` as a copy-paste PyTorch snippet (no torch import here).

Plain PyTorch wherever a few lines do it (weight decay groups, L1/L2 terms, proximal step,
dropout rates, label smoothing, mixup); one ``advisor.regularizers`` call where the technique
needs model surgery or a batched kernel (inserting layers, stochastic depth, augmentation,
cutmix), and ``EarlyStopping`` for early stopping, so the snippet, ``apply()`` and the tuner
stop by the same rules.

The code is written for a training set-up (``setup``, the engine's ``Recommendations.setup``):
the loss matches the objective (cross-entropy for classes, mean squared error for numbers),
the optimizer is the one in effect (``advisor.catalogue.OPTIMIZERS``), and the learning rate is
the declared one or the name ``lr`` that the user provides, with a comment saying what to use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from advisor.catalogue import optimizer_of
from advisor.regularizers._extensions import extension_of

if TYPE_CHECKING:
    from advisor.regularizers._stack import Stack

__all__ = ["stack_to_code"]

# Objectives whose targets are numbers: their loss is a regression loss.
_NUMERIC = ("regression", "forecasting")
_NORMS = "torch.nn.modules.batchnorm._NormBase, torch.nn.LayerNorm, torch.nn.GroupNorm"


@dataclass
class _Code:
    """The parts of the snippet, filled technique by technique."""

    model: str
    needs: list[str] = field(default_factory=lambda: ["train_loader", "epochs"])
    setup: list[str] = field(default_factory=list)
    step: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    epoch_end: list[str] = field(default_factory=list)  # once per epoch, before early stopping
    tail: list[str] = field(default_factory=list)  # after the loop
    uses_advisor: set[str] = field(default_factory=set)

    def need(self, name: str) -> None:
        if name not in self.needs:
            self.needs.append(name)


@dataclass
class _Penalties:
    decay: float = 0.0
    coupled_l2: float = 0.0
    l1_prox: float = 0.0
    l1_pen: float = 0.0


def _surgery(code: _Code, p: Mapping[str, Mapping[str, Any]]) -> None:
    m = code.model
    if "batch_norm" in p:
        bn = p["batch_norm"]
        code.uses_advisor.add("insert_batch_norm")
        code.setup += [
            "# batch_norm: BatchNorm after conv/hidden Linear layers lacking it (needs batches >= 16)",
            f"{m}, _ = insert_batch_norm({m}, momentum={bn['momentum']!r}, linear={bn['linear']!r})",
        ]
    if "dropout" in p:
        d = p["dropout"]
        code.setup += [f"# dropout p={d['p']!r}"]
        if d["where"] == "insert":
            code.uses_advisor.add("insert_dropout")
            code.setup += [
                f"{m}, _ = insert_dropout({m}, p={d['p']!r}, spatial_p={d['spatial_p']!r})"
            ]
        else:
            code.setup += [
                f"for module in {m}.modules():",
                "    if isinstance(module, torch.nn.modules.dropout._DropoutNd):",
                f"        module.p = {d['p']!r}",
            ]
            if d["where"] == "auto":
                code.setup += [
                    "# (no Dropout modules in the model? insert them: advisor.regularizers.insert_dropout)",
                ]
    if "stochastic_depth" in p:
        rate = p["stochastic_depth"]["p"]
        code.uses_advisor.add("add_stochastic_depth")
        code.setup += [
            f"# stochastic_depth: drop residual branches, rate rising linearly to {rate!r}",
            f"{m}, _ = add_stochastic_depth({m}, p={rate!r})",
        ]


def _penalties(p: Mapping[str, Mapping[str, Any]]) -> _Penalties:
    out = _Penalties()
    if "l2" in p:
        if p["l2"]["decoupled"]:
            out.decay += p["l2"]["weight_decay"]
        else:
            out.coupled_l2 += p["l2"]["weight_decay"]
    if "elastic_net" in p:
        s, r = p["elastic_net"]["strength"], p["elastic_net"]["l1_ratio"]
        if p["elastic_net"]["proximal"]:
            out.decay, out.l1_prox = out.decay + s * (1 - r), out.l1_prox + s * r
        else:
            out.coupled_l2, out.l1_pen = out.coupled_l2 + s * (1 - r), out.l1_pen + s * r
    if "l1" in p:
        if p["l1"]["proximal"]:
            out.l1_prox += p["l1"]["strength"]
        else:
            out.l1_pen += p["l1"]["strength"]
    return out


def _optimizer(code: _Code, decay: float, setup: Mapping[str, Any], lr: float | None) -> None:
    m = code.model
    chosen = optimizer_of(setup.get("optimizer"))
    if lr is not None:
        code.setup += [f"lr = {lr!r}  # learning rate"]
    else:
        code.need("lr")
    extra = f", {chosen.arguments}" if chosen.arguments else ""
    code.setup += [
        "# weights (ndim >= 2, outside norm layers) get weight decay; biases and norm parameters do not",
        f"norm_params = {{id(q) for mod in {m}.modules() if isinstance(mod, ({_NORMS})) "
        "for q in mod.parameters(recurse=False)}",
        f"decayed = [q for q in {m}.parameters() if q.ndim >= 2 and id(q) not in norm_params]",
        f"others = [q for q in {m}.parameters() if q.ndim < 2 or id(q) in norm_params]",
        f"optimizer = torch.optim.{chosen.torch_class}(",
        f'    [{{"params": decayed, "weight_decay": {decay!r}}}, '
        f'{{"params": others, "weight_decay": 0.0}}], lr=lr{extra}',
        ")",
    ]


def _loss(code: _Code, p: Mapping[str, Mapping[str, Any]], objective: str | None) -> None:
    smoothing = p.get("label_smoothing", {}).get("smoothing", 0.0)
    if objective in _NUMERIC:
        code.setup += [
            "loss_fn = torch.nn.MSELoss()  # regression (torch.nn.HuberLoss() if targets have outliers)"
        ]
        if smoothing:
            code.setup += ["# label_smoothing left out: it applies to class targets only"]
        return
    mixing = "mixup" in p or "cutmix" in p
    if mixing or smoothing:
        code.setup += [
            f"def loss_fn(logits, target, smoothing={smoothing!r}):",
            "    # cross-entropy with label smoothing for hard (int) or soft (mixed) targets",
            "    if not target.is_floating_point():",
            "        return F.cross_entropy(logits, target, label_smoothing=smoothing)",
            "    target = target * (1 - smoothing) + smoothing / logits.shape[-1]",
            "    return -(target * F.log_softmax(logits, dim=-1)).sum(-1).mean()",
        ]
        return
    note = "" if objective else "  # classes; for numeric targets use torch.nn.MSELoss()"
    code.setup += [f"loss_fn = torch.nn.CrossEntropyLoss(){note}"]


def _batch(code: _Code, p: Mapping[str, Mapping[str, Any]]) -> None:
    if "data_augmentation" in p:
        a = p["data_augmentation"]
        code.uses_advisor.add("augment")
        code.step += [
            "if x.is_floating_point():  # token ids (integers) are never augmented",
            f"    x = augment(x, magnitude={a['magnitude']!r}, transforms={a['transforms']!r}, "
            f"no_flip={a['no_flip']!r})  # batched, on the batch's device",
        ]
    if "mixup" in p:
        alpha = p["mixup"]["alpha"]
        code.need("num_classes")
        code.step += [
            f"lam = float(torch.distributions.Beta({alpha!r}, {alpha!r}).sample())  # mixup",
            "perm = torch.randperm(x.shape[0], device=x.device)",
            "y = F.one_hot(y, num_classes).float() if not y.is_floating_point() else y",
            "x, y = lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm]",
        ]
    if "cutmix" in p:
        code.need("num_classes")
        code.uses_advisor.add("cutmix_batch")
        code.step += [
            f"x, y = cutmix_batch(x, y, alpha={p['cutmix']['alpha']!r}, num_classes=num_classes)"
        ]


def _forward(code: _Code, objective: str | None, penalties: _Penalties) -> None:
    m = code.model
    if objective in _NUMERIC:
        code.step += [
            f"out = {m}(x)",
            "loss = loss_fn(out, y.reshape(out.shape).to(out.dtype))  # targets shaped like outputs",
        ]
    else:
        code.step += [f"loss = loss_fn({m}(x), y)"]
    if penalties.coupled_l2 > 0:
        half = penalties.coupled_l2 / 2
        code.step += [
            f"loss = loss + {half!r} * sum((q ** 2).sum() for q in decayed)  # L2 (wd/2 * ||w||^2)"
        ]
    if penalties.l1_pen > 0:
        code.step += [
            f"loss = loss + {penalties.l1_pen!r} * sum(q.abs().sum() for q in decayed)  # L1"
        ]
    code.step += ["optimizer.zero_grad()", "loss.backward()", "optimizer.step()"]
    if penalties.l1_prox > 0:
        code.step += [
            "with torch.no_grad():  # L1 proximal step: soft-thresholding gives exact zeros",
            "    for q in decayed:",
            f"        q.copy_(q.sign() * (q.abs() - lr * {penalties.l1_prox!r}).clamp_min(0))",
        ]


def _averages(code: _Code, p: Mapping[str, Mapping[str, Any]]) -> None:
    """The weight averages: ``ema`` here, the extension techniques' own lines (``_extensions``)."""
    m = code.model
    if "ema" in p:
        code.setup += [
            "# exponential moving average of the weights: validate, test and save ema.module",
            f"ema = torch.optim.swa_utils.AveragedModel({m}, use_buffers=True, "
            f"multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn({p['ema']['decay']!r}))",
        ]
        code.step += [f"ema.update_parameters({m})"]
    for technique, params in p.items():
        if (ext := extension_of(technique)) is not None:
            ext.write_code(code, params)


def _early_stopping(code: _Code, p: Mapping[str, Mapping[str, Any]]) -> None:
    es = p.get("early_stopping")
    if not es:
        return
    # The one EarlyStopping the tuner and apply() use, so the snippet stops the same way.
    code.uses_advisor.add("EarlyStopping")
    code.need(es["monitor"])
    code.setup += [
        f"# early stopping on {es['monitor']} (patience {es['patience']}); restores the best weights",
        f"stopper = EarlyStopping(monitor={es['monitor']!r}, mode={es['mode']!r}, "
        f"patience={es['patience']!r}, min_delta={es['min_delta']!r}, restore_best={es['restore_best']!r})",
    ]
    code.after += [
        f"if stopper.step({es['monitor']}, {code.model}):  # once per epoch",
        "    break",
    ]


def _header(code: _Code, techniques: list[str], lr_hint: str | None) -> list[str]:
    lines = ["import torch", "import torch.nn.functional as F", ""]
    if code.uses_advisor:
        lines.insert(2, f"from advisor.regularizers import {', '.join(sorted(code.uses_advisor))}")
    lines += [f"# regularizers: {', '.join(techniques) or 'none'}"]
    lines += [f"# provide: {code.model}, {', '.join(code.needs)}"]
    if "lr" in code.needs:
        start = f"; a usual start: {lr_hint}" if lr_hint else ""
        lines += [f"# lr: the learning rate you train with{start}"]
    return lines


def stack_to_code(
    stack: Stack,
    *,
    model: str = "model",
    lr: float | None = None,
    setup: Mapping[str, Any] | None = None,
) -> str:
    """Return Python source applying ``stack`` to a variable named ``model``.

    Args:
        stack: the stack to print.
        model: the name of the model variable.
        lr: the learning rate to write (``setup["lr"]`` wins); ``None`` leaves the name ``lr``
            for the user to provide, with ``setup["lr_hint"]`` saying what to use.
        setup: the training set-up (``Recommendations.setup``): ``objective``
            (``"classification"``, ``"regression"``, ``"forecasting"`` or ``None``),
            ``optimizer`` (``adamw``, ``adam``, ``sgd``; AdamW when absent), ``lr``, ``lr_hint``.
    """
    setup = dict(setup or {})
    objective = setup.get("objective")
    rate = setup.get("lr") if setup.get("lr") is not None else lr
    code = _Code(model)
    p = {piece.technique: piece.params for piece in stack}
    _surgery(code, p)
    penalties = _penalties(p)
    _optimizer(code, penalties.decay, setup, rate)
    _loss(code, p, objective)
    _batch(code, p)
    _forward(code, objective, penalties)
    _averages(code, p)
    _early_stopping(code, p)

    lines = _header(code, stack.techniques, setup.get("lr_hint"))
    lines += [*code.setup, "", "for epoch in range(epochs):", "    for x, y in train_loader:"]
    lines += [f"        {s}" for s in code.step]
    lines += [f"    {s}" for s in code.epoch_end]
    if code.after:
        lines += ["    # ... compute the monitored validation value here ..."]
        lines += [f"    {s}" for s in code.after]
    lines += code.tail
    return "\n".join(lines) + "\n"
