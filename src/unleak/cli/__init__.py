"""The ``unleak`` command line: a thin layer over the Python API.

Every command parses its options, calls one library function and renders what it returns (see
:mod:`unleak.cli.render`). Problems with the input raise :class:`~unleak.errors.UnleakError`,
which :func:`main` prints as one line on stderr with exit code 2.
"""

from __future__ import annotations

import contextlib
import sys

import typer
from rich.markup import escape
from typer.exceptions import TyperException

from unleak.cli import commands, data  # noqa: F401 - importing them registers the commands
from unleak.cli.app import app
from unleak.cli.render import err
from unleak.errors import UnleakError

# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> None:
    """Console entry point. Every problem with the input, the command line included, is one line
    on stderr, ``error: <problem>; <fix>.``, with exit code 2; Ctrl-C exits 130 (as a shell
    reports it). Anything else is a bug in unleak: one line and exit code 1, or the traceback
    with ``--debug``."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        code = app(args=args, standalone_mode=False, prog_name="unleak")
    except TyperException as exc:  # typer's own click: usage errors, bad option values
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            with contextlib.suppress(BrokenPipeError):
                print(ctx.get_help())  # noqa: T201 - the CLI renders
            sys.exit(0)
        command = ctx.command_path if ctx is not None else "unleak"
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        _fail(f"{message.rstrip('. ')}; run `{command} --help` for the options", 2)
    except (KeyboardInterrupt, typer.Abort):
        code = 130
    except UnleakError as exc:
        _fail(str(exc), 2)
    except OSError as exc:  # disk full, no permission, a file where a folder was expected...
        if debug:
            raise
        what = f" {exc.filename}" if exc.filename else ""
        _fail(
            f"cannot read or write{what}: {exc.strerror or exc}; check the path, its permissions "
            "and the free space",
            2,
        )
    except Exception as exc:
        if debug:
            raise
        _fail(
            f"internal error {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            "; rerun with --debug for the traceback and report it",
            1,
        )
    if code == 130:  # typer turns a Ctrl-C inside a command into a returned 130
        err.print("interrupted; nothing half-written was kept")
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    line = " ".join(message.split())
    line = line if line.endswith(".") else f"{line}."
    err.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
    sys.exit(code)
