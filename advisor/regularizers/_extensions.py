"""Techniques that plug into ``apply()``, ``Stack.to_code()`` and the tuner without being named there.

The built-in parts of :class:`~advisor.regularizers.Applied` (surgery, penalties, proximal
step, loss, batch transform, early stopping, EMA) cover the classic regularizers. A technique
whose work is something else -- a weight average folded in once per epoch, a learning-rate
change, anything driven per epoch -- is an *extension*: its own module declares an
:class:`Extension` named ``EXTENSION``, and its catalogue entry names that module
(``Technique.impl``). Then

- ``apply()`` calls ``EXTENSION.build(model, params, context)`` and keeps the object it
  returns (``applied.extensions[technique]``, also ``applied.<technique>``);
  ``Applied.epoch_end`` drives it and ``Applied.eval_model`` evaluates its ``eval_module``;
- ``Stack.to_code()`` calls ``EXTENSION.write_code(code, params)`` to add its lines;
- the tuner's sequential folds move it to the device and drive it like any training loop;
  the vectorised folds run it only when ``EXTENSION.vectorised`` (else ``folds_mode="auto"``
  falls back to sequential folds).

So a new technique of this kind is its catalogue entry, its module and its export (plus a
conflict if it has one): nothing in ``apply()``, the code writer or the tuner changes.

The extension module is imported by ``to_code()``, which must not import torch: import torch
inside the functions and methods that need it, never at the module's top.

The object ``build`` returns must have:

- ``epoch_end(model, optimizer=None)``: called once per epoch, after its last step;
- ``eval_module``: the module to validate, test and save instead of the model, or ``None``
  while there is none yet (a property);
- ``to(device)``: move what it holds to the training device.

``write_code(code, params)`` appends source lines to ``code.setup`` (before the loop),
``code.step`` (after each optimizer step), ``code.epoch_end`` (once per epoch) and
``code.tail`` (after the loop); ``code.model`` is the model variable's name and
``code.need(name)`` adds a name the user must provide.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from advisor.catalogue import TECHNIQUES

__all__ = ["BuildContext", "Extension", "extension_of", "extensions_in"]


@dataclass(frozen=True)
class BuildContext:
    """What ``apply()`` knows about the run, for an extension's ``build``.

    Attributes:
        epochs: Epochs the run trains (``apply(..., epochs=)``), or None when not given.
        task: ``"classification"`` or ``"regression"``.
        lr: The fixed learning rate given to ``apply()``, or None.
        batch_size: The batch size given to ``apply()``, or None.
    """

    epochs: int | None = None
    task: str = "classification"
    lr: float | None = None
    batch_size: int | None = None


@dataclass(frozen=True)
class Extension:
    """A technique's hooks into ``apply()``, ``to_code()`` and the tuner (see the module doc).

    Attributes:
        technique: The catalogue name.
        build: ``(model, params, context) -> (object, notes)``: the object the training loop
            drives and what was set up, in words.
        write_code: ``(code, params) -> None``: adds the technique's lines to the snippet.
        vectorised: Whether the tuner's vectorised folds can run it (they cannot run a
            per-epoch hook on stacked weights unless the technique says how).
    """

    technique: str
    build: Callable[[Any, Mapping[str, Any], BuildContext], tuple[Any, list[str]]]
    write_code: Callable[[Any, Mapping[str, Any]], None]
    vectorised: bool = False


@cache
def extension_of(technique: str) -> Extension | None:
    """The extension of a catalogue technique, or None for a built-in one.

    Example:
        >>> extension_of("swa").technique, extension_of("l2")
        ('swa', None)
    """
    entry = TECHNIQUES.get(technique)
    if entry is None or not entry.impl:
        return None
    extension = getattr(importlib.import_module(entry.impl), "EXTENSION", None)
    if not isinstance(extension, Extension) or extension.technique != technique:
        raise TypeError(
            f"{entry.impl} must define EXTENSION = Extension({technique!r}, ...) for the "
            f"catalogue entry {technique!r}, got {extension!r}."
        )
    return extension


def extensions_in(techniques) -> list[Extension]:
    """The extensions among ``techniques`` (names), in the order given."""
    return [e for t in techniques if (e := extension_of(t)) is not None]
