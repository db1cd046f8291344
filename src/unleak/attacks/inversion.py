"""``wb-inversion``: synthesise one prototype per class by gradient ascent, then screen them.

No data at all: every class (and every restart) is optimised in one batch, from noise (or grey, or
mean) starts, inside the input box [0, 1] (the optimiser works on a sigmoid parameterisation), in a
coarse grid upsampled to the input size (like the genetic attack's search space), with optional
total-variation and L2 priors, for a fixed budget of steps. Measured on MNIST (docs/results.md):
pixel-space ascent from a grey start reaches forgotten classes adversarially and misses most
``ft``/``ng`` unlearning; the coarse grid with eight noise restarts does not. The budget is what
separates retained from forgotten classes: a retained class is reached in a few steps, a
forgotten one is not, even though the prototypes need not look like the class.

Screening (``threshold`` or ``entropy``) is shared with ``bb-genetic``: see
:mod:`unleak.attacks.screening`. Each class also records its confidence trajectory and the steps
it needed to reach 50% and 90%.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from unleak import optim
from unleak.attacks.access import Access, Gradients, Target
from unleak.attacks.base import Attack, AttackParams, Rule, register_attack
from unleak.attacks.evidence import ClassFeatures
from unleak.attacks.screening import criteria_for, screening_features

# chosen on the development population only (benchmarks/calibrate.py, docs/protocol.md)
RULE = Rule(reading="confidence", decider="threshold", constant=0.75, absolute=True)
CRITERIA, CRITERION = criteria_for(RULE)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean((1, 2, 3)) + (
        x[..., :, 1:] - x[..., :, :-1]
    ).abs().mean((1, 2, 3))


class InversionParams(AttackParams):
    criterion: Literal["threshold", "entropy", "confidence"] = CRITERION  # type: ignore[assignment]
    steps: int = Field(60, ge=1, le=100_000, description="the budget: optimisation steps")
    lr: float = Field(0.1, gt=0)
    restarts: int = Field(8, ge=1, le=256)
    start: Literal["grey", "noise", "mean"] = "noise"
    tv: float = Field(0.0, ge=0, description="total-variation prior weight")
    l2: float = Field(0.0, ge=0, description="L2 prior weight (distance to the start)")
    grid: int | None = Field(
        7, ge=1, le=512, description="optimise a coarse grid, upsampled bilinearly; None = pixels"
    )
    seed: int = 0


def invert(target: Gradients, p: InversionParams) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Every class's ``p.restarts`` prototypes, ascended on ``target`` for ``p.steps`` steps:
    the images (class by class, restarts together), their classes, and each class's best
    confidence at every step. Shared with ``proto-transfer``, which ascends the original."""
    k, r, shape = target.num_classes, p.restarts, target.input_shape
    gen = torch.Generator().manual_seed(p.seed)
    c, h, w = shape
    space = (c, p.grid, p.grid) if p.grid else shape
    if p.start == "grey":
        x0 = torch.full((k * r, *space), 0.5) + 0.01 * torch.randn(k * r, *space, generator=gen)
    elif p.start == "noise":
        x0 = torch.rand(k * r, *space, generator=gen)
    else:  # mean: the attacker knows nothing, so the "mean image" is the box centre per channel
        x0 = torch.full((k * r, *space), 0.5)
    x0 = x0.clamp(0.01, 0.99)
    u = torch.logit(x0).requires_grad_(True)

    def render(v: torch.Tensor) -> torch.Tensor:
        x = torch.sigmoid(v)
        return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False) if p.grid else x

    labels = torch.arange(k).repeat_interleave(r)
    opt = optim.Adam([u], lr=p.lr)
    traj = np.zeros((p.steps + 1, k))
    with torch.enable_grad():
        for step in range(p.steps + 1):
            x = render(u)
            logits = target.logits_with_grad(x)
            with torch.no_grad():
                conf = logits.softmax(1)[torch.arange(k * r), labels].view(k, r).max(1).values
                traj[step] = conf.numpy()
            if step == p.steps:
                break
            loss = F.cross_entropy(logits, labels, reduction="none")
            if p.tv:
                loss = loss + p.tv * total_variation(x)
            if p.l2:
                loss = loss + p.l2 * (torch.sigmoid(u) - x0).pow(2).mean((1, 2, 3))
            # gradients for the inputs only: the target's weights are left untouched
            (u.grad,) = torch.autograd.grad(loss.sum(), [u])
            opt.step()
    with torch.no_grad():
        return render(u), labels, traj


@register_attack
class WhiteBoxInversion(Attack):
    name = "wb-inversion"
    label = "wb"
    requires = Access.GRADIENTS
    Params = InversionParams
    rule = RULE
    criteria = CRITERIA
    default_criterion = CRITERION
    threat = "input gradients and outputs; no data at all"
    description = "gradient inversion of one prototype per class, then threshold/entropy screening"
    params: InversionParams
    levels: ClassVar[tuple[float, ...]] = (0.5, 0.9)

    def features(self, target: Target) -> ClassFeatures:
        assert isinstance(target, Gradients)
        p = self.params
        k, r = target.num_classes, p.restarts
        x, labels, traj = invert(target, p)
        with torch.no_grad():
            probs = target.logits_with_grad(x).softmax(1)
            own = probs[torch.arange(k * r), labels].view(k, r)
            best = own.argmax(1)
            pick = torch.arange(k) * r + best
            prototypes, profile = x[pick], probs[pick]
        extra = {f"steps_to_{int(lv * 100)}": _steps_to(traj, lv) / p.steps for lv in self.levels}
        details = {
            "trajectory": traj.T.round(5).tolist(),  # per class, confidence at each step
            "prototypes": prototypes.numpy().round(4).tolist(),
        }
        return screening_features(profile, p.criterion, extra, 0, details, self.criteria)


def _steps_to(traj: np.ndarray, level: float) -> np.ndarray:
    """First step at which each class's confidence reached ``level`` (budget + 1 if never)."""
    reached = traj >= level
    first = np.where(reached.any(0), reached.argmax(0), traj.shape[0])
    return first.astype(float)


def prototype_grid(details: dict) -> np.ndarray:
    """Prototypes as an array (K, C, H, W), for figures."""
    return np.asarray(details["prototypes"], dtype=np.float32)
