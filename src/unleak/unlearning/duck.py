"""``duck``: Distance-based Unlearning via Centroid Kinematics (Cotogni et al., "DUCK:
Distance-based Unlearning via Centroid Kinematics", 2023).

The class centroids of the retained data's embeddings (the inputs of the final ``nn.Linear``,
read once from the original in eval mode on ``centroid_samples`` retained samples) stay fixed.
Each step takes a forget batch and a retained batch drawn at random: every forget sample's
embedding is pulled toward the nearest centroid of a class other than its own (the forgotten
classes have no centroid: they are not in the retained data) by ``lambda_1`` times the mean
cosine distance, ``1 - cos``, between them; the retained batch keeps the rest by ``lambda_2``
times the cross-entropy of its logits divided by ``temperature``. The nearest centroid is chosen
again at each step, from the current embedding, as the authors' first epoch does (their later
epochs reuse the first epoch's choices by batch index). The forget data's accuracy is checked
after each epoch; the run stops once it is under ``target_accuracy``.

An epoch is the authors' epoch: every forget batch meets ``retain_steps`` retained batches (but
no more than the retained data holds), i.e. ``min(retain_steps, ceil(n_retained /
batch_size))`` passes over the forget data, each step with a fresh retained batch. Callbacks see
the passes over the forget data as its epochs.

Defaults from github OcraM17/DUCK (``src/opts.py``, the class-removal run of ``src/main_def.py``
on CIFAR-10, each class removed in turn: ``--lambda_1 1``, ``--lambda_2 1.4``, ``--temperature
2``, ``--lr 0.0004``, ``--bsize 256`` for the forget and the retained loader alike, ``--wd 0``,
``--epochs 200`` as the most, ``target_accuracy = 0.01``, ``batch_fgt_ret_ratio = 40`` for
CIFAR-10 (5 for CIFAR-100 and TinyImageNet), which trains retained batches 0 to 40 of each forget
batch; ``src/Unlearning_methods.py``, class ``DUCK``: Adam, the network in train mode, centroids
from the first 50 shuffled retained batches, no label smoothing but on TinyImageNet, no
augmentation in the class-removal loaders of ``src/dsets.py``). The authors halve the rate after
epochs 25 and 40 (``--scheduler 25 40``); the runs measured here stop long before, and the rate
stays constant. In class removal their code compares a centroid's index with the sample's label
to skip its own class, which, with the forgotten class's centroid left out, skips one retained
class instead; here every retained class is a candidate and the sample's own class never is.
The forget and the retained batch go through the network in separate passes, as the authors'
do, so batch-norm statistics also move toward the forget batches (``freeze_norm`` keeps them).

On the digits cnn (seed 0; no population's model) class 3 stops after 6 epochs (30 steps),
forget test accuracy 0.98 to 0.02, retained test accuracy 0.99 to 1.00; classes 1 and 7, and 2,
5 and 8, stop after 2 epochs (forget 0.99 to 0.00 and to 0.01, retained 1.00 both). The distance
term does the forgetting: without it (``lambda_1 = 0``, the same 30 steps) the class keeps 0.67;
with ``freeze_norm`` class 3 stops after one epoch (forget 0.00, retained 0.985).

unleak implemented this method for the verdict's fourth test population (docs/protocol.md): no
attack rule or verdict rule was chosen on its models.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from unleak import models
from unleak.data.core import Split
from unleak.errors import ConfigError
from unleak.models.inference import accuracy
from unleak.training import Callback, LossFn, TrainRun, TrainState, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method
from unleak.unlearning.boundary_expand import final_linear


class DUCKConfig(UnlearnConfig):
    epochs: float = Field(
        200, gt=0, le=10_000, description="most epochs, short of target_accuracy (authors: 200)"
    )
    batch_size: int = Field(
        256, ge=1, le=1 << 16, description="forget and retained batch size (authors: 256)"
    )
    lr: float = Field(4e-4, gt=0, le=100, description="learning rate (authors: 4e-4)")
    optimizer: Literal["sgd", "adam"] = "adam"
    weight_decay: float = Field(0.0, ge=0, le=1, description="weight decay (authors: none)")
    schedule: Literal["constant", "cosine"] = "constant"
    lambda_1: float = Field(
        1.0, ge=0, description="weight of the forget distance loss (authors: 1)"
    )
    lambda_2: float = Field(
        1.4, ge=0, description="weight of the retained cross-entropy (authors: 1.4)"
    )
    temperature: float = Field(
        2.0, gt=0, le=100, description="the retained logits are divided by this (authors: 2)"
    )
    retain_steps: int = Field(
        41, ge=1, le=1 << 20, description="retained batches per forget batch an epoch (authors: 41)"
    )
    target_accuracy: float | None = Field(
        0.01, ge=0, le=1, description="stop once the forget accuracy is under this (authors: 0.01)"
    )
    centroid_samples: int = Field(
        12800,
        ge=1,
        le=1 << 24,
        description="retained samples for the centroids (authors: 50 x 256)",
    )


def class_centroids(
    model: nn.Module, fc: nn.Linear, retain: Split, n: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean embedding of each class among ``n`` retained samples drawn with ``gen``, and
    those classes (a class with no drawn sample has no centroid rather than a NaN one)."""
    idx = torch.randperm(len(retain), generator=gen)[:n]
    feats = models.penultimate(model, retain.x[idx], fc=fc).flatten(1)
    labels = retain.y[idx].to(feats.device)
    classes = torch.unique(labels)
    centroids = torch.stack([feats[labels == c].mean(0) for c in classes])
    return centroids, classes


def embed(model: nn.Module, fc: nn.Linear, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The head's inputs and the logits for ``x``, in one pass and with gradients (unlike
    ``models.penultimate``, which reads them detached, in eval mode)."""
    feats: list[torch.Tensor] = []
    hook = fc.register_forward_hook(lambda _m, inp, _o: feats.append(inp[0]))
    try:
        logits = model(x)
    finally:
        hook.remove()
    return feats[-1].flatten(1), logits


def duck_loss(
    fc: nn.Linear,
    centroids: torch.Tensor,
    classes: torch.Tensor,
    retain: Split,
    config: DUCKConfig,
    gen: torch.Generator,
) -> LossFn:
    """``lambda_1 * mean(1 - cos(forget embedding, nearest other-class centroid)) + lambda_2 *
    CE(retained logits / temperature)`` for a forget batch and a random retained batch."""
    unit = F.normalize(centroids, dim=1)

    def loss(
        model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        emb, logits = embed(model, fc, x)
        dists = 1 - F.normalize(emb, dim=1) @ unit.T
        # a sample's own class is never its target (in class removal it has no centroid anyway)
        own = y[:, None] == classes.to(y.device)[None, :]
        target = dists.detach().masked_fill(own, math.inf).argmin(1)
        forget_term = dists[torch.arange(len(y), device=y.device), target].mean()
        idx = torch.randint(0, len(retain), (config.batch_size,), generator=gen)
        xr, yr = retain.x[idx].to(x.device), retain.y[idx].to(x.device)
        kept = F.cross_entropy(
            model(xr) / config.temperature, yr, label_smoothing=config.label_smoothing
        )
        return config.lambda_1 * forget_term + config.lambda_2 * kept, logits

    return loss


class ForgetTarget(Callback):
    """Stops once the forget accuracy is under target: after an epoch (every ``every`` passes),
    or, with ``per_step``, after every step from pass ``first`` on (SCAR's check)."""

    def __init__(
        self, forget: Split, target: float, every: int = 1, first: int = 0, per_step: bool = False
    ) -> None:
        self.forget, self.target, self.every = forget, target, every
        self.first, self.per_step = first, per_step

    def _check(self, state: TrainState) -> None:
        acc = accuracy(state.model, self.forget.x, self.forget.y)
        if acc < self.target:
            state.stop, state.stop_reason = True, f"forget accuracy {acc:.3f} < {self.target:.3f}"

    def on_epoch_end(self, state: TrainState) -> None:
        if not self.per_step and not (state.epoch + 1) % self.every:
            self._check(state)

    def on_batch_end(self, state: TrainState) -> None:
        if self.per_step and state.epoch >= self.first:
            self._check(state)


@builtin_method(
    "duck", DUCKConfig, "pull forget embeddings to the nearest other-class centroid, keep retained"
)
def duck(
    model: nn.Module, retain: Split, forget: Split, config: DUCKConfig, ctx: UnlearnContext
) -> TrainRun:
    fc = final_linear(model, forget.input_shape, "duck")
    if len(retain) == 0:
        raise ConfigError("duck needs retained data: its centroids come from it", "keep a class")
    model.to(config.device)
    gen = torch.Generator().manual_seed(config.seed + 1)  # centroid samples and retained batches
    centroids, classes = class_centroids(model, fc, retain, config.centroid_samples, gen)
    # the authors' epoch: each forget batch meets up to retain_steps retained batches
    passes = min(config.retain_steps, math.ceil(len(retain) / config.batch_size))
    loop = config.model_copy(update={"epochs": config.epochs * passes})
    guards = []
    if config.target_accuracy is not None:
        guards.append(ForgetTarget(forget, config.target_accuracy, passes))
    loss = duck_loss(fc, centroids, classes, retain, config, gen)
    return fit(model, forget, loop, loss=loss, callbacks=[*guards, *ctx.callbacks])
