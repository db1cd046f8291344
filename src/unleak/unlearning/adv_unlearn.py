"""``adv-unlearn``: unlearning with adversarial examples and weight importance (Cha et al.,
"Learning to Unlearn: Instance-wise Unlearning for Pre-trained Classifiers", AAAI 2024).

No retained data: ``attack_samples`` forget samples (drawn with the seed) each get
``adv_per_sample`` adversarial examples, crafted once on the original (eval mode) by a targeted
L2 PGD attack toward a random class; they keep that target label. Each step then descends
``-nf/(na+nf) * CE(forget batch) + na/(na+nf) * CE(adversarial batch, targets) + reg_lamb / 2 *
sum(imp * (w - w0)^2)``: ascend the forget data while the adversarial examples hold the other
classes' boundaries, and the MAS importance (|grad| of the mean L2 norm of the logits over the
forget data, min-max normalised per tensor, then ``1 - it``) pins the weights the forget data
does not use. An epoch is a pass over the adversarial examples through
:func:`unleak.training.fit`, each step with the next forget batch (a fresh shuffle of the forget
data each time it runs out; the authors cycle an unshuffled loader). The forget accuracy (eval
mode) is checked after every step and the run stops once it is at most ``target_accuracy``.

Defaults from github csm9493/L2UL. ``run_unlearn_cifar_imagenet.sh``, CIFAR-10 line:
``--num-adv-images 20 --pgd-eps 4.0 --unlearn-lr 0.001 --reg-lamb 1.0``.
``main_unlearn_cifar10_mixed_label_resnet18.py``, "Baseline 3" (their full method):
advertorch's ``L2PGDAttack(eps, eps_iter=0.1, nb_iter=100, rand_init=True, targeted=True)``
(pixels in [0, 1], as unleak's); SGD with momentum 0.9 and weight decay 1e-4; forget batches
of 32, adversarial batches of 256; the network in train mode, the forget and the adversarial
batch in separate passes; stop once the forget accuracy is 0, at most ``max_iter = 1000``
epochs; ``k_arr = [16]`` forget samples. ``utils.py`` (first commit b8b335b): ``adv_attack``
attacks each forget sample ``num_adv_images`` times toward a uniform random label (one equal to
the sample's own becomes 5) and keeps that label;
``estimate_parameter_importance`` is MAS over the forget data in train mode. Departures: a
target is uniform over the retained classes (with several forgotten classes the authors' rule
would train toward another forgotten one); the authors unlearn k instances, unleak's forget
split is whole classes, so the attack is capped at ``attack_samples`` (their k = 16: 320
adversarial examples) and the rest of the forget data enters the ascent only; a tensor of
constant importance (the authors' 0/0) gets importance 1. At these settings the attack lands on
every target (digits cnn: 320 of 320), so the target is also the label the original assigns.

On the digits cnn (seed 0, unlearning seed 1) class 3 goes from 0.98 to 0.00 test accuracy in 36
steps, the rest 0.993 to 0.993; classes 1 and 7 from 1.00 to 0.00 (54 steps), the rest 0.99 to
0.95; classes 2, 5 and 8 from 0.98 to 0.00 (148 steps), the rest 1.00 to 0.73: the more steps the
ascent needs, the more the retained classes lose. The importance term changes little here
(``reg_lamb = 0``: 0.995, 0.95, 0.69). MNIST lenet5 (seed 0), class 3: 124 steps, 89 s on one
thread, class 3 from 0.99 to 0.00, the other classes 0.98-1.00 to 0.72-1.00 (class 8: 0.72).

unleak implemented this method for the verdict's fifth test population (docs/protocol.md): no
attack rule or verdict rule was chosen on its models.
"""

from __future__ import annotations

import copy
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from unleak.data.core import Split
from unleak.models.inference import accuracy, eval_mode
from unleak.training import Callback, LossFn, TrainRun, TrainState, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method
from unleak.unlearning.neggrad_plus import cycled_batches


class AdvUnlearnConfig(UnlearnConfig):
    epochs: float = Field(
        1000, gt=0, le=10_000, description="most passes over the adversarial examples (authors)"
    )
    batch_size: int = Field(256, ge=1, le=1 << 16, description="adversarial batch (authors)")
    lr: float = Field(0.001, gt=0, le=100, description="learning rate (authors: 0.001)")
    optimizer: Literal["sgd", "adam"] = "sgd"
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum (authors: 0.9)")
    weight_decay: float = Field(1e-4, ge=0, le=1, description="weight decay (authors: 1e-4)")
    schedule: Literal["constant", "cosine"] = "constant"
    forget_batch_size: int = Field(32, ge=1, le=1 << 16, description="forget batch (authors)")
    attack_samples: int = Field(
        16, ge=1, le=1 << 20, description="forget samples attacked (authors' k: 16)"
    )
    adv_per_sample: int = Field(
        20, ge=1, le=10_000, description="adversarial examples per attacked sample (authors: 20)"
    )
    pgd_eps: float = Field(4.0, gt=0, description="L2 radius of the attack (authors: 4)")
    pgd_step: float = Field(0.1, gt=0, description="L2 length of a PGD step (authors: 0.1)")
    pgd_steps: int = Field(100, ge=1, le=100_000, description="PGD iterations (authors: 100)")
    reg_lamb: float = Field(
        1.0, ge=0, description="weight of the importance-weighted pull to w0 (authors: 1); 0 = none"
    )
    target_accuracy: float = Field(
        0.0, ge=0, le=1, description="stop once the forget accuracy is at most this (authors: 0)"
    )


def _l2(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (t.dim() - 1))


def targeted_l2_pgd(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    cfg: AdvUnlearnConfig,
    gen: torch.Generator,
) -> torch.Tensor:
    """advertorch's targeted ``L2PGDAttack`` with ``rand_init``: from a uniform image pulled into
    the eps ball, ``pgd_steps`` normalised steps down the summed CE toward ``target``."""
    delta = torch.rand(x.shape, generator=gen).to(x.device) - x
    delta = delta * (cfg.pgd_eps / _l2(delta)).clamp(max=1)
    with eval_mode(model), torch.enable_grad():
        for _ in range(cfg.pgd_steps):
            delta.requires_grad_(True)
            loss = F.cross_entropy(model(x + delta), target, reduction="sum")
            (grad,) = torch.autograd.grad(loss, delta)
            delta = delta.detach() - cfg.pgd_step * grad / _l2(grad).clamp_min(1e-6)
            delta = (x + delta).clamp(0, 1) - x
            delta = delta * (cfg.pgd_eps / _l2(delta)).clamp(max=1)
    return (x + delta).clamp(0, 1).detach()


def mas_importance(model: nn.Module, forget: Split, batch_size: int) -> list[torch.Tensor]:
    """``1 - minmax(MAS)`` per trainable tensor, MAS from a train-mode copy over the forget data."""
    net = copy.deepcopy(model).train()  # its batch-norm statistics move; the model's do not
    params = [p for p in net.parameters() if p.requires_grad]
    dev = params[0].device
    imp = [torch.zeros_like(p) for p in params]
    for i in range(0, len(forget), batch_size):
        xb = forget.x[i : i + batch_size].to(dev)
        grads = torch.autograd.grad(net(xb).norm(dim=1).mean(), params, allow_unused=True)
        for acc, g in zip(imp, grads, strict=True):
            if g is not None:
                acc += g.abs() * len(xb)
    spans = [(m - m.min()) / (m.max() - m.min()) for m in imp]
    return [1 - torch.nan_to_num(s, nan=0.0) for s in spans]


def adv_unlearn_loss(
    forget: Split,
    original: nn.Module,
    importance: list[torch.Tensor] | None,
    config: AdvUnlearnConfig,
    gen: torch.Generator,
) -> LossFn:
    """The authors' step on the adversarial batch ``(x, y)`` and the next forget batch; the logits
    returned are the adversarial batch's."""
    batches = cycled_batches(forget, config.forget_batch_size, gen)
    start = [p.detach().clone() for p in original.parameters() if p.requires_grad]

    def loss(
        model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        xf, yf = next(batches)
        logits = model(x)
        out = model(xf.to(x.device, non_blocking=True))
        na, nf = len(x), len(xf)
        value = (na * F.cross_entropy(logits, y) - nf * F.cross_entropy(out, yf.to(x.device))) / (
            na + nf
        )
        if importance is not None and config.reg_lamb > 0:
            params = [p for p in model.parameters() if p.requires_grad]
            reg = sum(
                (w * (p - p0) ** 2).sum()
                for p, p0, w in zip(params, start, importance, strict=True)
            )
            value = value + config.reg_lamb / 2 * reg
        return value, logits

    return loss


class ForgetZero(Callback):
    """Stops after a step once the forget accuracy (eval mode) is at most ``target``."""

    def __init__(self, forget: Split, target: float) -> None:
        self.forget, self.target = forget, target

    def on_batch_end(self, state: TrainState) -> None:
        acc = accuracy(state.model, self.forget.x, self.forget.y)
        if acc <= self.target:
            state.stop, state.stop_reason = True, f"forget accuracy {acc:.3f} <= {self.target:.3f}"


@builtin_method(
    "adv-unlearn",
    AdvUnlearnConfig,
    "ascend on forget data, descend on its adversarial examples, pin unused weights (no retained)",
)
def adv_unlearn(
    model: nn.Module, retain: Split, forget: Split, config: AdvUnlearnConfig, ctx: UnlearnContext
) -> TrainRun:
    model.to(config.device)
    gen = torch.Generator().manual_seed(config.seed + 1)  # attacked samples, targets, batches
    pick = torch.randperm(len(forget), generator=gen)[: config.attack_samples]
    x = forget.x[pick].repeat(config.adv_per_sample, 1, 1, 1)
    kept = torch.tensor([c for c in range(ctx.num_classes) if c not in ctx.forget_classes])
    target = kept[torch.randint(0, len(kept), (len(x),), generator=gen)]
    dev = torch.device(config.device)
    adv = targeted_l2_pgd(model, x.to(dev), target.to(dev), config, gen).cpu()
    importance = (
        mas_importance(model, forget, config.forget_batch_size) if config.reg_lamb else None
    )
    loss = adv_unlearn_loss(forget, model, importance, config, gen)
    guard = ForgetZero(forget, config.target_accuracy)
    adv_split = Split(adv, target, forget.num_classes)
    return fit(model, adv_split, config, loss=loss, callbacks=[guard, *ctx.callbacks])
