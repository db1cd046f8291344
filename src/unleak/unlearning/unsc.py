"""``unsc``: unlearning confined to the retained data's null space, with the forget data
relabelled to calibrate the decision space (Chen, Gao, Liu, Wang, Yan et al., "Machine
Unlearning via Null Space Calibration", IJCAI 2024, arXiv 2404.13588).

1. Per retained class, in class order, up to ``samples_per_class`` of its training images run
   once through the original; each ``Linear``/``Conv2d`` layer's input is read (a conv layer's
   as unfolded patches, :func:`unleak.unlearning.projection.layer_inputs`).
2. Per layer the retained basis ``U`` grows class by class, as GPM's: the first class adds the
   top directions holding a ``threshold`` share of its input energy; each later class ``c`` adds
   top directions of its residual off ``U`` until ``U`` holds ``threshold + threshold_step * c``
   of that class's energy (:func:`retained_bases`).
3. Each forget sample gets a pseudo-label, the original's most likely retained class (its
   argmax with the forget classes masked out, :func:`pseudo_labels`); or, at
   ``pseudo_label="random"``, a retained class drawn afresh per sample and batch.
4. :func:`unleak.training.fit` fits the model to the relabelled forget data with cross-entropy;
   after each backward every such layer's weight gradient, flattened to (out, in x kh x kw),
   becomes ``G - G U U^T`` (its part in the retained inputs' null space, so the retained
   samples' layer outputs stay put) and every other gradient (biases, norms) is zeroed: ``pgu``'s
   :class:`~unleak.unlearning.pgu.GradientProjection` at a constant rate, one shared mechanism.

Defaults from github HQC-ML/UNSC: ``cifar10-allcnn_comparison_with_baselines.ipynb`` (the UNSC
cell: ``get_2nd_score``, the original's top class, or its second when the top is the true one;
``torch.optim.SGD(..., lr=0.04)``, no momentum or weight decay; ``range(25)`` epochs over the
forget loader of ``args.batch_size`` 512; BatchNorm in eval mode; every
``len(params.size()) != 1`` gradient projected as ``G - G P``, ``P = U U^T``, the 1-d ones
zeroed) and its subspace cell (one batch of 512 images of each retained class,
``threshold = 0.97 + 0.003*cls_id``, ``update_GPM`` class by class);
``cifar10-allcnn_multip_class_unlearn.ipynb`` (``get_pseudo_label``: the argmax with every
forget class at ``-inf``, the same rule as ``get_2nd_score`` for one class, used here for any);
``utils.py`` (``get_representation_matrix``: a conv input as its patches, a linear layer's
input as is; ``update_GPM``: ``r = sum(cumsum(ratio) < threshold)`` for the first class, with
no +1, then directions of the residual added while the held share is below the threshold, the
basis capped at the layer's width). Carried over to CNN/MLP classifiers as they are: 25 epochs,
batches of 512, SGD at 0.04, 512 images per retained class, thresholds 0.97 + 0.003 c, the
pseudo-label rule, BatchNorm statistics frozen. The authors' other lines differ (FashionMNIST
AlexNet: lr 0.06 for 45 epochs; SVHN VGG: one 0.99 threshold on 256 retained images, lr 0.03
for 10 epochs). Their ablation, "Random label + Subspace" (the same notebook, lr 0.04, 25
epochs), draws ``np.random.choice(remain_class)`` per batch: ``pseudo_label="random"``.

Departures. Every layer reads all the images read, up to 512 a class (the authors' ``batch_list``
keeps 24 to 256 of the 512 per layer, to bound their explicit patch matrix), and a conv layer's
patches come from :func:`~unleak.unlearning.projection.conv_patches`, the reader shared with
``projection`` and ``pgu``: the layer's own padding and stride (theirs unfold at stride 1 with no
padding; the suite's convs are stride 1), an input wider than 3 kernels cropped to one random window
of 3 x 3 kernels (of the suite's models only lenet5's first layer), at most ``max_patches`` patches
per class. The basis is the eigenvectors of the float64 Gram matrix (the SVD's left vectors, as
``projection``'s). Layers are found by hooks
(:func:`~unleak.unlearning.projection.projected_layers`), so any model is read; a weight of no found
layer (a grouped conv) has its gradient zeroed, as no basis guards it. The pseudo-labels are
computed once from the original, as the authors' frozen copy gives them per batch (the same labels:
no augmentation). A zeroed gradient keeps its parameter only without momentum and weight decay, the
defaults.

Measured (the suite's digits cnn, seed 0, outside every population; unlearning seed 1; one thread;
test accuracy forget / retained, before -> after; seconds with the subspace reading): class 3 0.978
-> 0.000 / 0.993 -> 0.993 in 4.9 s (a digits class is one batch of 512, so 25 steps; every retained
test answer unchanged, the forget ones spread over 2, 5, 7, 8, 9); classes 1, 7 1.000 -> 0.044 /
0.989 -> 0.989 in 4.3 s; classes 2, 5, 8 0.978 -> 0.112 / 0.997 -> 0.997 in 4.0 s. With
``pseudo_label="random"``: 0.000, 0.055 and 0.269, retained 0.993, 0.992 and 0.997. MNIST lenet5
(seed 0), class 3: 0.994 -> 0.006 / 0.991 -> 0.991 in 11 s.

The nearest methods in the package: ``projection`` (Kodge et al.) edits each layer's weights
once from retained and forget activation subspaces, with no training; ``rl`` and ``salun``
relabel the forget data and fine-tune, with no subspace guarding the retained classes; ``pgu``
projects its gradients the same way, off one retained space, while ascending a forget loss.

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
from unleak.models.inference import predict_logits
from unleak.training import LossFn, TrainRun, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method
from unleak.unlearning.pgu import GradientProjection, descending_eigh
from unleak.unlearning.projection import layer_inputs, projected_layers


class UNSCConfig(UnlearnConfig):
    epochs: float = Field(
        25, gt=0, le=10_000, description="passes over the forget data (authors: range(25))"
    )
    batch_size: int = Field(512, ge=1, le=1 << 16, description="authors: args.batch_size 512")
    lr: float = Field(0.04, gt=0, le=100, description="learning rate (authors: SGD lr=0.04)")
    optimizer: Literal["sgd", "adam"] = Field("sgd", description="authors: torch.optim.SGD")
    momentum: float = Field(0.0, ge=0, lt=1, description="authors: none")
    weight_decay: float = Field(0.0, ge=0, le=1, description="authors: none")
    schedule: Literal["constant", "cosine"] = Field("constant", description="authors: none")
    freeze_norm: bool = Field(True, description="authors: BatchNorm in eval mode")
    threshold: float = Field(
        0.97, gt=0, lt=1, description="energy share kept at class id 0 (authors 0.97)"
    )
    threshold_step: float = Field(
        0.003, ge=0, lt=1, description="added per class id (authors: 0.97 + 0.003*cls_id)"
    )
    samples_per_class: int = Field(
        512, ge=1, le=1 << 20, description="retained images read per class (authors: 512)"
    )
    max_patches: int = Field(
        10000, ge=1, le=1 << 24, description="conv patches read per layer and class"
    )
    pseudo_label: Literal["retained-argmax", "random"] = Field(
        "retained-argmax",
        description="the original's top retained class (authors) or a random retained class "
        "(the authors' 'Random label + Subspace' ablation)",
    )


def grow_basis(basis: torch.Tensor | None, a: torch.Tensor, threshold: float) -> torch.Tensor:
    """GPM's ``update_GPM`` for one layer: ``basis`` (d x r, orthonormal columns) plus the top
    directions of ``a``'s residual off it (rows of ``a`` are inputs) until the basis holds
    ``threshold`` of ``a``'s energy; the top directions of ``a`` itself when ``basis`` is None."""
    d = a.shape[1]
    total = float((a * a).sum())
    if basis is None:
        basis = torch.zeros(d, 0, dtype=a.dtype)
    if total == 0.0:  # nothing read: nothing to guard
        return basis
    resid = a - (a @ basis) @ basis.T
    energy, u = descending_eigh(resid.T @ resid)
    ratio = energy / total
    held = 1.0 - float(ratio.sum())  # the share the basis already holds
    if basis.shape[1] == 0:
        r = int((torch.cumsum(ratio, 0) < threshold).sum())  # the authors' count, no +1
    else:
        r = 0
        while r < len(ratio) and held < threshold:
            held += float(ratio[r])
            r += 1
    return torch.cat([basis, u[:, :r]], 1)[:, :d]


def retained_bases(
    model: nn.Module, retain: Split, config: UNSCConfig
) -> dict[nn.Module, torch.Tensor]:
    """Per layer (module to basis, as ``pgu``'s), the orthonormal basis of the retained inputs,
    grown class by class in class order at threshold ``threshold + threshold_step * class``."""
    gen = torch.Generator().manual_seed(config.seed)
    layers = projected_layers(model, retain.x[:2].to(config.device))
    bases: dict[str, torch.Tensor | None] = dict.fromkeys(layers)
    for c in torch.unique(retain.y).tolist():
        of_c = torch.nonzero(retain.y == c).flatten()
        pick = of_c[torch.randperm(len(of_c), generator=gen)[: config.samples_per_class]]
        acts = layer_inputs(model, retain.x[pick], layers, config.max_patches, config.seed + 1 + c)
        t = min(config.threshold + config.threshold_step * c, 1.0)
        for name, a in acts.items():
            bases[name] = grow_basis(bases[name], a, t)
    return {layers[n]: b.float().to(config.device) for n, b in bases.items() if b is not None}


def retained_classes(ctx: UnlearnContext) -> torch.Tensor:
    """The classes not forgotten, ascending."""
    return torch.tensor([c for c in range(ctx.num_classes) if c not in ctx.forget_classes])


def pseudo_labels(original: nn.Module, forget: Split, ctx: UnlearnContext) -> torch.Tensor:
    """The forget samples' new labels, the authors' ``get_pseudo_label``: the original's most
    likely retained class (its argmax with the forget classes masked out)."""
    kept = retained_classes(ctx)
    logits = predict_logits(original, forget.x).cpu()
    masked = torch.full_like(logits, float("-inf"))
    masked[:, kept] = logits[:, kept]
    return masked.argmax(1)


def random_label_loss(kept: torch.Tensor, gen: torch.Generator) -> LossFn:
    """Cross-entropy to a retained class drawn afresh for each sample of each batch, as the
    authors' "Random label + Subspace" draws ``np.random.choice(remain_class)`` per batch."""

    def loss(
        model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(x)
        target = kept[torch.randint(0, len(kept), (len(x),), generator=gen)].to(x.device)
        return F.cross_entropy(logits, target), logits

    return loss


@builtin_method(
    "unsc",
    UNSCConfig,
    "fit forget data to pseudo-labels in the retained inputs' null space (UNSC)",
)
def unsc(
    model: nn.Module, retain: Split, forget: Split, config: UNSCConfig, ctx: UnlearnContext
) -> TrainRun:
    start = time.perf_counter()
    model.to(config.device)
    # pgu's projection, at a constant rate: G - G U U^T, every other gradient zeroed (frozen)
    guard = GradientProjection(retained_bases(model, retain, config), decay=1.0)
    callbacks = [guard, *ctx.callbacks]
    if config.pseudo_label == "random":
        gen = torch.Generator().manual_seed(config.seed + 1)
        loss = random_label_loss(retained_classes(ctx), gen)
        run = fit(model, forget, config, loss=loss, callbacks=callbacks)
    else:
        relabelled = Split(forget.x, pseudo_labels(model, forget, ctx), forget.num_classes)
        run = fit(model, relabelled, config, callbacks=callbacks)
    run.history.seconds = time.perf_counter() - start  # the subspace reading included
    return run
