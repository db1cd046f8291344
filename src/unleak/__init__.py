"""unleak: audit machine unlearning for label leakage.

A model owner "forgets" classes of an image classifier; unleak shows whether the unlearned model
still reveals which classes were forgotten. See ``README.md`` and ``../shared/DESIGN.md``.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

from unleak import attacks, data, evaluation, models, unlearning
from unleak.errors import UnleakError
from unleak.experiments.audit import AuditConfig, AuditResult, audit
from unleak.training import Callback, History, TrainConfig, fit, train
from unleak.unlearning import unlearn

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AuditConfig",
    "AuditResult",
    "Callback",
    "History",
    "TrainConfig",
    "UnleakError",
    "__version__",
    "attacks",
    "audit",
    "data",
    "evaluation",
    "fit",
    "models",
    "train",
    "unlearn",
    "unlearning",
]
