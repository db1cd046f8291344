"""Errors that name the problem and the fix.

Every problem with the user's input (a name, a file, a shape, a forget set, a config value) raises
an :class:`UnleakError`. Its message is one line: the problem, then what to do about it. The CLI
prints it and exits with code 2.
"""

from __future__ import annotations


class UnleakError(Exception):
    """A problem the user can fix. ``str(err)`` is one line: problem, then fix."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem.rstrip(". ")
        self.fix = fix.rstrip(". ")
        super().__init__(f"{self.problem}; {self.fix}.")

    def __str__(self) -> str:  # always one line, whatever the parts hold
        return " ".join(super().__str__().split())


class DataError(UnleakError):
    """Unknown data set, missing or corrupt file, checksum mismatch, bad arrays."""


class ModelError(UnleakError):
    """Unknown architecture, bad checkpoint, model without a final linear layer."""


class ConfigError(UnleakError):
    """A configuration value or combination that cannot work."""


class ForgetSetError(UnleakError):
    """An impossible forget set: empty, every class, out of range or with duplicates."""


class AccessError(UnleakError):
    """An attack asked for more access to the target than its handle grants."""


class DivergenceError(UnleakError):
    """Training or unlearning produced a non-finite loss or weights."""


def unknown_name(kind: str, name: str, known: list[str] | tuple[str, ...]) -> str:
    """Message fragment for an unknown registry name, with the names that exist."""
    return f"unknown {kind} {name!r} (known: {', '.join(sorted(known))})"
