"""The training set-up a plan is written for: objective, optimizer, learning rate.

Generated code (``Stack.to_code``) needs more than the regularizers: the loss must match the
objective (cross-entropy for classes, a regression loss for numbers) and the optimizer and
learning rate must be the user's, or a named placeholder that says what to use. The engine
reads them from the facts once, here.

Example:
    >>> from advisor.engine import build_facts
    >>> plan_setup(build_facts(declared={"classes": 1}))["objective"]
    'regression'
"""

from __future__ import annotations

from typing import Any

from advisor.catalogue import DEFAULT_OPTIMIZER, lr_hint
from advisor.engine._facts import Facts

__all__ = ["plan_setup"]

# Objectives whose targets are numbers: a regression loss, never cross-entropy.
_NUMERIC = ("regression", "forecasting")


def _objective(facts: Facts) -> str | None:
    objective = facts["objective"]
    if objective is not None:
        return "regression" if objective in _NUMERIC else objective
    classification = facts["classification"]
    if classification is None:
        return None
    return "classification" if classification else "regression"


def plan_setup(facts: Facts) -> dict[str, Any]:
    """``{"objective", "optimizer", "lr", "lr_hint"}`` for generated code.

    ``objective`` is ``"classification"``, ``"regression"`` or ``None`` (unknown); ``lr`` is the
    declared learning rate or ``None``, and then ``lr_hint`` says what to start from.
    """
    optimizer = facts["optimizer"] or DEFAULT_OPTIMIZER
    lr = facts["lr"]
    hint = None if lr is not None else lr_hint(optimizer, fine_tuning=bool(facts["pretrained"]))
    return {"objective": _objective(facts), "optimizer": optimizer, "lr": lr, "lr_hint": hint}
