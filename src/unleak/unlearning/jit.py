"""``jit``: Just in Time unlearning (Foster et al., "Zero-shot Machine Unlearning at Scale via
Lipschitz Regularization", 2024).

Zero-shot: only the forget data is used, no retained sample. For each forget sample ``x`` the
method draws ``n_noise`` noisy copies ``x + eps`` (Gaussian, std ``noise_std``, clamped to the
batch's value range as the authors clamp) and minimises, over the copies, the mean of
``||f(x) - f(x + eps)|| / ||x - (x + eps)||`` (the output change per input change, a local
Lipschitz estimate; ``f`` is the model's logits, the noisy copies' outputs taken without
gradient), summed over the batch. Smoothing the function around the forget samples is meant to
flatten what the model memorised of them.

Defaults from github jwf40/Zeroshot-Unlearning-At-Scale (``src/lipschitz.py``,
``Lipschitz.modify_weight``, and ``src/forget_full_class_main.py``, the full-class runs of their
CIFAR VGG16): ``n_samples=25``, ``lipschitz_weighting`` (the noise std) 0.5, ``learning_rate``
3e-4 with plain SGD (no momentum, no weight decay), one pass over the forget loader in batches
of 128 (``-b`` default); the ViT runs use std 0.8 and lr 1.5. The authors add the noise to
standardised images; unleak's models take [0, 1] pixels and standardise inside, so
``noise_std`` is in pixel units here (the authors' 0.5 is kept as the number). On the digits
cnn (seed 0, class 3) these defaults forget the class entirely and cost part of the rest
(retained test accuracy 0.99 to 0.83); a smaller std forgets more of everything (0.125, about
the authors' 0.5 in pixel units of standardised CIFAR, left 0.11 of the retained classes).
``freeze_norm`` keeps batch-norm statistics off the noisy single-class batches.

unleak implemented this method for the verdict's third test population (docs/protocol.md): no
attack rule or verdict rule was chosen on its models.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from unleak.data.core import Split
from unleak.training import LossFn, TrainRun, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method


class JiTConfig(UnlearnConfig):
    epochs: float = Field(
        1, gt=0, le=10_000, description="passes over the forget data (authors: 1)"
    )
    lr: float = Field(3e-4, gt=0, le=100, description="learning rate (authors, CIFAR VGG16: 3e-4)")
    optimizer: Literal["sgd", "adam"] = "sgd"
    momentum: float = Field(0.0, ge=0, lt=1, description="SGD momentum (authors: none)")
    weight_decay: float = Field(0.0, ge=0, le=1, description="weight decay (authors: none)")
    schedule: Literal["constant", "cosine"] = "constant"
    batch_size: int = Field(128, ge=1, le=1 << 16, description="batch size (authors: 128)")
    freeze_norm: bool = True  # noisy forget-only batches would drag batch-norm statistics
    n_noise: int = Field(25, ge=1, le=10_000, description="noisy copies per sample (authors: 25)")
    noise_std: float = Field(
        0.5, gt=0, le=100, description="std of the Gaussian input noise (authors: 0.5)"
    )


def lipschitz_loss(n_noise: int, noise_std: float, gen: torch.Generator) -> LossFn:
    """The mean over ``n_noise`` noisy copies of each sample's output-per-input change, summed
    over the batch (the authors sum over the batch, so ``lr`` means what theirs means)."""

    def loss(
        model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out = model(x)
        lo, hi = float(x.min()), float(x.max())  # the authors clamp to the batch's range
        flat = x.flatten(1)
        total = out.new_zeros(())
        for _ in range(n_noise):
            noise = torch.randn(x.shape, generator=gen).to(x.device) * noise_std
            x2 = (x + noise).clamp(lo, hi)
            with torch.no_grad():
                out2 = model(x2)
            # clamping can zero a sample's perturbation: keep the ratio finite
            in_norm = (flat - x2.flatten(1)).norm(dim=1).clamp_min(1e-12)
            total = total + ((out - out2).norm(dim=1) / in_norm).sum()
        return total / n_noise, out

    return loss


@builtin_method("jit", JiTConfig, "zero-shot: smooth the outputs around forget samples (Lipschitz)")
def jit(
    model: nn.Module, retain: Split, forget: Split, config: JiTConfig, ctx: UnlearnContext
) -> TrainRun:
    gen = torch.Generator().manual_seed(config.seed + 1)  # the noise is the run's
    loss = lipschitz_loss(config.n_noise, config.noise_std, gen)
    return fit(model, forget, config, loss=loss, callbacks=ctx.callbacks)
