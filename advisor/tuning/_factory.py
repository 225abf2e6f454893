"""Load a model factory (or a train step) named by a spec string, in this process or a worker.

A spec is ``path/to/file.py:name`` (the file is executed as a module named
``_advisor_user_<stem>``, its folder importable while it runs) or ``package.module:name``.
A function loaded from a file cannot be pickled by reference: a spawned worker process has no
module ``_advisor_user_<stem>`` to import. So every callable loaded here carries its spec
(``__advisor_spec__``), and the workers' pickler (``_workers``) sends the spec instead of the
function; the worker loads the file again with :func:`load_factory`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import FunctionType
from typing import Any

from advisor.errors import ConfigError

__all__ = ["SPEC_ATTR", "load_factory", "spec_of"]

SPEC_ATTR = "__advisor_spec__"  # set on each loaded callable: how a worker loads it again


def load_factory(spec: str, *, what: str = "--model") -> Any:
    """Resolve ``path/to/file.py:name`` or ``package.module:name`` to the callable it names.

    Args:
        spec: the file or module, a colon, and the attribute name.
        what: how the user gave the spec (``--model``, ``--train-step``), for the error line.

    Returns:
        The callable; for a file, it carries the spec with an absolute path (``spec_of``).

    Example:
        >>> load_factory("torch.nn:Identity")
        <class 'torch.nn.modules.linear.Identity'>
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise ConfigError(
            f"{what} {spec!r} must look like path/to/file.py:factory or package.module:factory."
        )
    target, _, attr = spec.rpartition(":")
    from_file = target.endswith(".py") or "/" in target or Path(target).is_file()
    module = _load_file(spec, target, what) if from_file else _import_module(spec, target, what)
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigError(f"{what} {spec!r}: {target} has no callable named {attr!r}.")
    if from_file:
        # A class or function: the workers' pickler finds the spec here (a builtin or a slotted
        # object takes no attribute and is pickled as it is).
        with contextlib.suppress(AttributeError, TypeError):
            setattr(factory, SPEC_ATTR, f"{Path(target).resolve()}:{attr}")
    return factory


def spec_of(obj: Any) -> str | None:
    """The spec a worker process loads ``obj`` from, when ``load_factory`` loaded it from a file."""
    # Own attributes only: an instance of a loaded class (a model) is not the class itself.
    spec = getattr(obj, "__dict__", {}).get(SPEC_ATTR)
    return spec if isinstance(spec, str) and isinstance(obj, type | FunctionType) else None


def _load_file(spec: str, target: str, what: str):
    path = Path(target)
    if not path.is_file():
        raise ConfigError(f"{what} {spec!r}: file {path} does not exist.")
    name = f"_advisor_user_{path.stem}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    folder = str(path.parent.resolve())
    sys.path.insert(0, folder)  # let the file import its neighbours
    try:
        module_spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # the user's file: any failure is theirs
        sys.modules.pop(name, None)
        where = ""
        if isinstance(exc, SyntaxError) and exc.lineno:
            where = f" at line {exc.lineno}"
        raise ConfigError(
            f"{what} {spec!r}: importing {path} failed{where} ({_one_line(exc)}); "
            "fix the file or install what it imports."
        ) from None
    finally:
        sys.path.remove(folder)
    return module


def _import_module(spec: str, target: str, what: str):
    try:
        return importlib.import_module(target)
    except (Exception, SystemExit) as exc:
        raise ConfigError(
            f"{what} {spec!r}: module {target!r} cannot be imported ({_one_line(exc)})."
        ) from None


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
