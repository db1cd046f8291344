"""The ``unleak`` command line: a thin layer over the Python API.

Every command parses its options, calls one library function and renders what it returns (see
:mod:`unleak.cli.render`). Problems with the input raise :class:`~unleak.errors.UnleakError`,
which :func:`main` prints as one line on stderr with exit code 2.
"""

from __future__ import annotations

import sys

from rich.markup import escape

from unleak.cli import commands, data  # noqa: F401 - importing them registers the commands
from unleak.cli.app import app
from unleak.cli.render import err
from unleak.errors import UnleakError

# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors with exit code 2 for problems with the input."""
    try:
        app(args=argv, standalone_mode=True)
    except UnleakError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
