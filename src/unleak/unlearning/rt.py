"""``rt``: retrain from scratch on the retained data, the original recipe, the run's seed.

The reference every other method is compared with: it never saw the forgotten classes.
"""

from __future__ import annotations

from torch import nn

from unleak import models
from unleak.data.core import Split
from unleak.training import TrainRun, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method


class RTConfig(UnlearnConfig):
    """When the original training configuration is known it replaces these loop settings."""


@builtin_method("rt", RTConfig, "retrain from scratch on the retained data (the reference)")
def retrain(
    model: nn.Module, retain: Split, forget: Split, config: RTConfig, ctx: UnlearnContext
) -> TrainRun:
    fresh = models.fresh_copy(model, config.seed)
    cfg = config
    if ctx.original_config is not None:
        # the original recipe, a new seed
        cfg = RTConfig(
            **{**ctx.original_config.model_dump(), "seed": config.seed, "class_pure_epochs": 0}
        )
    return fit(fresh, retain, cfg, callbacks=ctx.callbacks)
