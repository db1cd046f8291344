"""Model zoo, head accessor and checkpoints.

>>> model = unleak.models.build("cnn", data, seed=0)
>>> unleak.models.head(model)            # the final nn.Linear
>>> unleak.models.save(model, "runs/orig"); unleak.models.load("runs/orig")
"""

from __future__ import annotations

from unleak.models.checkpoint import CheckpointMeta, load, read_metadata, save
from unleak.models.heads import head, penultimate
from unleak.models.zoo import (
    ZooModel,
    arch_defaults,
    arch_names,
    arch_spec,
    build,
    clone,
    fresh_copy,
    register_model,
)

__all__ = [
    "CheckpointMeta",
    "ZooModel",
    "arch_defaults",
    "arch_names",
    "arch_spec",
    "build",
    "clone",
    "fresh_copy",
    "head",
    "load",
    "penultimate",
    "read_metadata",
    "register_model",
    "save",
]
