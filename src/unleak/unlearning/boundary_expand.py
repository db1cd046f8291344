"""``boundary-expand``: Boundary Expanding (Chen et al., "Boundary Unlearning: Rapid Forgetting of
Deep Networks via Shifting the Decision Boundary", CVPR 2023).

The final linear layer gets one extra "shadow" output; the widened network is fine-tuned on the
forget data only, every sample relabelled to the shadow class, which pulls the forgotten
classes' region over to it; then the shadow output is cut off again. What the forget samples
learned to fire for is now a class that no longer exists, so they fall into their neighbours.

The shadow output rides on the head through a forward hook (its weights a temporary submodule
of the head, which ``nn.Linear`` never calls itself, so the one training loop optimises them with
the rest) rather than by swapping the head for a
wider layer: the network keeps its modules and parameter names, and the saved model loads into
the user's own architecture. Its weights are drawn as the authors initialise the widened
layer (Xavier-normal over ``K + 1`` outputs, bias 0) with the run's seed.

Defaults, from github TY-LEE-KR/Boundary-Unlearning-Code (``boundary_unlearning.py``,
``boundary_expanding``: ``finetune_epochs = 10``, ``optimizer_picker('sgd', ..., lr=0.00001,
momentum=0.9)``: no weight decay, a constant rate; ``models.init_params``; ``main.py``:
``--batch_size 64``). The whole widened network trains, in train mode as the authors run it
(``freeze_norm`` off). On the digits cnn (seed 0, class 3) most of the forgetting is that
train mode's doing: batch-norm statistics drift to the forget class's shadow-labelled batches
(forget test accuracy 0.98 to 0.39); with ``freeze_norm`` at the same settings it stays 0.96.

unleak implemented this method for the verdict's third test population (docs/protocol.md): no
attack rule or verdict rule was chosen on its models.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field
from torch import nn

from unleak import models
from unleak.data.core import Split
from unleak.errors import ConfigError, ModelError
from unleak.training import TrainRun, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method

SHADOW = "unleak_boundary_shadow"  # the temporary submodule holding the shadow output's weights


class BoundaryExpandConfig(UnlearnConfig):
    epochs: float = Field(10, gt=0, le=10_000, description="passes over the forget data (authors)")
    batch_size: int = Field(64, ge=1, le=1 << 16, description="batch size (authors: 64)")
    lr: float = Field(1e-5, gt=0, le=100, description="learning rate (authors: 1e-5)")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum (authors: 0.9)")
    weight_decay: float = Field(0.0, ge=0, le=1, description="weight decay (authors: none)")
    schedule: Literal["constant", "cosine"] = "constant"


def final_linear(model: nn.Module, input_shape: tuple[int, ...], method: str) -> nn.Linear:
    """The ``nn.Linear`` whose output is the model's logits, or a one-line :class:`ConfigError`
    naming ``method`` (which works on that layer)."""
    try:
        return models.head(model, input_shape)
    except ModelError as exc:
        raise ConfigError(f"{method} needs a final nn.Linear head: {exc.problem}", exc.fix) from exc


def shadow_output(fc: nn.Linear, gen: torch.Generator) -> nn.Linear:
    """One extra output for ``fc``, initialised as the authors' widened layer (Xavier-normal
    over ``K + 1`` outputs, zero bias)."""
    shadow = nn.Linear(fc.in_features, 1, bias=fc.bias is not None)
    std = math.sqrt(2.0 / (fc.in_features + fc.out_features + 1))
    with torch.no_grad():
        shadow.weight.copy_(torch.randn(shadow.weight.shape, generator=gen) * std)
        if shadow.bias is not None:
            shadow.bias.zero_()
    return shadow.to(fc.weight.device, fc.weight.dtype)


@builtin_method(
    "boundary-expand", BoundaryExpandConfig, "train forget data into an extra class, then drop it"
)
def boundary_expand(
    model: nn.Module,
    retain: Split,
    forget: Split,
    config: BoundaryExpandConfig,
    ctx: UnlearnContext,
) -> TrainRun:
    fc = final_linear(model, forget.input_shape, "boundary-expand")
    if hasattr(fc, SHADOW):
        raise ConfigError(
            f"the model's head already has a submodule named {SHADOW!r}", "rename that submodule"
        )
    shadow = shadow_output(fc, torch.Generator().manual_seed(config.seed))
    # on the head, not the model: an nn.Sequential would call a module appended to it
    fc.add_module(SHADOW, shadow)  # so fit's optimiser and device move include it
    hook = fc.register_forward_hook(lambda _m, inp, out: torch.cat([out, shadow(inp[0])], -1))
    relabelled = Split(forget.x, torch.full_like(forget.y, fc.out_features), fc.out_features + 1)
    try:
        run = fit(model, relabelled, config, callbacks=ctx.callbacks)
    finally:  # back to K outputs and the user's module structure, whatever happened
        hook.remove()
        delattr(fc, SHADOW)
    return run
