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
    debug: Annotated[
        bool, typer.Option("--debug", help="show the traceback of an unexpected error")
    ] = False,
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


def parse_normalize(text: str) -> dict[str, list[float]]:
    """``"0.1307,0.3081"`` (one channel) or ``"0.49,0.48,0.45/0.25,0.24,0.26"`` -> mean, std."""
    try:
        if "/" in text:
            mean_text, _, std_text = text.partition("/")
            mean = [float(v) for v in mean_text.split(",")]
            std = [float(v) for v in std_text.split(",")]
        else:
            values = [float(v) for v in text.split(",")]
            if len(values) % 2:
                raise ValueError
            half = len(values) // 2
            mean, std = values[:half], values[half:]
    except ValueError:
        raise ConfigError(
            f"--normalize {text!r} is not MEAN,STD",
            "write it like 0.1307,0.3081 or M1,M2,M3/S1,S2,S3",
        ) from None
    return {"mean": mean, "std": std}
