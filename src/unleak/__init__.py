"""unleak: audit machine unlearning for label leakage.

A model owner "forgets" classes of an image classifier; unleak shows whether the unlearned model
still reveals which classes were forgotten. See ``README.md`` and ``docs/``.

The public names below load on first use (PEP 562), so ``import unleak`` (and the command line,
which answers ``--help`` and bad names from :mod:`unleak.catalog`) costs no torch import.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from unleak._version import __version__
from unleak.errors import UnleakError

if TYPE_CHECKING:
    from unleak import attacks, data, evaluation, models, unlearning
    from unleak.evaluation.results import ResultRow, Results
    from unleak.experiments.audit import AuditConfig, AuditResult, audit, audit_models
    from unleak.experiments.jobs import attack_model, train_original, unlearn_checkpoint
    from unleak.experiments.shadow import shadow_calibration
    from unleak.experiments.sweep import SweepConfig, run_sweep
    from unleak.training import Callback, History, TrainConfig, fit, train
    from unleak.unlearning import register_method, unlearn

logging.getLogger(__name__).addHandler(logging.NullHandler())

# public name -> the module that defines it (a sub-package is its own module)
_LAZY = {
    "attacks": "unleak.attacks",
    "data": "unleak.data",
    "evaluation": "unleak.evaluation",
    "models": "unleak.models",
    "unlearning": "unleak.unlearning",
    "ResultRow": "unleak.evaluation.results",
    "Results": "unleak.evaluation.results",
    "AuditConfig": "unleak.experiments.audit",
    "AuditResult": "unleak.experiments.audit",
    "audit": "unleak.experiments.audit",
    "audit_models": "unleak.experiments.audit",
    "attack_model": "unleak.experiments.jobs",
    "train_original": "unleak.experiments.jobs",
    "unlearn_checkpoint": "unleak.experiments.jobs",
    "shadow_calibration": "unleak.experiments.shadow",
    "SweepConfig": "unleak.experiments.sweep",
    "run_sweep": "unleak.experiments.sweep",
    "Callback": "unleak.training",
    "History": "unleak.training",
    "TrainConfig": "unleak.training",
    "fit": "unleak.training",
    "train": "unleak.training",
    "register_method": "unleak.unlearning",
    "unlearn": "unleak.unlearning",
}

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
    "audit_models",
    "data",
    "evaluation",
    "fit",
    "models",
    "register_method",
    "run_sweep",
    "shadow_calibration",
    "train",
    "train_original",
    "unlearn",
    "unlearn_checkpoint",
    "unlearning",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'unleak' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if module == f"unleak.{name}" else getattr(mod, name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
