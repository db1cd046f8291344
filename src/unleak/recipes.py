"""Default hyperparameters per data set and model, read from ``recipes.yaml``."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml


@functools.cache
def _table() -> dict[str, Any]:
    text = resources.files("unleak").joinpath("recipes.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def family(dataset: str, input_shape: tuple[int, ...] | None) -> str:
    """The recipe key of a data set: its name, or an image-shape family for ``npz:`` data."""
    if not dataset.startswith("npz:") or input_shape is None:
        return dataset
    c, h, _ = input_shape
    return f"{'rgb' if c == 3 else 'grey'}{h}"


def lookup(
    section: str, dataset: str, model: str | None = None, input_shape: tuple[int, ...] | None = None
) -> dict[str, Any]:
    """Merged entries of ``section`` for ``dataset`` (and ``dataset/model``)."""
    table = _table().get(section, {})
    key = family(dataset, input_shape)
    out: dict[str, Any] = {}
    for k in ("default", key, f"{key}/{model}" if model else None):
        if k and isinstance(table.get(k), dict):
            _merge(out, table[k])
    return out


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    """Merge ``new`` into ``into``, nested dicts key by key (a method's settings stay whole)."""
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            into[k] = {**into[k], **v}
        else:
            into[k] = dict(v) if isinstance(v, dict) else v


def train_recipe(
    dataset: str, model: str, input_shape: tuple[int, ...] | None = None
) -> dict[str, Any]:
    return lookup("train", dataset, model, input_shape)


def default_model(dataset: str) -> str:
    table = _table()["default_model"]
    return str(table.get(dataset, table["default"]))
