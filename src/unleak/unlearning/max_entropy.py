"""``max-entropy``: maximising the forget data's prediction entropy, with gradient descent on the
retained data (ME+GD; Yuan, Pang, Du, Chen, Lin and Yan, "A Closer Look at Machine Unlearning for
Large Language Models", ICLR 2025, arXiv 2410.08109).

1. An epoch is a pass over the forget data through :func:`unleak.training.fit`, in forget
   batches, each paired with a retained batch of the same size (a fresh shuffle each pass,
   :func:`~unleak.unlearning.neggrad_plus.cycled_batches`).
2. On a forget batch the loss is ``forget_weight * mean KL(U || softmax(logits))``, ``U`` the
   uniform distribution over the K classes: the model is pushed to answer the forget data as a
   model that never saw it guesses, at chance, rather than away from the true class (gradient
   ascent's target, which has no floor).
3. ``retain_weight`` times the cross-entropy on the retained batch is added (the authors' GD
   regulariser).

Defaults from github sail-sg/closer-look-LLM-unlearning: ``scripts/tofu/me_gd.sh``
(``forget_loss=ME+GD``, ``forget_coeff=0.1``, ``regularization_coeff=1.0``, ``num_epochs=5``,
``lr=1e-5``) and ``trainer/losses.py`` (``me_loss``: the per-token KL from the uniform
distribution to the model's output, averaged; ``gd_loss``: the retained cross-entropy; the
forget and retained batches come in pairs from one loader). Carried over to CNN/MLP classifiers:
the weights 0.1 and 1, 5 epochs over the forget data, batches of 32 forget and 32 retained
samples, Adam, as the authors' AdamW. Departure, as in ``npo``: the learning rate is 1e-3, not
the authors' 1e-5 (their 7B model's fine-tuning rate); weight decay is 0 and the schedule
constant (``fit`` has no warm-up). For a classifier the "token" is the one prediction.

Measured (the suite's digits cnn, seed 0, outside every population; unlearning seed 1; one
thread; test accuracy forget / retained, before -> after): class 3 0.978 -> 0.391 / 0.995 ->
0.993 in 1.2 s; classes 1, 7 0.989 -> 0.231 / 0.994 -> 0.997; classes 2, 5, 8 0.993 -> 0.007 /
0.994 -> 1.000. With ``forget_weight=1.0``: 0.000, 0.187 and 0.000, retained 0.985-0.997.
MNIST lenet5 (seed 0), class 3: 0.993 -> 0.115 / 0.991 -> 0.988 in 15 s (0.075 at weight 1.0):
the uniform target leaves a forget sample's argmax to chance among near-equal logits, so some
stay right.

The nearest method in the package is ``bad-teacher``, which distils the forget data from a
randomly initialised teacher (close to, but not, the uniform answer) and the retained data from
the original; ``ng`` ascends the forget data's cross-entropy without a floor.

unleak implemented this method for the verdict's ninth test population (docs/protocol.md): no
attack rule or verdict rule was chosen on its models.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from unleak.data.core import Split
from unleak.training import LossFn, TrainRun, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method
from unleak.unlearning.neggrad_plus import cycled_batches


class MaxEntropyConfig(UnlearnConfig):
    epochs: float = Field(
        5, gt=0, le=10_000, description="passes over the forget data (authors: num_epochs 5)"
    )
    batch_size: int = Field(32, ge=1, le=1 << 16, description="forget batch size")
    lr: float = Field(
        1e-3, gt=0, le=100, description="learning rate (authors: 1e-5 on a 7B LLM; docstring)"
    )
    optimizer: Literal["sgd", "adam"] = Field("adam", description="authors: AdamW")
    momentum: float = Field(0.0, ge=0, lt=1, description="SGD momentum (unused by Adam)")
    weight_decay: float = Field(0.0, ge=0, le=1)
    schedule: Literal["constant", "cosine"] = "constant"
    forget_weight: float = Field(
        0.1, ge=0, le=100, description="weight of the entropy term (authors: forget_coeff 0.1)"
    )
    retain_weight: float = Field(
        1.0,
        ge=0,
        le=100,
        description="weight of the retained cross-entropy (authors: regularization_coeff 1.0)",
    )
    retain_batch_size: int = Field(32, ge=1, le=1 << 16, description="retained batch size")


def uniform_kl(logits: torch.Tensor) -> torch.Tensor:
    """``mean KL(U || softmax(logits))``: 0 exactly when every answer is uniform."""
    k = logits.shape[1]
    return (-math.log(k) - F.log_softmax(logits, 1).mean(1)).mean()


def max_entropy_loss(retain: Split, config: MaxEntropyConfig, gen: torch.Generator) -> LossFn:
    """``forget_weight * uniform_kl`` on the forget batch plus ``retain_weight * CE`` on the next
    retained batch; the logits returned are the forget batch's."""
    batches = cycled_batches(retain, config.retain_batch_size, gen)

    def loss(
        model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(x)
        value = config.forget_weight * uniform_kl(logits)
        if config.retain_weight > 0 and len(retain):
            xr, yr = next(batches)
            kept = F.cross_entropy(model(xr.to(x.device)), yr.to(x.device))
            value = value + config.retain_weight * kept
        return value, logits

    return loss


@builtin_method(
    "max-entropy",
    MaxEntropyConfig,
    "push the forget data's answers to uniform (max entropy), keep retained (ME+GD)",
)
def max_entropy(
    model: nn.Module, retain: Split, forget: Split, config: MaxEntropyConfig, ctx: UnlearnContext
) -> TrainRun:
    model.to(config.device)
    gen = torch.Generator().manual_seed(config.seed + 1)  # the retained batches are the run's
    return fit(
        model, forget, config, loss=max_entropy_loss(retain, config, gen), callbacks=ctx.callbacks
    )
