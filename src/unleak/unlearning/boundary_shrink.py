"""``boundary-shrink``: Boundary Shrink (Chen et al., "Boundary Unlearning: Rapid Forgetting of
Deep Networks via Shifting the Decision Boundary", CVPR 2023).

For each forget sample, one FGSM step on a frozen copy of the original (eval mode), of size
``bound`` in the [0, 1] input box, finds the nearest class across the decision boundary: the
adversarial example's predicted label. With ``exclude_true`` (the default) the true class never
counts, so every sample gets a wrong class even where the step does not cross the boundary; the
authors take the plain argmax. The model is then fine-tuned on the forget samples with those
labels, which shrinks the forgotten classes' regions into their neighbours. The frozen copy and
the FGSM step are deterministic, so the labels are computed once rather than once per epoch.

Defaults, from github TY-LEE-KR/Boundary-Unlearning-Code (the authors' code, also linked from the
paper): ``boundary_unlearning.py``, ``boundary_shrink`` (``bound=0.1``, ``poison_epoch=10``,
``SGD(lr=0.00001, momentum=0.9)``: no weight decay, a constant rate, the FGSM attack of
``adv_generator.py``) and ``main.py`` (``--batch_size 64``). The paper trains on the forget data
only, in train mode; ``freeze_norm`` keeps batch-norm statistics off those single-class batches.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from unleak.data.core import Split
from unleak.training import TrainRun, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method, frozen_copy


class BoundaryShrinkConfig(UnlearnConfig):
    epochs: float = Field(10, ge=0, le=10_000, description="passes over the forget data (authors)")
    batch_size: int = Field(64, ge=1, le=1 << 16, description="batch size (authors: 64)")
    lr: float = Field(1e-5, gt=0, le=100, description="learning rate (authors: 1e-5)")
    weight_decay: float = Field(0.0, ge=0, le=1, description="weight decay (authors: none)")
    schedule: Literal["constant", "cosine"] = "constant"
    bound: float = Field(0.1, gt=0, le=1, description="FGSM step size (L-inf) in the [0, 1] box")
    exclude_true: bool = Field(
        True, description="never relabel a sample with its own class (authors: plain argmax)"
    )


def nearest_labels(
    model: nn.Module, data: Split, bound: float, exclude_true: bool, batch_size: int
) -> torch.Tensor:
    """The class of each sample's FGSM neighbour at L-inf distance ``bound`` (frozen ``model``)."""
    dev = next(model.parameters()).device
    out = []
    for i in range(0, len(data), batch_size):
        x = data.x[i : i + batch_size].to(dev).requires_grad_(True)
        y = data.y[i : i + batch_size].to(dev)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(F.cross_entropy(model(x), y), x)
        x_adv = (x.detach() + bound * grad.sign()).clamp(0, 1)
        with torch.no_grad():
            logits = model(x_adv)
        if exclude_true:
            logits[torch.arange(len(y)), y] = float("-inf")
        out.append(logits.argmax(1).cpu())
    return torch.cat(out) if out else data.y.clone()


@builtin_method(
    "boundary-shrink", BoundaryShrinkConfig, "fine-tune forget data on its FGSM-nearest classes"
)
def boundary_shrink(
    model: nn.Module,
    retain: Split,
    forget: Split,
    config: BoundaryShrinkConfig,
    ctx: UnlearnContext,
) -> TrainRun:
    probe = frozen_copy(model, config.device)
    labels = nearest_labels(probe, forget, config.bound, config.exclude_true, 512)
    relabelled = Split(forget.x, labels, forget.num_classes)
    return fit(model, relabelled, config, callbacks=ctx.callbacks)
