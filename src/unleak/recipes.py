"""Default hyperparameters per data set and model, read from ``recipes.yaml``."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

import yaml


@functools.cache
def _table() -> dict[str, Any]:
    text = resources.files("unleak").joinpath("recipes.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def keys(dataset: str, input_shape: tuple[int, ...] | None) -> list[str]:
    """Recipe keys of a data set, most general first: its name; for ``npz:`` and ``folder:`` data
    an image-shape family (``rgb32``, ``grey28``), then the first file's stem
    (``svhn_test_exact_first10000``)."""
    kind, sep, rest = dataset.partition(":")
    if not sep or kind not in ("npz", "folder"):
        return [dataset]
    out = []
    if input_shape is not None:
        c, h, _ = input_shape
        out.append(f"{'rgb' if c == 3 else 'grey'}{h}")
    out.append(Path(rest.split(",")[0]).stem)
    return out


def lookup(
    section: str, dataset: str, model: str | None = None, input_shape: tuple[int, ...] | None = None
) -> dict[str, Any]:
    """Merged entries of ``section`` for ``dataset`` (and ``dataset/model``)."""
    table = _table().get(section, {})
    out: dict[str, Any] = {}
    for key in ["default", *keys(dataset, input_shape)]:
        for k in (key, f"{key}/{model}" if model else None):
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


def variants() -> dict[str, dict[str, Any]]:
    """Named recipes ``METHOD@VARIANT``: their description and documented forget-accuracy band."""
    return dict(_table().get("variants") or {})


def train_recipe(
    dataset: str, model: str, input_shape: tuple[int, ...] | None = None
) -> dict[str, Any]:
    return lookup("train", dataset, model, input_shape)


def default_model(dataset: str, input_shape: tuple[int, ...] | None = None) -> str:
    table = _table()["default_model"]
    model = table["default"]
    for key in keys(dataset, input_shape):
        model = table.get(key, model)
    return str(model)


def arch_args(
    dataset: str, model: str, input_shape: tuple[int, ...] | None, given: dict[str, Any] | None
) -> dict[str, Any]:
    """The recipe's architecture arguments (e.g. a CPU-sized width), under explicit ones."""
    return {**lookup("model_args", dataset, model, input_shape).get(model, {}), **(given or {})}
