"""``unleak data list|check|download``."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from unleak import catalog
from unleak.cli import render
from unleak.cli.app import DataRoot, data_app
from unleak.cli.render import err, out
from unleak.errors import UnleakError

# --------------------------------------------------------------------------- data


@data_app.command("list")
def data_list(data_root: DataRoot = None) -> None:
    """List the data sets and whether their files are present under the data root."""
    from unleak import data

    root = data.resolve_root(data_root)
    table = Table(title=escape(f"data sets (root: {root})"))
    for col in ("name", "files", "description"):
        table.add_column(col)
    for name in data.names():
        s = data.spec(name)
        if not s.files:
            status = "embedded"
        else:
            present = sum((root / f.path).is_file() for f in s.files)
            status = f"{present}/{len(s.files)} present"
        table.add_row(name, status, escape(s.description))
    table.add_row("npz:PATH[,TEST]", "-", "your arrays x (images) and y (labels)")
    out.print(table)


@data_app.command("check")
def data_check(name: str, data_root: DataRoot = None) -> None:
    """Verify the official md5 of every file of a data set."""
    from unleak import data

    catalog.check_dataset(name)
    checks = data.check(name, data_root)
    if not checks:
        out.print(f"{escape(name)} is embedded: nothing to check")
        return
    out.print(render.checks_table(name, checks))
    bad = [c for c in checks if not c.ok]
    if bad:
        first = bad[0]
        problem = "missing" if first.actual is None else "md5 mismatch for"
        raise UnleakError(
            f"{name}: {problem} {first.path}"
            + (f" and {len(bad) - 1} more" if len(bad) > 1 else ""),
            f"run `unleak data download {name}` or replace the file(s) with the official ones",
        )


@data_app.command("download")
def data_download(name: str, data_root: DataRoot = None) -> None:
    """Download the official files of a data set (with md5 checks)."""
    from unleak import data

    catalog.check_dataset(name)
    with err.status(f"downloading {escape(name)}"):
        checks = data.download(name, data_root)
    if checks:
        out.print(render.checks_table(name, checks))
    else:
        out.print(f"{escape(name)} is embedded: nothing to download")
