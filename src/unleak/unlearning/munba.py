"""``munba``: machine unlearning via Nash bargaining (Wu and Harandi, "MUNBa: Machine Unlearning
via Nash Bargaining", 2024; github JingWu321/MUNBa).

Forgetting and keeping are two players whose gradients conflict; each step moves along the
bargaining solution of the two.

1. An epoch is a pass over the retained data through :func:`unleak.training.fit`; alongside the
   first retained batches runs one pass over the forget data (the authors zip the two loaders
   with ``zip_longest``: once the forget batches are spent, the steps are retained-only).
2. A joint step has two losses: ``L_r``, cross-entropy on the retained batch, and ``L_f``,
   cross-entropy of the forget batch against labels drawn uniformly at random (the authors'
   ``target_u_rl``). Their gradients ``g_r`` and ``g_f`` over every parameter give
   ``g1 = g_r.g_r``, ``g2 = g_r.g_f``, ``g3 = g_f.g_f`` and the closed-form bargaining weights
   ``a_r = sqrt((g1 g3 - g2 sqrt(g1 g3)) / (g1^2 g3 - g1 g2^2))``,
   ``a_f = (1 - g1 a_r^2) / (g2 a_r)``; the step descends ``a_r L_r + a_f L_f`` when both weights
   are positive, else ``L_r + 0.1 L_f``, with the gradient norm clipped to 1.
3. A retained-only step descends ``L_r``, unclipped.

Defaults from github JingWu321/MUNBa, ``Classification/``: ``arg_parser.py`` (``unlearn_lr``
0.01, ``unlearn_epochs`` 10, ``batch_size`` 256 for both loaders, ``momentum`` 0.9,
``weight_decay`` 5e-4, ``decreasing_lr`` 91,136, which 10 epochs never reach, so a constant rate;
``sam`` and ``with_l1`` off) and ``unlearn/MUNBa.py`` (the step above: option "[2] Choose to use
the closed-form solution", ``clip_grad_norm_(model.parameters(), 1.0)`` on joint steps only, SGD,
train mode). The same function keeps the forget loss it replaced commented out,
``loss_u = -criterion(output_u, target_u)`` (gradient ascent on the true labels):
``forget_loss="ascent"`` runs that, the second setting of the verdict's twelfth test.

Departures. The forget batches are reshuffled each epoch from a generator seeded by the run
(the authors' loader shuffles too); their random labels come from the same generator. The
constant ``1e-8`` the authors add to both denominators is kept.

unleak implemented this method for the verdict's twelfth test population (docs/protocol.md): no
attack rule or verdict rule was chosen on its models.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from unleak.data.core import Split
from unleak.training import Callback, LossFn, TrainRun, TrainState, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method


class MUNBaConfig(UnlearnConfig):
    epochs: float = Field(10, gt=0, le=10_000, description="passes over the retained data (10)")
    lr: float = Field(0.01, gt=0, le=100, description="learning rate (authors: 0.01)")
    batch_size: int = Field(256, ge=1, le=1 << 16, description="both loaders' batch (256)")
    schedule: Literal["constant", "cosine"] = "constant"
    forget_loss: Literal["random-label", "ascent"] = Field(
        "random-label",
        description="random-label: CE against random labels (authors); ascent: negated CE on the "
        "true labels (the authors' commented-out alternative)",
    )
    fallback: float = Field(0.1, ge=0, description="forget weight when bargaining fails (0.1)")
    clip: float = Field(1.0, gt=0, description="gradient norm clip on joint steps (authors: 1)")


def bargaining_weights(g_r: torch.Tensor, g_f: torch.Tensor) -> tuple[float, float] | None:
    """The authors' closed-form Nash bargaining weights ``(a_r, a_f)`` of two gradients, or None
    when the bargain fails (a weight not positive, or not a number)."""
    g1 = float(g_r @ g_r)
    g2 = float(g_r @ g_f)
    g3 = float(g_f @ g_f)
    num = g1 * g3 - g2 * math.sqrt(g1 * g3)
    den = g1 * g1 * g3 - g1 * g2 * g2 + 1e-8
    if num / den < 0:  # the authors' sqrt gives NaN here, which fails their test
        return None
    a_r = math.sqrt(num / den)
    a_f = (1 - g1 * a_r * a_r) / (g2 * a_r + 1e-8)
    return (a_r, a_f) if a_r > 0 and a_f > 0 else None


class ForgetPass(Callback):
    """One shuffled pass over the forget data per epoch; clips the gradient after joint steps."""

    def __init__(self, forget: Split, config: MUNBaConfig, gen: torch.Generator) -> None:
        self.forget, self.config, self.gen = forget, config, gen
        self.batches: Iterator[torch.Tensor] = iter(())
        self.joint = False

    def on_epoch_begin(self, state: TrainState) -> None:
        perm = torch.randperm(len(self.forget), generator=self.gen)
        # a batch of one would break batch norm in train mode (fit folds it away too)
        self.batches = iter([b for b in perm.split(self.config.batch_size) if len(b) > 1])

    def on_after_backward(self, state: TrainState) -> None:
        if self.joint:
            nn.utils.clip_grad_norm_(state.model.parameters(), self.config.clip)


def munba_loss(passes: ForgetPass, config: MUNBaConfig, num_classes: int) -> LossFn:
    """The retained cross-entropy, bargained with the forget loss while forget batches last."""
    gen = passes.gen

    def loss(
        model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(x)
        retained = F.cross_entropy(logits, y)
        idx = next(passes.batches, None)
        passes.joint = idx is not None
        if idx is None:
            return retained, logits
        xf = passes.forget.x[idx].to(x.device, non_blocking=True)
        out = model(xf)
        if config.forget_loss == "random-label":
            labels = torch.randint(0, num_classes, (len(idx),), generator=gen).to(x.device)
            forgotten = F.cross_entropy(out, labels)
        else:
            forgotten = -F.cross_entropy(out, passes.forget.y[idx].to(x.device))
        params = [p for p in model.parameters() if p.requires_grad]
        g_r, g_f = (
            torch.cat([g.flatten() for g in torch.autograd.grad(v, params, retain_graph=True)])
            for v in (retained, forgotten)
        )
        weights = bargaining_weights(g_r.double(), g_f.double())
        a_r, a_f = weights if weights else (1.0, config.fallback)
        return a_r * retained + a_f * forgotten, logits

    return loss


@builtin_method(
    "munba",
    MUNBaConfig,
    "descend the Nash bargaining of the retained and forget losses (MUNBa)",
    null_ok=True,
)
def munba(
    model: nn.Module, retain: Split, forget: Split, config: MUNBaConfig, ctx: UnlearnContext
) -> TrainRun:
    model.to(config.device)
    gen = torch.Generator().manual_seed(config.seed + 1)  # forget order and random labels
    passes = ForgetPass(forget, config, gen)
    loss = munba_loss(passes, config, retain.num_classes)
    return fit(model, retain, config, loss=loss, callbacks=[passes, *ctx.callbacks])
