"""``scar``: Selective-distillation for Class and Architecture-agnostic unleaRning (Bonato,
Cotogni and Sabetta, "Is Retain Set All You Need in Machine Unlearning? Restoring Performance of
Unlearned Models with Out-Of-Distribution Images", ECCV 2024).

Each retained class gets a distribution of the original's embeddings (the inputs of the final
``nn.Linear``, read once in eval mode on all the retained data): the mean of the Tukey-transformed
embeddings (``e ** delta``) and the pseudo-inverse of their covariance, shrunk twice (``S + gamma1
* mean(diag S) * I + gamma2 * mean(nonzero off-diagonal S) * (1 - I)``) and scaled to a
correlation matrix. Each step takes a forget batch and the next retained batch: every forget
sample's embedding is pulled toward its target class by ``lambda_1`` times the mean Mahalanobis
distance between the two (the transformed embedding and the class mean both l2-normalised); the
retained batch keeps the rest by ``lambda_2`` times ``KL(softmax(teacher / temperature) ||
softmax(student))`` against a frozen copy of the original, on the samples the original does not
assign to a forgotten class, its forgotten-class logits set to the smallest logit of the batch.
A sample's target is the class of the nearest distribution but its own, chosen from the
original's embedding. The forget data's accuracy (eval mode) is checked after every step from
epoch ``min_epochs`` on; the run stops once it is under ``target_accuracy``.

An epoch is the authors' epoch: every forget batch meets ``retain_steps`` retained batches (but
no more than the retained data holds), i.e. ``min(retain_steps, ceil(n_retained / batch_size))``
passes over the forget data, each step with the next batch of a reshuffled pass over the
retained data. Callbacks see the passes over the forget data as its epochs.

Defaults from github jbonato1/SCAR (commit 280ceae), ``src/opts.py``: ``--lr 0.0005`` (line 34),
``--epochs 30`` (35, the most), ``--temperature 1`` (37), ``--lambda_1 1`` (38), ``--lambda_2 5``
(39), ``--delta .5`` (41), ``--gamma1 3``, ``--gamma2 3`` (42-43), ``--bsize 1024`` (31, the
forget and the surrogate loader alike: ``src/dsets.py`` 98 and 262), ``--wd 0`` (32),
``target_accuracy = 0.01`` (132; ``src/main.py`` 77 in class removal), ``num_retain_samp = 5``
for CIFAR-10 (102: steps 0 to 5 of each forget batch, ``src/Unlearning_methods.py`` 456). These
are also the README's CIFAR-10 class-removal command; ``command.sh`` runs lr 0.001, 10 epochs,
temperature 2, lambda_2 0.1 (the README defers to the paper's supplement, not read here).
``src/Unlearning_methods.py``, class ``SCAR``: the embedding is the head's input (326-333); the
class statistics come from every retained batch (340-377); Adam, no schedule (384, 493); the
network in train mode, the forget and the surrogate batch in separate passes (382, 415, 442);
the Mahalanobis distance (291-296); the target is the nearest distribution's index unless it
equals the label (420-427); the teacher's filtering and logits (444-451); ``distill`` (298-304);
the stop after a step once the forget accuracy is under target and ``epoch > 1`` (464-475).

Departures. The authors distil on surrogate out-of-distribution images (an ImageNet subset by
default, or COCO or Gaussian noise); unleak gives a method the retained and the forget split
only, so it distils on the retained data (their ``SCAR`` takes any loader as ``retain_sur``).
The batches are not augmented (theirs are random-crop-and-flip). Their target rule compares the
index of a distribution with the label, which, with the forgotten classes left out, skips a
retained class instead; here every retained class is a candidate (as in ``duck``). Their targets
are chosen once, in the first epoch, at the first step of each forget batch, from the network in
train mode as trained so far; here from the frozen original in eval mode, the embedding the
statistics come from, so each sample keeps one target throughout. They filter the teacher's
batch on the first forgotten class only; here on every forgotten class. Their ``+ 1e-4`` on the
logits and log-probabilities scales the KL by 1.0001 and is dropped. ``e ** delta`` has an
infinite gradient at 0, which a ReLU masks but a dropout layer before the head turns into NaN
(the digits cnn with dropout 0.5), so embeddings are floored at 1e-12 first; a model whose head
inputs go negative is refused unless ``delta = 1``.

On the digits cnn (seed 0; no population's model; unlearning seed 1) class 3 stops after 21 steps
(11 s), forget test accuracy 0.98 to 0.00, retained 0.993 to 0.995; classes 1 and 7 after 50
steps (26 s), 1.00 to 0.01, retained 0.989 to 0.994; classes 2, 5 and 8 run all 30 epochs (one
retained batch each: 30 steps, 20 s; the forget training data stays just over 0.01), 0.98 to
0.04, retained 0.997 to 1.000. Of class 3's test images 80% land in their target class; their
distance to it falls from 0.29 to 0.09. The same 21 steps without the pull (``lambda_1 = 0``)
leave class 3 at 0.35; without the distillation (``lambda_2 = 0``) it goes to 0.00, retained
0.990. MNIST lenet5 (seed 0, unlearning seed 0), class 3: 164 steps, 139 s on one thread (a
loaded machine), 0.994 to 0.014, retained 0.991 to 0.991 (every other class within 0.01).

unleak implemented this method for the verdict's sixth test population (docs/protocol.md): no
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
from unleak.training import LossFn, TrainRun, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method, frozen_copy
from unleak.unlearning.boundary_expand import final_linear
from unleak.unlearning.duck import ForgetTarget, embed
from unleak.unlearning.neggrad_plus import cycled_batches
from unleak.unlearning.scrub import distill_kl

_FLOOR = 1e-12  # below it e ** delta has no finite gradient


class SCARConfig(UnlearnConfig):
    epochs: float = Field(
        30, gt=0, le=10_000, description="most epochs, short of target_accuracy (authors: 30)"
    )
    batch_size: int = Field(
        1024, ge=1, le=1 << 16, description="forget and retained batch size (authors: 1024)"
    )
    lr: float = Field(5e-4, gt=0, le=100, description="learning rate (authors: 5e-4)")
    optimizer: Literal["sgd", "adam"] = "adam"
    weight_decay: float = Field(0.0, ge=0, le=1, description="weight decay (authors: none)")
    schedule: Literal["constant", "cosine"] = "constant"
    lambda_1: float = Field(1.0, ge=0, description="weight of the Mahalanobis pull (authors: 1)")
    lambda_2: float = Field(5.0, ge=0, description="weight of the distillation (authors: 5)")
    temperature: float = Field(
        1.0, gt=0, le=100, description="the teacher's logits are divided by this (authors: 1)"
    )
    delta: float = Field(0.5, gt=0, le=10, description="Tukey exponent of embeddings (authors)")
    gamma1: float = Field(3.0, ge=0, description="shrinkage toward the diagonal (authors: 3)")
    gamma2: float = Field(3.0, ge=0, description="shrinkage of off-diagonals (authors: 3)")
    retain_steps: int = Field(
        6, ge=1, le=1 << 20, description="retained batches per forget batch an epoch (authors: 6)"
    )
    target_accuracy: float | None = Field(
        0.01, ge=0, le=1, description="stop once the forget accuracy is under this (authors: 0.01)"
    )
    min_epochs: int = Field(
        2, ge=0, le=10_000, description="epochs run before the target may stop (authors: 2)"
    )


def tukey(emb: torch.Tensor, delta: float) -> torch.Tensor:
    """The authors' Tukey transform ``e ** delta``, embeddings floored at ``_FLOOR`` first."""
    return emb if delta == 1 else emb.clamp_min(_FLOOR).pow(delta)


def shrink(cov: torch.Tensor, gamma1: float, gamma2: float) -> torch.Tensor:
    """``cov + gamma1 * mean(diag) * I + gamma2 * mean(nonzero off-diagonal) * (1 - I)``."""
    eye = torch.eye(len(cov), dtype=cov.dtype, device=cov.device)
    off = cov * (1 - eye)
    v2 = off.sum() / (off != 0).sum().clamp_min(1)
    return cov + gamma1 * cov.diagonal().mean() * eye + gamma2 * v2 * (1 - eye)


def class_distributions(
    feats: torch.Tensor, labels: torch.Tensor, config: SCARConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per class with two samples or more: the mean of the transformed embeddings, the inverse of
    their twice-shrunk correlation matrix, and the classes, in the authors' order of steps."""
    z = tukey(feats, config.delta)
    classes = [c for c in torch.unique(labels).tolist() if int((labels == c).sum()) >= 2]
    means, invs = [], []
    for c in classes:
        s = z[labels == c]
        cov = torch.atleast_2d(torch.cov(s.T))
        cov = shrink(shrink(cov, config.gamma1, config.gamma2), config.gamma1, config.gamma2)
        sigma = cov.diagonal().sqrt()
        invs.append(torch.linalg.pinv(cov / (sigma[:, None] * sigma[None, :])))
        means.append(s.mean(0))
    return torch.stack(means), torch.stack(invs), torch.tensor(classes, device=feats.device)


def mahalanobis(
    emb: torch.Tensor, means: torch.Tensor, invs: torch.Tensor, delta: float
) -> torch.Tensor:
    """``(batch, classes)`` distances ``d^T S_c^-1 d``, ``d`` the normalised transformed
    embedding less the normalised mean of class ``c`` (the authors' ``mahalanobis_dist``)."""
    diff = F.normalize(tukey(emb, delta), dim=-1)[:, None, :] - F.normalize(means, dim=-1)[None]
    return torch.einsum("bcd,cde,bce->bc", diff, invs, diff)


def scar_loss(
    fc: nn.Linear,
    teacher: nn.Module,
    dists: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    retain: Split,
    forgotten: tuple[int, ...],
    config: SCARConfig,
    gen: torch.Generator,
) -> LossFn:
    """``lambda_1 * mean(Mahalanobis(forget embedding, target class)) + lambda_2 * KL(teacher /
    temperature || student)`` for a forget batch and the next retained batch."""
    means, invs, classes = dists
    teacher_fc = models.head(teacher, retain.input_shape)
    batches = cycled_batches(retain, config.batch_size, gen)
    gone = torch.tensor(forgotten, dtype=torch.long, device=means.device)

    def loss(
        model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        emb, logits = embed(model, fc, x)
        with torch.no_grad():  # the target: fixed per sample, from the original
            ref = mahalanobis(
                models.penultimate(teacher, x, fc=teacher_fc), means, invs, config.delta
            )
            own = y[:, None] == classes[None, :]
            target = ref.masked_fill(own, math.inf).argmin(1)
        pulled = mahalanobis(emb, means, invs, config.delta)
        forget_term = pulled[torch.arange(len(y), device=y.device), target].mean()
        xr = next(batches)[0].to(x.device, non_blocking=True)
        out = model(xr)
        with torch.no_grad():
            ref_out = teacher(xr)
            keep = ~torch.isin(ref_out.argmax(1), gone)
        kept = torch.zeros((), device=x.device)
        if keep.any():  # a batch the original gives wholly to forgotten classes: nothing to distil
            ref_out = ref_out[keep]
            ref_out[:, gone] = ref_out.min()
            kept = distill_kl(out[keep], ref_out / config.temperature, 1.0)
        return config.lambda_1 * forget_term + config.lambda_2 * kept, logits

    return loss


@builtin_method(
    "scar",
    SCARConfig,
    "pull forget embeddings to the nearest other class (Mahalanobis), distil the original",
)
def scar(
    model: nn.Module, retain: Split, forget: Split, config: SCARConfig, ctx: UnlearnContext
) -> TrainRun:
    fc = final_linear(model, forget.input_shape, "scar")
    if len(retain) == 0:
        raise ConfigError(
            "scar needs retained data: its distributions come from it", "keep a class"
        )
    model.to(config.device)
    teacher = frozen_copy(model)
    feats = models.penultimate(model, retain.x, fc=fc).flatten(1)
    if config.delta != 1 and float(feats.min()) < 0:
        raise ConfigError(
            f"scar's transform e ** {config.delta:g} needs non-negative embeddings; this model's "
            "head inputs go negative",
            "set delta to 1 (no transform)",
        )
    dists = class_distributions(feats, retain.y.to(feats.device), config)
    gen = torch.Generator().manual_seed(config.seed + 1)  # the retained batches
    # the authors' epoch: each forget batch meets up to retain_steps retained batches
    passes = min(config.retain_steps, math.ceil(len(retain) / config.batch_size))
    loop = config.model_copy(update={"epochs": config.epochs * passes})
    guards = []
    if config.target_accuracy is not None:
        guards.append(
            ForgetTarget(
                forget, config.target_accuracy, first=config.min_epochs * passes, per_step=True
            )
        )
    loss = scar_loss(fc, teacher, dists, retain, ctx.forget_classes, config, gen)
    return fit(model, forget, loop, loss=loss, callbacks=[*guards, *ctx.callbacks])
