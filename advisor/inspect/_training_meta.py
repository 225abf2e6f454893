"""Training metadata a checkpoint carries: optimizer (type recognised from its param-group
keys), lr schedulers, callbacks (early stopping, model checkpoint), hyper-parameters and
progress, from Lightning checkpoints and hand-written checkpoint dicts.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "lightning_training",
    "optimizer_summary",
    "optimizer_type",
    "plain_training",
    "scheduler_summary",
]


def lightning_training(ckpt: dict[str, Any]) -> dict[str, Any]:
    """Optimizer, schedulers, callbacks, hyper-parameters and progress of a Lightning checkpoint."""
    training: dict[str, Any] = {
        "epoch": ckpt.get("epoch"),
        "global_step": ckpt.get("global_step"),
        "lightning_version": ckpt.get("pytorch-lightning_version"),
        "optimizers": [
            optimizer_summary(s) for s in ckpt.get("optimizer_states") or [] if isinstance(s, dict)
        ],
        "lr_schedulers": [
            scheduler_summary(s) for s in ckpt.get("lr_schedulers") or [] if isinstance(s, dict)
        ],
        "early_stopping": None,
        "model_checkpoint": None,
        "callbacks": [],
        "hyper_parameters": _plain(_as_dict(ckpt.get("hyper_parameters"))),
    }
    for key, state in (ckpt.get("callbacks") or {}).items():
        name = str(key).split("{", 1)[0]
        settings = _callback_settings(str(key))
        training["callbacks"].append(name)
        if not isinstance(state, dict):
            continue
        if name == "EarlyStopping":
            training["early_stopping"] = {
                "monitor": settings.get("monitor"),
                "mode": settings.get("mode"),
                "patience": state.get("patience"),
                "wait_count": state.get("wait_count"),
                "stopped_epoch": state.get("stopped_epoch"),
                "best_score": _plain(state.get("best_score")),
            }
        elif name == "ModelCheckpoint":
            training["model_checkpoint"] = {
                "monitor": state.get("monitor", settings.get("monitor")),
                "mode": settings.get("mode"),
                "best_model_score": _plain(state.get("best_model_score")),
                "best_model_path": state.get("best_model_path"),
            }
    return training


def _as_dict(value: Any) -> dict[str, Any]:
    """Hyper-parameters as a dict (Lightning 1.x saved an ``argparse.Namespace``)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    return dict(vars(value)) if hasattr(value, "__dict__") else {"value": value}


def plain_training(ckpt: dict[str, Any], weights_key: str) -> dict[str, Any]:
    """Training metadata of a hand-written ``{"model_state_dict": ..., "optimizer...": ...}``."""
    training: dict[str, Any] = {"weights_key": weights_key, "optimizers": [], "lr_schedulers": []}
    for key in ("epoch", "global_step", "step", "iteration", "best_acc", "loss"):
        if key in ckpt and not isinstance(ckpt[key], dict):
            training[key] = _plain(ckpt[key])
    for key in ("optimizer", "optimizer_state_dict", "optim", "opt"):
        if isinstance(ckpt.get(key), dict) and "param_groups" in ckpt[key]:
            training["optimizers"].append(optimizer_summary(ckpt[key]))
    for key in ("scheduler", "lr_scheduler", "scheduler_state_dict"):
        if isinstance(ckpt.get(key), dict):
            training["lr_schedulers"].append(scheduler_summary(ckpt[key]))
    for key in ("hyper_parameters", "hparams", "args", "config"):
        if ckpt.get(key) is not None:
            training["hyper_parameters"] = _plain(_as_dict(ckpt[key]))
    return training


def _callback_settings(key: str) -> dict[str, Any]:
    """Parse the ``{'monitor': 'val_loss', 'mode': 'min'}`` part of a Lightning callback key."""
    import ast

    if "{" not in key:
        return {}
    try:
        value = ast.literal_eval(key[key.index("{") :])
    except (ValueError, SyntaxError):
        return {}
    return value if isinstance(value, dict) else {}


def optimizer_summary(state: dict[str, Any]) -> dict[str, Any]:
    """Optimizer type (from its param-group keys) and lr / weight decay per param group."""
    groups = [g for g in state.get("param_groups") or [] if isinstance(g, dict)]
    summary_groups = []
    for g in groups:
        entry = {
            "lr": _plain(g.get("lr")),
            "weight_decay": _plain(g.get("weight_decay")),
            "params": len(g.get("params") or []),
        }
        for extra in ("momentum", "nesterov", "betas", "initial_lr"):
            if extra in g:
                entry[extra] = _plain(g[extra])
        summary_groups.append(entry)
    return {"type": optimizer_type(groups[0] if groups else {}), "param_groups": summary_groups}


def optimizer_type(group: dict[str, Any]) -> str | None:
    """Name of the torch optimizer whose ``param_groups`` entry looks like ``group``.

    Optimizer state dicts do not store the class; each torch optimizer has its own set of
    hyper-parameter keys, which identifies it.
    """
    keys = set(group)
    if not keys:
        return None
    if "momentum_decay" in keys:
        return "NAdam"
    if "betas" in keys:
        if "amsgrad" in keys:
            if "decoupled_weight_decay" in keys:
                return "AdamW" if group["decoupled_weight_decay"] else "Adam"
            return "Adam/AdamW"
        if "decoupled_weight_decay" in keys:
            return "RAdam"
        return "Adamax"
    if "history_size" in keys:
        return "LBFGS"
    if "etas" in keys:
        return "Rprop"
    if "lambd" in keys:
        return "ASGD"
    if "lr_decay" in keys:
        return "Adagrad"
    if "centered" in keys:
        return "RMSprop"
    if "rho" in keys:
        return "Adadelta"
    if "dampening" in keys or "nesterov" in keys:
        return "SGD"
    return None


_SCHEDULER_KEYS = (
    ("milestones", "MultiStepLR"),
    ("T_0", "CosineAnnealingWarmRestarts"),
    ("T_max", "CosineAnnealingLR"),
    ("total_steps", "OneCycleLR"),
    ("step_size_up", "CyclicLR"),
    ("cooldown", "ReduceLROnPlateau"),
    ("step_size", "StepLR"),
    ("lr_lambdas", "LambdaLR"),
    ("power", "PolynomialLR"),
    ("start_factor", "LinearLR"),
    ("factor", "ConstantLR"),
    ("_schedulers", "SequentialLR/ChainedScheduler"),
    ("gamma", "ExponentialLR"),
)


def scheduler_summary(state: dict[str, Any]) -> dict[str, Any]:
    """Scheduler type (from its state keys) and its main settings."""
    kind = next((name for key, name in _SCHEDULER_KEYS if key in state), None)
    keep = (
        "step_size",
        "gamma",
        "milestones",
        "T_max",
        "T_0",
        "eta_min",
        "max_lrs",
        "total_steps",
        "patience",
        "factor",
        "mode",
        "base_lrs",
        "last_epoch",
    )
    return {"type": kind, **{k: _plain(state[k]) for k in keep if k in state}}


def _plain(value: Any) -> Any:
    from advisor._jsonutil import to_jsonable

    return to_jsonable(value)
