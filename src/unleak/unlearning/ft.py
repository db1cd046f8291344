"""``ft``: fine-tune the original model on the retained data only.

Forgetting comes from the forgotten classes never appearing as targets: their logits are pushed
down whenever they win. It needs enough steps and a learning rate large enough to move the head.
"""

from __future__ import annotations

from torch import nn

from unleak.data.core import Split
from unleak.training import TrainRun, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method


class FTConfig(UnlearnConfig):
    pass


@builtin_method("ft", FTConfig, "fine-tune the original on the retained data", null_ok=True)
def fine_tune(
    model: nn.Module, retain: Split, forget: Split, config: FTConfig, ctx: UnlearnContext
) -> TrainRun:
    return fit(model, retain, config, callbacks=ctx.callbacks)
