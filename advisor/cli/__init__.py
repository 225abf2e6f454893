"""The ``advisor`` command line: a thin layer over the Python API.

Commands are imported only when invoked, so ``advisor check`` never pays for
torch, optuna or matplotlib.
"""

from advisor.cli._main import cli, main

__all__ = ["cli", "main"]
