"""unleak: audit machine unlearning for label leakage.

A model owner "forgets" classes of an image classifier; unleak shows whether the unlearned model
still reveals which classes were forgotten. See ``README.md`` and ``../shared/DESIGN.md``.
"""

from __future__ import annotations

import logging

from unleak import attacks, data, evaluation, models, unlearning
from unleak._version import __version__
from unleak.errors import UnleakError
from unleak.evaluation.results import ResultRow, Results
from unleak.experiments.audit import AuditConfig, AuditResult, audit
from unleak.experiments.jobs import attack_model, train_original, unlearn_checkpoint
from unleak.experiments.shadow import shadow_calibration
from unleak.experiments.sweep import SweepConfig, run_sweep
from unleak.training import Callback, History, TrainConfig, fit, train
from unleak.unlearning import unlearn

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AuditConfig",
    "AuditResult",
    "Callback",
    "History",
    "ResultRow",
    "Results",
    "SweepConfig",
    "TrainConfig",
    "UnleakError",
    "__version__",
    "attack_model",
    "attacks",
    "audit",
    "data",
    "evaluation",
    "fit",
    "models",
    "run_sweep",
    "shadow_calibration",
    "train",
    "train_original",
    "unlearn",
    "unlearn_checkpoint",
    "unlearning",
]
