"""Print a :class:`Stack` as a copy-paste PyTorch snippet (no torch import here).

Plain PyTorch wherever a few lines do it (weight decay groups, L1/L2 terms, proximal step,
dropout rates, label smoothing, mixup); one ``advisor.regularizers`` call where the technique
needs model surgery or a batched kernel (inserting layers, stochastic depth, augmentation,
cutmix), and ``EarlyStopping`` for early stopping, so the snippet, ``apply()`` and the tuner
stop by the same rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from advisor.regularizers._stack import Stack

__all__ = ["stack_to_code"]


def stack_to_code(stack: Stack, *, model: str = "model", lr: float = 1e-3) -> str:
    """Return Python source applying ``stack`` to a variable named ``model``."""
    m = model
    head = ["import torch", "import torch.nn.functional as F", ""]
    setup: list[str] = []
    step: list[str] = []
    after: list[str] = []
    epoch_end: list[str] = []  # once per epoch, before early stopping
    tail: list[str] = []  # after the loop
    uses_advisor: set[str] = set()
    p = {piece.technique: piece.params for piece in stack}

    if "batch_norm" in p:
        uses_advisor.add("insert_batch_norm")
        setup += [
            "# batch_norm: BatchNorm after conv/hidden Linear layers lacking it (needs batches >= 16)",
            f"{m}, _ = insert_batch_norm({m}, momentum={p['batch_norm']['momentum']!r}, linear={p['batch_norm']['linear']!r})",
        ]
    if "dropout" in p:
        d = p["dropout"]
        setup += [f"# dropout p={d['p']!r}"]
        if d["where"] == "insert":
            uses_advisor.add("insert_dropout")
            setup += [f"{m}, _ = insert_dropout({m}, p={d['p']!r}, spatial_p={d['spatial_p']!r})"]
        else:
            setup += [
                f"for module in {m}.modules():",
                "    if isinstance(module, torch.nn.modules.dropout._DropoutNd):",
                f"        module.p = {d['p']!r}",
            ]
            if d["where"] == "auto":
                setup += [
                    "# (no Dropout modules in the model? insert them: advisor.regularizers.insert_dropout)",
                ]
    if "stochastic_depth" in p:
        uses_advisor.add("add_stochastic_depth")
        setup += [
            f"# stochastic_depth: drop residual branches, rate rising linearly to {p['stochastic_depth']['p']!r}",
            f"{m}, _ = add_stochastic_depth({m}, p={p['stochastic_depth']['p']!r})",
        ]

    decay, coupled_l2, l1_prox, l1_pen = 0.0, 0.0, 0.0, 0.0
    if "l2" in p:
        if p["l2"]["decoupled"]:
            decay += p["l2"]["weight_decay"]
        else:
            coupled_l2 += p["l2"]["weight_decay"]
    if "elastic_net" in p:
        s, r = p["elastic_net"]["strength"], p["elastic_net"]["l1_ratio"]
        if p["elastic_net"]["proximal"]:
            decay, l1_prox = decay + s * (1 - r), l1_prox + s * r
        else:
            coupled_l2, l1_pen = coupled_l2 + s * (1 - r), l1_pen + s * r
    if "l1" in p:
        if p["l1"]["proximal"]:
            l1_prox += p["l1"]["strength"]
        else:
            l1_pen += p["l1"]["strength"]
    setup += [
        "# weights (ndim >= 2, outside norm layers) get weight decay; biases and norm parameters do not",
        "norm_params = {id(q) for mod in "
        + m
        + ".modules() if isinstance(mod, (torch.nn.modules.batchnorm._NormBase, torch.nn.LayerNorm, torch.nn.GroupNorm)) for q in mod.parameters(recurse=False)}",
        f"decayed = [q for q in {m}.parameters() if q.ndim >= 2 and id(q) not in norm_params]",
        f"others = [q for q in {m}.parameters() if q.ndim < 2 or id(q) in norm_params]",
        "optimizer = torch.optim.AdamW(",
        f'    [{{"params": decayed, "weight_decay": {decay!r}}}, {{"params": others, "weight_decay": 0.0}}], lr={lr!r}',
        ")",
    ]
    smoothing = p.get("label_smoothing", {}).get("smoothing", 0.0)
    mixing = "mixup" in p or "cutmix" in p
    if mixing or smoothing:
        setup += [
            f"def loss_fn(logits, target, smoothing={smoothing!r}):",
            "    # cross-entropy with label smoothing for hard (int) or soft (mixed) targets",
            "    if not target.is_floating_point():",
            "        return F.cross_entropy(logits, target, label_smoothing=smoothing)",
            "    target = target * (1 - smoothing) + smoothing / logits.shape[-1]",
            "    return -(target * F.log_softmax(logits, dim=-1)).sum(-1).mean()",
        ]
    else:
        setup += ["loss_fn = torch.nn.CrossEntropyLoss()"]
    if "data_augmentation" in p:
        a = p["data_augmentation"]
        uses_advisor.add("augment")
        step += [
            "x = augment(x, magnitude={!r}, transforms={!r}, no_flip={!r})  # batched, on the batch's device".format(
                a["magnitude"], a["transforms"], a["no_flip"]
            )
        ]
    if "mixup" in p:
        alpha = p["mixup"]["alpha"]
        step += [
            f"lam = float(torch.distributions.Beta({alpha!r}, {alpha!r}).sample())  # mixup",
            "perm = torch.randperm(x.shape[0], device=x.device)",
            "y = F.one_hot(y, num_classes).float() if not y.is_floating_point() else y",
            "x, y = lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm]",
        ]
    if "cutmix" in p:
        uses_advisor.add("cutmix_batch")
        step += [
            f"x, y = cutmix_batch(x, y, alpha={p['cutmix']['alpha']!r}, num_classes=num_classes)"
        ]
    step += [f"loss = loss_fn({m}(x), y)"]
    if coupled_l2 > 0:
        step += [
            f"loss = loss + {coupled_l2 / 2!r} * sum((q ** 2).sum() for q in decayed)  # L2 (wd/2 * ||w||^2)"
        ]
    if l1_pen > 0:
        step += [f"loss = loss + {l1_pen!r} * sum(q.abs().sum() for q in decayed)  # L1"]
    step += ["optimizer.zero_grad()", "loss.backward()", "optimizer.step()"]
    if l1_prox > 0:
        step += [
            "with torch.no_grad():  # L1 proximal step: soft-thresholding gives exact zeros",
            "    for q in decayed:",
            f"        q.copy_(q.sign() * (q.abs() - {lr * l1_prox!r}).clamp_min(0))",
        ]
    if "ema" in p:
        setup += [
            "# exponential moving average of the weights: validate, test and save ema.module",
            f"ema = torch.optim.swa_utils.AveragedModel({m}, use_buffers=True, "
            f"multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn({p['ema']['decay']!r}))",
        ]
        step += [f"ema.update_parameters({m})"]
    if "swa" in p:
        sw = p["swa"]
        setup += [
            "# stochastic weight averaging (torch.optim.swa_utils): validate, test and save swa_model",
            f"swa_model = torch.optim.swa_utils.AveragedModel({m}, use_buffers=True)",
            f"swa_start = min(epochs - 1, int({sw['start_fraction']!r} * epochs))  # first averaged epoch (0-based)",
        ]
        epoch_end += [
            "if epoch >= swa_start:",
            f"    swa_model.update_parameters({m})",
        ]
        if sw["lr"] is not None:
            setup += [
                f"swa_scheduler = torch.optim.swa_utils.SWALR(optimizer, swa_lr={sw['lr']!r}, "
                f"anneal_epochs={sw['anneal_epochs']!r})",
            ]
            epoch_end += ["    swa_scheduler.step()"]
        tail += [
            "# BatchNorm statistics of the average, from one pass over the training data",
            "torch.optim.swa_utils.update_bn(train_loader, swa_model)",
        ]
    es = p.get("early_stopping")
    if es:
        # The one EarlyStopping the tuner and apply() use, so the snippet stops the same way.
        uses_advisor.add("EarlyStopping")
        setup += [
            f"# early stopping on {es['monitor']} (patience {es['patience']}); restores the best weights",
            f"stopper = EarlyStopping(monitor={es['monitor']!r}, mode={es['mode']!r}, "
            f"patience={es['patience']!r}, min_delta={es['min_delta']!r}, restore_best={es['restore_best']!r})",
        ]
        after += [f"if stopper.step({es['monitor']}, {m}):  # once per epoch", "    break"]

    lines = list(head)
    if uses_advisor:
        lines.insert(2, f"from advisor.regularizers import {', '.join(sorted(uses_advisor))}")
    lines += [
        f"# regularizers: {', '.join(stack.techniques) or 'none'}",
        *setup,
        "",
        "for epoch in range(epochs):",
    ]
    lines += ["    for x, y in train_loader:"] + [f"        {s}" for s in step]
    lines += [f"    {s}" for s in epoch_end]
    if after:
        lines += ["    # ... compute the monitored validation value here ..."] + [
            f"    {s}" for s in after
        ]
    lines += tail
    return "\n".join(lines) + "\n"
