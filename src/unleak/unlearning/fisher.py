"""``fisher``: Fisher forgetting (Golatkar et al., "Eternal Sunshine of the Spotless Net",
CVPR 2020). No training: noise scaled by the inverse Fisher information of the retained data.

Each weight becomes ``mu + sqrt(alpha x var) x N(0, 1)``, with ``var = 1 / (F_r + 1e-8)``
clamped at 1000 (100 on the head), averaged over each output unit's inputs, and 10 times larger
on the head and on 1-d parameters. On the head, the forgotten classes' rows are set to 0 with a
tiny variance (their ``mu[class] = 0``, ``var[class] = 1e-4``). ``F_r`` is the true Fisher
diagonal (labels drawn from the model's softmax) on ``max_samples`` retained samples.

Constants from github AdityaGolatkar/SelectiveForgetting (``Forgetting.ipynb``,
``get_mean_var``); the authors estimate the Fisher one sample at a time and weight every class
by its probability, here batches of ``batch_size`` with sampled labels (a cheaper estimate).
``alpha`` (authors: 1e-6 to 1e-7 by network) is the one knob.

unleak implemented this method for the verdict's test population (docs/protocol.md): no
attack rule or verdict rule was chosen on its models.
"""

from __future__ import annotations

import time

import torch
from pydantic import Field
from torch import nn

from unleak import models
from unleak.data.core import Split
from unleak.training import History, TrainRun
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method
from unleak.unlearning.ssd import gradient_importance


class FisherConfig(UnlearnConfig):
    alpha: float = Field(1e-6, gt=0, le=1, description="scale of the noise (authors 1e-6)")
    batch_size: int = Field(8, ge=1, le=1 << 16)
    max_samples: int = Field(4000, ge=1, description="retained samples for the Fisher")


@builtin_method("fisher", FisherConfig, "noise scaled by the inverse Fisher of the retained data")
def fisher(
    model: nn.Module, retain: Split, forget: Split, config: FisherConfig, ctx: UnlearnContext
) -> TrainRun:
    start = time.perf_counter()
    model.to(config.device)
    fr = gradient_importance(
        model,
        retain,
        config.batch_size,
        max_samples=config.max_samples,
        seed=config.seed,
        sampled_labels=True,
    )
    fc = models.head(model)
    head_params = {id(fc.weight), id(fc.bias) if fc.bias is not None else None}
    gone = list(ctx.forget_classes)
    gen = torch.Generator().manual_seed(config.seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name not in fr:
                continue
            on_head = id(p) in head_params
            var = (1.0 / (fr[name] + 1e-8)).clamp(max=100.0 if on_head else 1000.0)
            var = config.alpha * var
            if p.ndim > 1:
                var = var.flatten(1).mean(1).view(-1, *[1] * (p.ndim - 1)).expand_as(p).clone()
            mu = p.detach().clone()
            if on_head and gone:
                mu[gone] = 0.0
                var[gone] = 1e-4
            if on_head or p.ndim == 1:
                var = var * 10
            p.copy_(mu + var.sqrt() * torch.randn(p.shape, generator=gen).to(p.device))
    return TrainRun(model, History(seconds=time.perf_counter() - start, stopped="no training"))
