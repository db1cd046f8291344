"""``pgu``: Projected Gradient Unlearning, training on the forget data with every layer's gradient
projected off the retained data's input space (Hoang, Rana, Gupta and Venkatesh, "Learn to
Unlearn for Deep Neural Networks: Minimizing Unlearning Interference with Gradient Projection",
WACV 2024, arXiv 2312.04095).

1. The retained images run through the original once; each ``Linear``/``Conv2d`` layer's input
   is read (a conv layer's as its unfolded patches, one row per patch) and summed into the
   layer's Gram matrix ``A^T A`` (float64).
2. Per layer, the eigenvectors of the Gram matrix, by decreasing singular value ``s_i`` (the
   square root of its eigenvalue), are kept up to and including the first past the energy
   threshold, ``k = #{cumsum(s) / sum(s) <= threshold} + 1``: the basis ``M`` of the retained
   input space (GPM's; the authors' threshold is on ``s``, not ``s^2``).
3. An epoch is a pass over the forget data through :func:`unleak.training.fit`, with the loss
   ``forget_weight * mean(-log(1 - p_y + offset)) + entropy_weight * mean(sum p log p)``: the
   forget sample's true-class probability is pushed to 0 and its answer to high entropy.
4. After each backward pass, each such layer's weight gradient, flattened to
   (out, in x kh x kw), becomes ``G - G M M^T`` (orthogonal to the retained inputs, so their
   pre-activations do not move to first order), scaled by the epoch's learning-rate decay;
   every other parameter's gradient (biases, norms, grouped convs) is zeroed, as the authors
   update only the projected weights. Batch-norm statistics are frozen.
5. Training stops after an epoch that leaves the accuracy on ``check_samples`` retained
   training images more than ``max_drop`` below the original's.

Defaults from github hnanhtuan/projected_gradient_unlearning, the class-unlearning line
(``scripts/unlearned.sh``: ``unlearn_class.py`` on
``exp/unlearned/resnet18_tinyimagenet/forget_5classes/exp1/config.yaml``): ``start_lr`` 0.05,
``end_lr`` 0.01, ``num_epochs`` 100, ``loss1_w`` 1.0, ``loss2_w`` 0.2, ``offset`` 0.05, ``wd``
0, ``retained_var`` 0.95 by default and 0.9 on every other conv layer and ``fc`` (all but the
stem ``conv1`` and ``layer2[0].conv1``, which looks an omission): here 0.95 on the first layer
and 0.9 on the rest. ``unlearn_class.py``: the loss above (``loss1``, and ``loss2`` the negated
entropy), forget batches of 100 (``forget_train_noaug_loader``), a plain SGD step by hand
(``param.data -= lr * reg_grad``: no momentum) on the projected gradient of the weights in
``P`` only, the other gradients zeroed; ``freeze_norm_stats``; epoch 0 only evaluates (its loop
breaks at once), so 99 epochs train, epoch ``e`` at ``start_lr * alpha^e`` with ``alpha =
(end_lr / start_lr)^(1 / num_epochs)``; early stop once the retained training accuracy is more
than ``early_stop_thres`` 5.0 points below epoch 0's; ``k`` as in step 2, ``min_dim_pct`` unset.
``utils/unlearn_utils.py``: ``compute_svd`` (the Gram matrix of every training image's layer
inputs, convs unfolded with their padding, one epoch) and ``compute_retain_svd`` (that minus
the forget images' Gram: the retained images' Gram, read here directly).

Departures for CNN/MLP classifiers. The learning-rate decay is applied to the projected
gradient (``fit`` has no exponential schedule): with SGD at momentum 0, as the authors', that
is their per-epoch decay exactly, hence ``optimizer`` is SGD only. The layer inputs are read
with :mod:`unleak.unlearning.projection`'s hooks, in eval mode (the authors read the full-data
Gram with dropout on), without augmentation (theirs reads one pass of the training
augmentation), and a conv's patches at the layer's stride (theirs unfolds at stride 1; the
stride's patches are the ones the weight gradient is made of); a conv input wider than 3
kernels is read as one random window of 3 x 3 kernels per batch of 128 (projection's reading;
of the suite's models only lenet5's first layer). The early stop checks ``check_samples``
retained images, not every one, to keep the per-epoch check cheap on MNIST.

Measured (one CPU thread, a second job sharing the machine; unlearning seed 1; test accuracy
forget / retained, before -> after). Digits cnn (seed 0, as the test fixture trains it; all 7
layers projected, kept dimensions 8/9, 165/288, 206/288, 394/576, 329/576, 457/1152, 37/128 for
{3}), at the defaults: {3} 0.978 -> 0.978 / 0.993 -> 0.993, 13 s; {1, 7} 1.000 -> 0.527 /
0.989 -> 0.989, 16 s; {2, 5, 8} 0.978 -> 0.903 / 0.997 -> 0.997, 19 s. It barely forgets: the
original answers its forget samples at ``p_y`` 0.998, where the softmax leaves the loss almost
no gradient (loss 2.96 of the 3.00 at ``p_y`` 1 after 20 epochs), and a few hundred forget
images give 2-3 steps an epoch. The authors' all-CNN CIFAR-10 line (``start_lr`` 0.1,
``retained_var`` 0.9 everywhere) does no better: 0.978, 0.484, 0.657. At ``lr`` 1.0,
``end_lr`` 0.2 (20x the rates, not a default): {3} 0.000 / 0.995, {1, 7} 0.000 / 0.992,
{2, 5, 8} 0.007 / 0.994, 10-16 s. MNIST lenet5 (seed 0), {3}, at the defaults: 0.994 -> 0.005 /
0.991 -> 0.991 in 152 s (6000 forget images: 60 steps an epoch), no early stop.

The nearest method in the package is ``projection`` (Kodge et al.), which edits each weight
once, without training, off the forget-only part of the activation spaces; ``pgu`` trains, and
projects off the retained space. ``ng`` and ``neggrad-plus`` ascend the forget loss with no
projection (``neggrad-plus`` guarding the retained data by a descent term instead).

unleak implemented this method for the verdict's tenth test population (docs/protocol.md): no
attack rule or verdict rule was chosen on its models.
"""

from __future__ import annotations

import time
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from unleak.data.core import Split
from unleak.models.inference import accuracy
from unleak.training import Callback, LossFn, TrainRun, TrainState, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method
from unleak.unlearning.projection import layer_inputs, projected_layers

READ_BATCH = 128  # images per pass when reading the retained inputs (authors' loader: 128)


class PGUConfig(UnlearnConfig):
    epochs: float = Field(
        99, gt=0, le=10_000, description="training passes (authors: num_epochs 100, epoch 0 eval)"
    )
    batch_size: int = Field(100, ge=1, le=1 << 16, description="forget batch size (authors 100)")
    lr: float = Field(0.05, gt=0, le=100, description="start learning rate (authors start_lr)")
    end_lr: float = Field(
        0.01, gt=0, le=100, description="rate reached after the last epoch (authors end_lr 0.01)"
    )
    optimizer: Literal["sgd"] = Field("sgd", description="authors: a plain SGD step by hand")
    momentum: float = Field(
        0.0, ge=0, lt=1, description="authors 0; the decay is exact only at 0 (docstring)"
    )
    weight_decay: float = Field(0.0, ge=0, le=1, description="authors: wd 0")
    schedule: Literal["constant"] = Field(
        "constant", description="the decay from lr to end_lr is applied to the gradient"
    )
    freeze_norm: bool = Field(True, description="authors: freeze_norm_stats")
    threshold: float = Field(
        0.9, gt=0, le=1, description="energy kept per layer (authors retained_var 0.9); 1 freezes"
    )
    first_threshold: float = Field(
        0.95, gt=0, le=1, description="the first layer's (authors: default 0.95, the stem's)"
    )
    offset: float = Field(
        0.05, gt=0, le=1, description="in -log(1 - p_y + offset) (authors: offset 0.05)"
    )
    forget_weight: float = Field(
        1.0, ge=0, le=100, description="weight of the true-class term (authors: loss1_w 1.0)"
    )
    entropy_weight: float = Field(
        0.2, ge=0, le=100, description="weight of the negated entropy (authors: loss2_w 0.2)"
    )
    samples: int | None = Field(
        None, ge=1, le=1 << 24, description="retained images read for the space; None all (authors)"
    )
    max_drop: float = Field(
        0.05, ge=0, le=1, description="stop past this retained-accuracy drop (authors 5 points)"
    )
    check_samples: int = Field(
        1000, ge=1, le=1 << 20, description="retained images the early stop checks"
    )


def descending_eigh(gram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A Gram matrix's eigenvalues (at least 0) and eigenvectors (columns), largest first: the
    SVD's squared singular values and left vectors of the matrix behind it (shared with
    ``unsc``)."""
    energy, u = torch.linalg.eigh(gram)
    return energy.flip(0).clamp_min(0), u.flip(1)


def retained_basis(gram: torch.Tensor, threshold: float) -> torch.Tensor:
    """The authors' basis: the Gram matrix's eigenvectors by decreasing singular value ``s``,
    the first ``#{cumsum(s) / sum(s) <= threshold} + 1`` of them (columns)."""
    energy, u = descending_eigh(gram)
    s = energy.sqrt()
    if float(s.sum()) == 0.0:  # nothing read: no retained space to protect
        return u[:, :0]
    k = min(int((s.cumsum(0) / s.sum() <= threshold).sum()) + 1, len(s))
    return u[:, :k]


def retained_bases(
    model: nn.Module, retain: Split, config: PGUConfig
) -> dict[nn.Module, torch.Tensor]:
    """Per layer (module to basis), the retained input space's basis; a layer at threshold 1 is
    left out, so frozen, as the authors skip it."""
    gen = torch.Generator().manual_seed(config.seed)
    x = retain.x
    if config.samples is not None and config.samples < len(x):
        x = x[torch.randperm(len(x), generator=gen)[: config.samples]]
    layers = projected_layers(model, x[:2].to(config.device))
    grams: dict[str, torch.Tensor] = {}
    for i, chunk in enumerate(x.split(READ_BATCH)):
        # every patch (max_patches unbounded); a fresh stream per batch for the crop window
        read = layer_inputs(model, chunk, layers, 1 << 62, config.seed + 1 + i)
        for name, a in read.items():
            grams[name] = grams[name] + a.T @ a if name in grams else a.T @ a
    bases = {}
    for j, (name, module) in enumerate(layers.items()):
        threshold = config.first_threshold if j == 0 else config.threshold
        if threshold < 1:
            bases[module] = retained_basis(grams[name], threshold).float().to(config.device)
    return bases


def project_out(grad: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """``G - G M M^T`` with ``G`` the gradient flattened to (out, in x kh x kw)."""
    g = grad.flatten(1)
    return (g - (g @ basis) @ basis.T).reshape(grad.shape)


class GradientProjection(Callback):
    """Projects the layers' weight gradients off their retained spaces, scales them by the
    epoch's learning-rate decay, and zeroes every other gradient."""

    def __init__(self, bases: dict[nn.Module, torch.Tensor], decay: float) -> None:
        self.bases, self.decay = bases, decay

    def on_after_backward(self, state: TrainState) -> None:
        # the authors' epoch e (1..99; epoch 0 only evaluates) runs at start_lr * alpha^e
        factor = self.decay ** (state.epoch + 1)
        kept = set()
        for module, basis in self.bases.items():
            w = module.weight
            kept.add(id(w))
            if w.grad is not None:
                w.grad.copy_(project_out(w.grad, basis) * factor)
        for p in state.model.parameters():
            if id(p) not in kept and p.grad is not None:
                p.grad.zero_()


class RetainGuard(Callback):
    """Stops after an epoch that drops the retained accuracy more than ``max_drop``."""

    def __init__(self, probe: Split, max_drop: float) -> None:
        self.probe, self.max_drop, self.start = probe, max_drop, float("nan")

    def on_train_begin(self, state: TrainState) -> None:
        self.start = accuracy(state.model, self.probe.x, self.probe.y)

    def on_epoch_end(self, state: TrainState) -> None:
        acc = accuracy(state.model, self.probe.x, self.probe.y)
        if self.start - acc > self.max_drop:
            state.stop = True
            state.stop_reason = f"retained accuracy {self.start:.3f} -> {acc:.3f}"


def pgu_loss(config: PGUConfig) -> LossFn:
    """The authors' unlearning loss: ``forget_weight * mean(-log(1 - p_y + offset))`` plus
    ``entropy_weight`` times the mean negated entropy; the logits returned are the batch's."""

    def loss(
        model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(x)
        logp = F.log_softmax(logits, 1)
        p_true = logp.gather(1, y[:, None]).squeeze(1).exp()
        push = -torch.log(1 - p_true + config.offset).mean()
        neg_entropy = (logp.exp() * logp).sum(1).mean()
        return config.forget_weight * push + config.entropy_weight * neg_entropy, logits

    return loss


@builtin_method(
    "pgu",
    PGUConfig,
    "train the forget data off, gradients projected off the retained input space (PGU)",
)
def pgu(
    model: nn.Module, retain: Split, forget: Split, config: PGUConfig, ctx: UnlearnContext
) -> TrainRun:
    start = time.perf_counter()
    model.to(config.device)
    bases = retained_bases(model, retain, config)
    gen = torch.Generator().manual_seed(config.seed + 2)
    probe = retain.take(torch.randperm(len(retain), generator=gen)[: config.check_samples])
    decay = (config.end_lr / config.lr) ** (1 / (config.epochs + 1))
    guards = [GradientProjection(bases, decay), RetainGuard(probe, config.max_drop)]
    run = fit(model, forget, config, loss=pgu_loss(config), callbacks=[*guards, *ctx.callbacks])
    run.history.seconds = time.perf_counter() - start  # the spaces' reading included
    return run
