"""The Typer application, the options every command shares, and KEY=VALUE parsing."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from unleak.errors import ConfigError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help strings are plain text: "[/DECIDER]" is not markup
    help="Audit machine unlearning for label leakage.",
)
data_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="List, check and download data sets."
)
app.add_typer(data_app, name="data")

DataRoot = Annotated[
    Path | None,
    typer.Option(
        "--data-root",
        help="folder with the data sets (default: $UNLEAK_DATA, then a per-user cache)",
    ),
]


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log details")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def parse_kv(items: list[str] | None, what: str) -> dict[str, Any]:
    """``["width=64", "hidden=[128,64]"]`` -> ``{"width": 64, "hidden": [128, 64]}`` (YAML)."""
    values: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{what} {item!r} is not KEY=VALUE", f"write {what} like width=64")
        try:
            values[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"{what} {item!r} has an unreadable value", "quote it as YAML"
            ) from exc
    return values
