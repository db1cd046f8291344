"""``salun``: saliency unlearning (Fan et al., "SalUn", ICLR 2024).

1. Saliency: the gradient of the forget loss (cross-entropy on the forget data, summed over its
   batches, the model in eval mode) with respect to every weight; the mask keeps the
   ``mask_ratio`` share of weights with the largest ``|gradient|``, ranked over the whole model.
2. Random-label unlearning (as ``rl``): fine-tune on the forget samples relabelled at random,
   mixed with the retained data, updating only the masked weights. Gradient hooks zero the
   gradients of the other weights during :func:`unleak.training.fit`; a callback puts those
   weights back after each step, so weight decay and momentum cannot move them either.

Defaults, from github OPTML-Group/Unlearn-Saliency: ``Classification/README.md`` (SalUn example:
``--unlearn RL --unlearn_epochs 10 --unlearn_lr 0.013 --mask_path mask/with_0.5.pt``, the mask
ratio 0.5 of ``generate_mask.py``, which thresholds the whole model at once);
``Classification/arg_parser.py`` (``batch_size 256, momentum 0.9, weight_decay 5e-4``,
``decreasing_lr 91,136``: a constant rate over 10 epochs); ``Classification/unlearn/RL.py``
(CIFAR-10: new labels drawn from every class; here always a wrong one, the ``all`` pool).
The authors pass over the forget data, then the retained data, each epoch; here they are mixed.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from unleak.data.core import Split
from unleak.models.inference import eval_mode
from unleak.training import Callback, TrainRun, TrainState, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method
from unleak.unlearning.rl import random_labels


class SalUnConfig(UnlearnConfig):
    epochs: float = Field(10, ge=0, le=10_000, description="passes over the data (authors: 10)")
    batch_size: int = Field(256, ge=1, le=1 << 16, description="batch size (authors: 256)")
    lr: float = Field(0.013, gt=0, le=100, description="learning rate (authors: 0.013)")
    schedule: Literal["constant", "cosine"] = "constant"
    mask_ratio: float = Field(
        0.5, gt=0, le=1, description="share of weights updated: the most salient for forgetting"
    )
    label_pool: Literal["exclude-forgotten", "all"] = Field(
        "all", description="new labels from the retained classes, or from every class but the true"
    )


def saliency_mask(
    model: nn.Module, forget: Split, ratio: float, batch_size: int
) -> dict[str, torch.Tensor]:
    """A 0/1 mask per parameter: the ``ratio`` share with the largest forget-loss gradient."""
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    dev = next(iter(params.values())).device
    total = {n: torch.zeros_like(p) for n, p in params.items()}
    with eval_mode(model), torch.enable_grad():
        for i in range(0, len(forget), batch_size):
            x, y = forget.x[i : i + batch_size].to(dev), forget.y[i : i + batch_size].to(dev)
            grads = torch.autograd.grad(
                F.cross_entropy(model(x), y), list(params.values()), allow_unused=True
            )
            for n, g in zip(params, grads, strict=True):
                if g is not None:
                    total[n] += g
    flat = torch.cat([g.abs().flatten() for g in total.values()])
    keep = torch.zeros_like(flat)
    keep[torch.topk(flat, max(1, int(ratio * len(flat)))).indices] = 1
    out, start = {}, 0
    for n, g in total.items():
        out[n] = keep[start : start + g.numel()].view_as(g)
        start += g.numel()
    return out


class HoldUnmasked(Callback):
    """Puts the weights outside the mask back to their values before unlearning, every step."""

    def __init__(self, model: nn.Module, mask: dict[str, torch.Tensor]) -> None:
        self.held = [
            (p, mask[n].bool(), p.detach().clone())
            for n, p in model.named_parameters()
            if n in mask and not bool(mask[n].all())
        ]

    def on_batch_end(self, state: TrainState) -> None:
        with torch.no_grad():
            for p, keep, p0 in self.held:
                p.copy_(torch.where(keep, p, p0))


@builtin_method("salun", SalUnConfig, "random-label unlearning on the forget-salient weights only")
def salun(
    model: nn.Module, retain: Split, forget: Split, config: SalUnConfig, ctx: UnlearnContext
) -> TrainRun:
    model.to(config.device)
    mask = saliency_mask(model, forget, config.mask_ratio, config.batch_size)
    gen = torch.Generator().manual_seed(config.seed + 1)
    labels = random_labels(forget, ctx, config.label_pool, gen)
    mixed = Split(
        torch.cat([forget.x, retain.x]), torch.cat([labels, retain.y]), forget.num_classes
    )
    hooks = [
        p.register_hook(lambda g, m=mask[n]: g * m)
        for n, p in model.named_parameters()
        if n in mask
    ]
    try:
        return fit(model, mixed, config, callbacks=[HoldUnmasked(model, mask), *ctx.callbacks])
    finally:
        for h in hooks:
            h.remove()
