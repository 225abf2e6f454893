"""Exceptions raised by advisor.

Every error a user can cause (a bad file, a bad flag, a malformed rule) is an
``AdvisorError``. The CLI turns it into one line on stderr and exit code 2;
library code never calls ``sys.exit``. Messages follow one template: what was
given, what is wrong, what is allowed or how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AdvisorError",
    "CheckpointError",
    "ConfigError",
    "CurveFormatError",
    "DataError",
    "RuleError",
    "UnsafeCheckpointError",
]


class AdvisorError(Exception):
    """Root of every error caused by user input (exit code 2 on the command line)."""


class CurveFormatError(AdvisorError):
    """A learning-curve file or directory cannot be read or holds no usable curve."""


class CheckpointError(AdvisorError):
    """A checkpoint or model file cannot be read safely."""


class UnsafeCheckpointError(CheckpointError):
    """Reading the file would execute code from it (a full pickled object)."""


class RuleError(AdvisorError):
    """A rule file is malformed. ``problems`` lists every problem found, not just the first."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class ConfigError(AdvisorError):
    """A flag or a ``[tool.advisor]`` setting is invalid."""


class DataError(AdvisorError):
    """Training data given to the tuner cannot be used."""
