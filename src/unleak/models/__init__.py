"""Model zoo, head accessor and checkpoints.

>>> model = unleak.models.build("cnn", data, seed=0)
>>> unleak.models.head(model)            # the final nn.Linear
>>> unleak.models.save(model, "runs/orig"); unleak.models.load("runs/orig")
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from unleak.data.core import Dataset
from unleak.errors import ModelError
from unleak.models.checkpoint import CheckpointMeta, load, read_metadata, save
from unleak.models.heads import head, penultimate
from unleak.models.zoo import ZooModel, arch_defaults, arch_names, arch_spec, register_model


def build(
    name: str,
    data: Dataset | None = None,
    *,
    input_shape: tuple[int, int, int] | None = None,
    num_classes: int | None = None,
    seed: int | None = 0,
    **arch_args: Any,
) -> nn.Module:
    """Build a zoo model for ``data`` (or an explicit ``input_shape`` and ``num_classes``).

    The model normalises with the data set's channel statistics; ``seed`` fixes its initial
    weights. The architecture and its arguments are kept on the model for checkpoints.
    """
    spec = arch_spec(name)
    defaults = arch_defaults(name)
    unknown = sorted(set(arch_args) - set(defaults) - {"mean", "std"})
    if unknown:
        raise ModelError(
            f"model {name!r} has no argument(s) {unknown}",
            f"use only {sorted(defaults) or 'no arguments'}",
        )
    if data is not None:
        input_shape = input_shape or data.input_shape
        num_classes = num_classes or data.num_classes
        arch_args.setdefault("mean", list(data.mean))
        arch_args.setdefault("std", list(data.std))
    if input_shape is None or num_classes is None:
        raise ModelError(
            f"no input shape or class count for model {name!r}",
            "pass a data set, or input_shape and num_classes",
        )
    input_shape = tuple(int(s) for s in input_shape)  # type: ignore[assignment]
    if len(input_shape) != 3 or min(input_shape) < 1 or int(num_classes) < 2:
        raise ModelError(
            f"input shape {input_shape} with {num_classes} classes",
            "give (C, H, W) and at least 2 classes",
        )
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        model = spec.builder(input_shape, int(num_classes), **arch_args)
    model.unleak_arch = {  # read by save(); plain data, JSON-serialisable
        "arch": name,
        "arch_args": {k: (list(v) if isinstance(v, tuple) else v) for k, v in arch_args.items()},
        "input_shape": list(input_shape),
        "num_classes": int(num_classes),
    }
    return model


def clone(model: nn.Module) -> nn.Module:
    """An independent copy of ``model`` (weights, buffers and architecture record)."""
    import copy

    return copy.deepcopy(model)


__all__ = [
    "CheckpointMeta",
    "ZooModel",
    "arch_defaults",
    "arch_names",
    "build",
    "clone",
    "head",
    "load",
    "penultimate",
    "read_metadata",
    "register_model",
    "save",
]
