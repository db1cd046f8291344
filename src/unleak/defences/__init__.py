"""Defences a model owner can apply after unlearning, registered by name.

>>> defended = unleak.defences.build_defence("decoy").apply(unlearned, data.train, (3,), seed=0)
>>> hardened = unleak.defences.build_defence("top-k", k=1).harden(probabilities)

Weight defences (``decoy``, ``head-refit``) return a new model; output defences (``top-k``,
``round``, ``label-only``) change what the query interface answers.
"""

from unleak.defences import decoy, head_refit, outputs  # noqa: F401 - registers them
from unleak.defences.base import (
    Defence,
    DefenceConfig,
    build_defence,
    defence_class,
    defence_names,
    register_defence,
)

__all__ = [
    "Defence",
    "DefenceConfig",
    "build_defence",
    "defence_class",
    "defence_names",
    "register_defence",
]
